/*
 * api_docs_lifecycle — POST /v1/docs (create; the creator becomes owner) and DELETE
 * /v1/docs/{id} (a lifecycle event in the log; afterwards the document answers 404, and
 * "doc:<id>" on the control topic closes its sockets on every gateway), plus the
 * create-on-write policy the write path asks (api_docs_writable).
 *
 * Both are events in the log written through ingest, like any edit: the log stays the only
 * source of truth and a replay rebuilds the same lifecycle. Each answers once Kafka has the
 * event and — within --min-version-wait — the read model has projected it, so the caller's next
 * request already sees the document (or its absence). If the projector lags beyond that bound
 * the answer still says the event is durable, with "projected": false.
 */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_auth.h"
#include "api_docs.h"
#include "api_notify.h"
#include "api_routes.h"
#include "doc_cache.h"
#include "quire_log.h"

quire_err_t api_docs_writable(api_ctx_t *ctx, const char *doc_id)
{
    int64_t v;
    readmodel_lifecycle_t lc;
    quire_err_t err = api_docs_lookup(ctx, doc_id, &v, &lc);
    /* With create-on-write, an unreachable read model does not stop writes: Kafka is the source
     * of truth, and the projector ignores updates to a document deleted meanwhile. */
    if (err == QUIRE_ERR_NOT_FOUND || (err == QUIRE_ERR_UNAVAILABLE && ctx->create_on_write))
        return ctx->create_on_write ? QUIRE_OK : QUIRE_ERR_NOT_FOUND;
    if (err)
        return err;
    return lc == READMODEL_DELETED ? QUIRE_ERR_NOT_FOUND : QUIRE_OK;
}

typedef struct lc_pending_s {
    api_ctx_t *ctx;
    api_req_t *req;
    char doc_id[EVENT_CODEC_DOC_ID_MAX + 1];
    bool is_delete;
    int32_t partition;
    int64_t offset;
} lc_pending_t;

static void on_projected(void *opaque, bool reached)
{
    lc_pending_t *p = opaque;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", p->doc_id);
    cJSON_AddNumberToObject(j, "version", (double)p->offset);
    cJSON_AddNumberToObject(j, "partition", p->partition);
    cJSON_AddBoolToObject(j, "projected", reached);
    if (p->is_delete) {
        char subject[QUIRE_CONTROL_SUBJECT_MAX + 1];
        if (quire_control_subject(subject, sizeof subject, "doc", p->doc_id, NULL) == QUIRE_OK)
            quire_access_forget(p->ctx->access, subject); /* roles cached while it projected */
        cJSON_AddBoolToObject(j, "deleted", true);
        doc_cache_remove(p->ctx->cache, p->doc_id);
        api_reply_json(p->req, 200, j);
    } else {
        char loc[200];
        cJSON_AddStringToObject(j, "role", "owner");
        snprintf(loc, sizeof loc, "/v1/docs/%s", p->doc_id);
        api_add_header(p->req, "Location", loc);
        api_docs_cache_headers(p->req, p->offset);
        api_reply_json(p->req, 201, j);
    }
    api_resume(p->req);
    free(p);
}

static void on_durable(void *opaque, const ingest_result_t *res)
{
    lc_pending_t *p = opaque;
    if (res->err) {
        api_add_header(p->req, "Retry-After", "1");
        api_reply_error(p->req, 503, "kafka_unavailable", "%s; nothing was saved", res->message);
        api_resume(p->req);
        free(p);
        return;
    }
    p->partition = res->partition;
    p->offset = res->offset;
    if (p->is_delete) { /* every gateway closes the document's sockets (4404) */
        char subject[QUIRE_CONTROL_SUBJECT_MAX + 1];
        if (quire_control_subject(subject, sizeof subject, "doc", p->doc_id, NULL) == QUIRE_OK)
            api_auth_publish(p->ctx->auth, subject);
    }
    if (api_notify_wait(p->ctx->notify, res->partition, res->offset, p->ctx->min_version_wait_ms,
                        on_projected, p) != QUIRE_OK)
        on_projected(p, false);
}

