/*
 * ingest_producer — see the header for the contract.
 *
 * Design. Every accepted message is an entry in a doubly linked in-flight list kept in send order.
 * librdkafka references the entry's own buffers (no copy) and gets the entry as its message
 * opaque. Each librdkafka handle carries its generation (rd_kafka_opaque); an entry remembers the
 * generation it was last produced on. Delivery reports are served on the poll thread only:
 *   - report from an old generation → ignored (the entry was re-sent on a newer one);
 *   - success → entry removed, done(OK);
 *   - error while the handle is in a fatal state → ignored (the entry will be re-sent);
 *   - other error → entry removed, done(QUIRE_ERR_KAFKA).
 * After a fatal error the poll thread builds a new handle, re-produces every entry in list order
 * under the lock (so new sends queue behind them), then purges and destroys the old handle. Only
 * the poll thread frees entries, and it never does so while the old handle is being torn down, so
 * no report can reach a freed entry.
 */
#include "ingest_producer.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quire_kafka.h"
#include "quire_log.h"

typedef struct entry_s {
    struct entry_s *prev, *next;
    void *msg_opaque;
    uint64_t gen;
    size_t keylen, len;
    uint8_t *key;
    uint8_t *payload;
} entry_t;

typedef struct handle_s {
    ingest_producer_t *p;
    uint64_t gen;
    rd_kafka_t *rk;
    atomic_bool fatal;
} handle_t;

struct ingest_producer_s {
    ingest_producer_conf_t conf;
    char *brokers, *topic, *linger;
    char **extra;
    ingest_producer_done_cb done;
    void *cb_opaque;

    pthread_mutex_t lock; /* guards the list, counters and `cur` */
    entry_t *head, *tail;
    size_t count, bytes;
    handle_t *cur;
    bool closing;

    pthread_t thread;
    atomic_bool stop;
    atomic_uint_fast64_t rebuilds;
    quire_metric_t *m_ok, *m_failed, *m_rebuilds, *m_busy, *m_inflight;
};

static void free_entry(entry_t *e)
{
    free(e->key);
    free(e->payload);
    free(e);
}

static void unlink_entry(ingest_producer_t *p, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        p->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        p->tail = e->prev;
    p->count--;
    p->bytes -= e->len;
    quire_metric_set(p->m_inflight, (int64_t)p->count);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    handle_t *h = opaque;
    ingest_producer_t *p = h->p;
    entry_t *e = m->_private;
    pthread_mutex_lock(&p->lock);
    if (h != p->cur || !e || e->gen != h->gen) { /* stale report from a replaced handle */
        pthread_mutex_unlock(&p->lock);
        return;
    }
    if (m->err && (m->err == RD_KAFKA_RESP_ERR__FATAL || atomic_load(&h->fatal) ||
                   rd_kafka_fatal_error(rk, NULL, 0))) {
        atomic_store(&h->fatal, true); /* keep the entry: it is re-sent after the rebuild */
        pthread_mutex_unlock(&p->lock);
        return;
    }
    bool ok = !m->err && rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_PERSISTED;
    unlink_entry(p, e);
    pthread_mutex_unlock(&p->lock);

    if (ok) {
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        quire_metric_add(p->m_ok, 1);
        p->done(p->cb_opaque, e->msg_opaque, QUIRE_OK, m->partition, m->offset, ts);
    } else {
        quire_metric_add(p->m_failed, 1);
        QLOG_WARN("could not persist event", "err=\"%s\" status=%d", rd_kafka_err2str(m->err),
                  (int)rd_kafka_message_status(m));
        p->done(p->cb_opaque, e->msg_opaque, QUIRE_ERR_KAFKA, -1, -1, -1);
    }
    free_entry(e);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    handle_t *h = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
        QLOG_ERROR("producer raised a fatal error; rebuilding it and re-sending in-flight events",
                   "err=\"%s\" reason=\"%s\" gen=%llu", rd_kafka_err2name(orig), why,
                   (unsigned long long)h->gen);
        atomic_store(&h->fatal, true);
    } else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TRANSPORT) {
        QLOG_DEBUG("kafka connection problem", "err=\"%s\" reason=\"%s\"", rd_kafka_err2name(err),
                   reason);
    } else {
        QLOG_WARN("kafka producer error", "err=\"%s\" reason=\"%s\"", rd_kafka_err2name(err),
                  reason);
    }
}

