/*
 * quire bootstrap — fills an empty read model from the snapshot topic plus the tails (DESIGN §6,
 * fast recovery), beside `quire replay` (the full rebuild).
 *
 *   1. C_p, per partition of doc-updates: the compactor group's committed offset — its coverage:
 *      every event below C_p is in a snapshot on the topic (compactor.h).
 *   2. The snapshot topic, read to its end: per document the snapshot with the highest position
 *      P_d, its state (hash checked) and its metadata headers (snapshot_meta.h).
 *   3. One transaction: empties the read model; writes each document's row (state, content,
 *      counts, owner, times, lifecycle at P_d, position P_d) and its snapshot row; indexes the
 *      events in [C_p, P_d) of documents whose snapshot is ahead of the coverage (read from the
 *      log, by the projector's rules: quarantine, first event id only, nothing after a delete);
 *      sets each partition's projector offset to C_p and records C_p as the event index's floor
 *      (index_floors: the events below it are in the log and in the snapshots, not indexed).
 *   4. The projector (projector.h, until the end of the log) from C_p: events a row already
 *      holds are in the index (skipped as resends), the others are applied as usual.
 * The result is the read model a replay gives, but for the event index below the floors (`quire
 * verify` compares from the floors; `?at=` below a floor without a snapshot answers
 * unavailable). What it reads is the snapshots plus the log from C_p: bounded by the compactor's
 * policy and lag, not by the log's length.
 *
 * Limits (compactor/README.md): a resend whose original is below C_p would be indexed once more.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "doc_content.h"
#include "event_codec.h"
#include "projector.h"
#include "quarantine.h"
#include "quire_cmd.h"
#include "quire_kafka.h"
#include "quire_log.h"
#include "quire_pg.h"
#include "readmodel.h"
#include "snapshot_codec.h"
#include "snapshot_meta.h"

typedef struct bootstrap_conf_s {
    quire_common_conf_t common;
    char *group;
    bool yes;
    int64_t flush_interval_ms;
    int64_t max_batch;
} bootstrap_conf_t;

static const quire_cfg_opt_t bootstrap_opts[] = {
    QUIRE_CFG_COMMON_OPTS(bootstrap_conf_t),
    {"group", QUIRE_CFG_STRING, "quire-compactor", 0, -1, offsetof(bootstrap_conf_t, group), 0,
     "consumer group of the compactors whose committed offsets (coverage) the tails start from"},
    {"yes", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(bootstrap_conf_t, yes), 0,
     "really empty the read model first (documents, event index, snapshots, quarantine, offsets)"},
    {"flush-interval", QUIRE_CFG_MS, "10s", 0, 600000,
     offsetof(bootstrap_conf_t, flush_interval_ms), 0,
     "the tails' projector rewrites a document's state at most this often (and at the end)"},
    {"max-batch", QUIRE_CFG_INT, "20000", 1, 1000000, offsetof(bootstrap_conf_t, max_batch), 0,
     "events per transaction at most while projecting the tails"},
};

/* The latest snapshot of one document. */
typedef struct bdoc_s {
    struct bdoc_s *next;
    char *id;
    uint32_t hash;
    int32_t part;
    int64_t position;
    uint8_t *state;
    size_t state_len;
    uint8_t digest[SNAPSHOT_CODEC_HASH_LEN];
    int64_t created_ms;
    snapshot_meta_t meta;
    bool meta_ok;
    char *owner;
    /* pre-indexing [C_p, P_d): the event ids seen */
    uint8_t (*ids)[EVENT_CODEC_EVENT_ID_LEN];
    size_t nids, capids;
} bdoc_t;

typedef struct bstate_s {
    bdoc_t **tab;
    size_t cap, n;
    int64_t snapshot_bytes, messages;
} bstate_t;

