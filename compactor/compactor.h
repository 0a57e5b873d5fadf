/*
 * compactor — makes the snapshots of DESIGN §6: per document, its state at a known position,
 * written to the snapshot history table (doc_snapshots) and published from there to the
 * compacted `<prefix>.doc-snapshots` topic (an outbox), so loads, time travel and bootstrap
 * read a snapshot plus a short tail. Used by `quire compactor`.
 *
 * How it works (compactor/README.md has the reasoning):
 *   - A consumer group over doc-updates shares the partitions among compactors; the partition
 *     owner also holds a PostgreSQL advisory lock on (topic, partition) for as long as it works
 *     on it, so an instance that has not noticed it lost a partition cannot write beside the new
 *     owner. One partition, one writer: no document is snapshotted twice.
 *   - It follows the log and counts, per document, the bytes of events since its last snapshot
 *     (compactor_policy.h). When a document is due after event offset o, the snapshot is the
 *     document as of o (readmodel_load_at: the previous snapshot plus the indexed tail, waiting
 *     for the projector to have indexed o), integrated and encoded garbage-collected, with
 *     position o + 1: every event of the document below it is included.
 *   - One INSERT (one transaction) writes the row, unpublished; then it is produced to the topic
 *     and marked published when the broker has it. Rows left unpublished by a crash are
 *     produced again (newest per document) when the partition is next taken. Readers take the
 *     highest position, so a re-sent older snapshot is harmless.
 *   - The group's committed offset of a partition is its coverage C: every event below C
 *     belongs to a published snapshot. It is where a compactor resumes and where `quire
 *     bootstrap` starts reading tails.
 * No polling (I4): idle, it only long-polls Kafka; PostgreSQL sees statements when events
 * arrive or a quiet period ends.
 *
 * Threads: runs on the caller's thread; compactor_ready/compactor_stats from any thread.
 */
#ifndef COMPACTOR_H
#define COMPACTOR_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compactor_policy.h"
#include "quire_err.h"
#include "quire_metrics.h"

typedef struct compactor_s compactor_t;

typedef struct compactor_conf_s {
    const char *brokers;
    const char *topic_updates;   /* <prefix>.doc-updates */
    const char *topic_snapshots; /* <prefix>.doc-snapshots */
    const char *pg;              /* libpq conninfo */
    const char *group_id;        /* consumer group of the compactors */
    compactor_policy_t policy;
    int session_timeout_ms;
    size_t max_state_bytes; /* documents larger than this are not snapshotted (logged) */
    int64_t retry_ms;       /* waiting for the projector, or after a failure */
    bool until_idle; /* stop once caught up, nothing in flight, nothing due within 5 s (tools) */
    quire_metrics_t *metrics; /* borrowed; may be NULL */
} compactor_conf_t;

/* Strings in conf are copied. NULL + errbuf when Kafka or the configuration is unusable. */
compactor_t *compactor_new(const compactor_conf_t *conf, char *errbuf, size_t errlen);

/* Runs until *stop becomes non-zero (or, with until_idle, nothing is left to do). */
quire_err_t compactor_run(compactor_t *c, volatile sig_atomic_t *stop);

/* Leaves the group, releases the locks, frees everything. Accepts NULL. */
void compactor_destroy(compactor_t *c);

/* For /readyz: connected to PostgreSQL and holding an assignment. Any thread. */
bool compactor_ready(void *c, char *buf, size_t len);

typedef struct compactor_stats_s {
    int64_t events;         /* events followed */
    int64_t snapshots;      /* written to the table */
    int64_t published;      /* confirmed on the topic */
    int64_t snapshot_bytes; /* state bytes written */
    int64_t event_bytes;    /* update bytes followed */
    int64_t deferred;       /* waits for the projector */
    int64_t by_reason[4];   /* indexed by compactor_reason_t */
    int64_t republished;    /* outbox rows sent again after a restart */
} compactor_stats_t;
void compactor_stats(compactor_t *c, compactor_stats_t *ret);

#endif
