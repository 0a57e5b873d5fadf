/*
 * quire_access — roles, sessions and client-id bindings (see the header for the rules).
 *
 * Caches: three small chained hash tables of the same shape, each behind its own mutex. A key is
 * bytes (doc '\0' user, a session id, doc '\0' decimal client id); an entry holds an int, a user
 * id and an expiry on the injected monotonic clock (INT64_MAX: until evicted). A full cache first
 * drops what expired and, if still full, everything — it is a cache: correctness never depends
 * on an entry being there, only on an entry never being wrong for longer than its expiry.
 *
 * SQL: every statement is parameterised. The binding statement decides in one round trip: it
 * reads the existing bindings of the wanted clients and inserts the missing ones only when none
 * belongs to someone else; a binding committed by a concurrent writer after the statement began
 * is invisible to it, so a client that comes back neither existing nor inserted is asked again.
 */
#include "quire_access.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quire_log.h"

#define KEY_MAX         (128 + 1 + QUIRE_USER_MAX + 1)
#define BIND_CHUNK      512 /* client ids per statement */
#define DEFAULT_ENTRIES 100000
#define SESSION_REVOKED 1
#define SESSION_ACTIVE  0

/* ---------------------------------------------------------------- a bounded TTL cache */

typedef struct centry_s {
    struct centry_s *next;
    uint64_t hash;
    int64_t expires_ms;
    int value;
    char user[QUIRE_USER_MAX + 1];
    size_t klen;
    char key[];
} centry_t;

typedef struct cache_s {
    pthread_mutex_t lock;
    centry_t **buckets;
    size_t nbuckets, n, max;
} cache_t;

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int cache_init(cache_t *c, size_t max)
{
    c->max = max;
    c->nbuckets = 1024;
    while (c->nbuckets < max / 2 && c->nbuckets < (1u << 22))
        c->nbuckets *= 2;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets)
        return -1;
    pthread_mutex_init(&c->lock, NULL);
    return 0;
}

