/*
 * api_ctx — what every handler of `quire api` shares: configuration, the ingest write path, the
 * database pool, token keys, metrics, and the authorisation hook every read and write calls.
 */
#ifndef API_CTX_H
#define API_CTX_H

#include <stdbool.h>
#include <stdint.h>

#include "api_server.h"
#include "ingest.h"
#include "quire_pgpool.h"
#include "quire_token.h"

typedef enum api_action_e {
    API_READ,   /* content, state, history */
    API_WRITE,  /* updates */
    API_ADMIN,  /* delete, share */
    API_CREATE, /* create a new document */
} api_action_t;

typedef struct api_ctx_s {
    ingest_t *ingest;
    quire_pgpool_t *pool;
    quire_tokens_t *tokens;
    quire_metrics_t *metrics;
    int64_t max_doc_bytes;
    int pg_timeout_ms;
} api_ctx_t;

/*
 * The authorisation hook (DESIGN §7): may `who` do `action` on doc_id? QUIRE_OK, or
 * QUIRE_ERR_NOT_FOUND — documents the caller may not read are indistinguishable from missing
 * ones — or QUIRE_ERR_DENIED (readable but not writable), or QUIRE_ERR_UNAVAILABLE.
 */
quire_err_t api_authorize(api_ctx_t *ctx, const quire_identity_t *who, const char *doc_id,
                          api_action_t action);

/* Answers req with the HTTP status and error body that err means; message is for the client. */
void api_reply_quire_err(api_req_t *req, quire_err_t err, const char *message);

#endif
