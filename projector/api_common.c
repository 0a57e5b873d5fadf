/* api_common — the authorisation hook and the mapping of quire errors to HTTP answers. */
#include <string.h>

#include "api_ctx.h"
#include "quire_access.h"

quire_err_t api_authorize(api_ctx_t *ctx, const quire_identity_t *who, const char *doc_id,
                          api_action_t action)
{
    if (!who || !who->user[0])
        return QUIRE_ERR_UNAUTHENTICATED;
    if (action == API_CREATE)
        return QUIRE_OK; /* any identity; api_post_docs claims the id */
    quire_role_t role = QUIRE_ROLE_NONE;
    quire_err_t err = quire_access_role(ctx->access, doc_id, who->user, &role);
    if (!err && role == QUIRE_ROLE_NONE && action == API_WRITE && ctx->create_on_write)
        err = quire_access_claim(ctx->access, doc_id, who->user, &role);
    if (err)
        return err == QUIRE_ERR_INVALID ? QUIRE_ERR_NOT_FOUND : err;
    quire_role_t need = action == API_READ    ? QUIRE_ROLE_VIEWER
                        : action == API_WRITE ? QUIRE_ROLE_EDITOR
                                              : QUIRE_ROLE_OWNER;
    if (role == QUIRE_ROLE_NONE)
        return QUIRE_ERR_NOT_FOUND;
    return role >= need ? QUIRE_OK : QUIRE_ERR_DENIED;
}

void api_reply_quire_err(api_req_t *req, quire_err_t err, const char *message)
{
    const char *m = message && *message ? message : quire_err_str(err);
    switch (err) {
    case QUIRE_ERR_MALFORMED:
    case QUIRE_ERR_EMPTY:
    case QUIRE_ERR_LIMIT:
    case QUIRE_ERR_INVALID:
        api_reply_error(req, 400, "bad_request", "%s", m);
        break;
    case QUIRE_ERR_TOO_LARGE:
        api_reply_error(req, 413, "too_large", "%s", m);
        break;
    case QUIRE_ERR_NOT_FOUND:
        api_reply_error(req, 404, "not_found", "no such document");
        break;
    case QUIRE_ERR_DENIED:
        api_reply_error(req, 403, "forbidden", "%s",
                        message && *message ? message
                                            : "your role in this document does not allow this "
                                              "(viewers only read; only the owner shares or "
                                              "deletes)");
        break;
    case QUIRE_ERR_SPOOFED:
        api_reply_error(req, 403, "client_id_spoofed", "%s", m);
        break;
    case QUIRE_ERR_UNAUTHENTICATED:
        api_reply_error(req, 401, "unauthenticated", "authentication required");
        break;
    case QUIRE_ERR_BUSY:
    case QUIRE_ERR_UNAVAILABLE:
    case QUIRE_ERR_KAFKA:
    case QUIRE_ERR_PG:
    case QUIRE_ERR_TIMEOUT:
    case QUIRE_ERR_SHUTDOWN:
        api_add_header(req, "Retry-After", "1");
        api_reply_error(req, 503, "unavailable", "%s", m);
        break;
    default:
        api_reply_error(req, 500, "internal", "%s", m);
        break;
    }
}
