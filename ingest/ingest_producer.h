/*
 * ingest_producer — a durable Kafka producer that survives librdkafka 2.0.2's fatal idempotence
 * error and never reports success for anything Kafka did not persist.
 *
 * Messages are handed over already encoded. Each stays in an in-flight list (send order) until
 * its delivery report: success with status PERSISTED → done(OK, partition, offset, broker time);
 * a permanent error → done(error). When the producer raises a fatal error (2.0.2 bug #4438: a
 * "sequence desynchronization" after a timeout), it is destroyed and rebuilt, and every message
 * still in flight is sent again, in its original order, with its original bytes — so event ids
 * repeat and consumers deduplicate. Reports from the old producer are ignored.
 *
 * In-flight work is bounded by count and bytes: a full producer refuses with QUIRE_ERR_BUSY
 * ("try later") and never drops silently.
 *
 * Threads: send() may be called from any thread. A background thread polls librdkafka; done()
 * callbacks run on it, one at a time, and must not block for long.
 */
#ifndef INGEST_PRODUCER_H
#define INGEST_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "quire_metrics.h"

typedef struct ingest_producer_s ingest_producer_t;

/* Called exactly once per message accepted by send(). On success err is QUIRE_OK and partition,
 * offset and ts_ms (broker time, ms) are set; otherwise err says why (QUIRE_ERR_KAFKA: Kafka
 * refused or did not persist it in time; QUIRE_ERR_SHUTDOWN: the producer was destroyed first). */
typedef void (*ingest_producer_done_cb)(void *cb_opaque, void *msg_opaque, quire_err_t err,
                                        int32_t partition, int64_t offset, int64_t ts_ms);

typedef struct ingest_producer_conf_s {
    const char *brokers;
    const char *topic;
    const char *linger_ms;       /* librdkafka linger.ms; NULL = "0" */
    int64_t delivery_timeout_ms; /* message.timeout.ms: give up (and report failure) after this;
                                    0 = never */
    size_t max_inflight;         /* messages */
    size_t max_inflight_bytes;   /* payload bytes */
    size_t max_message_bytes;    /* librdkafka message.max.bytes */
    /* Extra librdkafka properties, "key=value" strings (tests, tuning); may be NULL. */
    const char *const *extra;
    size_t nextra;
    quire_metrics_t *metrics; /* borrowed; may be NULL */
} ingest_producer_conf_t;

/* Creates the producer and its polling thread. NULL + errbuf on bad configuration. */
ingest_producer_t *ingest_producer_new(const ingest_producer_conf_t *conf,
                                       ingest_producer_done_cb done, void *cb_opaque, char *errbuf,
                                       size_t errlen);

/* Flushes for at most timeout_ms, then reports QUIRE_ERR_SHUTDOWN for whatever is left, stops
 * the thread and frees everything. Accepts NULL. */
void ingest_producer_destroy(ingest_producer_t *p, int timeout_ms);

/*
 * Queues one message. The producer copies key and payload. On QUIRE_OK, done() will be called
 * exactly once for msg_opaque; on any error it will not be. Errors: QUIRE_ERR_BUSY (in-flight
 * limit), QUIRE_ERR_TOO_LARGE (payload over max_message_bytes), QUIRE_ERR_SHUTDOWN.
 */
quire_err_t ingest_producer_send(ingest_producer_t *p, const void *key, size_t keylen,
                                 const void *payload, size_t len, void *msg_opaque);

/* Current number of messages in flight and how many times the producer was rebuilt. */
size_t ingest_producer_inflight(ingest_producer_t *p);
uint64_t ingest_producer_rebuilds(ingest_producer_t *p);

/* Partition count of the topic from cluster metadata (waits up to timeout_ms); -1 if unknown. */
int32_t ingest_producer_partition_count(ingest_producer_t *p, int timeout_ms);

/* Test hook: makes the current producer raise a fatal error, as 2.0.2 does after #4438. */
quire_err_t ingest_producer_inject_fatal(ingest_producer_t *p);

#endif
