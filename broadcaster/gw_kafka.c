/*
 * gw_kafka — the gateway's Kafka consumer thread.
 *
 * One librdkafka consumer, manually assigned (no group membership): the doc-updates partitions
 * of open documents, the matching presence partitions, and partition 0 of the control topic.
 * The loop thread asks for partitions with watch(p, from); the Kafka thread assigns p at `from`
 * if it is new, or seeks p back to `from` if it has already gone past it, then posts SEEKED with
 * the partition's epoch (bumped by every seek) before any message fetched afterwards, and tags
 * every event with the epoch it was fetched in. A joining document ignores events older than
 * the SEEKED it waits for, so nothing fetched before a seek can make it skip a re-delivered
 * event. Open documents drop re-delivered events by offset.
 *
 * Events are decoded here (Avro, bounded) so the loop only applies them. A record that does not
 * decode is skipped — the projector quarantines it by the same rule — but still advances the
 * partition's progress.
 */
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "quire_kafka.h"
#include "quire_log.h"

typedef enum { CMD_WATCH, CMD_UNWATCH, CMD_WATCH_PRESENCE, CMD_UNWATCH_PRESENCE } cmd_type_t;

typedef struct cmd_s {
    struct cmd_s *next;
    cmd_type_t type;
    int32_t partition;
    int64_t offset;
    uint64_t token;
} cmd_t;

typedef struct {
    bool assigned;
    int64_t next; /* next offset expected from the broker */
    uint64_t epoch;
    bool presence;
    bool fresh; /* just (re)assigned: the first message must be at `next` */
} kpart_t;

struct gw_kafka_s {
    gw_t *gw;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    event_codec_t *codec;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    cmd_t *cmds, *cmds_tail;
    kpart_t *parts;
    int32_t n;
};

static void post_cmd(gw_kafka_t *k, cmd_type_t type, int32_t p, int64_t offset, uint64_t token)
{
    cmd_t *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->type = type;
    c->partition = p;
    c->offset = offset;
    c->token = token;
    pthread_mutex_lock(&k->lock);
    if (k->cmds_tail)
        k->cmds_tail->next = c;
    else
        k->cmds = c;
    k->cmds_tail = c;
    pthread_mutex_unlock(&k->lock);
    rd_kafka_queue_yield(k->q);
}

void gw_kafka_watch(gw_kafka_t *k, int32_t p, int64_t from, uint64_t token)
{
    post_cmd(k, CMD_WATCH, p, from, token);
}
void gw_kafka_unwatch(gw_kafka_t *k, int32_t p)
{
    post_cmd(k, CMD_UNWATCH, p, 0, 0);
}
void gw_kafka_watch_presence(gw_kafka_t *k, int32_t p)
{
    post_cmd(k, CMD_WATCH_PRESENCE, p, 0, 0);
}
void gw_kafka_unwatch_presence(gw_kafka_t *k, int32_t p)
{
    post_cmd(k, CMD_UNWATCH_PRESENCE, p, 0, 0);
}

int64_t gw_kafka_high_watermark(gw_kafka_t *k, int32_t p)
{
    int64_t lo = 0, hi = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(k->rk, k->gw->topic_updates, p, &lo, &hi, 5000);
    return err ? -1 : hi;
}