static void cache_clear_locked(cache_t *c, int64_t now_ms, bool only_expired)
{
    for (size_t b = 0; b < c->nbuckets; b++) {
        centry_t **pp = &c->buckets[b];
        while (*pp) {
            centry_t *e = *pp;
            if (!only_expired || e->expires_ms <= now_ms) {
                *pp = e->next;
                free(e);
                c->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static void cache_deinit(cache_t *c)
{
    if (!c->buckets)
        return;
    cache_clear_locked(c, 0, false);
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
}

/* Copies the live entry's value (and user) out; false when absent or expired. */
static bool cache_get(cache_t *c, const char *key, size_t klen, int64_t now_ms, int *ret_value,
                      char *ret_user)
{
    uint64_t h = hash_bytes(key, klen);
    bool found = false;
    pthread_mutex_lock(&c->lock);
    for (centry_t *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next) {
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            if (e->expires_ms > now_ms) {
                *ret_value = e->value;
                if (ret_user)
                    memcpy(ret_user, e->user, sizeof e->user);
                found = true;
            }
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

static void cache_put(cache_t *c, const char *key, size_t klen, int value, const char *user,
                      int64_t expires_ms, int64_t now_ms)
{
    uint64_t h = hash_bytes(key, klen);
    pthread_mutex_lock(&c->lock);
    centry_t **slot = &c->buckets[h & (c->nbuckets - 1)];
    for (centry_t *e = *slot; e; e = e->next) {
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            e->value = value;
            e->expires_ms = expires_ms;
            snprintf(e->user, sizeof e->user, "%s", user ? user : "");
            pthread_mutex_unlock(&c->lock);
            return;
        }
    }
    if (c->n >= c->max) {
        cache_clear_locked(c, now_ms, true);
        if (c->n >= c->max)
            cache_clear_locked(c, now_ms, false);
    }
    centry_t *e = malloc(sizeof *e + klen);
    if (e) {
        e->hash = h;
        e->klen = klen;
        memcpy(e->key, key, klen);
        e->value = value;
        e->expires_ms = expires_ms;
        snprintf(e->user, sizeof e->user, "%s", user ? user : "");
        e->next = *slot;
        *slot = e;
        c->n++;
    }
    pthread_mutex_unlock(&c->lock);
}

/* Drops entries whose key starts with prefix (plen bytes) and, when user is set, whose user is
 * that user. A scan: for revocations, which are rare. */
static void cache_drop(cache_t *c, const char *prefix, size_t plen, const char *user)
{
    pthread_mutex_lock(&c->lock);
    for (size_t b = 0; b < c->nbuckets; b++) {
        centry_t **pp = &c->buckets[b];
        while (*pp) {
            centry_t *e = *pp;
            bool hit = e->klen >= plen && memcmp(e->key, prefix, plen) == 0 &&
                       (!user || strcmp(e->user, user) == 0);
            if (hit) {
                *pp = e->next;
                free(e);
                c->n--;
            } else {
                pp = &e->next;
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
}

static void cache_del(cache_t *c, const char *key, size_t klen)
{
    uint64_t h = hash_bytes(key, klen);
    pthread_mutex_lock(&c->lock);
    for (centry_t **pp = &c->buckets[h & (c->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
        centry_t *e = *pp;
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            *pp = e->next;
            free(e);
            c->n--;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
}

/* ---------------------------------------------------------------- the module */

struct quire_access_s {
    quire_access_conf_t conf;
    cache_t roles, sessions, clients;
};

static int64_t mono_ms(void *opaque)
{
    (void)opaque;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(const quire_access_t *a)
{
    return a->conf.clock_ms(a->conf.clock_opaque);
}

static const char *const role_names[] = {"none", "viewer", "editor", "owner"};

const char *quire_role_name(quire_role_t role)
{
    return role >= QUIRE_ROLE_NONE && role <= QUIRE_ROLE_OWNER ? role_names[role] : "none";
}

quire_err_t quire_role_parse(const char *s, quire_role_t *ret_role)
{
    for (int r = QUIRE_ROLE_VIEWER; s && r <= QUIRE_ROLE_OWNER; r++) {
        if (strcmp(s, role_names[r]) == 0) {
            *ret_role = (quire_role_t)r;
            return QUIRE_OK;
        }
    }
    return QUIRE_ERR_INVALID;
}

static quire_role_t role_of(const char *s)
{
    quire_role_t r = QUIRE_ROLE_NONE;
    return quire_role_parse(s, &r) == QUIRE_OK ? r : QUIRE_ROLE_NONE;
}

quire_access_t *quire_access_new(const quire_access_conf_t *conf)
{
    quire_access_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->conf = *conf;
    if (!a->conf.clock_ms)
        a->conf.clock_ms = mono_ms;
    if (a->conf.pg_timeout_ms <= 0)
        a->conf.pg_timeout_ms = 5000;
    if (a->conf.cache_ttl_ms < 0)
        a->conf.cache_ttl_ms = 0;
    size_t max = a->conf.cache_entries ? a->conf.cache_entries : DEFAULT_ENTRIES;
    if (cache_init(&a->roles, max) || cache_init(&a->sessions, max) ||
        cache_init(&a->clients, max)) {
        quire_access_destroy(a);
        return NULL;
    }
    return a;
}

void quire_access_destroy(quire_access_t *a)
{
    if (!a)
        return;
    cache_deinit(&a->roles);
    cache_deinit(&a->sessions);
    cache_deinit(&a->clients);
    free(a);
}

static bool ids_ok(const char *doc_id, const char *user)
{
    size_t dl = doc_id ? strnlen(doc_id, 129) : 0;
    return dl >= 1 && dl <= 128 && quire_user_id_valid(user);
}

static size_t role_key(char *key, const char *doc_id, const char *user)
{
    size_t dl = strlen(doc_id), ul = strlen(user);
    memcpy(key, doc_id, dl);
    key[dl] = '\0';
    memcpy(key + dl + 1, user, ul);
    return dl + 1 + ul;
}

static PGconn *get_pg(quire_access_t *a)
{
    char err[256];
    PGconn *pg = quire_pgpool_get(a->conf.pool, a->conf.pg_timeout_ms, err, sizeof err);
    if (!pg)
        QLOG_DEBUG("could not check access", "err=\"%s\"", err);
    return pg;
}

/* Runs one parameterised statement; NULL (logged, connection marked broken) unless it
 * returned rows or completed. */
static PGresult *run(quire_access_t *a, PGconn *pg, bool *broken, const char *sql, int n,
                     const char *const *params)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        QLOG_DEBUG("access query failed", "err=\"%s\"", PQresultErrorMessage(r));
        PQclear(r);
        *broken = true;
        return NULL;
    }
    (void)a;
    return r;
}

/* role, lifecycle, read-model owner, whether an owner row exists. A document is deleted when its
 * row says so or — the row may be rewritten a little later than its events are indexed — when a
 * DELETE event (kind 2) is among the indexed events the row does not cover yet. */
static const char sql_role[] =
    "SELECT (SELECT role FROM doc_members WHERE doc_id = $1 AND user_id = $2), "
    "(SELECT CASE WHEN d.lifecycle = 'deleted' OR EXISTS (SELECT 1 FROM doc_events e "
    "WHERE e.doc_id = d.doc_id AND e.\"offset\" >= d.position AND e.kind = 2) "
    "THEN 'deleted' ELSE d.lifecycle END FROM documents d WHERE d.doc_id = $1), "
    "(SELECT owner FROM documents WHERE doc_id = $1), "
    "EXISTS (SELECT 1 FROM doc_members WHERE doc_id = $1 AND role = 'owner')";

static const char sql_heal_owner[] =
    "INSERT INTO doc_members (doc_id, user_id, role, granted_by) VALUES ($1, $2, 'owner', $2) "
    "ON CONFLICT DO NOTHING";

/* Asks PostgreSQL for the role (no cache). */
static quire_err_t role_query(quire_access_t *a, PGconn *pg, bool *broken, const char *doc_id,
                              const char *user, quire_role_t *ret_role)
{
    const char *params[] = {doc_id, user};
    PGresult *r = run(a, pg, broken, sql_role, 2, params);
    if (!r)
        return QUIRE_ERR_UNAVAILABLE;
    quire_role_t role = QUIRE_ROLE_NONE;
    bool deleted = !PQgetisnull(r, 0, 1) && strcmp(PQgetvalue(r, 0, 1), "deleted") == 0;
    bool owner_row = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
    bool heal = false;
    if (deleted)
        role = QUIRE_ROLE_NONE;
    else if (!PQgetisnull(r, 0, 0))
        role = role_of(PQgetvalue(r, 0, 0));
    else if (!owner_row && !PQgetisnull(r, 0, 2) && strcmp(PQgetvalue(r, 0, 2), user) == 0)
        role = QUIRE_ROLE_OWNER, heal = true;
    PQclear(r);
    if (heal) { /* the log says who created it; the owner row was lost or never written */
        r = run(a, pg, broken, sql_heal_owner, 2, params);
        PQclear(r);
        QLOG_DEBUG("owner restored from the read model", "doc=%s user=%s", doc_id, user);
    }
    *ret_role = role;
    return QUIRE_OK;
}

static void remember_role(quire_access_t *a, const char *doc_id, const char *user,
                          quire_role_t role)
{
    if (role == QUIRE_ROLE_NONE || a->conf.cache_ttl_ms <= 0)
        return;
    char key[KEY_MAX];
    size_t kl = role_key(key, doc_id, user);
    int64_t now = now_ms(a);
    cache_put(&a->roles, key, kl, (int)role, user, now + a->conf.cache_ttl_ms, now);
}

quire_err_t quire_access_role_cached(quire_access_t *a, const char *doc_id, const char *user,
                                     quire_role_t *ret_role)
{
    if (!ids_ok(doc_id, user))
        return QUIRE_ERR_NOT_FOUND;
    char key[KEY_MAX];
    size_t kl = role_key(key, doc_id, user);
    int v;
    if (!cache_get(&a->roles, key, kl, now_ms(a), &v, NULL))
        return QUIRE_ERR_NOT_FOUND;
    *ret_role = (quire_role_t)v;
    return QUIRE_OK;
}

quire_err_t quire_access_role(quire_access_t *a, const char *doc_id, const char *user,
                              quire_role_t *ret_role)
{
    if (!ids_ok(doc_id, user)) {
        *ret_role = QUIRE_ROLE_NONE;
        return QUIRE_OK;
    }
    if (quire_access_role_cached(a, doc_id, user, ret_role) == QUIRE_OK)
        return QUIRE_OK;
    PGconn *pg = get_pg(a);
    if (!pg)
        return QUIRE_ERR_UNAVAILABLE;
    bool broken = false;
    quire_role_t role = QUIRE_ROLE_NONE;
    quire_err_t err = role_query(a, pg, &broken, doc_id, user, &role);
    quire_pgpool_put(a->conf.pool, pg, broken);
    if (err)
        return err;
    remember_role(a, doc_id, user, role);
    *ret_role = role;
    return QUIRE_OK;
}

static const char sql_claim[] =
    "INSERT INTO doc_members (doc_id, user_id, role, granted_by) "
    "SELECT $1, $2, 'owner', $2 WHERE NOT EXISTS (SELECT 1 FROM doc_members WHERE doc_id = $1) "
    "AND NOT EXISTS (SELECT 1 FROM documents WHERE doc_id = $1) "
    "ON CONFLICT DO NOTHING RETURNING role";

quire_err_t quire_access_claim(quire_access_t *a, const char *doc_id, const char *user,
                               quire_role_t *ret_role)
{
    if (!ids_ok(doc_id, user))
        return QUIRE_ERR_INVALID;
    quire_role_t role = QUIRE_ROLE_NONE;
    if (quire_access_role_cached(a, doc_id, user, &role) == QUIRE_OK && role == QUIRE_ROLE_OWNER) {
        *ret_role = role;
        return QUIRE_OK;
    }
    PGconn *pg = get_pg(a);
    if (!pg)
        return QUIRE_ERR_UNAVAILABLE;
    bool broken = false;
    const char *params[] = {doc_id, user};
    quire_err_t err = QUIRE_OK;
    PGresult *r = run(a, pg, &broken, sql_claim, 2, params);
    if (!r)
        err = QUIRE_ERR_UNAVAILABLE;
    else if (PQntuples(r) == 1)
        role = QUIRE_ROLE_OWNER;
    else /* not claimable: whatever the user's role is */
        err = role_query(a, pg, &broken, doc_id, user, &role);
    PQclear(r);
    quire_pgpool_put(a->conf.pool, pg, broken);
    if (err)
        return err;
    if (role == QUIRE_ROLE_OWNER)
        QLOG_DEBUG("document claimed", "doc=%s user=%s", doc_id, user);
    remember_role(a, doc_id, user, role);
    *ret_role = role;
    return QUIRE_OK;
}

static void forget_role(quire_access_t *a, const char *doc_id, const char *user)
{
    char key[KEY_MAX];
    size_t kl = role_key(key, doc_id, user);
    cache_del(&a->roles, key, kl);
}

quire_err_t quire_access_set_role(quire_access_t *a, const char *doc_id, const char *user,
                                  quire_role_t role, const char *by)
{
    if (!ids_ok(doc_id, user) || !quire_user_id_valid(by) ||
        (role != QUIRE_ROLE_VIEWER && role != QUIRE_ROLE_EDITOR))
        return QUIRE_ERR_INVALID;
    PGconn *pg = get_pg(a);
    if (!pg)
        return QUIRE_ERR_UNAVAILABLE;
    bool broken = false;
    const char *params[] = {doc_id, user, quire_role_name(role), by};
    /* an owner row is never overwritten: the upsert's WHERE leaves it, and RETURNING says so */
    PGresult *r =
        run(a, pg, &broken,
            "INSERT INTO doc_members (doc_id, user_id, role, granted_by) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (doc_id, user_id) DO UPDATE SET role = EXCLUDED.role, granted_by = "
            "EXCLUDED.granted_by, granted_at = now() WHERE doc_members.role <> 'owner' "
            "RETURNING role",
            4, params);
    quire_err_t err = !r                  ? QUIRE_ERR_UNAVAILABLE
                      : PQntuples(r) == 1 ? QUIRE_OK
                                          : QUIRE_ERR_CONFLICT;
    PQclear(r);
    quire_pgpool_put(a->conf.pool, pg, broken);
    forget_role(a, doc_id, user);
    return err;
}

quire_err_t quire_access_remove(quire_access_t *a, const char *doc_id, const char *user)
{
    if (!ids_ok(doc_id, user))
        return QUIRE_ERR_NOT_FOUND;
    PGconn *pg = get_pg(a);
    if (!pg)
        return QUIRE_ERR_UNAVAILABLE;
    bool broken = false;
    const char *params[] = {doc_id, user};
    PGresult *r = run(a, pg, &broken,
                      "WITH d AS (DELETE FROM doc_members WHERE doc_id = $1 AND user_id = $2 AND "
                      "role <> 'owner' RETURNING 1) SELECT (SELECT count(*) FROM d), "
                      "(SELECT role FROM doc_members WHERE doc_id = $1 AND user_id = $2)",
                      2, params);
    quire_err_t err = QUIRE_ERR_UNAVAILABLE;
    if (r) {
        if (strcmp(PQgetvalue(r, 0, 0), "0") != 0)
            err = QUIRE_OK;
        else if (!PQgetisnull(r, 0, 1) && strcmp(PQgetvalue(r, 0, 1), "owner") == 0)
            err = QUIRE_ERR_CONFLICT;
        else
            err = QUIRE_ERR_NOT_FOUND;
    }
    PQclear(r);
    quire_pgpool_put(a->conf.pool, pg, broken);
    forget_role(a, doc_id, user);
    return err;
}

quire_err_t quire_access_members(quire_access_t *a, const char *doc_id, size_t max,
                                 quire_member_t **ret_members, size_t *ret_n)
{
    if (!doc_id || !*doc_id || max == 0)
        return QUIRE_ERR_INVALID;
    PGconn *pg = get_pg(a);
    if (!pg)
        return QUIRE_ERR_UNAVAILABLE;
    bool broken = false;
    char lim[24];
    snprintf(lim, sizeof lim, "%zu", max);
    const char *params[] = {doc_id, lim};
    PGresult *r = run(a, pg, &broken,
                      "SELECT user_id, role FROM doc_members WHERE doc_id = $1 "
                      "ORDER BY role <> 'owner', user_id LIMIT $2::int8",
                      2, params);
    quire_err_t err = r ? QUIRE_OK : QUIRE_ERR_UNAVAILABLE;
    quire_member_t *out = NULL;
    size_t n = r ? (size_t)PQntuples(r) : 0;
    if (r && n) {
        out = calloc(n, sizeof *out);
        if (!out)
            err = QUIRE_ERR_NOMEM;
        for (size_t i = 0; out && i < n; i++) {
            snprintf(out[i].user, sizeof out[i].user, "%s", PQgetvalue(r, (int)i, 0));
            out[i].role = role_of(PQgetvalue(r, (int)i, 1));
        }
    }
    PQclear(r);
    quire_pgpool_put(a->conf.pool, pg, broken);
    if (err)
        return err;
    *ret_members = out;
    *ret_n = n;
    return QUIRE_OK;
}

quire_err_t quire_access_documents(quire_access_t *a, const char *user, size_t max,
                                   quire_member_doc_t **ret_docs, size_t *ret_n)
{
    if (!quire_user_id_valid(user) || max == 0)
        return QUIRE_ERR_INVALID;
    PGconn *pg = get_pg(a);
    if (!pg)
        return QUIRE_ERR_UNAVAILABLE;
    bool broken = false;
    char lim[24];
    snprintf(lim, sizeof lim, "%zu", max);
    const char *params[] = {user, lim};
    PGresult *r = run(a, pg, &broken,
                      "SELECT m.doc_id, m.role, d.version, "
                      "(extract(epoch FROM d.updated_at) * 1000)::int8 FROM doc_members m "
                      "LEFT JOIN documents d ON d.doc_id = m.doc_id WHERE m.user_id = $1 "
                      "AND d.lifecycle IS DISTINCT FROM 'deleted' "
                      "ORDER BY d.updated_at DESC NULLS FIRST, m.doc_id LIMIT $2::int8",
                      2, params);
    quire_err_t err = r ? QUIRE_OK : QUIRE_ERR_UNAVAILABLE;
    quire_member_doc_t *out = NULL;
    size_t n = r ? (size_t)PQntuples(r) : 0;
    if (r && n) {
        out = calloc(n, sizeof *out);
        if (!out)
            err = QUIRE_ERR_NOMEM;
        for (size_t i = 0; out && i < n; i++) {
            int row = (int)i;
            snprintf(out[i].doc_id, sizeof out[i].doc_id, "%s", PQgetvalue(r, row, 0));
            out[i].role = role_of(PQgetvalue(r, row, 1));
            out[i].version = PQgetisnull(r, row, 2) ? -1 : strtoll(PQgetvalue(r, row, 2), NULL, 10);
            out[i].updated_at_ms =
                PQgetisnull(r, row, 3) ? -1 : strtoll(PQgetvalue(r, row, 3), NULL, 10);
        }
    }
    PQclear(r);
    quire_pgpool_put(a->conf.pool, pg, broken);
    if (err)
        return err;
    *ret_docs = out;
    *ret_n = n;
    return QUIRE_OK;
}

/* ---------------------------------------------------------------- sessions */

quire_err_t quire_access_session(quire_access_t *a, const char *session, int64_t now_s)
{
    size_t sl = session ? strnlen(session, QUIRE_SESSION_ID_MAX + 1) : 0;
    if (sl == 0 || sl > QUIRE_SESSION_ID_MAX)
        return QUIRE_ERR_UNAUTHENTICATED;
    int v;
    int64_t now = now_ms(a);
    if (cache_get(&a->sessions, session, sl, now, &v, NULL))
        return v == SESSION_REVOKED ? QUIRE_ERR_UNAUTHENTICATED : QUIRE_OK;
    PGconn *pg = get_pg(a);
    if (!pg)
        return QUIRE_ERR_UNAVAILABLE;
    bool broken = false;
    const char *params[] = {session};
    PGresult *r = run(a, pg, &broken,
                      "SELECT revoked_at IS NOT NULL, extract(epoch FROM expires_at)::int8, "
                      "user_id FROM sessions WHERE sid = $1",
                      1, params);
    quire_err_t err = QUIRE_ERR_UNAVAILABLE;
    if (r) {
        if (PQntuples(r) == 0) { /* not a login session: a bearer token's own sid */
            err = QUIRE_OK;
            if (a->conf.cache_ttl_ms > 0)
                cache_put(&a->sessions, session, sl, SESSION_ACTIVE, NULL,
                          now + a->conf.cache_ttl_ms, now);
        } else {
            bool revoked = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
            int64_t end_s = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
            const char *user = PQgetvalue(r, 0, 2);
            if (revoked) {
                err = QUIRE_ERR_UNAUTHENTICATED;
                cache_put(&a->sessions, session, sl, SESSION_REVOKED, user, INT64_MAX, now);
            } else if (end_s <= now_s) {
                err = QUIRE_ERR_UNAUTHENTICATED;
            } else {
                err = QUIRE_OK;
                int64_t ttl = a->conf.cache_ttl_ms;
                if (ttl > (end_s - now_s) * 1000)
                    ttl = (end_s - now_s) * 1000;
                if (ttl > 0)
                    cache_put(&a->sessions, session, sl, SESSION_ACTIVE, user, now + ttl, now);
            }
        }
    }
    PQclear(r);
    quire_pgpool_put(a->conf.pool, pg, broken);
    return err;
}

/* ---------------------------------------------------------------- client ids */

static size_t client_key(char *key, const char *doc_id, uint64_t client)
{
    size_t dl = strlen(doc_id);
    memcpy(key, doc_id, dl);
    key[dl] = '\0';
    int n = snprintf(key + dl + 1, 24, "%" PRIu64, client);
    return dl + 1 + (size_t)n;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* The distinct clients of ranges, sorted; malloc'd. */
static uint64_t *distinct_clients(const yjs_client_range_t *ranges, size_t n, size_t *ret_n)
{
    uint64_t *c = malloc((n ? n : 1) * sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++)
        c[i] = ranges[i].client;
    qsort(c, n, sizeof *c, cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || c[k - 1] != c[i])
            c[k++] = c[i];
    *ret_n = k;
    return c;
}

/* Looks every client up in the cache: 1 all actor's, -1 one is another's, 0 some unknown. The
 * unknown ones are moved to the front of clients, their count in *ret_unknown. */
static int cached_owners(quire_access_t *a, const char *doc_id, const char *actor,
                         uint64_t *clients, size_t n, size_t *ret_unknown)
{
    char key[KEY_MAX], user[QUIRE_USER_MAX + 1];
    int64_t now = now_ms(a);
    size_t unknown = 0;
    for (size_t i = 0; i < n; i++) {
        int v;
        size_t kl = client_key(key, doc_id, clients[i]);
        if (!cache_get(&a->clients, key, kl, now, &v, user))
            clients[unknown++] = clients[i];
        else if (strcmp(user, actor) != 0)
            return -1;
    }
    *ret_unknown = unknown;
    return unknown == 0 ? 1 : 0;
}

quire_err_t quire_access_clients_cached(quire_access_t *a, const char *doc_id, const char *actor,
                                        const yjs_client_range_t *ranges, size_t nranges)
{
    if (!ids_ok(doc_id, actor))
        return QUIRE_ERR_INVALID;
    size_t n = 0, unknown = 0;
    uint64_t *clients = distinct_clients(ranges, nranges, &n);
    if (!clients)
        return QUIRE_ERR_NOMEM;
    int c = cached_owners(a, doc_id, actor, clients, n, &unknown);
    free(clients);
    return c > 0 ? QUIRE_OK : c < 0 ? QUIRE_ERR_SPOOFED : QUIRE_ERR_NOT_FOUND;
}

static const char sql_bind[] =
    "WITH want AS (SELECT DISTINCT unnest($2::int8[]) AS client_id), "
    "have AS (SELECT c.client_id, c.user_id FROM doc_clients c JOIN want w "
    "ON w.client_id = c.client_id WHERE c.doc_id = $1), "
    "ins AS (INSERT INTO doc_clients (doc_id, client_id, user_id) "
    "SELECT $1, w.client_id, $3 FROM want w "
    "WHERE NOT EXISTS (SELECT 1 FROM have WHERE have.user_id <> $3) "
    "AND NOT EXISTS (SELECT 1 FROM have WHERE have.client_id = w.client_id) "
    "ON CONFLICT DO NOTHING RETURNING client_id, user_id) "
    "SELECT client_id, user_id, false FROM have UNION ALL SELECT client_id, user_id, true FROM ins";

/* One transaction for clients[0..n): 1 all actor's (now bound, committed), -1 spoofed, 0 some
 * raced (ask again), or an error. Unless every client is the actor's it rolls back, so a refused
 * write binds nothing even when it raced another writer: its own rows are undone and only
 * bindings committed by others are cached. */
static quire_err_t bind_chunk(quire_access_t *a, PGconn *pg, bool *broken, const char *doc_id,
                              const char *actor, const uint64_t *clients, size_t n, int *ret)
{
    size_t cap = 2 + n * 21;
    char *arr = malloc(cap);
    if (!arr)
        return QUIRE_ERR_NOMEM;
    size_t o = 0;
    arr[o++] = '{';
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(arr + o, cap - o, "%s%" PRIu64, i ? "," : "", clients[i]);
    arr[o++] = '}';
    arr[o] = '\0';
    const char *params[] = {doc_id, arr, actor};
    PGresult *b = run(a, pg, broken, "BEGIN", 0, NULL);
    PQclear(b);
    PGresult *r = b ? run(a, pg, broken, sql_bind, 3, params) : NULL;
    free(arr);
    if (!r)
        return QUIRE_ERR_UNAVAILABLE;
    size_t rows = (size_t)PQntuples(r), mine = 0;
    bool spoofed = false;
    for (size_t i = 0; i < rows; i++) {
        if (strcmp(PQgetvalue(r, (int)i, 1), actor) == 0)
            mine++;
        else
            spoofed = true;
    }
    int res = spoofed ? -1 : mine == n ? 1 : 0;
    PGresult *end = run(a, pg, broken, res == 1 ? "COMMIT" : "ROLLBACK", 0, NULL);
    if (!end) {
        PQclear(r);
        return QUIRE_ERR_UNAVAILABLE;
    }
    PQclear(end);
    int64_t now = now_ms(a);
    char key[KEY_MAX];
    for (size_t i = 0; i < rows; i++) {
        bool inserted = strcmp(PQgetvalue(r, (int)i, 2), "t") == 0;
        if (inserted && res != 1)
            continue; /* rolled back */
        uint64_t client = strtoull(PQgetvalue(r, (int)i, 0), NULL, 10);
        size_t kl = client_key(key, doc_id, client);
        cache_put(&a->clients, key, kl, 1, PQgetvalue(r, (int)i, 1), INT64_MAX, now);
    }
    PQclear(r);
    *ret = res;
    return QUIRE_OK;
}

quire_err_t quire_access_check_clients(void *access, const char *doc_id, const char *actor,
                                       const yjs_client_range_t *ranges, size_t nranges)
{
    quire_access_t *a = access;
    if (!ids_ok(doc_id, actor))
        return QUIRE_ERR_INVALID;
    size_t n = 0, unknown = 0;
    uint64_t *clients = distinct_clients(ranges, nranges, &n);
    if (!clients)
        return QUIRE_ERR_NOMEM;
    quire_err_t err = QUIRE_OK;
    int c = cached_owners(a, doc_id, actor, clients, n, &unknown);
    if (c < 0)
        err = QUIRE_ERR_SPOOFED;
    for (size_t i = 0; c == 0 && i < unknown; i++)
        if (clients[i] > (uint64_t)INT64_MAX)
            err = QUIRE_ERR_SPOOFED, c = -1;
    if (c == 0) {
        PGconn *pg = get_pg(a);
        bool broken = false;
        if (!pg)
            err = QUIRE_ERR_UNAVAILABLE;
        for (size_t at = 0; pg && !err && at < unknown; at += BIND_CHUNK) {
            size_t k = unknown - at < BIND_CHUNK ? unknown - at : BIND_CHUNK;
            int res = 0;
            for (int attempt = 0; !err && res == 0 && attempt < 3; attempt++)
                err = bind_chunk(a, pg, &broken, doc_id, actor, clients + at, k, &res);
            if (!err && res < 0)
                err = QUIRE_ERR_SPOOFED;
            else if (!err && res == 0)
                err = QUIRE_ERR_UNAVAILABLE; /* still racing after three tries */
        }
        if (pg)
            quire_pgpool_put(a->conf.pool, pg, broken);
    }
    free(clients);
    if (err == QUIRE_ERR_SPOOFED)
        QLOG_DEBUG("write refused: client id bound to another user", "doc=%s actor=%s", doc_id,
                   actor);
    return err;
}

/* ---------------------------------------------------------------- revocation */

void quire_access_forget(quire_access_t *a, const char *subject)
{
    if (!subject)
        return;
    char key[KEY_MAX];
    if (strncmp(subject, "session:", 8) == 0) {
        const char *sid = subject + 8;
        size_t sl = strnlen(sid, QUIRE_SESSION_ID_MAX + 1);
        if (sl && sl <= QUIRE_SESSION_ID_MAX) {
            int64_t now = now_ms(a);
            cache_put(&a->sessions, sid, sl, SESSION_REVOKED, NULL, INT64_MAX, now);
        }
    } else if (strncmp(subject, "user:", 5) == 0 && quire_user_id_valid(subject + 5)) {
        cache_drop(&a->sessions, "", 0, subject + 5);
    } else if (strncmp(subject, "doc:", 4) == 0) {
        size_t dl = strnlen(subject + 4, 129);
        if (dl && dl <= 128) {
            memcpy(key, subject + 4, dl);
            key[dl] = '\0';
            cache_drop(&a->roles, key, dl + 1, NULL);
        }
    } else if (strncmp(subject, "member:", 7) == 0) {
        const char *doc = subject + 7, *colon = strchr(doc, ':');
        if (colon && colon > doc && colon - doc <= 128 && quire_user_id_valid(colon + 1)) {
            size_t dl = (size_t)(colon - doc);
            memcpy(key, doc, dl);
            key[dl] = '\0';
            size_t ul = strlen(colon + 1);
            memcpy(key + dl + 1, colon + 1, ul);
            cache_del(&a->roles, key, dl + 1 + ul);
        }
    }
}
