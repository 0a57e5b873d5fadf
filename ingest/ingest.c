/*
 * ingest — see the header. A submission becomes `nevents` entries in the producer; a small
 * refcounted record collects their reports and calls `done` once, when the last one arrives.
 */
#include "ingest.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest_producer.h"
#include "quire_kafka.h"
#include "quire_log.h"

struct ingest_s {
    ingest_conf_t conf;
    char *origin, *topic;
    ingest_producer_t *producer;
    pthread_mutex_t codec_lock;
    event_codec_t *codec;
    yjs_limits_t limits;
    atomic_int partitions; /* 0 until known */
    quire_metric_t *m_submits, *m_refused, *m_events, *m_splits, *m_latency;
};

typedef struct submission_s {
    ingest_t *in;
    ingest_done_fn done;
    void *opaque;
    size_t nevents;
    size_t reported; /* guarded by lock */
    pthread_mutex_t lock;
    quire_err_t err;
    int32_t partition;
    int64_t first_offset, last_offset, broker_time_ms;
    int64_t start_ns;
} submission_t;

/* One event's report; msg_opaque of the producer points to one of these. */
typedef struct part_s {
    submission_t *sub;
    size_t index;
} part_t;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_event_done(void *cb_opaque, void *msg_opaque, quire_err_t err, int32_t partition,
                          int64_t offset, int64_t ts_ms)
{
    part_t *part = msg_opaque;
    submission_t *s = part->sub;
    pthread_mutex_lock(&s->lock);
    if (err && !s->err)
        s->err = err;
    if (!err) {
        s->partition = partition;
        if (part->index == 0)
            s->first_offset = offset;
        if (part->index == s->nevents - 1) {
            s->last_offset = offset;
            s->broker_time_ms = ts_ms;
        }
    }
    bool last = ++s->reported == s->nevents;
    pthread_mutex_unlock(&s->lock);
    free(part);
    if (!last)
        return;
    ingest_t *in = s->in;
    ingest_result_t res = {
        .err = s->err,
        .message = s->err == QUIRE_OK             ? ""
                   : s->err == QUIRE_ERR_SHUTDOWN ? "the server shut down before Kafka confirmed"
                                                  : "Kafka did not confirm the write",
        .partition = s->partition,
        .first_offset = s->err ? -1 : s->first_offset,
        .offset = s->err ? -1 : s->last_offset,
        .broker_time_ms = s->broker_time_ms,
        .nevents = s->nevents,
    };
    quire_metric_observe(in->m_latency, (double)(mono_ns() - s->start_ns) / 1e9);
    s->done(s->opaque, &res);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

ingest_t *ingest_new(const ingest_conf_t *conf, char *errbuf, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(errbuf, errlen, "could not initialise libsodium");
        return NULL;
    }
    ingest_t *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    in->conf = *conf;
    if (!in->conf.max_event_bytes)
        in->conf.max_event_bytes = EVENT_CODEC_DEFAULT_MAX_UPDATE;
    if (!in->conf.max_doc_bytes)
        in->conf.max_doc_bytes = (size_t)32 << 20;
    in->origin = strdup(conf->origin ? conf->origin : "quire");
    in->topic = strdup(conf->topic);
    pthread_mutex_init(&in->codec_lock, NULL);
    yjs_limits_t lim = YJS_LIMITS_DEFAULT;
    lim.max_update_bytes = in->conf.max_doc_bytes;
    in->limits = lim;
    event_codec_opts_t copts = {.max_update_bytes = in->conf.max_event_bytes};
    if (!in->origin || !in->topic ||
        event_codec_new(&copts, &in->codec, errbuf, errlen) != QUIRE_OK)
        goto fail;
    ingest_producer_conf_t pc = {
        .brokers = conf->brokers,
        .topic = conf->topic,
        .linger_ms = conf->linger_ms,
        .delivery_timeout_ms = conf->delivery_timeout_ms,
        .max_inflight = conf->max_inflight,
        .max_inflight_bytes = conf->max_inflight_bytes,
        .max_message_bytes = in->conf.max_event_bytes + EVENT_CODEC_ENVELOPE_MAX,
        .extra = conf->producer_extra,
        .nextra = conf->nproducer_extra,
        .metrics = conf->metrics,
    };
    in->producer = ingest_producer_new(&pc, on_event_done, in, errbuf, errlen);
    if (!in->producer)
        goto fail;
    quire_metrics_t *m = conf->metrics;
    in->m_submits = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_ingest_writes_total", NULL,
                                      "writes accepted for production");
    in->m_refused = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_ingest_refused_total", NULL,
                                      "writes refused before production");
    in->m_events = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_ingest_events_total", NULL,
                                     "events produced (a split write makes several)");
    in->m_splits = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_ingest_splits_total", NULL,
                                     "writes split into several events");
    in->m_latency = quire_metrics_add(m, QUIRE_METRIC_HISTOGRAM, "quire_ingest_durable_seconds",
                                      NULL, "time from submission to Kafka's durable report");
    return in;
