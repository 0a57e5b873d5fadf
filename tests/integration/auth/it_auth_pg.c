/*
 * Integration: quire_account and quire_access against the real PostgreSQL ./ops/test starts
 * (QUIRE_PG), with injected times so every expiry and the two-tabs window are decided exactly:
 *   - login: right and wrong passwords, unknown users; sessions and hashed refresh tokens;
 *   - refresh: rotation, the two-tabs rule (same successor within the grace, while unused), reuse
 *     revoking the whole family, idle expiry, the session's absolute end, grace 0;
 *   - concurrency: eight refreshes of one token at once all get the same successor; eight claims
 *     of one document, exactly one owner; eight users binding one client id, exactly one wins;
 *   - roles: claim, share, unshare, the owner fallback from the read model (healed into a row),
 *     deleted documents, listing; sessions: revoked, unknown (bearer), cached within the TTL.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "quire_access.h"
#include "quire_account.h"
#include "quire_pg.h"

#define KEYS "ka=QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE"
#define T0   2000000000LL

static const char *conninfo;
static quire_pgpool_t *pool;
static quire_tokens_t *tokens;
static char run[24]; /* makes every id of this run unique */

static int64_t fake_ms;
static int64_t fake_clock(void *opaque)
{
    return fake_ms;
}

static PGconn *conn(void)
{
    char err[512];
    PGconn *pg = quire_pg_connect(conninfo, "it-auth", err, sizeof err);
    if (!pg)
        fail_msg("%s", err);
    return pg;
}