static rd_kafka_resp_err_t assign_one(gw_kafka_t *k, const char *topic, int32_t p, int64_t off,
                                      bool add)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = off;
    rd_kafka_error_t *e =
        add ? rd_kafka_incremental_assign(k->rk, l) : rd_kafka_incremental_unassign(k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (e) {
        code = rd_kafka_error_code(e);
        QLOG_ERROR("could not change the assignment", "topic=%s partition=%d err=\"%s\"", topic, p,
                   rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    return code;
}

static void post_seeked(gw_kafka_t *k, int32_t p, uint64_t token)
{
    gw_ev_t *ev = gw_ev_new(GW_EV_SEEKED);
    if (!ev)
        return;
    ev->partition = p;
    ev->epoch = k->parts[p].epoch;
    ev->offset = k->parts[p].next;
    ev->seq = token;
    gw_post(k->gw, ev);
}

static void run_cmd(gw_kafka_t *k, cmd_t *c)
{
    kpart_t *kp = &k->parts[c->partition];
    switch (c->type) {
    case CMD_WATCH:
        if (!kp->assigned) {
            if (assign_one(k, k->gw->topic_updates, c->partition, c->offset, true) == 0) {
                kp->assigned = true;
                kp->next = c->offset;
                kp->epoch++;
                kp->fresh = true;
            }
        } else if (c->offset < kp->next) {
            assign_one(k, k->gw->topic_updates, c->partition, 0, false);
            if (assign_one(k, k->gw->topic_updates, c->partition, c->offset, true) == 0) {
                kp->next = c->offset;
                kp->epoch++;
                kp->fresh = true;
            } else {
                kp->assigned = false;
            }
        }
        post_seeked(k, c->partition, c->token);
        break;
    case CMD_UNWATCH:
        if (kp->assigned) {
            assign_one(k, k->gw->topic_updates, c->partition, 0, false);
            kp->assigned = false;
        }
        break;
    case CMD_WATCH_PRESENCE:
        /* the first open document of a partition reads its recent presence; later ones get
         * what arrived meanwhile from the loop's cache (gw_doc.c replay_presence) — one
         * offsets-for-times round trip per partition, not per join */
        if (!kp->presence) {
            /* recent presence: from 30 s ago, or the end when nothing is that recent */
            rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            rd_kafka_topic_partition_list_add(l, k->gw->topic_presence, c->partition)->offset =
                (int64_t)ts.tv_sec * 1000 - k->gw->conf.presence_expire_ms;
            int64_t off = RD_KAFKA_OFFSET_END, lo = 0, hi = -1;
            if (rd_kafka_offsets_for_times(k->rk, l, 5000) == 0 && !l->elems[0].err &&
                l->elems[0].offset >= 0)
                off = l->elems[0].offset;
            else if (rd_kafka_query_watermark_offsets(k->rk, k->gw->topic_presence, c->partition,
                                                      &lo, &hi, 5000) == 0 &&
                     hi >= 0)
                off = hi; /* nothing recent: the end as of now, never a logical END resolved
                           * later by the fetcher, which would skip what is published meanwhile */
            rd_kafka_topic_partition_list_destroy(l);
            if (assign_one(k, k->gw->topic_presence, c->partition, off, true) == 0)
                kp->presence = true;
        }
        break;
    case CMD_UNWATCH_PRESENCE:
        if (kp->presence) {
            assign_one(k, k->gw->topic_presence, c->partition, 0, false);
            kp->presence = false;
        }
        break;
    }
}

static void on_update(gw_kafka_t *k, const rd_kafka_message_t *m)
{
    kpart_t *kp = &k->parts[m->partition];
    if (!kp->assigned)
        return; /* unwatched meanwhile */
    if (kp->fresh && m->offset != kp->next) {
        /* fetched before the last seek: librdkafka normally filters these; never let one
         * through, or a catching-up document could skip the re-delivered events before it */
        QLOG_DEBUG("dropping a message fetched before a seek", "partition=%d offset=%lld",
                   m->partition, (long long)m->offset);
        return;
    }
    kp->fresh = false;
    if (m->offset + 1 > kp->next)
        kp->next = m->offset + 1;
    gw_ev_t *ev = gw_ev_new(GW_EV_DOC_EVENT);
    if (!ev)
        return;
    ev->partition = m->partition;
    ev->offset = m->offset;
    ev->epoch = kp->epoch;
    rd_kafka_timestamp_type_t tt;
    ev->broker_ms = rd_kafka_message_timestamp(m, &tt);
    event_codec_event_t e;
    if (event_codec_decode(k->codec, m->payload, m->len, &e) != QUIRE_OK) {
        QLOG_WARN("skipping an event that does not decode", "partition=%d offset=%lld err=\"%s\"",
                  m->partition, (long long)m->offset, event_codec_last_error(k->codec));
        ev->kind = (event_codec_kind_t)-1; /* progress only */
        gw_post(k->gw, ev);
        return;
    }
    memcpy(ev->doc_id, e.doc_id, e.doc_id_len);
    ev->doc_id[e.doc_id_len] = '\0';
    ev->kind = e.kind;
    memcpy(ev->event_id, e.event_id, EVENT_CODEC_EVENT_ID_LEN);
    if (e.update_len) {
        ev->data = malloc(e.update_len);
        if (!ev->data) {
            gw_ev_free(ev);
            return;
        }
        memcpy(ev->data, e.update, e.update_len);
        ev->len = e.update_len;
    }
    gw_post(k->gw, ev);
}

static void on_presence(gw_kafka_t *k, const rd_kafka_message_t *m)
{
    if (!m->key || m->key_len == 0 || m->key_len > EVENT_CODEC_DOC_ID_MAX || !m->payload)
        return;
    gw_ev_t *ev = gw_ev_new(GW_EV_PRESENCE);
    if (!ev)
        return;
    ev->data = malloc(m->len);
    if (!ev->data) {
        gw_ev_free(ev);
        return;
    }
    memcpy(ev->data, m->payload, m->len); /* rec points into this copy */
    ev->len = m->len;
    if (gw_presence_decode(ev->data, ev->len, &ev->rec) != 0 ||
        (strcmp(ev->rec.gateway, k->gw->conf.gateway_id) == 0 && ev->rec.epoch == k->gw->epoch)) {
        gw_ev_free(ev); /* malformed, or our own record */
        return;
    }
    memcpy(ev->doc_id, m->key, m->key_len);
    ev->doc_id[m->key_len] = '\0';
    ev->partition = m->partition;
    gw_post(k->gw, ev);
}

static void on_control(gw_kafka_t *k, const rd_kafka_message_t *m)
{
    /* value: the subject to revoke, e.g. "session:abc", "user:alice", "doc:d1" */
    if (!m->payload || m->len == 0 || m->len >= sizeof(((gw_ev_t *)0)->subject))
        return;
    gw_ev_t *ev = gw_ev_new(GW_EV_CONTROL);
    if (!ev)
        return;
    memcpy(ev->subject, m->payload, m->len);
    ev->subject[m->len] = '\0';
    gw_post(k->gw, ev);
}

static void *thread_main(void *arg)
{
    gw_kafka_t *k = arg;
    while (!atomic_load(&k->stop)) {
        pthread_mutex_lock(&k->lock);
        cmd_t *cmds = k->cmds;
        k->cmds = k->cmds_tail = NULL;
        pthread_mutex_unlock(&k->lock);
        for (cmd_t *c = cmds, *n; c; c = n) {
            n = c->next;
            run_cmd(k, c);
            free(c);
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 100);
        if (!m)
            continue;
        const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (strcmp(topic, k->gw->topic_updates) == 0 && m->partition < k->n) {
                kpart_t *kp = &k->parts[m->partition];
                if (m->offset > kp->next)
                    kp->next = m->offset;
                gw_ev_t *ev = gw_ev_new(GW_EV_PART_EOF);
                if (ev) {
                    ev->partition = m->partition;
                    ev->offset = m->offset;
                    ev->epoch = kp->epoch;
                    gw_post(k->gw, ev);
                }
            }
        } else if (m->err) {
            QLOG_WARN("kafka consumer error", "topic=%s partition=%d err=\"%s\"", topic,
                      m->partition, rd_kafka_message_errstr(m));
        } else if (strcmp(topic, k->gw->topic_updates) == 0 && m->partition < k->n) {
            on_update(k, m);
        } else if (strcmp(topic, k->gw->topic_presence) == 0) {
            on_presence(k, m);
        } else if (strcmp(topic, k->gw->topic_control) == 0) {
            on_control(k, m);
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

gw_kafka_t *gw_kafka_new(gw_t *gw, char *errbuf, size_t errlen)
{
    gw_kafka_t *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    k->gw = gw;
    pthread_mutex_init(&k->lock, NULL);
    char group[128];
    snprintf(group, sizeof group, "quire-gateway-%s", gw->conf.gateway_id);
    rd_kafka_conf_t *conf = quire_kafka_consumer_conf(gw->conf.brokers, group, errbuf, errlen);
    if (!conf || quire_kafka_conf_set(conf, "enable.partition.eof", "true", errbuf, errlen) ||
        quire_kafka_conf_set(conf, "fetch.wait.max.ms", "500", errbuf, errlen) ||
        quire_kafka_conf_set(conf, "fetch.message.max.bytes", "4194304", errbuf, errlen) ||
        quire_kafka_conf_stats(conf, gw->metrics, "gateway-consumer", 1000, errbuf, errlen)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        goto fail;
    }
    char err[512];
    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!k->rk) {
        snprintf(errbuf, errlen, "could not create the Kafka consumer: %s", err);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_poll_set_consumer(k->rk);
    k->q = rd_kafka_queue_get_consumer(k->rk);
    if (event_codec_new(NULL, &k->codec, errbuf, errlen) != QUIRE_OK)
        goto fail;
    int32_t n = -1;
    for (int tries = 0; tries < 60 && n <= 0; tries++) {
        n = quire_kafka_partition_count(k->rk, gw->topic_updates, 2000, errbuf, errlen);
        if (n <= 0) {
            QLOG_WARN("waiting for Kafka", "err=\"%s\"", errbuf);
            struct timespec ts = {0, 500 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (n <= 0)
        goto fail;
    k->n = n;
    gw->npartitions = n;
    k->parts = calloc((size_t)n, sizeof *k->parts);
    if (!k->parts)
        goto fail;
    /* revocations from now on */
    if (assign_one(k, gw->topic_control, 0, RD_KAFKA_OFFSET_END, true)) {
        snprintf(errbuf, errlen, "could not consume %s", gw->topic_control);
        goto fail;
    }
    if (pthread_create(&k->thread, NULL, thread_main, k) != 0) {
        snprintf(errbuf, errlen, "could not start the Kafka thread");
        goto fail;
    }
    return k;
fail:
    if (k->q)
        rd_kafka_queue_destroy(k->q);
    if (k->rk) {
        void *stats = rd_kafka_opaque(k->rk);
        rd_kafka_destroy(k->rk);
        quire_kafka_stats_free(stats);
    }
    event_codec_destroy(k->codec);
    free(k->parts);
    pthread_mutex_destroy(&k->lock);
    free(k);
    return NULL;
}

void gw_kafka_destroy(gw_kafka_t *k)
{
    if (!k)
        return;
    atomic_store(&k->stop, true);
    rd_kafka_queue_yield(k->q);
    pthread_join(k->thread, NULL);
    for (cmd_t *c = k->cmds, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    rd_kafka_queue_destroy(k->q);
    rd_kafka_consumer_close(k->rk);
    void *stats = rd_kafka_opaque(k->rk);
    rd_kafka_destroy(k->rk);
    quire_kafka_stats_free(stats);
    event_codec_destroy(k->codec);
    free(k->parts);
    pthread_mutex_destroy(&k->lock);
    free(k);
}
