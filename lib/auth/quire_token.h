/*
 * quire_token — access tokens: HS256 JWTs signed with configured keys, verified strictly.
 *
 * libjwt 1.10.2 checks no claims, accepts unverified tokens without a key, is open to algorithm
 * confusion and writes out of bounds on tokens like ".." (../shared/reference/
 * reliability-security.md §3). So quire, before libjwt sees a token: caps its length, requires
 * three non-empty base64url segments, decodes the header itself and requires exactly
 * {"alg":"HS256","typ":"JWT"} plus a `kid` naming a configured key; after libjwt verified the
 * signature with that key: asserts the algorithm is HS256, and checks exp, nbf, iss, aud, typ and
 * the presence of sub, sid and jti itself, with a bounded leeway.
 *
 * Keys: "kid=SECRET[,kid=SECRET...]" where SECRET is base64url (or standard base64) of at least 32
 * random bytes; the first key signs, all verify (rotation: add the new key first, drop the old one
 * after the token lifetime). A verifier refuses to be created without a strong key.
 */
#ifndef QUIRE_TOKEN_H
#define QUIRE_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "quire_cfg.h"
#include "quire_err.h"

#define QUIRE_TOKEN_MAX_LEN  4096 /* longer tokens are refused before parsing */
#define QUIRE_USER_MAX       64   /* user ids: 1..64 of [A-Za-z0-9._@+-] */
#define QUIRE_SESSION_ID_MAX 48
#define QUIRE_TOKEN_LEEWAY_S 30 /* clock leeway for exp/nbf, ≤ 60 s per RFC 8725 practice */

typedef struct quire_tokens_s quire_tokens_t;

/* The options every role that authenticates shares; embed `quire_token_conf_t token;` in the
 * command's struct and add QUIRE_CFG_TOKEN_OPTS(type, token) to its table. */
typedef struct quire_token_conf_s {
    char *keys;
    char *issuer;
    char *audience;
} quire_token_conf_t;

#define QUIRE_CFG_TOKEN_OPTS(type, member)                                                          \
    {"jwt-keys",                                                                                    \
     QUIRE_CFG_STRING,                                                                              \
     NULL,                                                                                          \
     0,                                                                                             \
     -1,                                                                                            \
     offsetof(type, member.keys),                                                                   \
     QUIRE_CFG_SECRET,                                                                              \
     "token keys \"kid=SECRET,...\" (base64url, >= 32 bytes; first signs; quire token keygen)"},    \
        {"jwt-issuer",          QUIRE_CFG_STRING, "quire", 0, -1, offsetof(type, member.issuer), 0, \
         "iss of access tokens"},                                                                   \
    {                                                                                               \
        "jwt-audience", QUIRE_CFG_STRING, "quire", 0, -1, offsetof(type, member.audience), 0,       \
            "aud of access tokens"                                                                  \
    }

/* Who is calling: what a verified token says, and nothing a client could claim otherwise. */
typedef struct quire_identity_s {
    char user[QUIRE_USER_MAX + 1];           /* sub */
    char session[QUIRE_SESSION_ID_MAX + 1];  /* sid: the login session (refresh-token family) */
    char token_id[QUIRE_SESSION_ID_MAX + 1]; /* jti */
    int64_t issued_at_s;                     /* iat */
    int64_t expires_at_s;                    /* exp */
} quire_identity_t;

/* Parses the key list and sets issuer/audience. NULL + errbuf when a key is missing, malformed
 * or shorter than 32 bytes. Strings are copied. */
quire_tokens_t *quire_tokens_new(const char *keys, const char *issuer, const char *audience,
                                 char *errbuf, size_t errlen);
void quire_tokens_destroy(quire_tokens_t *t);

/* Issues an access token for user/session valid for ttl_s from now_s. *ret_token is heap memory
 * the caller frees with free(). session may be NULL (a fresh random one is made). */
quire_err_t quire_tokens_issue(quire_tokens_t *t, const char *user, const char *session,
                               int64_t now_s, int64_t ttl_s, char **ret_token);

/* Verifies a token at time now_s. QUIRE_ERR_UNAUTHENTICATED (with a reason in errbuf, safe to
 * log, never to send to a client) for anything but a valid, current access token. */
quire_err_t quire_tokens_verify(quire_tokens_t *t, const char *token, int64_t now_s,
                                quire_identity_t *ret_identity, char *errbuf, size_t errlen);

/* A 32-byte MAC of `in` for `purpose` under configured key `key_index` (0 = the signing key),
 * with a subkey per purpose derived from the key (HMAC-SHA256(key, "quire/" purpose)), so no two
 * uses of a key can be confused with each other or with a token signature. For values the server
 * must be able to recompute alone: CSRF tokens, refresh-token successors. QUIRE_ERR_NOT_FOUND when
 * key_index is past the last key (callers that accept any key loop until then). */
quire_err_t quire_tokens_mac(const quire_tokens_t *t, int key_index, const char *purpose,
                             const void *in, size_t n, uint8_t ret_mac[32]);

#define QUIRE_CSRF_TOKEN_LEN 43 /* base64url of 32 bytes */

/* The CSRF token of a session (docs/auth.md): base64url of quire_tokens_mac(key 0, "csrf", sid).
 * buf must hold QUIRE_CSRF_TOKEN_LEN + 1 bytes. Stateless: any process with the keys derives it. */
quire_err_t quire_tokens_csrf(const quire_tokens_t *t, const char *session, char *buf, size_t len);

/* True when csrf is the CSRF token of session under any configured key (so a key rotation does
 * not invalidate the tokens pages hold). Compared in constant time. */
int quire_tokens_csrf_ok(const quire_tokens_t *t, const char *session, const char *csrf);

/* True when s is a valid user id (1..64 of [A-Za-z0-9._@+-]). */
int quire_user_id_valid(const char *s);

/* Writes a new random key line "kid=SECRET" (43-char base64url secret) into buf. */
quire_err_t quire_tokens_keygen(char *buf, size_t len);

/* base64url without padding; standard base64 and padding accepted on decode. Exposed for tests
 * and for other token kinds. decode returns -1 on invalid input or when out is too small. */
size_t quire_b64url_encode(const uint8_t *in, size_t n, char *out, size_t outlen);
long quire_b64url_decode(const char *in, size_t n, uint8_t *out, size_t outlen);

#endif
