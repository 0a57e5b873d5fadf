/*
 * quire_token — HS256 access tokens (see header for the threat model).
 *
 * Order of checks in verify, cheapest and most hostile-input-tolerant first:
 *   1. length cap, shape: three non-empty base64url segments, nothing else;
 *   2. header decoded and parsed by quire: exactly alg=HS256, typ=JWT, kid (no other or duplicate
 *      members), kid names a configured key;
 *   3. libjwt verifies the signature with that key only; the algorithm is asserted afterwards;
 *   4. claims: iss, aud, typ="access", sub (a valid user id), sid, jti, iat, nbf ≤ now+leeway,
 *      exp > now−leeway.
 */
#include "quire_token.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS   8
#define KID_MAX    32
#define KEY_MAX    128
#define KEY_MIN    32
#define HEADER_MAX 256
#define TOKEN_TYPE "access"

typedef struct {
    char kid[KID_MAX + 1];
    uint8_t key[KEY_MAX];
    size_t keylen;
} key_t_;

struct quire_tokens_s {
    key_t_ keys[MAX_KEYS];
    int nkeys;
    char *issuer, *audience;
};

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t quire_b64url_encode(const uint8_t *in, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t k = n - i;
        if (k > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (k > 2)
            v |= in[i + 2];
        size_t chars = k >= 3 ? 4 : k + 1;
        if (o + chars + 1 > outlen)
            return 0;
        for (size_t c = 0; c < chars; c++)
            out[o++] = b64url[(v >> (18 - 6 * c)) & 63];
    }
    if (o + 1 > outlen)
        return 0;
    out[o] = '\0';
    return o;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

long quire_b64url_decode(const char *in, size_t n, uint8_t *out, size_t outlen)
{
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outlen)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)o;
}

int quire_user_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > QUIRE_USER_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '+' || c == '-'))
            return 0;
    }
    return 1;
}

static int kid_valid(const char *s, size_t n)
{
    if (n == 0 || n > KID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (b64val((unsigned char)s[i]) < 0 || s[i] == '+' || s[i] == '/')
            return 0;
    return 1;
}

quire_tokens_t *quire_tokens_new(const char *keys, const char *issuer, const char *audience,
                                 char *errbuf, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(errbuf, errlen, "could not initialise libsodium");
        return NULL;
    }
    if (!keys || !*keys) {
        snprintf(errbuf, errlen,
                 "no token signing key configured (set --jwt-keys; "
                 "`quire token keygen` makes one)");
        return NULL;
    }
    quire_tokens_t *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    const char *p = keys;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (t->nkeys == MAX_KEYS) {
            snprintf(errbuf, errlen, "too many token keys (at most %d)", MAX_KEYS);
            goto fail;
        }
        if (!eq || !kid_valid(p, (size_t)(eq - p))) {
            snprintf(errbuf, errlen, "token key %d is not \"kid=SECRET\" with a base64url kid",
                     t->nkeys + 1);
            goto fail;
        }
        key_t_ *k = &t->keys[t->nkeys];
        memcpy(k->kid, p, (size_t)(eq - p));
        k->kid[eq - p] = '\0';
        long kl = quire_b64url_decode(eq + 1, len - (size_t)(eq + 1 - p), k->key, sizeof k->key);
        if (kl < KEY_MIN) {
            snprintf(errbuf, errlen, "token key \"%s\" must be base64 of at least %d random bytes",
                     k->kid, KEY_MIN);
            goto fail;
        }
        k->keylen = (size_t)kl;
        t->nkeys++;
        p += len;
        if (*p == ',')
            p++;
    }
    t->issuer = strdup(issuer ? issuer : "quire");
    t->audience = strdup(audience ? audience : "quire");
    if (!t->issuer || !t->audience) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    return t;
fail:
    quire_tokens_destroy(t);
    return NULL;
}

void quire_tokens_destroy(quire_tokens_t *t)
{
    if (!t)
        return;
    sodium_memzero(t->keys, sizeof t->keys);
    free(t->issuer);
    free(t->audience);
    free(t);
}

static void random_id(char *out, size_t outlen)
{
    uint8_t raw[18];
    randombytes_buf(raw, sizeof raw);
    quire_b64url_encode(raw, sizeof raw, out, outlen);
}

quire_err_t quire_tokens_keygen(char *buf, size_t len)
{
    if (sodium_init() < 0)
        return QUIRE_ERR_INTERNAL;
    uint8_t raw[32], kidraw[6];
    char secret[64], kid[16];
    randombytes_buf(raw, sizeof raw);
    randombytes_buf(kidraw, sizeof kidraw);
    quire_b64url_encode(raw, sizeof raw, secret, sizeof secret);
    quire_b64url_encode(kidraw, sizeof kidraw, kid, sizeof kid);
    int n = snprintf(buf, len, "%s=%s", kid, secret);
    sodium_memzero(raw, sizeof raw);
    return (n < 0 || (size_t)n >= len) ? QUIRE_ERR_INVALID : QUIRE_OK;
}

