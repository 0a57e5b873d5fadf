/*
 * quire_password — Argon2id hashes (see the header). Nothing here logs or keeps a password; the
 * caller's buffer is the only copy, and it is the caller's to wipe.
 */
#include "quire_password.h"

#include <sodium.h>
#include <string.h>

quire_password_params_t quire_password_default_params(void)
{
    quire_password_params_t p = {crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                 crypto_pwhash_MEMLIMIT_INTERACTIVE};
    return p;
}

static bool params_ok(const quire_password_params_t *p)
{
    return p->ops >= crypto_pwhash_OPSLIMIT_MIN && p->ops <= crypto_pwhash_OPSLIMIT_MAX &&
           p->mem_bytes >= crypto_pwhash_MEMLIMIT_MIN && p->mem_bytes <= crypto_pwhash_MEMLIMIT_MAX;
}

quire_err_t quire_password_hash(const char *password, size_t len,
                                const quire_password_params_t *params, char *buf, size_t buflen)
{
    if (sodium_init() < 0)
        return QUIRE_ERR_INTERNAL;
    if (!password || len < QUIRE_PASSWORD_MIN || len > QUIRE_PASSWORD_MAX || !params_ok(params) ||
        buflen < crypto_pwhash_STRBYTES)
        return QUIRE_ERR_INVALID;
    if (crypto_pwhash_str_alg(buf, password, len, params->ops, (size_t)params->mem_bytes,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return QUIRE_ERR_NOMEM; /* libsodium fails only when it cannot allocate */
    return QUIRE_OK;
}

bool quire_password_verify(const char *hash, const char *password, size_t len)
{
    if (sodium_init() < 0 || !hash || !password || len > QUIRE_PASSWORD_MAX)
        return false;
    size_t hl = strnlen(hash, crypto_pwhash_STRBYTES);
    if (hl == 0 || hl >= crypto_pwhash_STRBYTES ||
        strncmp(hash, crypto_pwhash_argon2id_STRPREFIX, strlen(crypto_pwhash_argon2id_STRPREFIX)))
        return false;
    return crypto_pwhash_str_verify(hash, password, len) == 0;
}

bool quire_password_needs_rehash(const char *hash, const quire_password_params_t *params)
{
    if (!hash || strnlen(hash, crypto_pwhash_STRBYTES) >= crypto_pwhash_STRBYTES)
        return true;
    return crypto_pwhash_str_needs_rehash(hash, params->ops, (size_t)params->mem_bytes) != 0;
}

quire_err_t quire_password_dummy(const quire_password_params_t *params, char *buf, size_t buflen)
{
    if (sodium_init() < 0)
        return QUIRE_ERR_INTERNAL;
    uint8_t raw[24];
    char pw[40];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(pw, sizeof pw, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    quire_err_t err = quire_password_hash(pw, strlen(pw), params, buf, buflen);
    sodium_memzero(pw, sizeof pw);
    return err;
}
