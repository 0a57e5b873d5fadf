/* quire_kafka — shared Kafka helpers (see header). */
#include "quire_kafka.h"

#include <stdio.h>
#include <string.h>

#include "quire_log.h"
#include "quire_metrics.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

char *quire_kafka_topic(const char *prefix, const char *suffix, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s.%s", prefix, suffix);
    return (n < 0 || (size_t)n >= len) ? NULL : buf;
}

uint32_t quire_murmur2(const void *key, size_t len)
{
    const uint8_t *data = key;
    const uint32_t seed = 0x9747b28cU;
    const uint32_t m = 0x5bd1e995U;
    const int r = 24;
    uint32_t h = seed ^ (uint32_t)len;
    size_t len4 = len / 4;
    for (size_t i = 0; i < len4; i++) {
        size_t i4 = i * 4;
        uint32_t k = (uint32_t)data[i4] | ((uint32_t)data[i4 + 1] << 8) |
                     ((uint32_t)data[i4 + 2] << 16) | ((uint32_t)data[i4 + 3] << 24);
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    size_t tail = len & ~(size_t)3;
    switch (len % 4) {
    case 3:
        h ^= (uint32_t)data[tail + 2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)data[tail + 1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)data[tail];
        h *= m;
        break;
    default:
        break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t quire_kafka_partition_for(const void *key, size_t len, int32_t partition_count)
{
    if (partition_count <= 0)
        return -1;
    return (int32_t)((quire_murmur2(key, len) & 0x7fffffffU) % (uint32_t)partition_count);
}

quire_err_t quire_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                                 char *errbuf, size_t errlen)
{
    char err[256];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        snprintf(errbuf, errlen, "could not set Kafka property %s=%s: %s", key, value, err);
        return QUIRE_ERR_CONFIG;
    }
    return QUIRE_OK;
}

/* librdkafka's own log lines go through quire's logger (syslog levels: 0-3 error, 4 warning,
 * 5-6 info, 7 debug), so one process writes one log format. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    quire_log_level_t l = level <= 3   ? QUIRE_LOG_ERROR
                          : level == 4 ? QUIRE_LOG_WARN
                          : level <= 6 ? QUIRE_LOG_INFO
                                       : QUIRE_LOG_DEBUG;
    if (quire_log_enabled(l))
        quire_log_write(l, "librdkafka", "client=%s fac=%s detail=\"%s\"", rd_kafka_name(rk), fac,
                        buf);
}

static rd_kafka_conf_t *conf_with(const char *const (*kv)[2], size_t n, char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    for (size_t i = 0; i < n; i++) {
        if (!kv[i][1])
            continue;
        if (quire_kafka_conf_set(conf, kv[i][0], kv[i][1], errbuf, errlen) != QUIRE_OK) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

rd_kafka_conf_t *quire_kafka_producer_conf(const char *brokers, const char *linger_ms, char *errbuf,
                                           size_t errlen)
{
    const char *const kv[][2] = {
        {"bootstrap.servers", brokers},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"partitioner", "murmur2_random"},
        {"socket.nagle.disable", "true"},
        {"linger.ms", linger_ms ? linger_ms : "0"},
        /* Never give up on a message by timeout: a timed-out message could be persisted later,
         * and the idempotent producer would then be out of sequence (DESIGN §3, kafka.md §7). */
        {"message.timeout.ms", "0"},
        {"retry.backoff.ms", "50"},
        {"reconnect.backoff.ms", "50"},
        {"reconnect.backoff.max.ms", "1000"},
    };
    return conf_with(kv, sizeof kv / sizeof kv[0], errbuf, errlen);
}

rd_kafka_conf_t *quire_kafka_consumer_conf(const char *brokers, const char *group_id, char *errbuf,
                                           size_t errlen)
{
    const char *const kv[][2] = {
        {"bootstrap.servers", brokers},    {"group.id", group_id},
        {"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "error"},    {"socket.nagle.disable", "true"},
        {"fetch.wait.max.ms", "100"},      {"fetch.error.backoff.ms", "50"},
        {"reconnect.backoff.ms", "50"},    {"reconnect.backoff.max.ms", "1000"},
        {"enable.partition.eof", "false"},
    };
    return conf_with(kv, sizeof kv / sizeof kv[0], errbuf, errlen);
}

int32_t quire_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errbuf,
                                    size_t errlen)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt) {
        snprintf(errbuf, errlen, "could not create topic handle for %s", topic);
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    int32_t n = -1;
    if (err) {
        snprintf(errbuf, errlen, "could not read metadata of %s: %s", topic, rd_kafka_err2str(err));
    } else if (md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(errbuf, errlen, "topic %s is not available: %s", topic,
                 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "no metadata");
    } else {
        n = md->topics[0].partition_cnt;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

typedef struct stats_ctx_s {
    quire_metrics_t *metrics;
    char label[48];
} stats_ctx_t;

/* librdkafka's statistics JSON: brokers.<name>.req.<RequestType> = count since start. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    stats_ctx_t *ctx = rd_kafka_opaque(rk);
    (void)opaque;
    if (!ctx || !ctx->metrics)
        return 0;
    cJSON *root = cJSON_ParseWithLength(json, len);
    cJSON *brokers = cJSON_GetObjectItemCaseSensitive(root, "brokers");
    cJSON *totals = cJSON_CreateObject();
    for (cJSON *b = brokers ? brokers->child : NULL; b; b = b->next) {
        cJSON *nodeid = cJSON_GetObjectItemCaseSensitive(b, "nodeid");
        if (cJSON_IsNumber(nodeid) && nodeid->valuedouble < 0)
            continue; /* bootstrap placeholders duplicate the real brokers' counts */
        cJSON *req = cJSON_GetObjectItemCaseSensitive(b, "req");
        for (cJSON *r = req ? req->child : NULL; r; r = r->next) {
            if (!cJSON_IsNumber(r) || r->valuedouble == 0)
                continue;
            cJSON *t = cJSON_GetObjectItemCaseSensitive(totals, r->string);
            if (t)
                cJSON_SetNumberValue(t, t->valuedouble + r->valuedouble);
            else
                cJSON_AddNumberToObject(totals, r->string, r->valuedouble);
        }
    }
    for (cJSON *t = totals->child; t; t = t->next) {
        char labels[128];
        snprintf(labels, sizeof labels, "client=\"%s\",type=\"%s\"", ctx->label, t->string);
        quire_metric_set(quire_metrics_add(ctx->metrics, QUIRE_METRIC_GAUGE,
                                           "quire_kafka_requests_total", labels,
                                           "Kafka requests sent since start, by type"),
                         (int64_t)t->valuedouble);
    }
    cJSON_Delete(totals);
    cJSON_Delete(root);
    return 0; /* librdkafka frees json */
}

quire_err_t quire_kafka_conf_stats(rd_kafka_conf_t *conf, quire_metrics_t *metrics,
                                   const char *label, int interval_ms, char *errbuf, size_t errlen)
{
    char ms[16];
    snprintf(ms, sizeof ms, "%d", interval_ms);
    if (quire_kafka_conf_set(conf, "statistics.interval.ms", ms, errbuf, errlen))
        return QUIRE_ERR_CONFIG;
    /* the context lives as long as the client: see quire_kafka_stats_free */
    stats_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return QUIRE_ERR_NOMEM;
    ctx->metrics = metrics;
    snprintf(ctx->label, sizeof ctx->label, "%s", label);
    rd_kafka_conf_set_opaque(conf, ctx);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    return QUIRE_OK;
}

void quire_kafka_stats_free(void *stats_opaque)
{
    free(stats_opaque);
}