typedef struct sbuf_s {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf_t;

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig)
{
    stop_signal = sig;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static void sb_put(sbuf_t *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* COPY ... (FORMAT binary): the header, a tuple's field count, and fields by type. */
static void sb_be(sbuf_t *b, uint64_t v, int n)
{
    uint8_t t[8];
    for (int i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    sb_put(b, t, (size_t)n);
}

static void bin_header(sbuf_t *b)
{
    static const uint8_t sig[] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    sb_put(b, sig, sizeof sig);
    sb_be(b, 0, 4); /* flags */
    sb_be(b, 0, 4); /* header extension */
}

static void bin_trailer(sbuf_t *b)
{
    sb_be(b, 0xffff, 2);
}

static void bin_tuple(sbuf_t *b, int nfields)
{
    sb_be(b, (uint64_t)nfields, 2);
}

static void bin_bytes(sbuf_t *b, const void *p, size_t n)
{
    sb_be(b, (uint64_t)n, 4);
    sb_put(b, p, n);
}

static void bin_text(sbuf_t *b, const char *s)
{
    if (!s) {
        sb_be(b, 0xffffffffu, 4); /* NULL */
        return;
    }
    bin_bytes(b, s, strlen(s));
}

static void bin_int(sbuf_t *b, int64_t v, int size)
{
    sb_be(b, (uint64_t)size, 4);
    sb_be(b, (uint64_t)v, size);
}

static void bin_bool(sbuf_t *b, bool v)
{
    sb_be(b, 1, 4);
    uint8_t c = v ? 1 : 0;
    sb_put(b, &c, 1);
}

/* timestamptz: microseconds since 2000-01-01 UTC. */
static void bin_time(sbuf_t *b, int64_t ms)
{
    bin_int(b, (ms - INT64_C(946684800000)) * 1000, 8);
}

/* jsonb: version 1, then the JSON text. */
static void bin_jsonb(sbuf_t *b, const char *json, size_t n)
{
    sb_be(b, (uint64_t)n + 1, 4);
    uint8_t v = 1;
    sb_put(b, &v, 1);
    sb_put(b, json, n);
}

static bdoc_t *doc_find(bstate_t *s, const char *id, size_t len)
{
    if (!s->cap)
        return NULL;
    uint32_t h = hash_str(id, len);
    for (bdoc_t *d = s->tab[h & (s->cap - 1)]; d; d = d->next)
        if (d->hash == h && strlen(d->id) == len && memcmp(d->id, id, len) == 0)
            return d;
    return NULL;
}

static bdoc_t *doc_add(bstate_t *s, const char *id, size_t len)
{
    if (s->n * 2 >= s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 4096;
        bdoc_t **nt = calloc(nc, sizeof *nt);
        if (!nt)
            return NULL;
        for (size_t i = 0; i < s->cap; i++)
            for (bdoc_t *d = s->tab[i], *n; d; d = n) {
                n = d->next;
                d->next = nt[d->hash & (nc - 1)];
                nt[d->hash & (nc - 1)] = d;
            }
        free(s->tab);
        s->tab = nt;
        s->cap = nc;
    }
    bdoc_t *d = calloc(1, sizeof *d);
    if (!d || !(d->id = strndup(id, len))) {
        free(d);
        return NULL;
    }
    d->hash = hash_str(id, len);
    d->position = -1;
    d->next = s->tab[d->hash & (s->cap - 1)];
    s->tab[d->hash & (s->cap - 1)] = d;
    s->n++;
    return d;
}

static void docs_free(bstate_t *s)
{
    for (size_t i = 0; i < s->cap; i++)
        for (bdoc_t *d = s->tab[i], *n; d; d = n) {
            n = d->next;
            free(d->id);
            free(d->state);
            free(d->owner);
            free(d->ids);
            free(d);
        }
    free(s->tab);
}

/* Reads every partition of `topic` from `from[p]` (or the beginning) to its end as of now — or to
 * `to[p]` when given — calling fn for each message. -1 on a Kafka error. */
static int read_topic(rd_kafka_t *rk, const char *topic, int32_t nparts, const int64_t *from,
                      const int64_t *to, int (*fn)(void *, const rd_kafka_message_t *),
                      void *opaque)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    int64_t *end = calloc((size_t)nparts, sizeof *end);
    int remaining = 0;
    for (int32_t p = 0; p < nparts && end; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 15000)) {
            fprintf(stderr, "quire bootstrap: cannot read the end of %s [%d]\n", topic, p);
            free(end);
            rd_kafka_topic_partition_list_destroy(l);
            return -1;
        }
        int64_t start = from ? from[p] : lo;
        if (start < lo)
            start = lo;
        end[p] = to && to[p] < hi ? to[p] : hi;
        if (start < end[p]) {
            rd_kafka_topic_partition_list_add(l, topic, p)->offset = start;
            remaining++;
        }
    }
    if (!end) {
        rd_kafka_topic_partition_list_destroy(l);
        return -1;
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int rc = 0, idle = 0;
    while (remaining > 0 && !stop_signal) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (!m) {
            if (++idle > 60) {
                fprintf(stderr, "quire bootstrap: %s stopped short of its end\n", topic);
                rc = -1;
                break;
            }
            continue;
        }
        idle = 0;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "quire bootstrap: %s\n", rd_kafka_message_errstr(m));
                rc = -1;
                rd_kafka_message_destroy(m);
                break;
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->offset < end[m->partition]) {
            if (fn(opaque, m) < 0) {
                rc = -1;
                rd_kafka_message_destroy(m);
                break;
            }
            if (m->offset + 1 == end[m->partition]) {
                remaining--;
                rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(one, topic, m->partition);
                rd_kafka_pause_partitions(rk, one);
                rd_kafka_topic_partition_list_destroy(one);
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    free(end);
    return stop_signal ? -1 : rc;
}

typedef struct snap_reader_s {
    bstate_t *s;
    snapshot_codec_t *codec;
} snap_reader_t;

/* Keeps the snapshot with the highest position of each document. */
static int on_snapshot(void *opaque, const rd_kafka_message_t *m)
{
    snap_reader_t *r = opaque;
    r->s->messages++;
    snapshot_codec_snapshot_t sn;
    quire_err_t e = snapshot_codec_decode(r->codec, m->payload, m->len, &sn);
    if (e == QUIRE_ERR_EMPTY)
        return 0; /* a tombstone: quire writes none */
    if (e) {
        fprintf(stderr, "quire bootstrap: snapshot at %d:%lld refused: %s\n", m->partition,
                (long long)m->offset, snapshot_codec_last_error(r->codec));
        return -1;
    }
    char owner[1024];
    snapshot_meta_t meta = {0};
    quire_err_t me = snapshot_meta_from_message(m, owner, sizeof owner, &meta);
    bdoc_t *d = doc_find(r->s, sn.doc_id, sn.doc_id_len);
    if (!d && !(d = doc_add(r->s, sn.doc_id, sn.doc_id_len)))
        return -1;
    if (sn.position <= d->position)
        return 0;
    uint8_t *state = malloc(sn.state_len);
    char *own = meta.owner ? strdup(meta.owner) : NULL;
    if (!state || (meta.owner && !own)) {
        free(state);
        free(own);
        return -1;
    }
    memcpy(state, sn.state, sn.state_len);
    r->s->snapshot_bytes += (int64_t)sn.state_len - (int64_t)d->state_len;
    free(d->state);
    free(d->owner);
    d->state = state;
    d->state_len = sn.state_len;
    memcpy(d->digest, sn.state_blake2b, sizeof d->digest);
    d->part = sn.partition;
    d->position = sn.position;
    d->created_ms = sn.created_time_ms;
    d->meta = meta;
    d->owner = own;
    d->meta.owner = own;
    d->meta_ok = me == QUIRE_OK; /* checked once the newest snapshot is known */
    return 0;
}

typedef struct tail_reader_s {
    bstate_t *s;
    quarantine_checker_t *qc;
    int32_t nparts;
    sbuf_t *copy;
    int64_t indexed;
} tail_reader_t;

/* Indexes an event in [C_p, P_d) of a document with a snapshot, by the projector's rules. */
static int on_covered_event(void *opaque, const rd_kafka_message_t *m)
{
    tail_reader_t *t = opaque;
    event_codec_event_t ev;
    char reason[300];
    quire_err_t q = quarantine_check(t->qc, m->key, m->key_len, m->partition, t->nparts, m->payload,
                                     m->len, &ev, reason, sizeof reason);
    if (q == QUIRE_ERR_MALFORMED)
        return 0; /* poison: the projector quarantines it when it passes again */
    if (q)
        return -1;
    bdoc_t *d = doc_find(t->s, ev.doc_id, ev.doc_id_len);
    if (!d || m->offset >= d->position)
        return 0; /* the projector applies it */
    if (m->offset > d->meta.version)
        return 0; /* after its latest indexed event: only a deletion's ignored followers */
    for (size_t i = 0; i < d->nids; i++)
        if (memcmp(d->ids[i], ev.event_id, EVENT_CODEC_EVENT_ID_LEN) == 0)
            return 0; /* a resend */
    if (d->nids == d->capids) {
        size_t nc = d->capids ? d->capids * 2 : 16;
        void *n = realloc(d->ids, nc * sizeof *d->ids);
        if (!n)
            return -1;
        d->ids = n;
        d->capids = nc;
    }
    memcpy(d->ids[d->nids++], ev.event_id, EVENT_CODEC_EVENT_ID_LEN);
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    sbuf_t *b = t->copy;
    if (b->len == 0)
        bin_header(b);
    /* doc_id partition offset event_id kind broker_time actor origin size update */
    bin_tuple(b, 10);
    bin_bytes(b, ev.doc_id, ev.doc_id_len);
    bin_int(b, m->partition, 4);
    bin_int(b, m->offset, 8);
    bin_bytes(b, ev.event_id, EVENT_CODEC_EVENT_ID_LEN);
    bin_int(b, (int64_t)ev.kind, 2);
    bin_time(b, ts >= 0 ? ts : ev.server_time_ms);
    bin_bytes(b, ev.actor, ev.actor_len);
    bin_bytes(b, ev.origin, ev.origin_len);
    bin_int(b, (int64_t)ev.update_len, 4);
    bin_bytes(b, ev.update, ev.update_len);
    t->indexed++;
    return b->oom ? -1 : 0;
}

static bool exec_ok(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "quire bootstrap: %s", PQerrorMessage(pg));
    PQclear(r);
    return ok;
}

