/*
 * quire_password — password hashes: Argon2id through libsodium's crypto_pwhash_str.
 *
 * A hash is the self-describing string crypto_pwhash_str writes ("$argon2id$v=19$m=65536,t=2,
 * p=1$salt$hash"): it carries its own parameters, so verification needs none and the limits can
 * be raised later (quire_password_needs_rehash says when a stored hash is weaker than today's).
 * Limits are configurable: tests use the smallest libsodium allows; the defaults are libsodium's
 * "interactive" (2 passes, 64 MiB). Verification runs in constant time for a given hash; callers
 * verify unknown users against quire_password_dummy() so that an unknown user costs the same.
 */
#ifndef QUIRE_PASSWORD_H
#define QUIRE_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"

#define QUIRE_PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define QUIRE_PASSWORD_MIN      8   /* characters (bytes) */
#define QUIRE_PASSWORD_MAX      1024

typedef struct quire_password_params_s {
    uint64_t ops;       /* passes (crypto_pwhash_OPSLIMIT_MIN..MAX) */
    uint64_t mem_bytes; /* memory (crypto_pwhash_MEMLIMIT_MIN..MAX) */
} quire_password_params_t;

/* libsodium's interactive limits. */
quire_password_params_t quire_password_default_params(void);

/* The options every command that hashes passwords shares; embed `quire_password_conf_t pw;`
 * and add QUIRE_CFG_PASSWORD_OPTS(type, pw) to the table. */
typedef struct quire_password_conf_s {
    int64_t ops;
    int64_t mem_bytes;
} quire_password_conf_t;

#define QUIRE_CFG_PASSWORD_OPTS(type, member)                                                      \
    {"pwhash-ops",                                                                                 \
     QUIRE_CFG_INT,                                                                                \
     "2",                                                                                          \
     1,                                                                                            \
     32,                                                                                           \
     offsetof(type, member.ops),                                                                   \
     0,                                                                                            \
     "Argon2id passes for new password hashes"},                                                   \
    {                                                                                              \
        "pwhash-mem", QUIRE_CFG_BYTES, "64MiB", 8192, 4LL << 30, offsetof(type, member.mem_bytes), \
            0, "Argon2id memory for new password hashes"                                           \
    }

/* Hashes password (len bytes, QUIRE_PASSWORD_MIN..MAX) into buf (QUIRE_PASSWORD_HASH_MAX bytes).
 * QUIRE_ERR_INVALID for a password out of bounds or parameters libsodium refuses, QUIRE_ERR_NOMEM
 * when the memory cannot be had. */
quire_err_t quire_password_hash(const char *password, size_t len,
                                const quire_password_params_t *params, char *buf, size_t buflen);

/* True when password matches hash. A malformed hash never matches. */
bool quire_password_verify(const char *hash, const char *password, size_t len);

/* True when hash was made with other parameters than params (rehash it at the next login). */
bool quire_password_needs_rehash(const char *hash, const quire_password_params_t *params);

/* A fixed hash of a random password with params, made once, for verifying unknown users. The
 * string is owned by the caller's buffer. */
quire_err_t quire_password_dummy(const quire_password_params_t *params, char *buf, size_t buflen);

#endif