static handle_t *handle_new(ingest_producer_t *p, uint64_t gen, char *errbuf, size_t errlen)
{
    char ms[32], cnt[32], maxb[32];
    rd_kafka_conf_t *conf = quire_kafka_producer_conf(p->brokers, p->linger, errbuf, errlen);
    if (!conf)
        return NULL;
    snprintf(ms, sizeof ms, "%lld", (long long)p->conf.delivery_timeout_ms);
    snprintf(cnt, sizeof cnt, "%zu", p->conf.max_inflight + 1000);
    snprintf(maxb, sizeof maxb, "%zu", p->conf.max_message_bytes + 4096);
    if (quire_kafka_conf_set(conf, "message.timeout.ms", ms, errbuf, errlen) ||
        quire_kafka_conf_set(conf, "queue.buffering.max.messages", cnt, errbuf, errlen) ||
        quire_kafka_conf_set(conf, "message.max.bytes", maxb, errbuf, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (size_t i = 0; i < p->conf.nextra; i++) {
        char *kv = p->extra[i];
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(errbuf, errlen, "producer property \"%s\" is not key=value", kv);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
        *eq = '\0';
        quire_err_t e = quire_kafka_conf_set(conf, kv, eq + 1, errbuf, errlen);
        *eq = '=';
        if (e) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    handle_t *h = calloc(1, sizeof *h);
    if (!h) {
        rd_kafka_conf_destroy(conf);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    h->p = p;
    h->gen = gen;
    rd_kafka_conf_set_opaque(conf, h);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    char err[512];
    h->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!h->rk) {
        snprintf(errbuf, errlen, "could not create Kafka producer: %s", err);
        rd_kafka_conf_destroy(conf);
        free(h);
        return NULL;
    }
    return h;
}

/* Produces e on h. Called with the lock held. */
static rd_kafka_resp_err_t produce(handle_t *h, entry_t *e, const char *topic)
{
    e->gen = h->gen;
    return rd_kafka_producev(h->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(e->key, e->keylen),
                             RD_KAFKA_V_VALUE(e->payload, e->len), RD_KAFKA_V_OPAQUE(e),
                             RD_KAFKA_V_END);
}

static void handle_destroy(handle_t *h)
{
    if (!h)
        return;
    rd_kafka_purge(h->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(h->rk, 0); /* serve the purge reports: all stale, all ignored */
    rd_kafka_destroy(h->rk);
    free(h);
}

/* Replaces a fatal handle: poll thread only. */
static void rebuild(ingest_producer_t *p)
{
    char errbuf[512];
    handle_t *old = p->cur;
    handle_t *h = NULL;
    while (!h && !atomic_load(&p->stop)) {
        h = handle_new(p, old->gen + 1, errbuf, sizeof errbuf);
        if (!h) {
            QLOG_ERROR("could not rebuild the producer; retrying", "err=\"%s\"", errbuf);
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (!h)
        return;
    pthread_mutex_lock(&p->lock);
    size_t resent = 0;
    for (entry_t *e = p->head; e; e = e->next) {
        rd_kafka_resp_err_t err = produce(h, e, p->topic);
        if (err)
            QLOG_ERROR("could not re-send an event after the rebuild", "err=\"%s\"",
                       rd_kafka_err2str(err));
        resent++;
    }
    p->cur = h;
    pthread_mutex_unlock(&p->lock);
    handle_destroy(old);
    atomic_fetch_add(&p->rebuilds, 1);
    quire_metric_add(p->m_rebuilds, 1);
    QLOG_INFO("producer rebuilt", "gen=%llu resent=%zu", (unsigned long long)h->gen, resent);
}

static void *poll_thread(void *arg)
{
    ingest_producer_t *p = arg;
    while (!atomic_load(&p->stop)) {
        rd_kafka_poll(p->cur->rk, 50);
        if (atomic_load(&p->cur->fatal))
            rebuild(p);
    }
    return NULL;
}

ingest_producer_t *ingest_producer_new(const ingest_producer_conf_t *conf,
                                       ingest_producer_done_cb done, void *cb_opaque, char *errbuf,
                                       size_t errlen)
{
    ingest_producer_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    p->conf = *conf;
    p->done = done;
    p->cb_opaque = cb_opaque;
    p->brokers = strdup(conf->brokers);
    p->topic = strdup(conf->topic);
    p->linger = strdup(conf->linger_ms ? conf->linger_ms : "0");
    p->extra = calloc(conf->nextra + 1, sizeof *p->extra);
    if (!p->brokers || !p->topic || !p->linger || !p->extra) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < conf->nextra; i++)
        if (!(p->extra[i] = strdup(conf->extra[i]))) {
            snprintf(errbuf, errlen, "out of memory");
            goto fail;
        }
    if (!p->conf.max_inflight)
        p->conf.max_inflight = 100000;
    if (!p->conf.max_inflight_bytes)
        p->conf.max_inflight_bytes = 256u << 20;
    if (!p->conf.max_message_bytes)
        p->conf.max_message_bytes = 1u << 20;
    pthread_mutex_init(&p->lock, NULL);
    p->cur = handle_new(p, 1, errbuf, errlen);
    if (!p->cur)
        goto fail_locked;
    quire_metrics_t *m = conf->metrics;
    p->m_ok = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_ingest_persisted_total", NULL,
                                "events Kafka acknowledged as persisted");
    p->m_failed = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_ingest_failed_total", NULL,
                                    "events reported as not persisted");
    p->m_rebuilds = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_ingest_rebuilds_total", NULL,
                                      "producer rebuilds after fatal errors");
    p->m_busy = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_ingest_busy_total", NULL,
                                  "sends refused because the in-flight limit was reached");
    p->m_inflight = quire_metrics_add(m, QUIRE_METRIC_GAUGE, "quire_ingest_inflight", NULL,
                                      "events sent and not yet acknowledged");
    if (pthread_create(&p->thread, NULL, poll_thread, p) != 0) {
        snprintf(errbuf, errlen, "could not start the producer thread");
        handle_destroy(p->cur);
        goto fail_locked;
    }
    return p;
fail_locked:
    pthread_mutex_destroy(&p->lock);
fail:
    if (p->extra)
        for (size_t i = 0; i < conf->nextra; i++)
            free(p->extra[i]);
    free(p->extra);
    free(p->brokers);
    free(p->topic);
    free(p->linger);
    free(p);
    return NULL;
}

quire_err_t ingest_producer_send(ingest_producer_t *p, const void *key, size_t keylen,
                                 const void *payload, size_t len, void *msg_opaque)
{
    if (len > p->conf.max_message_bytes)
        return QUIRE_ERR_TOO_LARGE;
    entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return QUIRE_ERR_NOMEM;
    e->key = malloc(keylen ? keylen : 1);
    e->payload = malloc(len ? len : 1);
    if (!e->key || !e->payload) {
        free_entry(e);
        return QUIRE_ERR_NOMEM;
    }
    memcpy(e->key, key, keylen);
    memcpy(e->payload, payload, len);
    e->keylen = keylen;
    e->len = len;
    e->msg_opaque = msg_opaque;

    pthread_mutex_lock(&p->lock);
    quire_err_t err = QUIRE_OK;
    if (p->closing)
        err = QUIRE_ERR_SHUTDOWN;
    else if (p->count >= p->conf.max_inflight || p->bytes + len > p->conf.max_inflight_bytes)
        err = QUIRE_ERR_BUSY;
    if (!err) {
        rd_kafka_resp_err_t rerr = produce(p->cur, e, p->topic);
        if (rerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            err = QUIRE_ERR_BUSY;
        else if (rerr == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
            err = QUIRE_ERR_TOO_LARGE;
        else if (rerr == RD_KAFKA_RESP_ERR__FATAL) {
            /* The handle is being replaced: keep the entry, the rebuild re-sends it. */
            atomic_store(&p->cur->fatal, true);
        } else if (rerr) {
            err = QUIRE_ERR_KAFKA;
        }
    }
    if (!err) {
        e->prev = p->tail;
        if (p->tail)
            p->tail->next = e;
        else
            p->head = e;
        p->tail = e;
        p->count++;
        p->bytes += len;
        quire_metric_set(p->m_inflight, (int64_t)p->count);
    }
    pthread_mutex_unlock(&p->lock);
    if (err) {
        if (err == QUIRE_ERR_BUSY)
            quire_metric_add(p->m_busy, 1);
        free_entry(e);
    }
    return err;
}

void ingest_producer_destroy(ingest_producer_t *p, int timeout_ms)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->closing = true;
    pthread_mutex_unlock(&p->lock);
    /* Let the poll thread deliver what it can within the timeout. */
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        pthread_mutex_lock(&p->lock);
        size_t n = p->count;
        pthread_mutex_unlock(&p->lock);
        if (n == 0)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    handle_t *h = p->cur;
    pthread_mutex_lock(&p->lock);
    p->cur = NULL; /* every report from here on is stale */
    entry_t *left = p->head;
    p->head = p->tail = NULL;
    pthread_mutex_unlock(&p->lock);
    handle_destroy(h);
    for (entry_t *e = left, *n; e; e = n) {
        n = e->next;
        p->done(p->cb_opaque, e->msg_opaque, QUIRE_ERR_SHUTDOWN, -1, -1, -1);
        free_entry(e);
    }
    pthread_mutex_destroy(&p->lock);
    for (size_t i = 0; i < p->conf.nextra; i++)
        free(p->extra[i]);
    free(p->extra);
    free(p->brokers);
    free(p->topic);
    free(p->linger);
    free(p);
}

size_t ingest_producer_inflight(ingest_producer_t *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->count;
    pthread_mutex_unlock(&p->lock);
    return n;
}

uint64_t ingest_producer_rebuilds(ingest_producer_t *p)
{
    return atomic_load(&p->rebuilds);
}

quire_err_t ingest_producer_inject_fatal(ingest_producer_t *p)
{
    pthread_mutex_lock(&p->lock);
    rd_kafka_resp_err_t err = rd_kafka_test_fatal_error(
        p->cur->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "injected by a test");
    pthread_mutex_unlock(&p->lock);
    return err ? QUIRE_ERR_INTERNAL : QUIRE_OK;
}

int32_t ingest_producer_partition_count(ingest_producer_t *p, int timeout_ms)
{
    char err[256];
    pthread_mutex_lock(&p->lock);
    rd_kafka_t *rk = p->cur->rk;
    pthread_mutex_unlock(&p->lock);
    /* rk stays valid: only the poll thread replaces handles, and destroy joins it first; a
     * metadata call racing a rebuild fails and reports -1. */
    return quire_kafka_partition_count(rk, p->topic, timeout_ms, err, sizeof err);
}
