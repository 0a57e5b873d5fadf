/*
 * quire_control — the revocation producer (see the header).
 *
 * Each publish allocates a waiter shared by the publishing thread and the delivery report: the
 * reference count starts at two and whichever of them finishes last frees it, so a publisher
 * that timed out leaves safely while the report is still to come.
 */
#include "quire_control.h"

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

typedef struct waiter_s {
    int refs; /* under c->lock */
    bool done;
    rd_kafka_resp_err_t err;
} waiter_t;

struct quire_control_s {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static void release(quire_control_t *c, waiter_t *w)
{
    /* c->lock held */
    if (--w->refs == 0)
        free(w);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    quire_control_t *c = opaque;
    waiter_t *w = m->_private;
    if (!w) {
        if (m->err)
            QLOG_WARN("revocation not acknowledged", "subject=\"%.*s\" err=\"%s\"", (int)m->len,
                      (const char *)m->payload, rd_kafka_err2str(m->err));
        return;
    }
    pthread_mutex_lock(&c->lock);
    w->done = true;
    w->err = m->err;
    pthread_cond_broadcast(&c->cond);
    release(c, w);
    pthread_mutex_unlock(&c->lock);
}

static void *poll_main(void *arg)
{
    quire_control_t *c = arg;
    while (!atomic_load(&c->stop))
        rd_kafka_poll(c->rk, 100);
    return NULL;
}

quire_control_t *quire_control_new(const char *brokers, const char *topic, char *errbuf,
                                   size_t errlen)
{
    quire_control_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (quire_kafka_conf_set(conf, "bootstrap.servers", brokers, errbuf, errlen) ||
        quire_kafka_conf_set(conf, "acks", "all", errbuf, errlen) ||
        quire_kafka_conf_set(conf, "enable.idempotence", "false", errbuf, errlen) ||
        quire_kafka_conf_set(conf, "linger.ms", "0", errbuf, errlen) ||
        quire_kafka_conf_set(conf, "socket.nagle.disable", "true", errbuf, errlen) ||
        quire_kafka_conf_set(conf, "message.timeout.ms", "10000", errbuf, errlen) ||
        quire_kafka_conf_set(conf, "client.id", "quire-control", errbuf, errlen)) {
        rd_kafka_conf_destroy(conf);
        quire_control_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, c);
    char kerr[512];
    c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof kerr);
    if (!c->rk) {
        snprintf(errbuf, errlen, "could not create the control producer: %s", kerr);
        rd_kafka_conf_destroy(conf);
        quire_control_destroy(c);
        return NULL;
    }
    c->rkt = rd_kafka_topic_new(c->rk, topic, NULL);
    if (!c->rkt || pthread_create(&c->thread, NULL, poll_main, c) != 0) {
        snprintf(errbuf, errlen, "could not start the control producer");
        quire_control_destroy(c);
        return NULL;
    }
    c->thread_started = true;
    return c;
}

void quire_control_destroy(quire_control_t *c)
{
    if (!c)
        return;
    if (c->rk)
        rd_kafka_flush(c->rk, 2000);
    atomic_store(&c->stop, true);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    if (c->rkt)
        rd_kafka_topic_destroy(c->rkt);
    if (c->rk) {
        rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(c->rk, 0); /* serve the purged messages' reports: waiters are released */
        rd_kafka_destroy(c->rk);
    }
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

quire_err_t quire_control_subject(char *buf, size_t len, const char *kind, const char *a,
                                  const char *b)
{
    int n = b ? snprintf(buf, len, "%s:%s:%s", kind, a, b) : snprintf(buf, len, "%s:%s", kind, a);
    return n < 0 || (size_t)n >= len || (size_t)n > QUIRE_CONTROL_SUBJECT_MAX ? QUIRE_ERR_INVALID
                                                                              : QUIRE_OK;
}

quire_err_t quire_control_publish(quire_control_t *c, const char *subject, int timeout_ms)
{
    size_t n = subject ? strnlen(subject, QUIRE_CONTROL_SUBJECT_MAX + 1) : 0;
    if (n == 0 || n > QUIRE_CONTROL_SUBJECT_MAX)
        return QUIRE_ERR_INVALID;
    waiter_t *w = calloc(1, sizeof *w);
    if (!w)
        return QUIRE_ERR_NOMEM;
    w->refs = 2;
    if (rd_kafka_produce(c->rkt, 0, RD_KAFKA_MSG_F_COPY, (void *)subject, n, subject, n, w) != 0) {
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        free(w);
        QLOG_DEBUG("could not publish a revocation", "subject=\"%s\" err=\"%s\"", subject,
                   rd_kafka_err2str(e));
        return QUIRE_ERR_KAFKA;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (!w->done)
        if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) != 0)
            break;
    quire_err_t err = !w->done ? QUIRE_ERR_TIMEOUT : w->err ? QUIRE_ERR_KAFKA : QUIRE_OK;
    rd_kafka_resp_err_t kerr = w->err;
    release(c, w);
    pthread_mutex_unlock(&c->lock);
    if (err)
        QLOG_DEBUG("revocation not acknowledged", "subject=\"%s\" err=\"%s\"", subject,
                   err == QUIRE_ERR_TIMEOUT ? "timed out" : rd_kafka_err2str(kerr));
    return err;
}

quire_err_t quire_control_publish_async(quire_control_t *c, const char *subject)
{
    size_t n = subject ? strnlen(subject, QUIRE_CONTROL_SUBJECT_MAX + 1) : 0;
    if (n == 0 || n > QUIRE_CONTROL_SUBJECT_MAX)
        return QUIRE_ERR_INVALID;
    if (rd_kafka_produce(c->rkt, 0, RD_KAFKA_MSG_F_COPY, (void *)subject, n, subject, n, NULL) !=
        0) {
        QLOG_DEBUG("could not publish a revocation", "subject=\"%s\" err=\"%s\"", subject,
                   rd_kafka_err2str(rd_kafka_last_error()));
        return QUIRE_ERR_KAFKA;
    }
    return QUIRE_OK;
}
