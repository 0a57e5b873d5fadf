/*
 * projector — keeps the PostgreSQL read model equal to a replay of quire.doc-updates, exactly once
 * (DESIGN §5, I3). Used by `quire projector` (a consumer-group member) and `quire replay`
 * (every partition from the stored offsets up to the end of the log as of start).
 *
 * One transaction per partition batch:
 *   SELECT next_offset ... FOR UPDATE        fence: must equal the batch's first offset, else
 *                                            another instance moved it — drop caches, re-seek
 *   dedupe lookup (document, event id)       resent events change nothing
 *   COPY doc_events                          every applied event indexed at once
 *   INSERT quarantine                        poison by the deterministic rule (quarantine.h)
 *   upsert documents (via COPY + INSERT)     full state, content, version, position = batch end;
 *                                            a hot document at most every flush_interval
 *   UPDATE projector_offsets + pg_notify     next offset; api waiters (?min_version) wake up
 *   COMMIT, then commit the offset to Kafka too (only so lag shows in Kafka's tooling)
 * Any failure or fence mismatch: roll back, drop the partition's cached documents, re-read the
 * offsets from PostgreSQL (waiting while it is down) and seek there. Documents are cached between
 * batches; a cached document's state covers its partition up to the partition's next offset.
 *
 * No polling (I4): with nothing to flush the loop only long-polls Kafka; PostgreSQL sees a query
 * only when an event arrives or a deferred flush falls due.
 *
 * Threads: the projector runs on the caller's thread; only projector_ready/stats may be called
 * from another thread.
 */
#ifndef PROJECTOR_H
#define PROJECTOR_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "quire_metrics.h"

typedef struct projector_s projector_t;

typedef void (*projector_progress_fn)(void *opaque, int64_t done, int64_t total);

typedef struct projector_conf_s {
    const char *brokers;
    const char *topic;         /* <prefix>.doc-updates */
    const char *pg;            /* libpq conninfo */
    const char *group_id;      /* consumer group to join; NULL: assign every partition (replay) */
    int64_t flush_interval_ms; /* a hot document's full state at most this often */
    size_t max_batch_events;   /* per transaction */
    size_t max_batch_bytes;    /* per transaction */
    size_t max_cached_docs;    /* clean documents beyond this are evicted */
    int session_timeout_ms;    /* consumer group session timeout */
    bool until_end;            /* stop once every partition reached its end as of start */
    /* Wait for the WAL flush at each commit. Off (the default) keeps exactly-once — a batch and
     * its offsets commit or vanish together, and after a PostgreSQL crash the projector resumes
     * from whatever offsets survived — but a crash may forget the last few hundred ms of the
     * read model until they are projected again from the log. */
    bool synchronous_commit;
    projector_progress_fn progress; /* until_end: called about once a second; may be NULL */
    void *progress_opaque;
    quire_metrics_t *metrics;          /* borrowed; may be NULL */
    const char *const *consumer_extra; /* "key=value" librdkafka properties (tests) */
    size_t nconsumer_extra;
} projector_conf_t;

/* Strings in conf are copied. NULL + errbuf when Kafka or the configuration is unusable. */
projector_t *projector_new(const projector_conf_t *conf, char *errbuf, size_t errlen);

/* Runs until *stop becomes non-zero (or, with until_end, the end is reached); flushes dirty
 * documents before returning. QUIRE_OK, or an error that stopped it (QUIRE_ERR_KAFKA for a
 * stored offset Kafka no longer has — auto.offset.reset=error — after logging it). */
quire_err_t projector_run(projector_t *p, volatile sig_atomic_t *stop);

/* Leaves the group and frees everything. Accepts NULL. */
void projector_destroy(projector_t *p);

/* For /readyz: connected to PostgreSQL and holding an assignment. Any thread. */
bool projector_ready(void *p, char *buf, size_t len);

typedef struct projector_stats_s {
    int64_t events;      /* applied (indexed) */
    int64_t duplicates;  /* skipped: same (document, event id) */
    int64_t quarantined; /* poison */
    int64_t skipped;     /* updates to deleted documents */
    int64_t batches;
    int64_t fence_losses; /* batches refused by the fence */
} projector_stats_t;
void projector_stats(projector_t *p, projector_stats_t *ret);

#endif
