/*
 * api_members — who may see and edit a document (docs/auth.md): GET /v1/docs (the caller's
 * documents), GET /v1/docs/{id}/members (any member), PUT and DELETE
 * /v1/docs/{id}/members/{user} (the owner only). Every change is published on the control topic
 * as "member:<doc>:<user>", so gateways re-check (or close) that user's sockets on the document.
 *
 * A document the caller is no member of is 404 here as everywhere (api_docs_admit); a member who
 * may not manage it gets 403. The owner's own membership cannot be changed or removed (409).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_auth.h"
#include "api_docs.h"
#include "api_routes.h"
#include "quire_log.h"

#define MAX_LISTED 1000

api_next_t api_get_docs(api_req_t *req, void *ctxp)
{
    api_ctx_t *ctx = ctxp;
    const quire_identity_t *who = api_req_identity(req);
    quire_member_doc_t *docs = NULL;
    size_t n = 0;
    quire_err_t err = quire_access_documents(ctx->access, who->user, MAX_LISTED, &docs, &n);
    if (err) {
        api_reply_quire_err(req, err, "documents cannot be listed now; retry");
        return API_DONE;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "documents");
    for (size_t i = 0; i < n; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "id", docs[i].doc_id);
        cJSON_AddStringToObject(d, "role", quire_role_name(docs[i].role));
        if (docs[i].version >= 0)
            cJSON_AddNumberToObject(d, "version", (double)docs[i].version);
        else
            cJSON_AddNullToObject(d, "version");
        if (docs[i].updated_at_ms >= 0) {
            char t[40];
            api_docs_time(docs[i].updated_at_ms, t, sizeof t);
            cJSON_AddStringToObject(d, "updated_at", t);
        } else {
            cJSON_AddNullToObject(d, "updated_at");
        }
        cJSON_AddItemToArray(arr, d);
    }
    free(docs);
    api_reply_json(req, 200, j);
    return API_DONE;
}

api_next_t api_get_members(api_req_t *req, void *ctxp)
{
    api_ctx_t *ctx = ctxp;
    const char *doc_id = api_req_param(req, "id");
    if (!api_docs_admit(ctx, req, doc_id, API_READ))
        return API_DONE;
    quire_member_t *m = NULL;
    size_t n = 0;
    quire_err_t err = quire_access_members(ctx->access, doc_id, MAX_LISTED, &m, &n);
    if (err) {
        api_reply_quire_err(req, err, "members cannot be listed now; retry");
        return API_DONE;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "members");
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "user", m[i].user);
        cJSON_AddStringToObject(e, "role", quire_role_name(m[i].role));
        cJSON_AddItemToArray(arr, e);
    }
    free(m);
    api_reply_json(req, 200, j);
    return API_DONE;
}

/* The target user of a members route, validated; replies and returns NULL when invalid. */
static const char *target_user(api_req_t *req)
{
    const char *user = api_req_param(req, "user");
    if (!quire_user_id_valid(user)) {
        api_reply_error(req, 400, "bad_user_id", "user ids are 1-64 of [A-Za-z0-9._@+-]");
        return NULL;
    }
    return user;
}

static void publish_member(api_ctx_t *ctx, const char *doc_id, const char *user)
{
    char subject[QUIRE_CONTROL_SUBJECT_MAX + 1];
    if (quire_control_subject(subject, sizeof subject, "member", doc_id, user) == QUIRE_OK)
        api_auth_publish(ctx->auth, subject);
}

api_next_t api_put_member(api_req_t *req, void *ctxp)
{
    api_ctx_t *ctx = ctxp;
    const char *doc_id = api_req_param(req, "id");
    if (!api_docs_admit(ctx, req, doc_id, API_ADMIN))
        return API_DONE;
    const char *user = target_user(req);
    if (!user)
        return API_DONE;
    const char *ctype = api_req_header(req, "Content-Type");
    if (!ctype || strncmp(ctype, "application/json", 16) != 0) {
        api_reply_error(req, 415, "unsupported_media_type", "send a JSON object");
        return API_DONE;
    }
    size_t len;
    const uint8_t *body = api_req_body(req, &len);
    cJSON *j = cJSON_ParseWithLength((const char *)body, len);
    const cJSON *r = j ? cJSON_GetObjectItemCaseSensitive(j, "role") : NULL;
    quire_role_t role = QUIRE_ROLE_NONE;
    bool ok = j && cJSON_IsObject(j) && cJSON_IsString(r) && j->child == r && !r->next &&
              quire_role_parse(r->valuestring, &role) == QUIRE_OK &&
              (role == QUIRE_ROLE_EDITOR || role == QUIRE_ROLE_VIEWER);
    cJSON_Delete(j);
    if (!ok) {
        api_reply_error(req, 400, "bad_request",
                        "the body is {\"role\": \"editor\"} or {\"role\": \"viewer\"}");
        return API_DONE;
    }
    const quire_identity_t *who = api_req_identity(req);
    quire_err_t err = quire_access_set_role(ctx->access, doc_id, user, role, who->user);
    if (err == QUIRE_ERR_CONFLICT) {
        api_reply_error(req, 409, "owner", "the owner's role cannot be changed");
        return API_DONE;
    }
    if (err) {
        api_reply_quire_err(req, err, "could not share the document; retry");
        return API_DONE;
    }
    QLOG_INFO("document shared", "doc=%s user=%s role=%s by=%s", doc_id, user,
              quire_role_name(role), who->user);
    publish_member(ctx, doc_id, user);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "user", user);
    cJSON_AddStringToObject(out, "role", quire_role_name(role));
    api_reply_json(req, 200, out);
    return API_DONE;
}

api_next_t api_delete_member(api_req_t *req, void *ctxp)
{
    api_ctx_t *ctx = ctxp;
    const char *doc_id = api_req_param(req, "id");
    if (!api_docs_admit(ctx, req, doc_id, API_ADMIN))
        return API_DONE;
    const char *user = target_user(req);
    if (!user)
        return API_DONE;
    quire_err_t err = quire_access_remove(ctx->access, doc_id, user);
    if (err == QUIRE_ERR_CONFLICT) {
        api_reply_error(req, 409, "owner", "the owner cannot be removed");
        return API_DONE;
    }
    if (err == QUIRE_ERR_NOT_FOUND) {
        api_reply_error(req, 404, "not_a_member", "that user is not a member of this document");
        return API_DONE;
    }
    if (err) {
        api_reply_quire_err(req, err, "could not change the members; retry");
        return API_DONE;
    }
    QLOG_INFO("document unshared", "doc=%s user=%s by=%s", doc_id, user,
              api_req_identity(req)->user);
    publish_member(ctx, doc_id, user);
    api_reply(req, 204, "application/json", "", 0);
    return API_DONE;
}
