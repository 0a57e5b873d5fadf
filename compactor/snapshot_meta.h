/*
 * snapshot_meta — the read-model metadata a snapshot carries besides its state: what a load or a
 * bootstrap starting from the snapshot needs to know without the document's older events (the
 * offset of its latest covered event, how many events and update bytes it covers, its owner —
 * the first event's actor —, the broker times of its first and latest covered events, whether it
 * was deleted by then).
 *
 * In PostgreSQL these are doc_snapshots columns (migrations/0020_snapshots.sql). On the snapshot
 * topic they travel as Kafka record headers beside the DocSnapshot envelope (schema id 3, whose
 * fields are the state and its position only), one header each, values in decimal ASCII:
 *   quire-version, quire-event-count, quire-event-bytes, quire-first-time-ms,
 *   quire-last-time-ms, quire-deleted ("0"/"1"), quire-owner (the actor, as bytes).
 * Compaction keeps a record's headers with it.
 */
#ifndef SNAPSHOT_META_H
#define SNAPSHOT_META_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "quire_err.h"

typedef struct snapshot_meta_s {
    int64_t version;     /* offset of the latest covered event */
    int64_t event_count; /* events covered (lifecycle events included) */
    int64_t event_bytes; /* their update bytes */
    int64_t first_ms;    /* broker time of the first event */
    int64_t last_ms;     /* broker time of the latest covered event */
    bool deleted;
    const char *owner; /* borrowed; NULL if unknown */
} snapshot_meta_t;

/* New headers holding *m (owned by the caller until handed to rd_kafka_producev); NULL when out
 * of memory. */
rd_kafka_headers_t *snapshot_meta_headers(const snapshot_meta_t *m);

/*
 * Reads the metadata from a consumed record's headers (borrowed for the call). The owner is
 * copied into owner_buf (NUL-terminated; owner_cap bytes at most) and ret->owner points to it, or
 * is NULL when absent. QUIRE_ERR_NOT_FOUND when a header is missing (a snapshot written without
 * them), QUIRE_ERR_MALFORMED when one is not a number or the owner does not fit.
 */
quire_err_t snapshot_meta_from_message(const rd_kafka_message_t *msg, char *owner_buf,
                                       size_t owner_cap, snapshot_meta_t *ret);

#endif