quire_err_t quire_tokens_issue(quire_tokens_t *t, const char *user, const char *session,
                               int64_t now_s, int64_t ttl_s, char **ret_token)
{
    if (!quire_user_id_valid(user) || ttl_s <= 0 ||
        (session && (!*session || strlen(session) > QUIRE_SESSION_ID_MAX)))
        return QUIRE_ERR_INVALID;
    char sid[QUIRE_SESSION_ID_MAX + 1], jti[QUIRE_SESSION_ID_MAX + 1];
    if (session)
        snprintf(sid, sizeof sid, "%s", session);
    else
        random_id(sid, sizeof sid);
    random_id(jti, sizeof jti);
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0)
        return QUIRE_ERR_NOMEM;
    const key_t_ *k = &t->keys[0];
    int rc = jwt_add_header(jwt, "kid", k->kid);
    rc |= jwt_add_grant(jwt, "iss", t->issuer);
    rc |= jwt_add_grant(jwt, "aud", t->audience);
    rc |= jwt_add_grant(jwt, "typ", TOKEN_TYPE);
    rc |= jwt_add_grant(jwt, "sub", user);
    rc |= jwt_add_grant(jwt, "sid", sid);
    rc |= jwt_add_grant(jwt, "jti", jti);
    rc |= jwt_add_grant_int(jwt, "iat", (long)now_s);
    rc |= jwt_add_grant_int(jwt, "nbf", (long)now_s);
    rc |= jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s));
    rc |= jwt_set_alg(jwt, JWT_ALG_HS256, k->key, (int)k->keylen);
    char *tok = rc == 0 ? jwt_encode_str(jwt) : NULL;
    jwt_free(jwt);
    if (!tok)
        return QUIRE_ERR_NOMEM;
    *ret_token = strdup(tok);
    free(tok); /* jwt_encode_str returns malloc memory in libjwt 1.10 */
    return *ret_token ? QUIRE_OK : QUIRE_ERR_NOMEM;
}

static quire_err_t reject(char *errbuf, size_t errlen, const char *why)
{
    snprintf(errbuf, errlen, "%s", why);
    return QUIRE_ERR_UNAUTHENTICATED;
}

/* Checks the header ourselves; returns the key it names or NULL. */
static const key_t_ *check_header(const quire_tokens_t *t, const char *seg, size_t n,
                                  const char **why)
{
    uint8_t raw[HEADER_MAX + 1];
    long len = quire_b64url_decode(seg, n, raw, HEADER_MAX);
    if (len <= 0) {
        *why = "token header is not base64url or too long";
        return NULL;
    }
    raw[len] = '\0';
    if (memchr(raw, '\0', (size_t)len)) {
        *why = "token header contains NUL";
        return NULL;
    }
    cJSON *h = cJSON_ParseWithLength((const char *)raw, (size_t)len);
    const key_t_ *key = NULL;
    *why = "token header is not the expected JSON object";
    if (h && cJSON_IsObject(h)) {
        int members = 0, alg_ok = 0, typ_ok = 0;
        const char *kid = NULL;
        for (cJSON *c = h->child; c; c = c->next) {
            members++;
            if (strcmp(c->string, "alg") == 0 && cJSON_IsString(c))
                alg_ok += strcmp(c->valuestring, "HS256") == 0 ? 1 : 100;
            else if (strcmp(c->string, "typ") == 0 && cJSON_IsString(c))
                typ_ok += strcmp(c->valuestring, "JWT") == 0 ? 1 : 100;
            else if (strcmp(c->string, "kid") == 0 && cJSON_IsString(c) && !kid)
                kid = c->valuestring;
            else
                members += 100; /* unknown or duplicate member */
        }
        if (alg_ok != 1)
            *why = "token algorithm is not HS256";
        else if (members != 3 || typ_ok != 1 || !kid)
            *why = "token header has unexpected members";
        else {
            *why = "token key id is not configured";
            for (int i = 0; i < t->nkeys; i++)
                if (strcmp(t->keys[i].kid, kid) == 0)
                    key = &t->keys[i];
        }
    }
    cJSON_Delete(h);
    return key;
}

static int copy_grant(jwt_t *jwt, const char *name, char *out, size_t outlen)
{
    const char *v = jwt_get_grant(jwt, name);
    if (!v || !*v || strlen(v) >= outlen)
        return 0;
    memcpy(out, v, strlen(v) + 1);
    return 1;
}

static int int_grant(jwt_t *jwt, const char *name, int64_t *out)
{
    errno = 0;
    long v = jwt_get_grant_int(jwt, name);
    if (errno != 0)
        return 0;
    *out = v;
    return 1;
}

