/* api_common — the authorisation hook and the mapping of quire errors to HTTP answers. */
#include <string.h>

#include "api_ctx.h"

quire_err_t api_authorize(api_ctx_t *ctx, const quire_identity_t *who, const char *doc_id,
                          api_action_t action)
{
    /* Every route that reaches here is authenticated; per-document membership arrives with the
     * auth issue (owner/editor/viewer). Until then an authenticated identity may read and write,
     * and nothing anonymous gets this far. */
    if (!who || !who->user[0])
        return QUIRE_ERR_UNAUTHENTICATED;
    (void)ctx;
    (void)doc_id;
    (void)action;
    return QUIRE_OK;
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
        api_reply_error(req, 403, "forbidden", "%s", m);
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
