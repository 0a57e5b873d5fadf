/*
 * Integration: the real PostgreSQL that ./ops/test starts (QUIRE_PG). Migrations are idempotent
 * and serialise; parameterised statements round-trip binary bytes and SQL metacharacters exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quire_pg.h"

static const char *conninfo;

static int setup(void **state)
{
    conninfo = getenv("QUIRE_PG");
    if (!conninfo) {
        fprintf(stderr, "QUIRE_PG is not set: run through ./ops/test\n");
        return -1;
    }
    return 0;
}

static void *migrate_thread(void *arg)
{
    char err[512];
    PGconn *pg = quire_pg_connect(conninfo, "it-migrate", err, sizeof err);
    if (!pg)
        return (void *)1;
    int applied = -1;
    quire_err_t e =
        quire_pg_migrate(pg, quire_migrations, quire_migrations_count, &applied, err, sizeof err);
    PQfinish(pg);
    return (void *)(intptr_t)(e == QUIRE_OK ? 0 : 1);
}

static void test_migrate_idempotent_and_concurrent(void **state)
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, migrate_thread, NULL);
    for (int i = 0; i < 3; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    char err[512];
    PGconn *pg = quire_pg_connect(conninfo, "it", err, sizeof err);
    assert_non_null(pg);
    int applied = -1;
    assert_int_equal(
        quire_pg_migrate(pg, quire_migrations, quire_migrations_count, &applied, err, sizeof err),
        QUIRE_OK);
    assert_int_equal(applied, 0); /* nothing left to apply */
    int version = -1;
    assert_int_equal(quire_pg_schema_version(pg, &version, err, sizeof err), QUIRE_OK);
    assert_int_equal(version, quire_migrations[quire_migrations_count - 1].version);
    PGresult *r = PQexec(pg, "SELECT count(*), count(DISTINCT version) FROM schema_migrations");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(atoi(PQgetvalue(r, 0, 0)), (int)quire_migrations_count);
    assert_int_equal(atoi(PQgetvalue(r, 0, 1)), (int)quire_migrations_count);
    PQclear(r);
    PQfinish(pg);
}

static void test_parameterised_roundtrip(void **state)
{
    char err[512];
    PGconn *pg = quire_pg_connect(conninfo, "it", err, sizeof err);
    assert_non_null(pg);
    assert_int_equal(
        quire_pg_exec(pg, "CREATE TEMP TABLE rt (k text PRIMARY KEY, v bytea)", err, sizeof err),
        QUIRE_OK);
    const char *key = "x'); DROP TABLE schema_migrations; --\\ \"é\"";
    uint8_t bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (uint8_t)i;
    const char *vals[] = {key, (const char *)bytes};
    int lens[] = {0, 256};
    int fmts[] = {0, 1};
    PGresult *r = PQexecParams(pg, "INSERT INTO rt VALUES ($1, $2)", 2, NULL, vals, lens, fmts, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    const char *kv[] = {key};
    r = PQexecParams(pg, "SELECT k, v FROM rt WHERE k = $1", 1, NULL, kv, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), key);
    assert_int_equal(PQgetlength(r, 0, 1), 256);
    assert_memory_equal(PQgetvalue(r, 0, 1), bytes, 256);
    PQclear(r);
    r = PQexec(pg, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    assert_string_equal(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    PQfinish(pg);
}

static void test_bad_conninfo(void **state)
{
    char err[512];
    assert_null(quire_pg_connect("postgresql://nobody@127.0.0.1:1/none", "it", err, sizeof err));
    assert_non_null(strstr(err, "could not connect to PostgreSQL"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_idempotent_and_concurrent),
        cmocka_unit_test(test_parameterised_roundtrip),
        cmocka_unit_test(test_bad_conninfo),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
