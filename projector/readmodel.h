/*
 * readmodel — reading a document out of the PostgreSQL read model without gaps (DESIGN §4–§5).
 *
 * What must stay true (the projector guarantees it, migrations/0002_read_model.sql says it):
 *   - a `documents` row's ydoc holds every event of its document below `position` in its
 *     partition;
 *   - every applied event is in `doc_events` (document, partition, offset, ...), inserted in the
 *     same transaction that moved `projector_offsets.next_offset` past it.
 * So the row, its partition's next_offset P and the document's doc_events at offsets >= position,
 * read in ONE snapshot (REPEATABLE READ), give the document's state covering the partition up to
 * P — nothing missing, nothing from beyond P. Merging is idempotent, so the overlap a reader adds
 * later (a gateway reading Kafka from P on) is harmless.
 *
 * readmodel_load() is what the gateway calls to join a document and what the api serves reads
 * from. readmodel_load_at() rebuilds a past version (?at=): the nearest snapshot at or before the
 * point (doc_snapshots, filled by the compactor), or the start, plus the document's indexed
 * events up to the point.
 *
 * Neither function keeps the connection: each runs its own transaction and leaves the connection
 * idle (rolled back) on every path. Errors: QUIRE_ERR_NOT_FOUND (no such document — or no event
 * of it at or before the point), QUIRE_ERR_PG (the connection may be broken: give it back as
 * such), QUIRE_ERR_MALFORMED (stored state the engine refuses: a bug), QUIRE_ERR_NOMEM.
 */
#ifndef READMODEL_H
#define READMODEL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"

typedef enum readmodel_lifecycle_e {
    READMODEL_ACTIVE = 0,
    READMODEL_DELETED = 1,
} readmodel_lifecycle_t;

/* A document as the read model holds it. Caller-owned; zero it, then readmodel_doc_deinit(). */
typedef struct readmodel_doc_s {
    int32_t partition;
    int64_t next_offset; /* P: state covers the partition's events below P (load_at: point + 1) */
    int64_t version;     /* offset of the document's latest event covered */
    readmodel_lifecycle_t lifecycle;
    uint8_t *state; /* merged Yjs update v1 (malloc'd, owned) */
    size_t state_len;
    int64_t event_count; /* events covered (lifecycle events included) */
    int64_t event_bytes; /* bytes of their Yjs updates */
    int64_t created_ms;  /* broker time of the first event */
    int64_t updated_ms;  /* broker time of the latest covered event */
    char *owner;         /* the first event's actor (malloc'd, owned; NULL if unknown) */
    /* The row's materialised content (JSON text, malloc'd) when it is exactly the content of
     * `state` (no events after the row's position), else NULL: render it from state. */
    char *content;
    size_t content_len;
    /* What the load read (the snapshot policy bounds it; compactor/README.md): the stored state
     * it started from — READMODEL_BASE_* — that state's position and size, and the events merged
     * on top of it (the tail) with the bytes of their updates. */
    int base_kind;
    int64_t base_position;
    size_t base_len;
    int64_t tail_events;
    int64_t tail_bytes;
} readmodel_doc_t;

/* readmodel_doc_t.base_kind */
enum {
    READMODEL_BASE_NONE = 0,     /* the empty state: every event of the document was merged */
    READMODEL_BASE_ROW = 1,      /* the documents row */
    READMODEL_BASE_SNAPSHOT = 2, /* a doc_snapshots row (the compactor's) */
};

/* The topic whose partition positions the read model records ("<prefix>.doc-updates"). */

/*
 * Reads doc_id in one REPEATABLE READ snapshot: the row, the partition's next_offset P, the
 * document's doc_events from the row's position on; merges them. On QUIRE_OK *ret is filled
 * (deleted documents too: check lifecycle). A document with indexed events but no row yet (the
 * projector writes a hot or new row a little later) is read from its events alone. When the
 * newest snapshot (doc_snapshots, with its metadata) is ahead of the row — or there is no row,
 * as while `quire bootstrap` runs — the load starts from that snapshot instead.
 */
quire_err_t readmodel_load(PGconn *pg, const char *topic, const char *doc_id, readmodel_doc_t *ret);

/* As readmodel_load, inside the caller's open REPEATABLE READ transaction (quire verify reads
 * the whole read model in one snapshot); leaves the transaction open. */
quire_err_t readmodel_load_in(PGconn *pg, const char *topic, const char *doc_id,
                              readmodel_doc_t *ret);

/* A point in a document's history: an offset, or a broker time (ms since the epoch). */
typedef struct readmodel_point_s {
    bool by_time;
    int64_t offset;  /* events at offsets <= this */
    int64_t time_ms; /* events whose broker time <= this */
} readmodel_point_t;

/*
 * The document as it was at `at`: the nearest snapshot at or before it (or the empty state) plus
 * its indexed events up to it, in one snapshot. ret->version is the offset of the latest event at
 * or before the point, ret->next_offset that + 1, ret->lifecycle what it was then, content NULL.
 * Counts come from the snapshot's metadata plus the tail, so the cost is the tail's, not the
 * history's. *ret_deleted_now (may be NULL) says whether the document is deleted today.
 * QUIRE_ERR_NOT_FOUND when the document had no event at or before the point;
 * QUIRE_ERR_UNAVAILABLE when no snapshot covers the point and the document has events the index
 * lacks (a read model bootstrapped from snapshots indexes from a floor on: index_floors).
 */
quire_err_t readmodel_load_at(PGconn *pg, const char *doc_id, const readmodel_point_t *at,
                              readmodel_doc_t *ret, bool *ret_deleted_now);

/* Frees what a load put in d and zeroes it. Accepts NULL and zeroed structs. */
void readmodel_doc_deinit(readmodel_doc_t *d);

/* Cheap: the document's current version and lifecycle (no state), in one statement. Used to
 * validate caches and answer conditional requests. QUIRE_ERR_NOT_FOUND when unknown. */
quire_err_t readmodel_version(PGconn *pg, const char *doc_id, int64_t *ret_version,
                              readmodel_lifecycle_t *ret_lifecycle);

/* "quire-yjs/<version>": the engine whose rules produced the state and decide quarantine. */
const char *readmodel_engine_version(void);

#endif
