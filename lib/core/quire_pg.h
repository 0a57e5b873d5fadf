/*
 * quire_pg — PostgreSQL helpers shared by every role: connecting with a clear error, and
 * applying the numbered migrations of migrations/ (embedded in the binary at build time).
 * Every statement quire sends is parameterised; nothing here builds SQL from input.
 */
#ifndef QUIRE_PG_H
#define QUIRE_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "quire_err.h"

typedef struct quire_migration_s {
    int version;      /* from the file name: 0001_x.sql → 1 */
    const char *name; /* the file name */
    const char *sql;  /* the whole file */
} quire_migration_t;

/* The migrations embedded in this binary, sorted by version (generated from migrations/). */
extern const quire_migration_t quire_migrations[];
extern const size_t quire_migrations_count;

/* Connects (connect_timeout 5 s, application_name = app). NULL + errbuf on failure. */
PGconn *quire_pg_connect(const char *conninfo, const char *app, char *errbuf, size_t errlen);

/* Runs one parameterless statement; QUIRE_ERR_PG + errbuf unless it returns COMMAND_OK or
 * TUPLES_OK. */
quire_err_t quire_pg_exec(PGconn *pg, const char *sql, char *errbuf, size_t errlen);

/* Applies every migration newer than the database's, each in its own transaction, under an
 * advisory lock so concurrent runs serialise. Idempotent. *ret_applied = number applied now. */
quire_err_t quire_pg_migrate(PGconn *pg, const quire_migration_t *migrations, size_t n,
                             int *ret_applied, char *errbuf, size_t errlen);

/* The highest applied migration version (0 when none). */
quire_err_t quire_pg_schema_version(PGconn *pg, int *ret_version, char *errbuf, size_t errlen);

#endif