fail:
    event_codec_destroy(in->codec);
    pthread_mutex_destroy(&in->codec_lock);
    free(in->origin);
    free(in->topic);
    free(in);
    return NULL;
}

void ingest_destroy(ingest_t *in, int timeout_ms)
{
    if (!in)
        return;
    ingest_producer_destroy(in->producer, timeout_ms);
    event_codec_destroy(in->codec);
    pthread_mutex_destroy(&in->codec_lock);
    free(in->origin);
    free(in->topic);
    free(in);
}

void ingest_ticket_deinit(ingest_ticket_t *t)
{
    if (!t)
        return;
    free(t->event_ids);
    t->event_ids = NULL;
    t->nevents = 0;
}

int32_t ingest_partition_count(ingest_t *in)
{
    int n = atomic_load(&in->partitions);
    if (n > 0)
        return n;
    n = ingest_producer_partition_count(in->producer, 5000);
    if (n > 0)
        atomic_store(&in->partitions, n);
    return n;
}

int32_t ingest_partition_of(ingest_t *in, const char *doc_id)
{
    int32_t n = ingest_partition_count(in);
    return n > 0 ? quire_kafka_partition_for(doc_id, strlen(doc_id), n) : -1;
}

quire_err_t ingest_inject_fatal(ingest_t *in)
{
    return ingest_producer_inject_fatal(in->producer);
}

static bool doc_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > EVENT_CODEC_DOC_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '~' || c == '-'))
            return false;
    }
    return true;
}

/* Event ids: random (UUID v4 layout), or, for a write with an Idempotency-Key, a keyed hash of
 * (document, actor, key, part) in UUID v8 layout — the same on every retry of that write. */
static void make_event_id(const ingest_write_t *w, size_t index, uint8_t out[16])
{
    if (w->idempotency_key) {
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, 16);
        crypto_generichash_update(&st, (const uint8_t *)w->doc_id, strlen(w->doc_id) + 1);
        crypto_generichash_update(&st, (const uint8_t *)w->actor, strlen(w->actor) + 1);
        crypto_generichash_update(&st, (const uint8_t *)w->idempotency_key,
                                  strlen(w->idempotency_key) + 1);
        uint8_t idx[8];
        for (int i = 0; i < 8; i++)
            idx[i] = (uint8_t)(index >> (8 * i));
        crypto_generichash_update(&st, idx, sizeof idx);
        crypto_generichash_final(&st, out, 16);
        out[6] = (uint8_t)((out[6] & 0x0f) | 0x80);
    } else {
        randombytes_buf(out, 16);
        out[6] = (uint8_t)((out[6] & 0x0f) | 0x40);
    }
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

static quire_err_t refuse(ingest_t *in, quire_err_t err, char *errbuf, size_t errlen,
                          const char *msg, const char *detail)
{
    snprintf(errbuf, errlen, "%s%s", msg, detail ? detail : "");
    quire_metric_add(in->m_refused, 1);
    return err;
}