static bool copy_in(PGconn *pg, const char *sql, const sbuf_t *b)
{
    PGresult *r = PQexec(pg, sql);
    bool ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    size_t at = 0;
    while (ok && at < b->len) {
        size_t n = b->len - at > (1u << 20) ? (1u << 20) : b->len - at;
        ok = PQputCopyData(pg, b->p + at, (int)n) == 1;
        at += n;
    }
    if (PQputCopyEnd(pg, ok ? NULL : "aborted") != 1)
        ok = false;
    r = PQgetResult(pg);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "quire bootstrap: %s", PQerrorMessage(pg));
        ok = false;
    }
    PQclear(r);
    while ((r = PQgetResult(pg)))
        PQclear(r);
    return ok;
}

/* The documents and doc_snapshots rows of every restored snapshot, as COPY text. */
static int build_rows(bstate_t *s, sbuf_t *docs, sbuf_t *snaps)
{
    const char *engine = readmodel_engine_version();
    for (size_t i = 0; i < s->cap; i++)
        for (bdoc_t *d = s->tab[i]; d; d = d->next) {
            char *content = NULL;
            size_t clen = 0;
            quire_err_t e = doc_content_render(d->state, d->state_len, &content, &clen);
            if (e) {
                fprintf(stderr, "quire bootstrap: cannot render %s: %s\n", d->id, quire_err_str(e));
                return -1;
            }
            if (docs->len == 0) {
                bin_header(docs);
                bin_header(snaps);
            }
            /* doc_id lifecycle partition version position ydoc content event_count event_bytes
             * owner created_at updated_at engine */
            bin_tuple(docs, 13);
            bin_text(docs, d->id);
            bin_text(docs, d->meta.deleted ? "deleted" : "active");
            bin_int(docs, d->part, 4);
            bin_int(docs, d->meta.version, 8);
            bin_int(docs, d->position, 8);
            bin_bytes(docs, d->state, d->state_len);
            bin_jsonb(docs, content, clen);
            free(content);
            bin_int(docs, d->meta.event_count, 8);
            bin_int(docs, d->meta.event_bytes, 8);
            bin_text(docs, d->owner);
            bin_time(docs, d->meta.first_ms);
            bin_time(docs, d->meta.last_ms);
            bin_text(docs, engine);
            /* doc_id partition position version broker_time ydoc content_hash event_count
             * event_bytes owner first_time deleted created_at published */
            bin_tuple(snaps, 14);
            bin_text(snaps, d->id);
            bin_int(snaps, d->part, 4);
            bin_int(snaps, d->position, 8);
            bin_int(snaps, d->meta.version, 8);
            bin_time(snaps, d->meta.last_ms);
            bin_bytes(snaps, d->state, d->state_len);
            bin_bytes(snaps, d->digest, sizeof d->digest);
            bin_int(snaps, d->meta.event_count, 8);
            bin_int(snaps, d->meta.event_bytes, 8);
            bin_text(snaps, d->owner);
            bin_time(snaps, d->meta.first_ms);
            bin_bool(snaps, d->meta.deleted);
            bin_time(snaps, d->created_ms);
            bin_bool(snaps, true);
            if (docs->oom || snaps->oom)
                return -1;
        }
    return 0;
}