static api_next_t submit(api_ctx_t *ctx, api_req_t *req, const char *doc_id, bool is_delete)
{
    lc_pending_t *p = calloc(1, sizeof *p);
    if (!p) {
        api_reply_error(req, 500, "internal", "out of memory");
        return API_DONE;
    }
    p->ctx = ctx;
    p->req = req;
    p->is_delete = is_delete;
    snprintf(p->doc_id, sizeof p->doc_id, "%s", doc_id);
    ingest_write_t w = {
        .doc_id = doc_id,
        .actor = api_req_identity(req)->user,
        .kind = is_delete ? EVENT_CODEC_KIND_DELETE : EVENT_CODEC_KIND_CREATE,
        .doc_bytes = -1,
    };
    char errbuf[512];
    quire_err_t err = ingest_submit(ctx->ingest, &w, on_durable, p, NULL, errbuf, sizeof errbuf);
    if (err) {
        free(p);
        api_reply_quire_err(req, err, errbuf);
        return API_DONE;
    }
    return API_SUSPEND;
}

api_next_t api_post_docs(api_req_t *req, void *ctxp)
{
    api_ctx_t *ctx = ctxp;
    size_t len;
    const uint8_t *body = api_req_body(req, &len);
    char id[EVENT_CODEC_DOC_ID_MAX + 1];
    if (len) {
        const char *ctype = api_req_header(req, "Content-Type");
        if (!ctype || strncmp(ctype, "application/json", 16) != 0) {
            api_reply_error(req, 415, "unsupported_media_type", "send a JSON object");
            return API_DONE;
        }
        cJSON *j = cJSON_ParseWithLength((const char *)body, len);
        cJSON *jid = j ? cJSON_GetObjectItemCaseSensitive(j, "id") : NULL;
        bool ok = j && cJSON_IsObject(j) && (!jid || cJSON_IsString(jid));
        for (cJSON *c = j ? j->child : NULL; ok && c; c = c->next)
            ok = strcmp(c->string, "id") == 0;
        if (!ok) {
            cJSON_Delete(j);
            api_reply_error(req, 400, "bad_request",
                            "the body is a JSON object with at most a string member \"id\"");
            return API_DONE;
        }
        if (jid && !api_doc_id_valid(jid->valuestring)) {
            cJSON_Delete(j);
            api_reply_error(req, 400, "bad_document_id",
                            "document ids are 1-128 of [A-Za-z0-9._~-]");
            return API_DONE;
        }
        if (jid)
            snprintf(id, sizeof id, "%s", jid->valuestring);
        else
            id[0] = '\0';
        cJSON_Delete(j);
    } else {
        id[0] = '\0';
    }
    if (!id[0]) { /* 128 random bits, base64url */
        uint8_t rnd[16];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2base64(id, sizeof id, rnd, sizeof rnd, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    }
    quire_err_t err = api_authorize(ctx, api_req_identity(req), id, API_CREATE);
    if (err) {
        api_reply_quire_err(req, err, NULL);
        return API_DONE;
    }
    int64_t v;
    readmodel_lifecycle_t lc;
    err = api_docs_lookup(ctx, id, &v, &lc);
    if (err == QUIRE_OK) {
        api_reply_error(req, 409, "exists",
                        lc == READMODEL_DELETED ? "a deleted document had this id"
                                                : "a document with this id exists");
        return API_DONE;
    }
    if (err != QUIRE_ERR_NOT_FOUND) {
        api_reply_quire_err(req, err, "read model unavailable");
        return API_DONE;
    }
    /* the creator becomes owner before the CREATE is produced: of two creators of one id exactly
     * one is owner, and the owner can use the document as soon as the answer arrives */
    quire_role_t role = QUIRE_ROLE_NONE;
    err = quire_access_claim(ctx->access, id, api_req_identity(req)->user, &role);
    if (err) {
        api_reply_quire_err(req, err, "documents cannot be created now; retry");
        return API_DONE;
    }
    if (role != QUIRE_ROLE_OWNER) {
        api_reply_error(req, 409, "exists", "a document with this id exists");
        return API_DONE;
    }
    return submit(ctx, req, id, false);
}

api_next_t api_delete_doc(api_req_t *req, void *ctxp)
{
    api_ctx_t *ctx = ctxp;
    const char *doc_id = api_req_param(req, "id");
    if (!api_docs_admit(ctx, req, doc_id, API_ADMIN))
        return API_DONE;
    int64_t v;
    readmodel_lifecycle_t lc;
    quire_err_t err = api_docs_lookup(ctx, doc_id, &v, &lc);
    if (err == QUIRE_OK && lc == READMODEL_DELETED)
        err = QUIRE_ERR_NOT_FOUND;
    if (err) {
        api_reply_quire_err(req, err,
                            err == QUIRE_ERR_UNAVAILABLE ? "read model unavailable" : NULL);
        return API_DONE;
    }
    return submit(ctx, req, doc_id, true);
}
