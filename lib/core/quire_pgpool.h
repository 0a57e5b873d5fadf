/*
 * quire_pgpool — a small fixed pool of PostgreSQL connections for request handlers.
 *
 * get() hands out an idle connection, connecting (or reconnecting a broken one) on demand, and
 * waits up to a timeout when all are busy. put() returns it; pass broken=true after an error
 * that may have left the connection unusable, and it is reset before the next use. Thread-safe.
 */
#ifndef QUIRE_PGPOOL_H
#define QUIRE_PGPOOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "quire_err.h"

typedef struct quire_pgpool_s quire_pgpool_t;

/* conninfo and app are copied. No connection is made yet. */
quire_pgpool_t *quire_pgpool_new(const char *conninfo, const char *app, size_t size);
void quire_pgpool_destroy(quire_pgpool_t *pool);

/* A connection, or NULL (errbuf says why: busy past timeout_ms, or PostgreSQL unreachable). */
PGconn *quire_pgpool_get(quire_pgpool_t *pool, int timeout_ms, char *errbuf, size_t errlen);
void quire_pgpool_put(quire_pgpool_t *pool, PGconn *pg, bool broken);

#endif
