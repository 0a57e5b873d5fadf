/*
 * quire_kafka — what every Kafka client in quire shares: topic names, the partition a document
 * lives in (the same one Java clients and Kafka's tools compute), and librdkafka configurations
 * with the settings of DESIGN §3 (idempotent, acks=all, murmur2_random, Nagle off).
 */
#ifndef QUIRE_KAFKA_H
#define QUIRE_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "quire_metrics.h"

#define QUIRE_TOPIC_DOC_UPDATES   "doc-updates"
#define QUIRE_TOPIC_DOC_SNAPSHOTS "doc-snapshots"
#define QUIRE_TOPIC_PRESENCE      "presence"
#define QUIRE_TOPIC_CONTROL       "control"

/* Writes "<prefix>.<suffix>" into buf; returns buf, or NULL when it does not fit. */
char *quire_kafka_topic(const char *prefix, const char *suffix, char *buf, size_t len);

/* Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), seed 0x9747b28c. */
uint32_t quire_murmur2(const void *key, size_t len);
/* The partition Java's default partitioner gives a keyed record: toPositive(murmur2) % n. */
int32_t quire_kafka_partition_for(const void *key, size_t len, int32_t partition_count);

/* Sets key=value on conf; on failure writes librdkafka's message to errbuf. */
quire_err_t quire_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                                 char *errbuf, size_t errlen);

/* A producer configuration with DESIGN §3's durability settings: enable.idempotence=true (which
 * implies acks=all), partitioner=murmur2_random, socket.nagle.disable=true, linger.ms as given.
 * The caller owns the returned conf (rd_kafka_new takes it over on success). NULL + errbuf on
 * failure. */
rd_kafka_conf_t *quire_kafka_producer_conf(const char *brokers, const char *linger_ms, char *errbuf,
                                           size_t errlen);
/* A consumer configuration: group.id as given (required by assign() in librdkafka 2.0.2),
 * auto commit and offset store off, auto.offset.reset=error, low fetch wait for latency. */
rd_kafka_conf_t *quire_kafka_consumer_conf(const char *brokers, const char *group_id, char *errbuf,
                                           size_t errlen);

/* Exports librdkafka's statistics (every interval_ms) as metrics: requests sent per type,
 * summed over brokers — quire_kafka_requests_total{client="<label>",type="Fetch"} — so that
 * what a client sends to Kafka is measured, not assumed (I4). `metrics` must outlive the
 * client; `label` is copied. */
quire_err_t quire_kafka_conf_stats(rd_kafka_conf_t *conf, quire_metrics_t *metrics,
                                   const char *label, int interval_ms, char *errbuf, size_t errlen);

/* Frees what quire_kafka_conf_stats attached to a client: call with the client's opaque taken
 * before rd_kafka_destroy (rd_kafka_opaque(rk)), after destroying it. Accepts NULL. */
void quire_kafka_stats_free(void *stats_opaque);

/* Number of partitions of a topic from cluster metadata (-1 on error; errbuf filled). */
int32_t quire_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errbuf,
                                    size_t errlen);

#endif