quire_err_t quire_tokens_verify(quire_tokens_t *t, const char *token, int64_t now_s,
                                quire_identity_t *ret_identity, char *errbuf, size_t errlen)
{
    if (!token)
        return reject(errbuf, errlen, "no token");
    size_t n = strnlen(token, QUIRE_TOKEN_MAX_LEN + 1);
    if (n > QUIRE_TOKEN_MAX_LEN)
        return reject(errbuf, errlen, "token too long");
    const char *dot1 = memchr(token, '.', n);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot1 || !dot2 || dot1 == token || dot2 == dot1 + 1 || dot2 + 1 == token + n)
        return reject(errbuf, errlen, "token is not three non-empty segments");
    for (size_t i = 0; i < n; i++)
        if (token[i] != '.' &&
            (b64val((unsigned char)token[i]) < 0 || token[i] == '+' || token[i] == '/'))
            return reject(errbuf, errlen, "token has characters outside base64url");
    if (memchr(dot2 + 1, '.', n - (size_t)(dot2 + 1 - token)))
        return reject(errbuf, errlen, "token has more than three segments");

    const char *why = NULL;
    const key_t_ *key = check_header(t, token, (size_t)(dot1 - token), &why);
    if (!key)
        return reject(errbuf, errlen, why);

    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, token, key->key, (int)key->keylen) != 0 || !jwt)
        return reject(errbuf, errlen, "token signature does not verify");
    quire_err_t err = QUIRE_ERR_UNAUTHENTICATED;
    quire_identity_t id;
    memset(&id, 0, sizeof id);
    char iss[128], aud[128], typ[16];
    int64_t nbf = 0;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        reject(errbuf, errlen, "token algorithm is not HS256");
    else if (!copy_grant(jwt, "iss", iss, sizeof iss) || strcmp(iss, t->issuer) != 0)
        reject(errbuf, errlen, "token issuer is wrong");
    else if (!copy_grant(jwt, "aud", aud, sizeof aud) || strcmp(aud, t->audience) != 0)
        reject(errbuf, errlen, "token audience is wrong");
    else if (!copy_grant(jwt, "typ", typ, sizeof typ) || strcmp(typ, TOKEN_TYPE) != 0)
        reject(errbuf, errlen, "token is not an access token");
    else if (!copy_grant(jwt, "sub", id.user, sizeof id.user) || !quire_user_id_valid(id.user))
        reject(errbuf, errlen, "token subject is missing or invalid");
    else if (!copy_grant(jwt, "sid", id.session, sizeof id.session) ||
             !copy_grant(jwt, "jti", id.token_id, sizeof id.token_id))
        reject(errbuf, errlen, "token lacks a session or token id");
    else if (!int_grant(jwt, "exp", &id.expires_at_s) || !int_grant(jwt, "nbf", &nbf) ||
             !int_grant(jwt, "iat", &id.issued_at_s))
        reject(errbuf, errlen, "token lacks exp, nbf or iat");
    else if (id.expires_at_s <= now_s - QUIRE_TOKEN_LEEWAY_S)
        reject(errbuf, errlen, "token expired");
    else if (nbf > now_s + QUIRE_TOKEN_LEEWAY_S)
        reject(errbuf, errlen, "token not yet valid");
    else
        err = QUIRE_OK;
    jwt_free(jwt);
    if (err == QUIRE_OK)
        *ret_identity = id;
    return err;
}

quire_err_t quire_tokens_mac(const quire_tokens_t *t, int key_index, const char *purpose,
                             const void *in, size_t n, uint8_t ret_mac[32])
{
    if (key_index < 0 || key_index >= t->nkeys)
        return QUIRE_ERR_NOT_FOUND;
    const key_t_ *k = &t->keys[key_index];
    uint8_t sub[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, k->key, k->keylen);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)"quire/", 6);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)purpose, strlen(purpose));
    crypto_auth_hmacsha256_final(&st, sub);
    crypto_auth_hmacsha256_init(&st, sub, sizeof sub);
    crypto_auth_hmacsha256_update(&st, in, n);
    crypto_auth_hmacsha256_final(&st, ret_mac);
    sodium_memzero(sub, sizeof sub);
    sodium_memzero(&st, sizeof st);
    return QUIRE_OK;
}

quire_err_t quire_tokens_csrf(const quire_tokens_t *t, const char *session, char *buf, size_t len)
{
    uint8_t mac[32];
    if (!session || !*session || len < QUIRE_CSRF_TOKEN_LEN + 1)
        return QUIRE_ERR_INVALID;
    quire_err_t err = quire_tokens_mac(t, 0, "csrf", session, strlen(session), mac);
    if (err)
        return err;
    quire_b64url_encode(mac, sizeof mac, buf, len);
    return QUIRE_OK;
}

int quire_tokens_csrf_ok(const quire_tokens_t *t, const char *session, const char *csrf)
{
    if (!session || !*session || !csrf ||
        strnlen(csrf, QUIRE_CSRF_TOKEN_LEN + 1) != QUIRE_CSRF_TOKEN_LEN)
        return 0;
    uint8_t want[32];
    if (quire_b64url_decode(csrf, QUIRE_CSRF_TOKEN_LEN, want, sizeof want) != 32)
        return 0;
    int ok = 0;
    for (int i = 0; i < t->nkeys; i++) {
        uint8_t mac[32];
        quire_tokens_mac(t, i, "csrf", session, strlen(session), mac);
        ok |= sodium_memcmp(mac, want, sizeof mac) == 0;
    }
    return ok;
}