quire_err_t ingest_submit(ingest_t *in, const ingest_write_t *w, ingest_done_fn done, void *opaque,
                          ingest_ticket_t *ret_ticket, char *errbuf, size_t errlen)
{
    if (!doc_id_ok(w->doc_id))
        return refuse(in, QUIRE_ERR_INVALID, errbuf, errlen,
                      "document ids are 1-128 characters of [A-Za-z0-9._~-]", NULL);
    if (!w->actor || !*w->actor || strlen(w->actor) > EVENT_CODEC_ACTOR_MAX)
        return refuse(in, QUIRE_ERR_INVALID, errbuf, errlen, "no authenticated actor", NULL);
    if (w->idempotency_key &&
        (!*w->idempotency_key || strlen(w->idempotency_key) > EVENT_CODEC_IDEMPOTENCY_KEY_MAX))
        return refuse(in, QUIRE_ERR_INVALID, errbuf, errlen,
                      "Idempotency-Key must be 1-255 printable characters", NULL);

    yjs_parts_t parts = {0};
    const uint8_t *single = NULL;
    size_t single_len = 0, nevents = 1;
    if (w->kind == EVENT_CODEC_KIND_UPDATE) {
        if (!w->update || w->len == 0)
            return refuse(in, QUIRE_ERR_EMPTY, errbuf, errlen, "the update is empty", NULL);
        if (w->len > in->conf.max_doc_bytes ||
            (w->doc_bytes >= 0 && (size_t)w->doc_bytes + w->len > in->conf.max_doc_bytes))
            return refuse(in, QUIRE_ERR_TOO_LARGE, errbuf, errlen,
                          "the update would make the document larger than its limit", NULL);
        yjs_validation_t v = {0};
        quire_err_t err = yjs_update_validate(w->update, w->len, &in->limits, 0, &v);
        if (err) {
            char msg[300];
            snprintf(msg, sizeof msg, "%s at byte %zu", v.error.message, v.error.offset);
            yjs_validation_deinit(&v);
            return refuse(in, err, errbuf, errlen, "invalid Yjs update: ", msg);
        }
        if (v.nstructs == 0 && v.ndelete_ranges == 0) {
            yjs_validation_deinit(&v);
            return refuse(in, QUIRE_ERR_EMPTY, errbuf, errlen, "the update changes nothing", NULL);
        }
        if (in->conf.check_clients) {
            err = in->conf.check_clients(in->conf.check_opaque, w->doc_id, w->actor, v.ranges,
                                         v.nranges);
            if (err) {
                yjs_validation_deinit(&v);
                return refuse(in, err, errbuf, errlen,
                              err == QUIRE_ERR_SPOOFED
                                  ? "the update carries a client id bound to another user"
                                  : "could not check the update's client ids; try again",
                              NULL);
            }
        }
        yjs_validation_deinit(&v);
        if (w->len > in->conf.max_event_bytes) {
            yjs_error_t yerr;
            err = yjs_update_split(w->update, w->len, in->conf.max_event_bytes, &in->limits,
                                   YJS_DECODE_SKIM, &parts, &yerr);
            if (err)
                return refuse(
                    in, err, errbuf, errlen,
                    "the update cannot be split under the event size limit: ", yerr.message);
            nevents = parts.n;
            quire_metric_add(in->m_splits, 1);
        } else {
            single = w->update;
            single_len = w->len;
        }
    } else if (w->update && w->len) {
        return refuse(in, QUIRE_ERR_INVALID, errbuf, errlen, "lifecycle events carry no update",
                      NULL);
    }

    submission_t *s = calloc(1, sizeof *s);
    part_t **pv = calloc(nevents, sizeof *pv);
    uint8_t(*ids)[EVENT_CODEC_EVENT_ID_LEN] = calloc(nevents, sizeof *ids);
    uint8_t **msgs = calloc(nevents, sizeof *msgs);
    size_t *msg_lens = calloc(nevents, sizeof *msg_lens);
    quire_err_t err = (s && pv && ids && msgs && msg_lens) ? QUIRE_OK : QUIRE_ERR_NOMEM;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;

    pthread_mutex_lock(&in->codec_lock);
    for (size_t i = 0; i < nevents && !err; i++) {
        make_event_id(w, i, ids[i]);
        event_codec_event_t ev = {
            .doc_id = w->doc_id,
            .doc_id_len = strlen(w->doc_id),
            .kind = w->kind,
            .actor = w->actor,
            .actor_len = strlen(w->actor),
            .server_time_ms = now_ms,
            .origin = in->origin,
            .origin_len = strlen(in->origin),
            .idempotency_key = w->idempotency_key,
            .idempotency_key_len = w->idempotency_key ? strlen(w->idempotency_key) : 0,
        };
        memcpy(ev.event_id, ids[i], EVENT_CODEC_EVENT_ID_LEN);
        if (parts.n)
            ev.update = yjs_parts_get(&parts, i, &ev.update_len);
        else if (w->kind == EVENT_CODEC_KIND_UPDATE) {
            ev.update = single;
            ev.update_len = single_len;
        }
        err = event_codec_encode_alloc(in->codec, &ev, &msgs[i], &msg_lens[i]);
        if (err)
            snprintf(errbuf, errlen, "could not encode the event: %s",
                     event_codec_last_error(in->codec));
    }
    pthread_mutex_unlock(&in->codec_lock);
    yjs_parts_deinit(&parts);

    if (!err) {
        s->in = in;
        s->done = done;
        s->opaque = opaque;
        s->nevents = nevents;
        s->start_ns = mono_ns();
        pthread_mutex_init(&s->lock, NULL);
        for (size_t i = 0; i < nevents && !err; i++) {
            pv[i] = malloc(sizeof **pv);
            if (!pv[i])
                err = QUIRE_ERR_NOMEM;
            else
                *pv[i] = (part_t){.sub = s, .index = i};
        }
    }
    /* Produce every part. Parts are few and the producer accepts or refuses each at once; a part
     * refused after earlier ones were accepted fails the whole write through the callback path
     * (earlier parts may still land — harmless, Yjs updates are idempotent), so we only refuse
     * synchronously when nothing was sent. */
    size_t sent = 0;
    for (size_t i = 0; i < nevents && !err; i++) {
        quire_err_t perr = ingest_producer_send(in->producer, w->doc_id, strlen(w->doc_id), msgs[i],
                                                msg_lens[i], pv[i]);
        if (perr == QUIRE_OK) {
            pv[i] = NULL; /* owned by the producer until reported */
            sent++;
            continue;
        }
        if (sent == 0) {
            err = perr;
            snprintf(errbuf, errlen, "%s",
                     perr == QUIRE_ERR_BUSY ? "too many writes in flight; try again shortly"
                                            : quire_err_str(perr));
            break;
        }
        /* Account the unsent parts as failed reports so `done` still fires exactly once. */
        for (size_t j = i; j < nevents; j++) {
            part_t *p = pv[j];
            pv[j] = NULL;
            on_event_done(in, p, QUIRE_ERR_BUSY, -1, -1, -1);
        }
        break;
    }
    for (size_t i = 0; i < nevents; i++) {
        free(msgs ? msgs[i] : NULL);
        free(pv ? pv[i] : NULL);
    }
    free(msgs);
    free(msg_lens);
    free(pv);
    if (err) {
        if (s && s->done)
            pthread_mutex_destroy(&s->lock);
        free(s);
        free(ids);
        quire_metric_add(in->m_refused, 1);
        return err;
    }
    quire_metric_add(in->m_submits, 1);
    quire_metric_add(in->m_events, (int64_t)nevents);
    if (ret_ticket) {
        ret_ticket->nevents = nevents;
        ret_ticket->event_ids = ids;
        ret_ticket->partition = ingest_partition_of(in, w->doc_id);
    } else {
        free(ids);
    }
    return QUIRE_OK;
}
