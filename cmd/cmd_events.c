/*
 * quire events tail — decode quire.doc-updates and print one JSON line per event: partition,
 * offset, broker time, server time, actor, document, kind, size and a summary of the update.
 * What an operator reaches for next to kcat (which shows the raw bytes).
 */
#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event_codec.h"
#include "quire_cmd.h"
#include "quire_kafka.h"
#include "quire_log.h"
#include "yjs_update.h"

typedef struct events_conf_s {
    quire_common_conf_t common;
    char *doc;
    bool from_beginning;
    bool exit_at_end;
    bool with_update;
    int64_t limit;
} events_conf_t;

static const quire_cfg_opt_t events_opts[] = {
    QUIRE_CFG_COMMON_OPTS(events_conf_t),
    {"doc", QUIRE_CFG_STRING, NULL, 0, -1, offsetof(events_conf_t, doc), 0,
     "only this document (reads only its partition)"},
    {"from-beginning", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(events_conf_t, from_beginning), 0,
     "start at the oldest event instead of waiting for new ones"},
    {"exit-at-end", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(events_conf_t, exit_at_end), 0,
     "stop once the end of the log (as of start) is reached"},
    {"with-update", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(events_conf_t, with_update), 0,
     "also print the Yjs update bytes (base64)"},
    {"limit", QUIRE_CFG_INT, "0", 0, INT64_MAX, offsetof(events_conf_t, limit), 0,
     "stop after this many events (0 = no limit)"},
};

static volatile sig_atomic_t stop;
static void on_signal(int s)
{
    stop = 1;
}

static void iso_time(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void print_event(event_codec_t *codec, const rd_kafka_message_t *m, yjs_validation_t *v,
                        bool with_update)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "partition", m->partition);
    cJSON_AddNumberToObject(j, "offset", (double)m->offset);
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    char buf[64];
    iso_time(ts, buf, sizeof buf);
    cJSON_AddStringToObject(j, "broker_time", buf);
    event_codec_event_t ev;
    quire_err_t err = event_codec_decode(codec, m->payload, m->len, &ev);
    if (err) {
        cJSON_AddStringToObject(j, "error", event_codec_last_error(codec));
        cJSON_AddNumberToObject(j, "bytes", (double)m->len);
    } else {
        iso_time(ev.server_time_ms, buf, sizeof buf);
        cJSON_AddStringToObject(j, "server_time", buf);
        cJSON_AddStringToObject(j, "doc", ev.doc_id);
        cJSON_AddStringToObject(j, "kind", event_codec_kind_name(ev.kind));
        cJSON_AddStringToObject(j, "actor", ev.actor);
        cJSON_AddStringToObject(j, "origin", ev.origin);
        char id[EVENT_CODEC_EVENT_ID_STR_LEN];
        event_codec_event_id_format(ev.event_id, id);
        cJSON_AddStringToObject(j, "event_id", id);
        cJSON_AddNumberToObject(j, "schema", ev.schema_id);
        cJSON_AddNumberToObject(j, "size", (double)ev.update_len);
        if (ev.idempotency_key)
            cJSON_AddStringToObject(j, "idempotency_key", ev.idempotency_key);
        if (ev.update_len && with_update) {
            size_t b64len =
                sodium_base64_ENCODED_LEN(ev.update_len, sodium_base64_VARIANT_ORIGINAL);
            char *b64 = malloc(b64len);
            if (b64) {
                sodium_bin2base64(b64, b64len, ev.update, ev.update_len,
                                  sodium_base64_VARIANT_ORIGINAL);
                cJSON_AddStringToObject(j, "update_base64", b64);
                free(b64);
            }
        }
        if (ev.update_len) {
            cJSON *s = cJSON_AddObjectToObject(j, "update");
            if (yjs_update_validate(ev.update, ev.update_len, NULL, 0, v) == QUIRE_OK) {
                cJSON_AddNumberToObject(s, "structs", (double)v->nstructs);
                cJSON_AddNumberToObject(s, "delete_ranges", (double)v->ndelete_ranges);
                cJSON *cl = cJSON_AddArrayToObject(s, "clients");
                for (size_t i = 0; i < v->nranges && i < 16; i++) {
                    cJSON *r = cJSON_CreateObject();
                    cJSON_AddNumberToObject(r, "client", (double)v->ranges[i].client);
                    cJSON_AddNumberToObject(r, "clock", (double)v->ranges[i].clock);
                    cJSON_AddNumberToObject(r, "end", (double)v->ranges[i].end);
                    cJSON_AddItemToArray(cl, r);
                }
            } else {
                cJSON_AddStringToObject(s, "error", v->error.message);
            }
        }
    }
    char *text = cJSON_PrintUnformatted(j);
    if (text) {
        puts(text);
        free(text);
    }
    cJSON_Delete(j);
}

static int events_run(void *confp, int argc, char **argv)
{
    events_conf_t *conf = confp;
    char err[512], topic[256];
    quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_DOC_UPDATES, topic, sizeof topic);
    rd_kafka_conf_t *kc =
        quire_kafka_consumer_conf(conf->common.kafka_brokers, "quire-events-tail", err, sizeof err);
    if (!kc) {
        fprintf(stderr, "quire events tail: %s\n", err);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "quire events tail: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    event_codec_t *codec = NULL;
    int status = 1;
    int32_t n = quire_kafka_partition_count(rk, topic, 10000, err, sizeof err);
    if (n <= 0 || event_codec_new(NULL, &codec, err, sizeof err) != QUIRE_OK) {
        fprintf(stderr, "quire events tail: %s\n", err);
        goto out;
    }
    int32_t only = conf->doc ? quire_kafka_partition_for(conf->doc, strlen(conf->doc), n) : -1;
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(n);
    int64_t *ends = calloc((size_t)n, sizeof *ends);
    int remaining = 0;
    for (int32_t p = 0; p < n; p++) {
        if (only >= 0 && p != only)
            continue;
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000)) {
            fprintf(stderr, "quire events tail: could not read the end of partition %d\n", p);
            goto out_list;
        }
        ends[p] = hi;
        if (conf->from_beginning ? hi > lo : false)
            remaining++;
        rd_kafka_topic_partition_list_add(tp, topic, p)->offset =
            conf->from_beginning ? RD_KAFKA_OFFSET_BEGINNING : hi;
    }
    if (rd_kafka_assign(rk, tp)) {
        fprintf(stderr, "quire events tail: could not assign partitions\n");
        goto out_list;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    yjs_validation_t v = {0};
    int64_t printed = 0;
    status = 0;
    while (!stop && !(conf->exit_at_end && remaining == 0) &&
           !(conf->limit && printed >= conf->limit)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err) {
            bool match = !conf->doc || (m->key_len == strlen(conf->doc) &&
                                        memcmp(m->key, conf->doc, m->key_len) == 0);
            if (match) {
                print_event(codec, m, &v, conf->with_update);
                fflush(stdout);
                printed++;
            }
            if (m->offset + 1 == ends[m->partition])
                remaining--;
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "quire events tail: %s\n", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    yjs_validation_deinit(&v);
out_list:
    rd_kafka_topic_partition_list_destroy(tp);
    free(ends);
out:
    event_codec_destroy(codec);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return status;
}

const quire_cmd_t quire_cmd_events_tail = {
    .name = "events tail",
    .summary = "print the events of quire.doc-updates as JSON lines",
    .synopsis = "[--doc ID] [--from-beginning] [--exit-at-end]",
    .opts = events_opts,
    .nopts = QUIRE_NOPTS(events_opts),
    .conf_size = sizeof(events_conf_t),
    .run = events_run,
};