static int bootstrap_run(void *confp, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    bootstrap_conf_t *conf = confp;
    if (!conf->yes) {
        fprintf(stderr,
                "quire bootstrap: this empties the read model and fills it from the "
                "snapshot topic plus the log's tails; stop the projectors and pass --yes\n");
        return 2;
    }
    char err[512], updates[256], snapshots[256];
    quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_DOC_UPDATES, updates, sizeof updates);
    quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_DOC_SNAPSHOTS, snapshots,
                      sizeof snapshots);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double t0 = now_s();
    int status = 1;
    bstate_t s = {0};
    sbuf_t docs = {0}, snaps = {0}, copy = {0};
    int64_t *cov = NULL, *maxp = NULL;
    snapshot_codec_t *codec = NULL;
    quarantine_checker_t *qc = NULL;
    PGconn *pg = quire_pg_connect(conf->common.pg, "quire-bootstrap", err, sizeof err);
    rd_kafka_conf_t *kc =
        pg ? quire_kafka_consumer_conf(conf->common.kafka_brokers, conf->group, err, sizeof err)
           : NULL;
    if (kc && quire_kafka_conf_set(kc, "fetch.message.max.bytes", "67108864", err, sizeof err)) {
        rd_kafka_conf_destroy(kc);
        kc = NULL;
    }
    if (kc)
        quire_kafka_conf_set(kc, "receive.message.max.bytes", "134217728", err, sizeof err);
    rd_kafka_t *rk = kc ? rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err) : NULL;
    if (!rk && kc)
        rd_kafka_conf_destroy(kc);
    int32_t nparts = rk ? quire_kafka_partition_count(rk, updates, 15000, err, sizeof err) : -1;
    int32_t nsnap = rk ? quire_kafka_partition_count(rk, snapshots, 15000, err, sizeof err) : -1;
    if (!pg || !rk || nparts <= 0 || nsnap <= 0) {
        fprintf(stderr, "quire bootstrap: %s\n", err);
        goto out;
    }
    rd_kafka_poll_set_consumer(rk);
    /* 1. Coverage. */
    cov = calloc((size_t)nparts, sizeof *cov);
    maxp = calloc((size_t)nparts, sizeof *maxp);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int32_t p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(l, updates, p);
    rd_kafka_resp_err_t ce = rd_kafka_committed(rk, l, 15000);
    for (int i = 0; !ce && i < l->cnt; i++)
        if (l->elems[i].offset >= 0 && l->elems[i].partition < nparts)
            cov[l->elems[i].partition] = l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    if (ce || !cov || !maxp) {
        fprintf(stderr, "quire bootstrap: cannot read the coverage of group %s: %s\n", conf->group,
                rd_kafka_err2str(ce));
        goto out;
    }
    /* 2. Snapshots. */
    snapshot_codec_opts_t so = {0};
    if (snapshot_codec_new(&so, &codec, err, sizeof err)) {
        fprintf(stderr, "quire bootstrap: %s\n", err);
        goto out;
    }
    snap_reader_t sr = {.s = &s, .codec = codec};
    if (read_topic(rk, snapshots, nsnap, NULL, NULL, on_snapshot, &sr) < 0)
        goto out;
    double t_snap = now_s();
    for (size_t i = 0; i < s.cap; i++)
        for (bdoc_t *d = s.tab[i]; d; d = d->next)
            if (!d->meta_ok) {
                fprintf(stderr,
                        "quire bootstrap: the newest snapshot of %s (position %lld) has no usable "
                        "metadata headers (snapshot_meta.h); use quire replay\n",
                        d->id, (long long)d->position);
                goto out;
            }
    /* 3. The covered events of documents whose snapshot is ahead of the coverage. */
    int64_t covered_from_total = 0;
    for (size_t i = 0; i < s.cap; i++)
        for (bdoc_t *d = s.tab[i]; d; d = d->next)
            if (d->part >= 0 && d->part < nparts && d->position > cov[d->part] &&
                d->position > maxp[d->part])
                maxp[d->part] = d->position;
    for (int32_t p = 0; p < nparts; p++)
        if (maxp[p] > cov[p])
            covered_from_total += maxp[p] - cov[p];
    qc = quarantine_checker_new(err, sizeof err);
    if (!qc) {
        fprintf(stderr, "quire bootstrap: %s\n", err);
        goto out;
    }
    tail_reader_t tr = {.s = &s, .qc = qc, .nparts = nparts, .copy = &copy};
    if (covered_from_total > 0 &&
        read_topic(rk, updates, nparts, cov, maxp, on_covered_event, &tr) < 0)
        goto out;
    double t_cov = now_s();
    if (build_rows(&s, &docs, &snaps) < 0)
        goto out;
    if (docs.len) {
        bin_trailer(&docs);
        bin_trailer(&snaps);
    }
    if (copy.len)
        bin_trailer(&copy);
    double t_build = now_s();
    /* 4. One transaction. */
    const char *tp[] = {updates};
    bool ok = exec_ok(pg, "BEGIN") &&
              exec_ok(pg, "TRUNCATE documents, doc_events, doc_snapshots, index_floors");
    if (ok) {
        PGresult *r =
            PQexecParams(pg, "DELETE FROM quarantine WHERE topic = $1", 1, NULL, tp, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        r = PQexecParams(pg, "DELETE FROM projector_offsets WHERE topic = $1", 1, NULL, tp, NULL,
                         NULL, 0);
        ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    ok = ok && (!docs.len ||
                copy_in(pg,
                        "COPY documents (doc_id, lifecycle, partition, version, position, ydoc, "
                        "content, event_count, event_bytes, owner, created_at, updated_at, engine) "
                        "FROM STDIN (FORMAT binary)",
                        &docs));
    ok = ok && (!snaps.len ||
                copy_in(pg,
                        "COPY doc_snapshots (doc_id, partition, position, version, broker_time, "
                        "ydoc, content_hash, event_count, event_bytes, owner, first_time, deleted, "
                        "created_at, published) FROM STDIN (FORMAT binary)",
                        &snaps));
    ok = ok && (!copy.len || copy_in(pg,
                                     "COPY doc_events (doc_id, partition, \"offset\", event_id, "
                                     "kind, broker_time, actor, origin, size, \"update\") FROM "
                                     "STDIN (FORMAT binary)",
                                     &copy));
    for (int32_t p = 0; ok && p < nparts; p++) {
        char pb[16], ob[24];
        snprintf(pb, sizeof pb, "%d", p);
        snprintf(ob, sizeof ob, "%lld", (long long)cov[p]);
        const char *v[] = {updates, pb, ob};
        PGresult *r = PQexecParams(pg,
                                   "INSERT INTO projector_offsets (topic, partition, next_offset) "
                                   "VALUES ($1, $2::int4, $3::int8)",
                                   3, NULL, v, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok && cov[p] > 0) {
            r = PQexecParams(pg,
                             "INSERT INTO index_floors (topic, partition, floor) VALUES ($1, "
                             "$2::int4, $3::int8)",
                             3, NULL, v, NULL, NULL, 0);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
    }
    ok = ok && exec_ok(pg, "COMMIT");
    if (!ok) {
        exec_ok(pg, "ROLLBACK");
        fprintf(stderr, "quire bootstrap: could not write the read model\n");
        goto out;
    }
    double t_rows = now_s();
    PQfinish(pg);
    pg = NULL;
    /* 5. The tails, by the projector. */
    projector_conf_t pc = {.brokers = conf->common.kafka_brokers,
                           .topic = updates,
                           .pg = conf->common.pg,
                           .flush_interval_ms = conf->flush_interval_ms,
                           .max_batch_events = (size_t)conf->max_batch,
                           .max_cached_docs = 100000,
                           .until_end = true};
    projector_t *pj = projector_new(&pc, err, sizeof err);
    if (!pj) {
        fprintf(stderr, "quire bootstrap: %s\n", err);
        goto out;
    }
    quire_err_t rc = projector_run(pj, &stop_signal);
    projector_stats_t st;
    projector_stats(pj, &st);
    projector_destroy(pj);
    double t_end = now_s();
    int64_t floors = 0;
    for (int32_t p = 0; p < nparts; p++)
        floors += cov[p];
    fprintf(
        stderr,
        "bootstrap %s: %zu documents from %lld snapshot messages (%lld state bytes) in %.2fs; "
        "%lld covered events indexed in %.2fs; rows built (content rendered) in %.2fs and written "
        "in %.2fs; tails: %lld events "
        "applied, %lld already held, %lld quarantined in %.2fs; total %.2fs (event index "
        "floors sum %lld)\n",
        rc == QUIRE_OK && !stop_signal ? "done" : "stopped", s.n, (long long)s.messages,
        (long long)s.snapshot_bytes, t_snap - t0, (long long)tr.indexed, t_cov - t_snap,
        t_build - t_cov, t_rows - t_build, (long long)st.events, (long long)st.duplicates,
        (long long)st.quarantined, t_end - t_rows, t_end - t0, (long long)floors);
    status = rc == QUIRE_OK && !stop_signal ? 0 : 1;
out:
    if (pg)
        PQfinish(pg);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    snapshot_codec_destroy(codec);
    quarantine_checker_destroy(qc);
    docs_free(&s);
    free(docs.p);
    free(snaps.p);
    free(copy.p);
    free(cov);
    free(maxp);
    return status;
}

const quire_cmd_t quire_cmd_bootstrap = {
    .name = "bootstrap",
    .summary =
        "fill an empty read model from the snapshot topic plus the log's tails (needs --yes)",
    .synopsis = "--yes",
    .opts = bootstrap_opts,
    .nopts = QUIRE_NOPTS(bootstrap_opts),
    .conf_size = sizeof(bootstrap_conf_t),
    .run = bootstrap_run,
};
