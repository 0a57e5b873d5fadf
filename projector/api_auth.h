/*
 * api_auth — who is calling `quire api`, and the /v1/auth routes (docs/auth.md is the contract).
 *
 * Authentication (api_auth_authenticate, the server's authenticator): `Authorization: Bearer`
 * (bots, load tests; no CSRF token needed — a browser cannot add that header cross-site without
 * a preflight quire never grants) or else the `__Host-quire_access` cookie. Either way the token
 * is verified by quire_tokens_verify and its session must not be revoked (quire_access_session).
 * A cookie-authenticated request that may change something (any method but GET and HEAD) also
 * needs an allowlisted `Origin` — or, without one, `Sec-Fetch-Site: same-origin` — and
 * `X-CSRF-Token` equal to its session's CSRF token: 403 otherwise.
 *
 * Routes: POST /v1/auth/login, POST /v1/auth/refresh, POST /v1/auth/logout, GET /v1/auth/me.
 * Tokens travel only in `__Host-` cookies with `Path=/; Secure; HttpOnly; SameSite=Strict`; no
 * response body ever carries one. The CSRF token (an HMAC of the session id) is the only secret
 * a page may read.
 */
#ifndef API_AUTH_H
#define API_AUTH_H

#include <stdint.h>

#include "api_server.h"
#include "quire_access.h"
#include "quire_account.h"
#include "quire_control.h"

typedef struct api_auth_s api_auth_t;

#define API_ACCESS_COOKIE  "__Host-quire_access"
#define API_REFRESH_COOKIE "__Host-quire_refresh"

typedef struct api_auth_conf_s {
    quire_tokens_t *tokens;      /* borrowed */
    quire_access_t *access;      /* borrowed */
    quire_account_t *account;    /* borrowed */
    quire_control_t *control;    /* borrowed; may be NULL (no revocation messages) */
    const char *allowed_origins; /* comma-separated exact origins; copied */
    int64_t access_ttl_s;
    int publish_timeout_ms; /* how long logout and reuse wait for the control topic */
} api_auth_conf_t;

/* NULL + errbuf for an unusable origin list or out of memory. */
api_auth_t *api_auth_new(const api_auth_conf_t *conf, char *errbuf, size_t errlen);
void api_auth_destroy(api_auth_t *auth);

/* The api_authn_fn of `quire api`; ctx is the api_ctx_t. */
quire_err_t api_auth_authenticate(api_req_t *req, void *ctx, quire_identity_t *ret_identity);

/* Publishes a revocation subject without waiting (document deletions, role changes). */
void api_auth_publish(api_auth_t *auth, const char *subject);

api_next_t api_auth_login(api_req_t *req, void *ctx);
api_next_t api_auth_refresh(api_req_t *req, void *ctx);
api_next_t api_auth_logout(api_req_t *req, void *ctx);
api_next_t api_auth_me(api_req_t *req, void *ctx);

#endif