static void sql(const char *q, const char *a, const char *b)
{
    PGconn *pg = conn();
    const char *p[] = {a, b};
    int n = b ? 2 : a ? 1 : 0;
    PGresult *r = PQexecParams(pg, q, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(pg);
}

/* The first value of a one-row query, copied into out ("" for NULL or no row). */
static void value(const char *q, const char *a, const char *b, char *out, size_t len)
{
    PGconn *pg = conn();
    const char *p[] = {a, b};
    int n = b ? 2 : a ? 1 : 0;
    PGresult *r = PQexecParams(pg, q, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQresultErrorMessage(r));
    snprintf(out, len, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(pg);
}

static void id(char *out, size_t len, const char *what)
{
    snprintf(out, len, "%s-%s", what, run);
}

static int setup(void **state)
{
    conninfo = getenv("QUIRE_PG");
    if (!conninfo) {
        fprintf(stderr, "QUIRE_PG is not set: run through ./ops/test\n");
        return -1;
    }
    char err[512];
    PGconn *pg = quire_pg_connect(conninfo, "it-auth", err, sizeof err);
    int applied = 0;
    if (!pg ||
        quire_pg_migrate(pg, quire_migrations, quire_migrations_count, &applied, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    PQfinish(pg);
    pool = quire_pgpool_new(conninfo, "it-auth", 16);
    tokens = quire_tokens_new(KEYS, "quire", "quire", err, sizeof err);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(run, sizeof run, "%lx%lx", (long)ts.tv_sec, (long)(ts.tv_nsec & 0xfffff));
    return pool && tokens ? 0 : -1;
}

static int teardown(void **state)
{
    quire_tokens_destroy(tokens);
    quire_pgpool_destroy(pool);
    return 0;
}

static quire_account_t *account(int64_t grace_s)
{
    char err[256];
    quire_account_conf_t c = {
        .pool = pool,
        .tokens = tokens,
        .refresh_ttl_s = 3600,
        .session_max_age_s = 8 * 3600,
        .refresh_grace_s = grace_s,
        .password = {1, 8192},
        .max_hashing = 4,
    };
    quire_account_t *a = quire_account_new(&c, err, sizeof err);
    if (!a)
        fail_msg("%s", err);
    return a;
}

static void add_user(const char *user, const char *password)
{
    char hash[QUIRE_PASSWORD_HASH_MAX], err[256];
    quire_password_params_t p = {1, 8192};
    assert_int_equal(quire_password_hash(password, strlen(password), &p, hash, sizeof hash),
                     QUIRE_OK);
    PGconn *pg = conn();
    assert_int_equal(quire_account_user_add(pg, user, hash, err, sizeof err), QUIRE_OK);
    assert_int_equal(quire_account_user_add(pg, user, hash, err, sizeof err), QUIRE_ERR_EXISTS);
    PQfinish(pg);
}

static quire_refresh_result_t refresh(quire_account_t *a, const char *tok, int64_t now)
{
    quire_refresh_result_t r;
    assert_int_equal(quire_account_refresh(a, tok, now, &r), QUIRE_OK);
    return r;
}

static void test_login(void **state)
{
    char user[64], v[128];
    id(user, sizeof user, "login");
    add_user(user, "a good password");
    quire_account_t *a = account(10);
    quire_grant_t g;
    assert_int_equal(quire_account_login(a, user, "a bad password", 14, T0, &g),
                     QUIRE_ERR_UNAUTHENTICATED);
    assert_int_equal(quire_account_login(a, "nobody-at-all", "a good password", 15, T0, &g),
                     QUIRE_ERR_UNAUTHENTICATED);
    assert_int_equal(quire_account_login(a, "bad user'", "a good password", 15, T0, &g),
                     QUIRE_ERR_UNAUTHENTICATED);
    assert_int_equal(quire_account_login(a, user, "a good password", 15, T0, &g), QUIRE_OK);
    assert_string_equal(g.user, user);
    assert_true(quire_refresh_token_valid(g.refresh));
    assert_int_equal(g.refresh_expires_at_s, T0 + 3600);
    value("SELECT user_id FROM sessions WHERE sid = $1", g.session, NULL, v, sizeof v);
    assert_string_equal(v, user);
    /* stored hashed: neither the token nor its bytes appear */
    value("SELECT count(*) FROM refresh_tokens WHERE sid = $1 AND token_hash = "
          "sha256(convert_to($2, 'UTF8'))",
          g.session, g.refresh, v, sizeof v);
    assert_string_equal(v, "1");
    char sid[QUIRE_SESSION_ID_MAX + 1];
    assert_int_equal(quire_account_session_of(a, g.refresh, sid), QUIRE_OK);
    assert_string_equal(sid, g.session);
    assert_int_equal(
        quire_account_session_of(a, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", sid),
        QUIRE_ERR_NOT_FOUND);
    /* a password change ends every session */
    char hash[QUIRE_PASSWORD_HASH_MAX], err[256];
    quire_password_params_t p = {1, 8192};
    assert_int_equal(quire_password_hash("another password", 16, &p, hash, sizeof hash), QUIRE_OK);
    PGconn *pg = conn();
    int revoked = -1;
    assert_int_equal(quire_account_user_passwd(pg, user, hash, T0 + 5, &revoked, err, sizeof err),
                     QUIRE_OK);
    assert_int_equal(revoked, 1);
    assert_int_equal(
        quire_account_user_passwd(pg, "nobody-at-all", hash, T0, &revoked, err, sizeof err),
        QUIRE_ERR_NOT_FOUND);
    PQfinish(pg);
    assert_int_equal(refresh(a, g.refresh, T0 + 6).outcome, QUIRE_REFRESH_REFUSED);
    assert_int_equal(quire_account_login(a, user, "a good password", 15, T0, &g),
                     QUIRE_ERR_UNAUTHENTICATED);
    assert_int_equal(quire_account_login(a, user, "another password", 16, T0, &g), QUIRE_OK);
    quire_account_destroy(a);
}

static void test_refresh_rules(void **state)
{
    char user[64], v[128];
    id(user, sizeof user, "refresh");
    add_user(user, "a good password");
    quire_account_t *a = account(10);
    quire_grant_t g;
    assert_int_equal(quire_account_login(a, user, "a good password", 15, T0, &g), QUIRE_OK);
    char r0[44], r1[44], r2[44];
    strcpy(r0, g.refresh);

    quire_refresh_result_t x = refresh(a, r0, T0 + 100);
    assert_int_equal(x.outcome, QUIRE_REFRESH_GRANTED);
    assert_false(x.grant.repeated);
    assert_string_not_equal(x.grant.refresh, r0);
    assert_string_equal(x.grant.session, g.session);
    assert_int_equal(x.grant.refresh_expires_at_s, T0 + 100 + 3600);
    strcpy(r1, x.grant.refresh);
    /* the two-tabs rule: r0 again within 10 s, r1 unused → r1 again */
    x = refresh(a, r0, T0 + 110);
    assert_int_equal(x.outcome, QUIRE_REFRESH_GRANTED);
    assert_true(x.grant.repeated);
    assert_string_equal(x.grant.refresh, r1);
    assert_int_equal(x.grant.refresh_expires_at_s, T0 + 100 + 3600);
    /* r1 used → r2; now r0 is reuse, even inside the window */
    x = refresh(a, r1, T0 + 105);
    assert_int_equal(x.outcome, QUIRE_REFRESH_GRANTED);
    strcpy(r2, x.grant.refresh);
    x = refresh(a, r0, T0 + 106);
    assert_int_equal(x.outcome, QUIRE_REFRESH_REUSED);
    assert_string_equal(x.session, g.session);
    value("SELECT revoked_reason FROM sessions WHERE sid = $1", g.session, NULL, v, sizeof v);
    assert_string_equal(v, "refresh token reuse");
    /* the whole family is dead */
    assert_int_equal(refresh(a, r2, T0 + 107).outcome, QUIRE_REFRESH_REFUSED);
    assert_int_equal(refresh(a, r1, T0 + 107).outcome, QUIRE_REFRESH_REFUSED);

    /* outside the window a repeat is reuse even with the successor unused */
    assert_int_equal(quire_account_login(a, user, "a good password", 15, T0, &g), QUIRE_OK);
    strcpy(r0, g.refresh);
    assert_int_equal(refresh(a, r0, T0 + 10).outcome, QUIRE_REFRESH_GRANTED);
    assert_int_equal(refresh(a, r0, T0 + 21).outcome, QUIRE_REFRESH_REUSED);

    /* idle expiry, and the absolute end of the session */
    assert_int_equal(quire_account_login(a, user, "a good password", 15, T0, &g), QUIRE_OK);
    assert_int_equal(refresh(a, g.refresh, T0 + 3600).outcome, QUIRE_REFRESH_REFUSED);
    assert_int_equal(quire_account_login(a, user, "a good password", 15, T0, &g), QUIRE_OK);
    strcpy(r0, g.refresh);
    for (int64_t t = T0 + 3000; t < T0 + 8 * 3600; t += 3000) {
        x = refresh(a, r0, t);
        assert_int_equal(x.outcome, QUIRE_REFRESH_GRANTED);
        assert_true(x.grant.refresh_expires_at_s <= T0 + 8 * 3600);
        strcpy(r0, x.grant.refresh);
    }
    assert_int_equal(refresh(a, r0, T0 + 8 * 3600).outcome, QUIRE_REFRESH_REFUSED);

    /* not refresh tokens at all */
    assert_int_equal(refresh(a, "nope", T0).outcome, QUIRE_REFRESH_REFUSED);
    assert_int_equal(refresh(a, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'", T0).outcome,
                     QUIRE_REFRESH_REFUSED);
    /* logout */
    assert_int_equal(quire_account_login(a, user, "a good password", 15, T0, &g), QUIRE_OK);
    assert_int_equal(quire_account_revoke(a, g.session, T0 + 1, "logout"), QUIRE_OK);
    assert_int_equal(quire_account_revoke(a, g.session, T0 + 2, "logout"), QUIRE_OK);
    assert_int_equal(refresh(a, g.refresh, T0 + 3).outcome, QUIRE_REFRESH_REFUSED);
    quire_account_destroy(a);

    /* with no grace, any repeat is reuse */
    a = account(0);
    assert_int_equal(quire_account_login(a, user, "a good password", 15, T0, &g), QUIRE_OK);
    assert_int_equal(refresh(a, g.refresh, T0 + 1).outcome, QUIRE_REFRESH_GRANTED);
    assert_int_equal(refresh(a, g.refresh, T0 + 1).outcome, QUIRE_REFRESH_REUSED);
    quire_account_destroy(a);
}

typedef struct {
    quire_account_t *a;
    const char *token;
    quire_refresh_result_t res;
    quire_err_t err;
} tab_t;

static void *tab_main(void *arg)
{
    tab_t *t = arg;
    t->err = quire_account_refresh(t->a, t->token, T0 + 50, &t->res);
    return NULL;
}

static void test_tabs_at_once(void **state)
{
    char user[64];
    id(user, sizeof user, "tabs");
    add_user(user, "a good password");
    quire_account_t *a = account(10);
    quire_grant_t g;
    assert_int_equal(quire_account_login(a, user, "a good password", 15, T0, &g), QUIRE_OK);
    tab_t tabs[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        tabs[i] = (tab_t){.a = a, .token = g.refresh};
        pthread_create(&th[i], NULL, tab_main, &tabs[i]);
    }
    int repeated = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(tabs[i].err, QUIRE_OK);
        assert_int_equal(tabs[i].res.outcome, QUIRE_REFRESH_GRANTED);
        assert_string_equal(tabs[i].res.grant.refresh, tabs[0].res.grant.refresh);
        repeated += tabs[i].res.grant.repeated;
    }
    assert_int_equal(repeated, 7); /* exactly one rotated */
    quire_account_destroy(a);
}

static quire_access_t *access_new(int64_t ttl_ms)
{
    quire_access_conf_t c = {.pool = pool, .cache_ttl_ms = ttl_ms, .clock_ms = fake_clock};
    quire_access_t *a = quire_access_new(&c);
    assert_non_null(a);
    return a;
}

static void test_roles(void **state)
{
    char doc[64], v[128];
    id(doc, sizeof doc, "doc");
    quire_access_t *a = access_new(0);
    quire_role_t r;
    assert_int_equal(quire_access_role(a, doc, "alice", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_NONE);
    assert_int_equal(quire_access_claim(a, doc, "alice", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_OWNER);
    assert_int_equal(quire_access_claim(a, doc, "alice", &r), QUIRE_OK); /* idempotent */
    assert_int_equal(r, QUIRE_ROLE_OWNER);
    assert_int_equal(quire_access_claim(a, doc, "bob", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_NONE);
    assert_int_equal(quire_access_set_role(a, doc, "bob", QUIRE_ROLE_VIEWER, "alice"), QUIRE_OK);
    assert_int_equal(quire_access_role(a, doc, "bob", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_VIEWER);
    assert_int_equal(quire_access_claim(a, doc, "bob", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_VIEWER); /* a claim never upgrades */
    assert_int_equal(quire_access_set_role(a, doc, "bob", QUIRE_ROLE_EDITOR, "alice"), QUIRE_OK);
    assert_int_equal(quire_access_role(a, doc, "bob", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_EDITOR);
    assert_int_equal(quire_access_set_role(a, doc, "alice", QUIRE_ROLE_VIEWER, "alice"),
                     QUIRE_ERR_CONFLICT);
    assert_int_equal(quire_access_set_role(a, doc, "carol", QUIRE_ROLE_VIEWER, "alice"), QUIRE_OK);
    quire_member_t *m = NULL;
    size_t n = 0;
    assert_int_equal(quire_access_members(a, doc, 10, &m, &n), QUIRE_OK);
    assert_int_equal(n, 3);
    assert_string_equal(m[0].user, "alice");
    assert_int_equal(m[0].role, QUIRE_ROLE_OWNER);
    assert_string_equal(m[1].user, "bob");
    assert_string_equal(m[2].user, "carol");
    free(m);
    assert_int_equal(quire_access_remove(a, doc, "alice"), QUIRE_ERR_CONFLICT);
    assert_int_equal(quire_access_remove(a, doc, "carol"), QUIRE_OK);
    assert_int_equal(quire_access_remove(a, doc, "carol"), QUIRE_ERR_NOT_FOUND);
    quire_member_doc_t *docs = NULL;
    assert_int_equal(quire_access_documents(a, "bob", 1000, &docs, &n), QUIRE_OK);
    bool listed = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(docs[i].doc_id, doc) == 0)
            listed = docs[i].role == QUIRE_ROLE_EDITOR && docs[i].version == -1;
    free(docs);
    assert_true(listed);

    /* a read-model document without an owner row: its first actor is owner, and healed */
    char doc2[64];
    id(doc2, sizeof doc2, "legacy");
    sql("INSERT INTO documents (doc_id, partition, version, position, ydoc, owner, created_at, "
        "updated_at, engine) VALUES ($1, 0, 5, 6, '\\x0000', $2, now(), now(), 'test')",
        doc2, "dave");
    assert_int_equal(quire_access_role(a, doc2, "dave", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_OWNER);
    value("SELECT role FROM doc_members WHERE doc_id = $1 AND user_id = $2", doc2, "dave", v,
          sizeof v);
    assert_string_equal(v, "owner");
    assert_int_equal(quire_access_role(a, doc2, "erin", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_NONE);
    assert_int_equal(quire_access_claim(a, doc2, "erin", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_NONE); /* it exists: not claimable */
    /* deleted: nobody's */
    sql("UPDATE documents SET lifecycle = 'deleted' WHERE doc_id = $1", doc2, NULL);
    assert_int_equal(quire_access_role(a, doc2, "dave", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_NONE);
    assert_int_equal(quire_access_documents(a, "dave", 1000, &docs, &n), QUIRE_OK);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(docs[i].doc_id, doc2);
    free(docs);
    sql("DELETE FROM documents WHERE doc_id = $1", doc2, NULL);
    quire_access_destroy(a);
}

static void test_role_cache(void **state)
{
    char doc[64];
    id(doc, sizeof doc, "cached");
    quire_access_t *a = access_new(1000), *other = access_new(0);
    quire_role_t r;
    fake_ms = 1000;
    assert_int_equal(quire_access_claim(a, doc, "alice", &r), QUIRE_OK);
    assert_int_equal(quire_access_set_role(a, doc, "bob", QUIRE_ROLE_EDITOR, "alice"), QUIRE_OK);
    assert_int_equal(quire_access_role(a, doc, "bob", &r), QUIRE_OK);
    assert_int_equal(quire_access_role_cached(a, doc, "bob", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_EDITOR);
    /* another process removes bob: this one believes its cache until the TTL ... */
    assert_int_equal(quire_access_remove(other, doc, "bob"), QUIRE_OK);
    fake_ms = 1999;
    assert_int_equal(quire_access_role(a, doc, "bob", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_EDITOR);
    /* ... or until the control message */
    quire_access_forget(a, "member:") /* malformed: ignored */;
    char subject[160];
    snprintf(subject, sizeof subject, "member:%s:bob", doc);
    quire_access_forget(a, subject);
    assert_int_equal(quire_access_role(a, doc, "bob", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_NONE);
    assert_int_equal(quire_access_set_role(other, doc, "bob", QUIRE_ROLE_EDITOR, "alice"),
                     QUIRE_OK);
    assert_int_equal(quire_access_role(a, doc, "bob", &r), QUIRE_OK); /* negatives not cached */
    assert_int_equal(r, QUIRE_ROLE_EDITOR);
    assert_int_equal(quire_access_remove(other, doc, "bob"), QUIRE_OK);
    fake_ms = 3000; /* the TTL passed */
    assert_int_equal(quire_access_role(a, doc, "bob", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_NONE);
    /* doc:<id> drops every cached role of the document */
    assert_int_equal(quire_access_role(a, doc, "alice", &r), QUIRE_OK);
    assert_int_equal(quire_access_role_cached(a, doc, "alice", &r), QUIRE_OK);
    snprintf(subject, sizeof subject, "doc:%s", doc);
    quire_access_forget(a, subject);
    assert_int_equal(quire_access_role_cached(a, doc, "alice", &r), QUIRE_ERR_NOT_FOUND);
    quire_access_destroy(a);
    quire_access_destroy(other);
}

typedef struct {
    quire_access_t *a;
    const char *doc;
    char user[32];
    uint64_t client;
    int idx;
    quire_role_t role;
    quire_err_t err;
} racer_t;

static void *claim_main(void *arg)
{
    racer_t *r = arg;
    r->err = quire_access_claim(r->a, r->doc, r->user, &r->role);
    return NULL;
}

static void *bind_main(void *arg)
{
    racer_t *r = arg;
    /* the shared client, and one of the racer's own */
    yjs_client_range_t rg[] = {{r->client, 0, 5}, {7777 + (uint64_t)r->idx, 0, 1}};
    r->err = quire_access_check_clients(r->a, r->doc, r->user, rg, 2);
    return NULL;
}

static void test_races(void **state)
{
    char doc[64], v[128];
    id(doc, sizeof doc, "race");
    racer_t rs[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        rs[i] = (racer_t){.a = access_new(0), .doc = doc, .client = 4242, .idx = i};
        snprintf(rs[i].user, sizeof rs[i].user, "u%c", 'a' + i);
        pthread_create(&th[i], NULL, claim_main, &rs[i]);
    }
    int owners = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(rs[i].err, QUIRE_OK);
        owners += rs[i].role == QUIRE_ROLE_OWNER;
    }
    assert_int_equal(owners, 1);
    value("SELECT count(*) FROM doc_members WHERE doc_id = $1", doc, NULL, v, sizeof v);
    assert_string_equal(v, "1");

    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, bind_main, &rs[i]);
    int winners = 0, spoofed = 0;
    const char *winner = NULL;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        if (rs[i].err == QUIRE_OK)
            winners++, winner = rs[i].user;
        else if (rs[i].err == QUIRE_ERR_SPOOFED)
            spoofed++;
    }
    assert_int_equal(winners, 1);
    assert_int_equal(spoofed, 7);
    value("SELECT user_id FROM doc_clients WHERE doc_id = $1 AND client_id = 4242", doc, NULL, v,
          sizeof v);
    assert_string_equal(v, winner);
    /* a refused write bound nothing: only the winner's own second client exists */
    value("SELECT count(*) FROM doc_clients WHERE doc_id = $1", doc, NULL, v, sizeof v);
    assert_string_equal(v, "2");
    /* from the cache now, without PostgreSQL */
    yjs_client_range_t rg = {4242, 10, 20};
    for (int i = 0; i < 8; i++) {
        quire_err_t want = strcmp(rs[i].user, winner) == 0 ? QUIRE_OK : QUIRE_ERR_SPOOFED;
        assert_int_equal(quire_access_clients_cached(rs[i].a, doc, rs[i].user, &rg, 1), want);
        assert_int_equal(quire_access_check_clients(rs[i].a, doc, rs[i].user, &rg, 1), want);
        quire_access_destroy(rs[i].a);
    }
    /* the same client id is free in another document; ids past INT64_MAX cannot be bound */
    char doc2[64];
    id(doc2, sizeof doc2, "race2");
    quire_access_t *a = access_new(0);
    assert_int_equal(quire_access_check_clients(a, doc2, "zed", &rg, 1), QUIRE_OK);
    yjs_client_range_t huge = {UINT64_MAX, 0, 1};
    assert_int_equal(quire_access_check_clients(a, doc2, "zed", &huge, 1), QUIRE_ERR_SPOOFED);
    /* many clients in one write: chunks, all bound */
    yjs_client_range_t many[1500];
    for (int i = 0; i < 1500; i++)
        many[i] = (yjs_client_range_t){100000 + (uint64_t)i, 0, 1};
    assert_int_equal(quire_access_check_clients(a, doc2, "zed", many, 1500), QUIRE_OK);
    value("SELECT count(*) FROM doc_clients WHERE doc_id = $1", doc2, NULL, v, sizeof v);
    assert_string_equal(v, "1501");
    quire_access_destroy(a);
}

static void test_sessions(void **state)
{
    char user[64];
    id(user, sizeof user, "sess");
    add_user(user, "a good password");
    quire_account_t *acc = account(10);
    quire_access_t *a = access_new(1000);
    quire_grant_t g;
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(quire_account_login(acc, user, "a good password", 15, now, &g), QUIRE_OK);
    fake_ms = 50000;
    assert_int_equal(quire_access_session(a, g.session, now), QUIRE_OK);
    assert_int_equal(quire_access_session(a, "not-a-login-session", now), QUIRE_OK);
    assert_int_equal(quire_account_revoke(acc, g.session, now, "logout"), QUIRE_OK);
    assert_int_equal(quire_access_session(a, g.session, now), QUIRE_OK); /* cached, within TTL */
    fake_ms = 51001;
    assert_int_equal(quire_access_session(a, g.session, now), QUIRE_ERR_UNAUTHENTICATED);
    /* a session past its absolute end */
    assert_int_equal(quire_account_login(acc, user, "a good password", 15, now, &g), QUIRE_OK);
    assert_int_equal(quire_access_session(a, g.session, now + 8 * 3600), QUIRE_ERR_UNAUTHENTICATED);
    quire_access_destroy(a);
    quire_account_destroy(acc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login),        cmocka_unit_test(test_refresh_rules),
        cmocka_unit_test(test_tabs_at_once), cmocka_unit_test(test_roles),
        cmocka_unit_test(test_role_cache),   cmocka_unit_test(test_races),
        cmocka_unit_test(test_sessions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
