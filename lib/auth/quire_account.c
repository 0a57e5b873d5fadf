/*
 * quire_account — logins, sessions and rotating refresh tokens (see the header for the rules).
 *
 * What must stay true:
 *   - a refresh token is never stored, logged or compared in the clear: rows hold SHA-256 of it,
 *     and lookups go by that hash (an index lookup, not a secret comparison);
 *   - every decision about a family is taken after locking its session row, with the rows read
 *     by a statement that starts after the lock was granted (READ COMMITTED gives each statement
 *     its own snapshot), so two refreshes of one family never both rotate;
 *   - a reuse revokes in the same transaction that detected it.
 */
#include "quire_account.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quire_log.h"

#define SID_BYTES 18 /* 144 bits → 24 base64url characters */

struct quire_account_s {
    quire_account_conf_t conf;
    char dummy_hash[QUIRE_PASSWORD_HASH_MAX];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int hashing;
};

bool quire_refresh_token_valid(const char *s)
{
    if (!s || strnlen(s, QUIRE_REFRESH_TOKEN_LEN + 1) != QUIRE_REFRESH_TOKEN_LEN)
        return false;
    for (size_t i = 0; i < QUIRE_REFRESH_TOKEN_LEN; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

quire_err_t quire_refresh_successor(const quire_tokens_t *t, int key_index, const char *token,
                                    char ret_next[QUIRE_REFRESH_TOKEN_LEN + 1])
{
    uint8_t mac[32];
    quire_err_t err = quire_tokens_mac(t, key_index, "refresh", token, strlen(token), mac);
    if (err)
        return err;
    quire_b64url_encode(mac, sizeof mac, ret_next, QUIRE_REFRESH_TOKEN_LEN + 1);
    sodium_memzero(mac, sizeof mac);
    return QUIRE_OK;
}

static void token_hash(const char *token, uint8_t out[32])
{
    crypto_hash_sha256(out, (const uint8_t *)token, strlen(token));
}

static void random_b64(size_t bytes, char *out, size_t outlen)
{
    uint8_t raw[32];
    randombytes_buf(raw, bytes);
    quire_b64url_encode(raw, bytes, out, outlen);
    sodium_memzero(raw, sizeof raw);
}

quire_account_t *quire_account_new(const quire_account_conf_t *conf, char *errbuf, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(errbuf, errlen, "could not initialise libsodium");
        return NULL;
    }
    if (!conf->pool || !conf->tokens) {
        snprintf(errbuf, errlen, "accounts need a database pool and token keys");
        return NULL;
    }
    quire_account_t *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    a->conf = *conf;
    if (a->conf.pg_timeout_ms <= 0)
        a->conf.pg_timeout_ms = 5000;
    if (a->conf.refresh_ttl_s <= 0)
        a->conf.refresh_ttl_s = 24 * 3600;
    if (a->conf.session_max_age_s <= 0)
        a->conf.session_max_age_s = 7 * 24 * 3600;
    if (a->conf.refresh_grace_s < 0)
        a->conf.refresh_grace_s = 0;
    if (a->conf.max_hashing <= 0)
        a->conf.max_hashing = 2;
    if (a->conf.password.ops == 0)
        a->conf.password = quire_password_default_params();
    if (quire_password_dummy(&a->conf.password, a->dummy_hash, sizeof a->dummy_hash) != QUIRE_OK) {
        snprintf(errbuf, errlen, "invalid password hashing parameters");
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    return a;
}

void quire_account_destroy(quire_account_t *a)
{
    if (!a)
        return;
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* ---------------------------------------------------------------- PostgreSQL helpers */

/* Text parameters, except that a parameter whose length in lens is non-zero is binary. */
static PGresult *pq(PGconn *pg, const char *sql, int n, const char *const *values, const int *lens)
{
    int fmts[8] = {0};
    for (int i = 0; lens && i < n; i++)
        fmts[i] = lens[i] ? 1 : 0;
    PGresult *r = PQexecParams(pg, sql, n, NULL, values, lens, fmts, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        QLOG_DEBUG("account query failed", "err=\"%s\"", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

static bool pq_ok(PGconn *pg, const char *sql, int n, const char *const *values, const int *lens)
{
    PGresult *r = pq(pg, sql, n, values, lens);
    PQclear(r);
    return r != NULL;
}

static PGconn *get_pg(quire_account_t *a)
{
    char err[256];
    PGconn *pg = quire_pgpool_get(a->conf.pool, a->conf.pg_timeout_ms, err, sizeof err);
    if (!pg)
        QLOG_DEBUG("accounts: no database connection", "err=\"%s\"", err);
    return pg;
}

static void put_pg(quire_account_t *a, PGconn *pg, bool broken)
{
    if (pg && broken) {
        PGresult *r = PQexec(pg, "ROLLBACK");
        PQclear(r);
    }
    quire_pgpool_put(a->conf.pool, pg, broken);
}

/* ---------------------------------------------------------------- login */

static bool hashing_enter(quire_account_t *a)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += a->conf.pg_timeout_ms / 1000;
    deadline.tv_nsec += (long)(a->conf.pg_timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    bool ok = true;
    pthread_mutex_lock(&a->lock);
    while (a->hashing >= a->conf.max_hashing && ok)
        ok = pthread_cond_timedwait(&a->cond, &a->lock, &deadline) == 0;
    if (a->hashing < a->conf.max_hashing) {
        a->hashing++;
        ok = true;
    }
    pthread_mutex_unlock(&a->lock);
    return ok;
}

static void hashing_leave(quire_account_t *a)
{
    pthread_mutex_lock(&a->lock);
    a->hashing--;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

/* Opens a session with its first refresh token. */
static quire_err_t open_session(quire_account_t *a, PGconn *pg, const char *user, int64_t now_s,
                                quire_grant_t *g)
{
    char now[24], end[24], rexp[24], old[24];
    int64_t session_end = now_s + a->conf.session_max_age_s;
    int64_t refresh_end = now_s + a->conf.refresh_ttl_s;
    if (refresh_end > session_end)
        refresh_end = session_end;
    snprintf(now, sizeof now, "%lld", (long long)now_s);
    snprintf(end, sizeof end, "%lld", (long long)session_end);
    snprintf(rexp, sizeof rexp, "%lld", (long long)refresh_end);
    snprintf(old, sizeof old, "%lld", (long long)(now_s - 24 * 3600));
    memset(g, 0, sizeof *g);
    snprintf(g->user, sizeof g->user, "%s", user);
    random_b64(SID_BYTES, g->session, sizeof g->session);
    random_b64(32, g->refresh, sizeof g->refresh);
    g->refresh_expires_at_s = refresh_end;
    uint8_t h[32];
    token_hash(g->refresh, h);
    /* sessions that ended a day ago are of no use any more: the user's own are cleared here */
    const char *pclean[] = {user, old};
    const char *p[] = {g->session, user, now, end, (const char *)h, rexp};
    int lens[] = {0, 0, 0, 0, 32, 0};
    bool ok = pq_ok(pg, "DELETE FROM sessions WHERE user_id = $1 AND expires_at < to_timestamp($2)",
                    2, pclean, NULL) &&
              pq_ok(pg,
                    "WITH s AS (INSERT INTO sessions (sid, user_id, created_at, expires_at) "
                    "VALUES ($1, $2, to_timestamp($3), to_timestamp($4)) RETURNING sid) "
                    "INSERT INTO refresh_tokens (token_hash, sid, generation, created_at, "
                    "expires_at) SELECT $5, sid, 0, to_timestamp($3), to_timestamp($6) FROM s",
                    6, p, lens);
    return ok ? QUIRE_OK : QUIRE_ERR_UNAVAILABLE;
}

quire_err_t quire_account_login(quire_account_t *a, const char *user, const char *password,
                                size_t len, int64_t now_s, quire_grant_t *ret_grant)
{
    char stored[QUIRE_PASSWORD_HASH_MAX] = "";
    bool known = false;
    if (quire_user_id_valid(user) && password && len >= 1 && len <= QUIRE_PASSWORD_MAX) {
        PGconn *pg = get_pg(a);
        if (!pg)
            return QUIRE_ERR_UNAVAILABLE;
        const char *p[] = {user};
        PGresult *r = pq(pg, "SELECT password_hash FROM users WHERE user_id = $1", 1, p, NULL);
        put_pg(a, pg, !r);
        if (!r)
            return QUIRE_ERR_UNAVAILABLE;
        if (PQntuples(r) == 1 && (size_t)PQgetlength(r, 0, 0) < sizeof stored) {
            memcpy(stored, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0) + 1);
            known = true;
        }
        PQclear(r);
    }
    if (!hashing_enter(a))
        return QUIRE_ERR_BUSY;
    /* an unknown user, or a password out of bounds, costs one verification all the same */
    bool ok = quire_password_verify(known ? stored : a->dummy_hash, password ? password : "",
                                    password && len <= QUIRE_PASSWORD_MAX ? len : 0) &&
              known;
    char rehash[QUIRE_PASSWORD_HASH_MAX] = "";
    if (ok && quire_password_needs_rehash(stored, &a->conf.password) &&
        quire_password_hash(password, len, &a->conf.password, rehash, sizeof rehash) != QUIRE_OK)
        rehash[0] = '\0';
    hashing_leave(a);
    if (!ok) {
        QLOG_DEBUG("login refused", "user_known=%s", known ? "true" : "false");
        return QUIRE_ERR_UNAUTHENTICATED;
    }
    PGconn *pg = get_pg(a);
    if (!pg)
        return QUIRE_ERR_UNAVAILABLE;
    bool broken = false;
    if (rehash[0]) {
        const char *p[] = {user, rehash, stored};
        broken = !pq_ok(pg,
                        "UPDATE users SET password_hash = $2, updated_at = now() "
                        "WHERE user_id = $1 AND password_hash = $3",
                        3, p, NULL);
    }
    quire_grant_t g;
    quire_err_t err = broken ? QUIRE_ERR_UNAVAILABLE : open_session(a, pg, user, now_s, &g);
    put_pg(a, pg, err != QUIRE_OK);
    if (err)
        return err;
    QLOG_DEBUG("login", "user=%s session=%s", g.user, g.session);
    *ret_grant = g;
    return QUIRE_OK;
}

/* ---------------------------------------------------------------- refresh */

static const char sql_lock[] =
    "SELECT s.sid FROM refresh_tokens r JOIN sessions s ON s.sid = r.sid WHERE r.token_hash = $1 "
    "FOR UPDATE OF s";

static const char sql_read[] =
    "SELECT r.sid, r.generation, extract(epoch FROM r.expires_at)::int8, "
    "extract(epoch FROM r.rotated_at)::int8, s.user_id, extract(epoch FROM s.expires_at)::int8, "
    "s.revoked_at IS NOT NULL, r.successor_hash, "
    "n.token_hash IS NOT NULL AND n.rotated_at IS NULL, "
    "extract(epoch FROM n.expires_at)::int8 "
    "FROM refresh_tokens r JOIN sessions s ON s.sid = r.sid "
    "LEFT JOIN refresh_tokens n ON n.token_hash = r.successor_hash WHERE r.token_hash = $1";

enum {
    R_SID,
    R_GEN,
    R_EXP,
    R_ROTATED,
    R_USER,
    R_SEND,
    R_REVOKED,
    R_SUCC,
    R_SUCC_UNUSED,
    R_SUCC_EXP
};

static int64_t col_i64(PGresult *r, int c)
{
    return PQgetisnull(r, 0, c) ? -1 : strtoll(PQgetvalue(r, 0, c), NULL, 10);
}

/* Decides inside the open transaction; true when it may commit. */
static bool decide(quire_account_t *a, PGconn *pg, const char *token, const uint8_t h[32],
                   int64_t now_s, quire_refresh_result_t *res)
{
    const char *p1[] = {(const char *)h};
    int l1[] = {32};
    PGresult *lock = pq(pg, sql_lock, 1, p1, l1);
    if (!lock)
        return false;
    bool found = PQntuples(lock) == 1;
    PQclear(lock);
    if (!found) {
        res->outcome = QUIRE_REFRESH_REFUSED;
        res->why = "unknown refresh token";
        return true;
    }
    PGresult *r = pq(pg, sql_read, 1, p1, l1);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        return false;
    }
    snprintf(res->session, sizeof res->session, "%s", PQgetvalue(r, 0, R_SID));
    int64_t exp = col_i64(r, R_EXP), rotated = col_i64(r, R_ROTATED), send = col_i64(r, R_SEND);
    bool revoked = strcmp(PQgetvalue(r, 0, R_REVOKED), "t") == 0;
    bool succ_unused =
        !PQgetisnull(r, 0, R_SUCC) && strcmp(PQgetvalue(r, 0, R_SUCC_UNUSED), "t") == 0;
    int gen = atoi(PQgetvalue(r, 0, R_GEN));
    char user[QUIRE_USER_MAX + 1];
    snprintf(user, sizeof user, "%s", PQgetvalue(r, 0, R_USER));
    uint8_t succ_hash[32] = {0};
    size_t succ_len = 0;
    if (!PQgetisnull(r, 0, R_SUCC)) { /* text-format bytea: "\x<hex>" */
        const char *hex = PQgetvalue(r, 0, R_SUCC);
        if (strncmp(hex, "\\x", 2) == 0 &&
            sodium_hex2bin(succ_hash, sizeof succ_hash, hex + 2, strlen(hex + 2), NULL, &succ_len,
                           NULL) != 0)
            succ_len = 0;
    }
    int64_t succ_exp = col_i64(r, R_SUCC_EXP);
    PQclear(r);

    quire_grant_t *g = &res->grant;
    memset(g, 0, sizeof *g);
    snprintf(g->user, sizeof g->user, "%s", user);
    snprintf(g->session, sizeof g->session, "%s", res->session);
    if (revoked || send <= now_s) {
        res->outcome = QUIRE_REFRESH_REFUSED;
        res->why = revoked ? "the session was revoked" : "the session has ended";
        return true;
    }
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)now_s);
    if (rotated < 0) {
        if (exp <= now_s) {
            res->outcome = QUIRE_REFRESH_REFUSED;
            res->why = "the refresh token expired";
            return true;
        }
        if (quire_refresh_successor(a->conf.tokens, 0, token, g->refresh) != QUIRE_OK)
            return false;
        int64_t next_exp = now_s + a->conf.refresh_ttl_s;
        if (next_exp > send)
            next_exp = send;
        uint8_t nh[32];
        token_hash(g->refresh, nh);
        char sgen[16], sexp[24];
        snprintf(sgen, sizeof sgen, "%d", gen + 1);
        snprintf(sexp, sizeof sexp, "%lld", (long long)next_exp);
        const char *pi[] = {(const char *)nh, res->session, sgen, now, sexp};
        int li[] = {32, 0, 0, 0, 0};
        const char *pu[] = {(const char *)h, now, (const char *)nh};
        int lu[] = {32, 0, 32};
        if (!pq_ok(pg,
                   "INSERT INTO refresh_tokens (token_hash, sid, generation, created_at, "
                   "expires_at) VALUES ($1, $2, $3::int4, to_timestamp($4), to_timestamp($5))",
                   5, pi, li) ||
            !pq_ok(pg,
                   "UPDATE refresh_tokens SET rotated_at = to_timestamp($2), successor_hash = $3 "
                   "WHERE token_hash = $1",
                   3, pu, lu))
            return false;
        g->refresh_expires_at_s = next_exp;
        res->outcome = QUIRE_REFRESH_GRANTED;
        return true;
    }
    /* presented again: the two-tabs rule, or reuse */
    if (a->conf.refresh_grace_s > 0 && now_s - rotated <= a->conf.refresh_grace_s && succ_unused &&
        succ_len == 32 && succ_exp > now_s) {
        for (int k = 0; quire_refresh_successor(a->conf.tokens, k, token, g->refresh) == QUIRE_OK;
             k++) {
            uint8_t nh[32];
            token_hash(g->refresh, nh);
            if (sodium_memcmp(nh, succ_hash, 32) == 0) {
                g->refresh_expires_at_s = succ_exp;
                g->repeated = true;
                res->outcome = QUIRE_REFRESH_GRANTED;
                return true;
            }
        }
        /* the key that made the successor is gone: refuse, but this is no attack */
        memset(g->refresh, 0, sizeof g->refresh);
        res->outcome = QUIRE_REFRESH_REFUSED;
        res->why = "the successor was made with a key no longer configured";
        return true;
    }
    const char *pr[] = {res->session, now};
    if (!pq_ok(pg,
               "UPDATE sessions SET revoked_at = to_timestamp($2), revoked_reason = "
               "'refresh token reuse' WHERE sid = $1 AND revoked_at IS NULL",
               2, pr, NULL))
        return false;
    res->outcome = QUIRE_REFRESH_REUSED;
    res->why = "a rotated refresh token was used again";
    return true;
}

quire_err_t quire_account_refresh(quire_account_t *a, const char *refresh_token, int64_t now_s,
                                  quire_refresh_result_t *ret_result)
{
    quire_refresh_result_t res;
    memset(&res, 0, sizeof res);
    if (!quire_refresh_token_valid(refresh_token)) {
        res.outcome = QUIRE_REFRESH_REFUSED;
        res.why = "not a refresh token";
        *ret_result = res;
        return QUIRE_OK;
    }
    uint8_t h[32];
    token_hash(refresh_token, h);
    PGconn *pg = get_pg(a);
    if (!pg)
        return QUIRE_ERR_UNAVAILABLE;
    bool ok = pq_ok(pg, "BEGIN", 0, NULL, NULL) && decide(a, pg, refresh_token, h, now_s, &res) &&
              pq_ok(pg, "COMMIT", 0, NULL, NULL);
    put_pg(a, pg, !ok);
    if (!ok)
        return QUIRE_ERR_UNAVAILABLE;
    if (res.outcome == QUIRE_REFRESH_REUSED)
        QLOG_DEBUG("refresh token reuse: session revoked", "session=%s user=%s", res.session,
                   res.grant.user);
    else if (res.outcome == QUIRE_REFRESH_REFUSED)
        QLOG_DEBUG("refresh refused", "reason=\"%s\"", res.why);
    *ret_result = res;
    return QUIRE_OK;
}

quire_err_t quire_account_session_of(quire_account_t *a, const char *refresh_token,
                                     char ret_session[QUIRE_SESSION_ID_MAX + 1])
{
    if (!quire_refresh_token_valid(refresh_token))
        return QUIRE_ERR_NOT_FOUND;
    uint8_t h[32];
    token_hash(refresh_token, h);
    PGconn *pg = get_pg(a);
    if (!pg)
        return QUIRE_ERR_UNAVAILABLE;
    const char *p[] = {(const char *)h};
    int l[] = {32};
    PGresult *r = pq(pg, "SELECT sid FROM refresh_tokens WHERE token_hash = $1", 1, p, l);
    put_pg(a, pg, !r);
    if (!r)
        return QUIRE_ERR_UNAVAILABLE;
    quire_err_t err = QUIRE_ERR_NOT_FOUND;
    if (PQntuples(r) == 1) {
        snprintf(ret_session, QUIRE_SESSION_ID_MAX + 1, "%s", PQgetvalue(r, 0, 0));
        err = QUIRE_OK;
    }
    PQclear(r);
    return err;
}

quire_err_t quire_account_revoke(quire_account_t *a, const char *session, int64_t now_s,
                                 const char *reason)
{
    if (!session || !*session)
        return QUIRE_ERR_INVALID;
    PGconn *pg = get_pg(a);
    if (!pg)
        return QUIRE_ERR_UNAVAILABLE;
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)now_s);
    const char *p[] = {session, now, reason ? reason : "revoked"};
    bool ok = pq_ok(pg,
                    "UPDATE sessions SET revoked_at = to_timestamp($2), revoked_reason = $3 "
                    "WHERE sid = $1 AND revoked_at IS NULL",
                    3, p, NULL);
    put_pg(a, pg, !ok);
    return ok ? QUIRE_OK : QUIRE_ERR_UNAVAILABLE;
}

/* ---------------------------------------------------------------- administration */

quire_err_t quire_account_user_add(PGconn *pg, const char *user, const char *hash, char *errbuf,
                                   size_t errlen)
{
    if (!quire_user_id_valid(user)) {
        snprintf(errbuf, errlen, "user ids are 1-64 of [A-Za-z0-9._@+-]");
        return QUIRE_ERR_INVALID;
    }
    const char *p[] = {user, hash};
    PGresult *r = PQexecParams(pg,
                               "INSERT INTO users (user_id, password_hash) VALUES ($1, $2) "
                               "ON CONFLICT (user_id) DO NOTHING RETURNING user_id",
                               2, NULL, p, NULL, NULL, 0);
    quire_err_t err = QUIRE_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(errbuf, errlen, "%s", PQresultErrorMessage(r));
        err = QUIRE_ERR_PG;
    } else if (PQntuples(r) == 0) {
        snprintf(errbuf, errlen, "user \"%s\" exists", user);
        err = QUIRE_ERR_EXISTS;
    }
    PQclear(r);
    return err;
}

quire_err_t quire_account_user_passwd(PGconn *pg, const char *user, const char *hash, int64_t now_s,
                                      int *ret_revoked, char *errbuf, size_t errlen)
{
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)now_s);
    const char *p[] = {user, hash, now};
    PGresult *r = PQexecParams(
        pg,
        "WITH u AS (UPDATE users SET password_hash = $2, updated_at = now() WHERE user_id = $1 "
        "RETURNING user_id), s AS (UPDATE sessions SET revoked_at = to_timestamp($3), "
        "revoked_reason = 'password changed' WHERE user_id = (SELECT user_id FROM u) AND "
        "revoked_at IS NULL RETURNING sid) SELECT (SELECT count(*) FROM u), (SELECT count(*) "
        "FROM s)",
        3, NULL, p, NULL, NULL, 0);
    quire_err_t err = QUIRE_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(errbuf, errlen, "%s", PQresultErrorMessage(r));
        err = QUIRE_ERR_PG;
    } else if (strcmp(PQgetvalue(r, 0, 0), "0") == 0) {
        snprintf(errbuf, errlen, "no user \"%s\"", user);
        err = QUIRE_ERR_NOT_FOUND;
    } else {
        *ret_revoked = atoi(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return err;
}
