/*
 * quire_pg — connection and migration helpers.
 *
 * Migrations: the table schema_migrations(version, name, applied_at) records what ran. Each
 * migration runs in one transaction together with its schema_migrations row, so a crash leaves
 * either all of it or none. A session advisory lock serialises concurrent `quire migrate` runs.
 */
#include "quire_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_LOCK_KEY "7117990901" /* arbitrary, fixed: pg_advisory_lock key for migrations */

PGconn *quire_pg_connect(const char *conninfo, const char *app, char *errbuf, size_t errlen)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {conninfo, "5", app ? app : "quire", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg) {
        snprintf(errbuf, errlen, "could not connect to PostgreSQL: out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(pg);
        size_t l = strlen(msg);
        while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
            l--;
        snprintf(errbuf, errlen, "could not connect to PostgreSQL: %.*s", (int)l, msg);
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

static void pg_error(PGconn *pg, PGresult *res, const char *what, char *errbuf, size_t errlen)
{
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(pg);
    size_t l = strlen(msg);
    while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
        l--;
    snprintf(errbuf, errlen, "%s: %.*s", what, (int)l, msg);
}

quire_err_t quire_pg_exec(PGconn *pg, const char *sql, char *errbuf, size_t errlen)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    quire_err_t err = QUIRE_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        pg_error(pg, res, "statement failed", errbuf, errlen);
        err = QUIRE_ERR_PG;
    }
    PQclear(res);
    return err;
}

quire_err_t quire_pg_schema_version(PGconn *pg, int *ret_version, char *errbuf, size_t errlen)
{
    PGresult *res = PQexec(pg, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_error(pg, res, "could not read schema_migrations", errbuf, errlen);
        PQclear(res);
        return QUIRE_ERR_PG;
    }
    *ret_version = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return QUIRE_OK;
}

quire_err_t quire_pg_migrate(PGconn *pg, const quire_migration_t *migrations, size_t n,
                             int *ret_applied, char *errbuf, size_t errlen)
{
    quire_err_t err =
        quire_pg_exec(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", errbuf, errlen);
    if (err)
        return err;
    err = quire_pg_exec(pg,
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version integer PRIMARY KEY,"
                        " name text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())",
                        errbuf, errlen);
    int current = 0;
    if (!err)
        err = quire_pg_schema_version(pg, &current, errbuf, errlen);
    int applied = 0;
    for (size_t i = 0; i < n && !err; i++) {
        const quire_migration_t *m = &migrations[i];
        if (m->version <= current)
            continue;
        err = quire_pg_exec(pg, "BEGIN", errbuf, errlen);
        if (err)
            break;
        PGresult *res = PQexec(pg, m->sql);
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
            char what[160];
            snprintf(what, sizeof what, "migration %s failed", m->name);
            pg_error(pg, res, what, errbuf, errlen);
            err = QUIRE_ERR_PG;
        }
        PQclear(res);
        if (!err) {
            char version[16];
            snprintf(version, sizeof version, "%d", m->version);
            const char *params[] = {version, m->name};
            res = PQexecParams(pg, "INSERT INTO schema_migrations(version, name) VALUES ($1, $2)",
                               2, NULL, params, NULL, NULL, 0);
            if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
                pg_error(pg, res, "could not record migration", errbuf, errlen);
                err = QUIRE_ERR_PG;
            }
            PQclear(res);
        }
        if (err) {
            char ignored[64];
            (void)quire_pg_exec(pg, "ROLLBACK", ignored, sizeof ignored);
            break;
        }
        err = quire_pg_exec(pg, "COMMIT", errbuf, errlen);
        if (!err)
            applied++;
    }
    char ignored[64];
    (void)quire_pg_exec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", ignored,
                        sizeof ignored);
    if (!err)
        *ret_applied = applied;
    return err;
}
