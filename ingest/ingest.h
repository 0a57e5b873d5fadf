/*
 * ingest — the write path (DESIGN §3): a Yjs update from an authenticated actor becomes one or
 * more DocEvents in the document's partition of quire.doc-updates, and the caller learns the
 * durable (partition, offset) — or a clear failure, never a false success.
 *
 *   validate (lib/yjs) → refuse malformed, empty, oversized, spoofed client ids
 *   split    (lib/yjs) → parts of at most max_event_bytes when the update is larger
 *   stamp    → event id (random; derived from the Idempotency-Key when there is one, so a retry
 *              produces the same ids and consumers deduplicate), server time, actor, origin
 *   encode   (schemas/event_codec) → Confluent-framed Avro
 *   produce  (ingest_producer) → keyed by document id, idempotent, acks=all, durable report
 *
 * Threads: ingest_submit may be called from any thread. Completion callbacks run on the
 * producer's thread, one at a time; they must not block for long.
 */
#ifndef INGEST_H
#define INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "event_codec.h"
#include "quire_err.h"
#include "quire_metrics.h"
#include "yjs_update.h"

typedef struct ingest_s ingest_t;

/* Client-id binding hook (DESIGN §7): QUIRE_OK when `actor` may write structs of every client in
 * ranges of document doc_id (bindings are per document: a Yjs client id names one Y.Doc),
 * QUIRE_ERR_SPOOFED when one belongs to someone else, another error when it cannot be decided now
 * (retriable). Called synchronously inside ingest_submit; quire_access_check_clients
 * (lib/auth/quire_access.h) is the implementation. */
typedef quire_err_t (*ingest_clients_fn)(void *opaque, const char *doc_id, const char *actor,
                                         const yjs_client_range_t *ranges, size_t nranges);

typedef struct ingest_conf_s {
    const char *brokers;
    const char *topic;           /* <prefix>.doc-updates */
    const char *origin;          /* this process, recorded in every event (e.g. "gw1") */
    size_t max_event_bytes;      /* Yjs bytes per event; larger updates are split (1 MiB) */
    size_t max_doc_bytes;        /* a submission, or the document it grows, may not exceed it */
    int64_t delivery_timeout_ms; /* give up and report failure after this (0 = never) */
    size_t max_inflight;         /* events */
    size_t max_inflight_bytes;
    const char *linger_ms;
    const char *const *producer_extra; /* "key=value" librdkafka properties (tests) */
    size_t nproducer_extra;
    ingest_clients_fn check_clients; /* may be NULL: no binding check */
    void *check_opaque;
    quire_metrics_t *metrics;
} ingest_conf_t;

/* What to write. Strings are NUL-terminated and borrowed for the call. */
typedef struct ingest_write_s {
    const char *doc_id;
    const char *actor;       /* the authenticated user: never taken from the client */
    event_codec_kind_t kind; /* UPDATE carries `update`; CREATE/DELETE carry none */
    const uint8_t *update;
    size_t len;
    const char *idempotency_key; /* optional */
    int64_t doc_bytes;           /* current size of the document if known, else -1 */
} ingest_write_t;

/* The outcome, passed to the completion callback (valid during the call only). */
typedef struct ingest_result_s {
    quire_err_t err;     /* QUIRE_OK: every event persisted */
    const char *message; /* on failure */
    int32_t partition;
    int64_t first_offset;   /* offset of the first event of this write */
    int64_t offset;         /* offset of the last event: the document's version after it */
    int64_t broker_time_ms; /* LogAppendTime of the last event */
    size_t nevents;
} ingest_result_t;

typedef void (*ingest_done_fn)(void *opaque, const ingest_result_t *res);

/* What ingest_submit accepted: the event ids it produced (in order), for callers that match
 * their events when they come back through the log. */
typedef struct ingest_ticket_s {
    size_t nevents;
    uint8_t (*event_ids)[EVENT_CODEC_EVENT_ID_LEN]; /* malloc'd; free with ingest_ticket_deinit */
    int32_t partition;
} ingest_ticket_t;
void ingest_ticket_deinit(ingest_ticket_t *t);

/* NULL + errbuf when the configuration is unusable. */
ingest_t *ingest_new(const ingest_conf_t *conf, char *errbuf, size_t errlen);
/* Waits up to timeout_ms for in-flight events; the rest complete with QUIRE_ERR_SHUTDOWN. */
void ingest_destroy(ingest_t *in, int timeout_ms);

/*
 * Submits a write. QUIRE_OK: accepted; `done` will be called exactly once; *ret_ticket (may be
 * NULL) lists the event ids. Any error: nothing was produced, `done` will not be called, errbuf
 * says why in words fit for the client:
 *   QUIRE_ERR_INVALID (bad document id or actor), QUIRE_ERR_EMPTY (no update or one that changes
 *   nothing), QUIRE_ERR_MALFORMED, QUIRE_ERR_LIMIT, QUIRE_ERR_TOO_LARGE (a part that cannot be
 *   split under the event cap, or the document limit), QUIRE_ERR_SPOOFED, QUIRE_ERR_BUSY (too
 *   much in flight: try later), QUIRE_ERR_SHUTDOWN.
 */
quire_err_t ingest_submit(ingest_t *in, const ingest_write_t *w, ingest_done_fn done, void *opaque,
                          ingest_ticket_t *ret_ticket, char *errbuf, size_t errlen);

/* The partition a document lives in (Java's murmur2 placement). */
int32_t ingest_partition_of(ingest_t *in, const char *doc_id);
int32_t ingest_partition_count(ingest_t *in);

/* Test hook: see ingest_producer_inject_fatal. */
quire_err_t ingest_inject_fatal(ingest_t *in);

#endif
