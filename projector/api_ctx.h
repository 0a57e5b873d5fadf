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
    const char *topic;           /* <prefix>.doc-updates: whose positions the read model records */
    struct api_notify_s *notify; /* read model progress, pushed (api_notify.h) */
    struct doc_cache_s *cache;   /* rendered documents by version (doc_cache.h) */
    bool create_on_write;        /* the first authorised write may create a document */
    int min_version_wait_ms;     /* ?min_version= and create/delete answers wait at most this */
    struct quire_access_s *access; /* roles, sessions, client ids (quire_access.h) */
    struct api_auth_s *auth;       /* logins, cookies, CSRF, revocations (api_auth.h) */
    struct api_static_s *web;      /* the web app's files (api_static.h); NULL without --web-root */
} api_ctx_t;

/*
 * The authorisation hook (DESIGN §7): may `who` do `action` on doc_id? QUIRE_OK, or
 * QUIRE_ERR_NOT_FOUND — documents the caller may not read are indistinguishable from missing
 * ones — or QUIRE_ERR_DENIED (readable but not writable: a viewer writing, a non-owner sharing
 * or deleting), or QUIRE_ERR_UNAVAILABLE. Roles (quire_access): READ needs viewer, WRITE editor,
 * ADMIN owner, CREATE only an identity. A WRITE to a document nobody has yet, with
 * create_on_write, claims it: the writer becomes its owner.
 */
quire_err_t api_authorize(api_ctx_t *ctx, const quire_identity_t *who, const char *doc_id,
                          api_action_t action);

/* The create-on-write policy (api_docs_lifecycle.c): QUIRE_OK when a write to doc_id may go
 * ahead — the document exists and is not deleted, or it is unknown and create_on_write lets the
 * first authorised write create it (its author becomes owner); else QUIRE_ERR_NOT_FOUND, or
 * QUIRE_ERR_UNAVAILABLE when the read model cannot be asked. */
quire_err_t api_docs_writable(api_ctx_t *ctx, const char *doc_id);

/* Answers req with the HTTP status and error body that err means; message is for the client. */
void api_reply_quire_err(api_req_t *req, quire_err_t err, const char *message);

#endif
