/*
 * quire_account — users, login sessions and refresh tokens (DESIGN §7, docs/auth.md).
 *
 * Users log in with a password (Argon2id, quire_password). A login opens a session — the family
 * of refresh tokens, whose id is the `sid` claim of every access token issued in it — and hands
 * out its first refresh token: 256 random bits, base64url, stored only as SHA-256.
 *
 * Refresh (rotation on every use), decided under a lock on the session row so that the requests
 * of one family are serialised:
 *   - an unused, unexpired token of a live session is exchanged for its successor;
 *   - THE TWO-TABS RULE: a token presented again within refresh_grace_s of its rotation, while its
 *     successor is still unused, gets the same successor again (and a fresh access token). The
 *     successor is HMAC(server key, token) — recomputable, never stored — so two tabs refreshing
 *     at once, or a retry after a lost response, all end holding the one current token, whatever
 *     order the answers arrive in;
 *   - any other presentation of a rotated token is reuse: the whole session is revoked (every
 *     token of the family stops working) and the caller publishes "session:<sid>";
 *   - unknown, expired, or revoked: refused.
 * A session also ends at its absolute lifetime (session_max_age_s), whatever the refreshes.
 *
 * Times are passed in (now_s, wall-clock seconds) and written as parameters, never taken from the
 * database clock, so tests control them.
 *
 * Threads: a quire_account_t may be used from any thread. Every call blocks on PostgreSQL;
 * logins also on Argon2id, at most max_hashing at a time (more wait up to pg_timeout_ms, then
 * QUIRE_ERR_BUSY): verifying a password costs tens of MiB for tens of ms.
 */
#ifndef QUIRE_ACCOUNT_H
#define QUIRE_ACCOUNT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "quire_password.h"
#include "quire_pgpool.h"
#include "quire_token.h"

#define QUIRE_REFRESH_TOKEN_LEN 43 /* base64url of 32 bytes */

typedef struct quire_account_s quire_account_t;

typedef struct quire_account_conf_s {
    quire_pgpool_t *pool;      /* borrowed */
    quire_tokens_t *tokens;    /* borrowed: derives refresh-token successors */
    int pg_timeout_ms;         /* default 5000 */
    int64_t refresh_ttl_s;     /* a refresh token's idle lifetime (default 24 h) */
    int64_t session_max_age_s; /* a session's absolute lifetime (default 7 days) */
    int64_t refresh_grace_s;   /* the two-tabs window (default 10 s; 0 = every repeat is reuse) */
    quire_password_params_t password; /* for rehashing at login */
    int max_hashing;                  /* concurrent Argon2id verifications (default 2) */
} quire_account_conf_t;

/* What a login or a refresh hands out. */
typedef struct quire_grant_s {
    char user[QUIRE_USER_MAX + 1];
    char session[QUIRE_SESSION_ID_MAX + 1];
    char refresh[QUIRE_REFRESH_TOKEN_LEN + 1];
    int64_t refresh_expires_at_s;
    bool repeated; /* the two-tabs rule gave an already issued successor */
} quire_grant_t;

typedef enum quire_refresh_outcome_e {
    QUIRE_REFRESH_GRANTED = 0, /* grant filled (rotated, or repeated within the grace) */
    QUIRE_REFRESH_REFUSED,     /* unknown, expired, or its session is over */
    QUIRE_REFRESH_REUSED,      /* reuse detected: session revoked now (publish it) */
} quire_refresh_outcome_t;

typedef struct quire_refresh_result_s {
    quire_refresh_outcome_t outcome;
    quire_grant_t grant;                    /* GRANTED */
    char session[QUIRE_SESSION_ID_MAX + 1]; /* REUSED: the revoked session; GRANTED: its session */
    const char *why;                        /* REFUSED/REUSED: for logs, never for clients */
} quire_refresh_result_t;

/* NULL + errbuf when the configuration is unusable or out of memory. */
quire_account_t *quire_account_new(const quire_account_conf_t *conf, char *errbuf, size_t errlen);
void quire_account_destroy(quire_account_t *a);

/* Checks user/password (unknown users cost the same as known ones) and opens a session.
 * QUIRE_ERR_UNAUTHENTICATED for bad credentials, QUIRE_ERR_BUSY when too many logins hash at
 * once, QUIRE_ERR_UNAVAILABLE without PostgreSQL. */
quire_err_t quire_account_login(quire_account_t *a, const char *user, const char *password,
                                size_t len, int64_t now_s, quire_grant_t *ret_grant);

/* Exchanges a refresh token (see the rules above). QUIRE_OK whenever a decision was made — the
 * outcome says which; QUIRE_ERR_UNAVAILABLE when PostgreSQL could not be asked. */
quire_err_t quire_account_refresh(quire_account_t *a, const char *refresh_token, int64_t now_s,
                                  quire_refresh_result_t *ret_result);

/* The session a refresh token belongs to (used, expired or not). QUIRE_ERR_NOT_FOUND when none. */
quire_err_t quire_account_session_of(quire_account_t *a, const char *refresh_token,
                                     char ret_session[QUIRE_SESSION_ID_MAX + 1]);

/* Revokes a session (logout). QUIRE_OK also when it was already revoked or is not a login session
 * at all (a bearer token's sid). */
quire_err_t quire_account_revoke(quire_account_t *a, const char *session, int64_t now_s,
                                 const char *reason);

/* ---- administration on a plain connection (`quire user`) ------------------------------------ */

/* Adds a user with a hash made by quire_password_hash. QUIRE_ERR_EXISTS when the user exists. */
quire_err_t quire_account_user_add(PGconn *pg, const char *user, const char *hash, char *errbuf,
                                   size_t errlen);
/* Replaces a user's password hash and revokes every session of the user (a password change ends
 * all logins). QUIRE_ERR_NOT_FOUND for an unknown user. *ret_revoked = sessions revoked. */
quire_err_t quire_account_user_passwd(PGconn *pg, const char *user, const char *hash, int64_t now_s,
                                      int *ret_revoked, char *errbuf, size_t errlen);

/* ---- exposed for tests ---------------------------------------------------------------------- */

/* True when s has the shape of a refresh token (43 base64url characters, nothing else). */
bool quire_refresh_token_valid(const char *s);
/* The successor of token under key key_index (quire_tokens_mac "refresh"). */
quire_err_t quire_refresh_successor(const quire_tokens_t *t, int key_index, const char *token,
                                    char ret_next[QUIRE_REFRESH_TOKEN_LEN + 1]);

#endif
