/*
 * compactor — see the header for what it guarantees and README.md for why it is built so.
 *
 * What must stay true here:
 *   - A partition is worked on only while this process holds both its consumer-group
 *     assignment and its advisory lock (cpart_t.locked). Losing the PostgreSQL session loses
 *     the locks: every partition is then reset (documents dropped, consumer moved back to the
 *     committed coverage) and locked again before anything else is written.
 *   - A document's counters only ever include events above its last snapshot's position; the
 *     snapshot made after event o covers every event of the document up to o (o is always the
 *     latest event counted), so after it the counters restart from zero.
 *   - The committed coverage of a partition never passes an event of a document whose snapshot
 *     covering it is not yet confirmed by the broker (first_pending_off, inflight_first).
 */
#include "compactor.h"

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event_codec.h"
#include "quire_kafka.h"
#include "quire_log.h"
#include "quire_pg.h"
#include "readmodel.h"
#include "snapshot_codec.h"
#include "snapshot_meta.h"
#include "ydoc.h"

/* ---------------------------------------------------------------- state */

typedef struct cdoc_s {
    struct cdoc_s *next; /* hash chain */
    char *id;
    uint32_t hash;
    int32_t part;
    int64_t snap_position; /* events below are in a snapshot (0: none) */
    int64_t bytes_since;   /* of events at or above snap_position */
    int64_t events_since;  /* 0: nothing pending */
    int64_t first_pending_off;
    int64_t last_off;         /* the latest event counted */
    int64_t last_event_ms;    /* broker time (LogAppendTime) of the latest counted event */
    int64_t first_pending_ms; /* broker time of the oldest event not in a snapshot */
    int64_t state_bytes;      /* the last snapshot's size */
    int64_t snapshot_bytes;   /* all snapshots so far */
    int64_t event_bytes;      /* all events so far */
    int64_t retry_at_ms;      /* not before (projector behind, failure) */
    int64_t inflight_pos;     /* > 0: a snapshot not yet confirmed by the broker */
    int64_t inflight_first;   /* the first event it covers that was pending */
    bool has_snapshot;
    bool deleted; /* a snapshot holds the document's deletion: nothing more to do */
    bool broken;  /* cannot be snapshotted (too large, refused state): logged */
} cdoc_t;

typedef struct cpart_s {
    bool owned, locked;
    int64_t start;     /* where consumption (re)started: the committed coverage */
    int64_t pos;       /* next offset to consume */
    int64_t end;       /* high watermark when locked (until_idle) */
    int64_t committed; /* coverage last committed */
    int64_t lock_retry_ms;
    bool republish; /* outbox rows to send again */
    /* A document due by the BYTES rule after an event the projector has not indexed yet: the
     * partition is paused right after that event until its snapshot is made, so that the
     * snapshot lands exactly where the rule says (the policy's bound holds under lag too). */
    struct cdoc_s *blocked;
    int64_t clock_ms;      /* broker time of the latest event consumed (the log's clock) */
    int64_t consumed_mono; /* when it was consumed */
} cpart_t;

typedef struct pub_s {
    int32_t part;
    int64_t position;
    char doc[EVENT_CODEC_DOC_ID_MAX + 1];
} pub_t;

typedef struct done_s {
    pub_t *pub;
    rd_kafka_resp_err_t err;
} done_t;

struct compactor_s {
    compactor_conf_t conf;
    char *brokers, *topic_updates, *topic_snapshots, *pg_conninfo, *group;
    rd_kafka_t *rk;   /* consumer (group member) */
    rd_kafka_t *prod; /* snapshot producer */
    PGconn *pg;
    event_codec_t *codec;
    snapshot_codec_t *scodec;
    int32_t nparts;
    cpart_t *parts;
    int32_t lock_class; /* advisory lock key 1: derived from the topic name */
    cdoc_t **tab;
    size_t tabcap, ndocs;
    int64_t next_check_ms;
    int64_t last_commit_ms;
    done_t *done;
    size_t ndone, donecap;
    size_t inflight;
    bool pg_lost;
    atomic_bool ready;
    atomic_int_fast64_t st[12];
    quire_metric_t *m_snapshots, *m_bytes, *m_events, *m_deferred, *m_published;
};

enum {
    ST_EVENTS,
    ST_SNAPSHOTS,
    ST_PUBLISHED,
    ST_SNAP_BYTES,
    ST_EVENT_BYTES,
    ST_DEFERRED,
    ST_R0,
    ST_R1,
    ST_R2,
    ST_R3,
    ST_REPUBLISHED
};

/* until_idle: what is due within this many ms is waited for. */
#define IDLE_HORIZON_MS 5000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stat_add(compactor_t *c, int i, int64_t v)
{
    atomic_fetch_add(&c->st[i], v);
}

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* ---------------------------------------------------------------- documents */

static cdoc_t *doc_find(compactor_t *c, const char *id, size_t len)
{
    if (!c->tabcap)
        return NULL;
    uint32_t h = hash_str(id, len);
    for (cdoc_t *d = c->tab[h & (c->tabcap - 1)]; d; d = d->next)
        if (d->hash == h && strlen(d->id) == len && memcmp(d->id, id, len) == 0)
            return d;
    return NULL;
}

static bool doc_table_grow(compactor_t *c)
{
    if (c->ndocs * 2 < c->tabcap)
        return true;
    size_t nc = c->tabcap ? c->tabcap * 2 : 1024;
    cdoc_t **nt = calloc(nc, sizeof *nt);
    if (!nt)
        return false;
    for (size_t i = 0; i < c->tabcap; i++)
        for (cdoc_t *d = c->tab[i], *n; d; d = n) {
            n = d->next;
            d->next = nt[d->hash & (nc - 1)];
            nt[d->hash & (nc - 1)] = d;
        }
    free(c->tab);
    c->tab = nt;
    c->tabcap = nc;
    return true;
}

static void doc_free(cdoc_t *d)
{
    if (!d)
        return;
    free(d->id);
    free(d);
}

/* Drops the documents of partition part (-1: all). */
static void docs_drop(compactor_t *c, int32_t part)
{
    for (size_t i = 0; i < c->tabcap; i++) {
        cdoc_t **pp = &c->tab[i];
        while (*pp) {
            cdoc_t *d = *pp;
            if (part < 0 || d->part == part) {
                *pp = d->next;
                if (d->inflight_pos > 0 && c->inflight > 0)
                    c->inflight--;
                doc_free(d);
                c->ndocs--;
            } else {
                pp = &d->next;
            }
        }
    }
}

/* ---------------------------------------------------------------- PostgreSQL */

static bool pg_ok(compactor_t *c)
{
    return c->pg && PQstatus(c->pg) == CONNECTION_OK;
}

/* Runs a statement with text parameters; NULL on failure (marks the session lost when the
 * connection broke). Binary results when binary. */
static PGresult *pq(compactor_t *c, const char *sql, int n, const char *const *vals,
                    const int *lens, const int *fmts, int binary)
{
    PGresult *r = PQexecParams(c->pg, sql, n, NULL, vals, lens, fmts, binary);
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)
        return r;
    QLOG_WARN("could not run a statement", "err=\"%s\"", PQerrorMessage(c->pg));
    PQclear(r);
    if (!pg_ok(c))
        c->pg_lost = true;
    return NULL;
}

static quire_err_t pg_connect(compactor_t *c)
{
    if (pg_ok(c))
        return QUIRE_OK;
    if (c->pg)
        PQfinish(c->pg);
    char err[512];
    c->pg = quire_pg_connect(c->pg_conninfo, "quire-compactor", err, sizeof err);
    if (!c->pg) {
        QLOG_WARN("could not connect to postgresql", "err=\"%s\"", err);
        return QUIRE_ERR_PG;
    }
    return QUIRE_OK;
}

/* Loads what PostgreSQL knows of a document first seen since its partition was taken. */
static quire_err_t doc_load_meta(compactor_t *c, cdoc_t *d)
{
    const char *p[] = {d->id};
    PGresult *r = pq(c,
                     "SELECT s.position, length(s.ydoc)::int8, COALESCE(s.deleted, false), "
                     "COALESCE(s.event_bytes, 0), (SELECT COALESCE(sum(length(ydoc)), 0)::int8 "
                     "FROM doc_snapshots WHERE doc_id = $1) FROM (SELECT 1) one LEFT JOIN "
                     "LATERAL (SELECT position, ydoc, deleted, event_bytes FROM doc_snapshots "
                     "WHERE doc_id = $1 ORDER BY position DESC LIMIT 1) s ON true",
                     1, p, NULL, NULL, 0);
    if (!r)
        return QUIRE_ERR_PG;
    if (!PQgetisnull(r, 0, 0)) {
        d->has_snapshot = true;
        d->snap_position = atoll(PQgetvalue(r, 0, 0));
        d->state_bytes = atoll(PQgetvalue(r, 0, 1));
        d->deleted = PQgetvalue(r, 0, 2)[0] == 't';
        d->event_bytes = atoll(PQgetvalue(r, 0, 3));
        d->snapshot_bytes = atoll(PQgetvalue(r, 0, 4));
    }
    PQclear(r);
    return QUIRE_OK;
}

static cdoc_t *doc_get(compactor_t *c, const char *id, size_t len, int32_t part,
                       quire_err_t *ret_err)
{
    cdoc_t *d = doc_find(c, id, len);
    *ret_err = QUIRE_OK;
    if (d)
        return d;
    if (!doc_table_grow(c) || !(d = calloc(1, sizeof *d)) || !(d->id = strndup(id, len))) {
        free(d);
        *ret_err = QUIRE_ERR_NOMEM;
        return NULL;
    }
    d->hash = hash_str(id, len);
    d->part = part;
    d->first_pending_off = -1;
    d->last_off = -1;
    if ((*ret_err = doc_load_meta(c, d))) {
        doc_free(d);
        return NULL;
    }
    d->next = c->tab[d->hash & (c->tabcap - 1)];
    c->tab[d->hash & (c->tabcap - 1)] = d;
    c->ndocs++;
    return d;
}

/* ---------------------------------------------------------------- publishing (the outbox) */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    compactor_t *c = opaque;
    pub_t *pub = m->_private;
    if (!pub)
        return;
    if (c->ndone == c->donecap) {
        size_t nc = c->donecap ? c->donecap * 2 : 64;
        done_t *nd = realloc(c->done, nc * sizeof *nd);
        if (!nd) {
            /* the row stays unpublished and is sent again when the partition is next taken */
            free(pub);
            return;
        }
        c->done = nd;
        c->donecap = nc;
    }
    c->done[c->ndone++] = (done_t){pub, m->err};
}

/* Produces one snapshot with its metadata headers; pub is handed over (freed by the delivery
 * path). */
static quire_err_t produce_snapshot(compactor_t *c, pub_t *pub, const uint8_t *state, size_t len,
                                    int64_t created_ms, const snapshot_meta_t *meta)
{
    snapshot_codec_snapshot_t s = {.doc_id = pub->doc,
                                   .doc_id_len = strlen(pub->doc),
                                   .partition = pub->part,
                                   .position = pub->position,
                                   .state = state,
                                   .state_len = len,
                                   .created_time_ms = created_ms};
    uint8_t *buf = NULL;
    size_t blen = 0;
    quire_err_t err = snapshot_codec_encode_alloc(c->scodec, &s, &buf, &blen);
    if (err) {
        QLOG_ERROR("cannot encode a snapshot", "doc=%s err=\"%s\"", pub->doc,
                   snapshot_codec_last_error(c->scodec));
        free(pub);
        return err;
    }
    for (;;) {
        rd_kafka_headers_t *h = snapshot_meta_headers(meta);
        if (!h) {
            free(buf);
            free(pub);
            return QUIRE_ERR_NOMEM;
        }
        rd_kafka_resp_err_t e = rd_kafka_producev(
            c->prod, RD_KAFKA_V_TOPIC(c->topic_snapshots),
            RD_KAFKA_V_KEY(pub->doc, strlen(pub->doc)), RD_KAFKA_V_VALUE(buf, blen),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_OPAQUE(pub),
            RD_KAFKA_V_END);
        if (!e)
            return QUIRE_OK;
        rd_kafka_headers_destroy(h);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            QLOG_WARN("could not produce a snapshot", "doc=%s err=\"%s\"", pub->doc,
                      rd_kafka_err2str(e));
            free(buf);
            free(pub);
            return QUIRE_ERR_KAFKA;
        }
        rd_kafka_poll(c->prod, 50);
    }
}

/* Marks what the broker confirmed as published; failed ones are sent again from the table. */
static void process_done(compactor_t *c)
{
    for (size_t i = 0; i < c->ndone; i++) {
        pub_t *pub = c->done[i].pub;
        cdoc_t *d = doc_find(c, pub->doc, strlen(pub->doc));
        if (c->done[i].err) {
            QLOG_WARN("could not publish a snapshot", "doc=%s position=%lld err=\"%s\"", pub->doc,
                      (long long)pub->position, rd_kafka_err2str(c->done[i].err));
            if (pub->part >= 0 && pub->part < c->nparts) {
                c->parts[pub->part].republish = true;
                c->parts[pub->part].lock_retry_ms = mono_ms() + c->conf.retry_ms;
            }
        } else if (pg_ok(c)) {
            char pos[24];
            snprintf(pos, sizeof pos, "%lld", (long long)pub->position);
            const char *p[] = {pub->doc, pos};
            PGresult *r = pq(c,
                             "UPDATE doc_snapshots SET published = true WHERE doc_id = $1 AND "
                             "position <= $2::int8 AND NOT published",
                             2, p, NULL, NULL, 0);
            PQclear(r);
            stat_add(c, ST_PUBLISHED, 1);
            quire_metric_add(c->m_published, 1);
            if (d && d->inflight_pos > 0 && d->inflight_pos <= pub->position) {
                d->inflight_pos = 0;
                d->inflight_first = -1;
                if (c->inflight > 0)
                    c->inflight--;
                if (d->events_since > 0)
                    c->next_check_ms = 0; /* it may have become due meanwhile */
            }
        }
        free(pub);
    }
    c->ndone = 0;
}

/* A binary int8 column (0 when NULL: rows written before the metadata columns existed). */
static int64_t be64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    const uint8_t *b = (const uint8_t *)PQgetvalue(r, row, col);
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v = (v << 8) | b[k];
    return (int64_t)v;
}

/* Sends again the newest unpublished snapshot of every document of the partition (a crash or a
 * failed delivery left them), and waits for the broker: the coverage committed later relies on
 * them. Older unpublished rows are superseded: marked when the newest is confirmed. */
static quire_err_t republish(compactor_t *c, int32_t part)
{
    char pb[16];
    snprintf(pb, sizeof pb, "%d", part);
    const char *p[] = {pb};
    PGresult *r = pq(c,
                     "SELECT DISTINCT ON (doc_id) doc_id, position, ydoc, (extract(epoch FROM "
                     "created_at) * 1000)::int8, version, event_count, event_bytes, (extract(epoch "
                     "FROM first_time) * 1000)::int8, (extract(epoch FROM broker_time) * "
                     "1000)::int8, deleted, owner FROM doc_snapshots WHERE NOT published AND "
                     "partition = $1::int4 ORDER BY doc_id, position DESC",
                     1, p, NULL, NULL, 1);
    if (!r)
        return QUIRE_ERR_PG;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        pub_t *pub = calloc(1, sizeof *pub);
        if (!pub)
            break;
        snprintf(pub->doc, sizeof pub->doc, "%s", PQgetvalue(r, i, 0));
        pub->part = part;
        pub->position = be64(r, i, 1);
        snapshot_meta_t meta = {.version = be64(r, i, 4),
                                .event_count = be64(r, i, 5),
                                .event_bytes = be64(r, i, 6),
                                .first_ms = be64(r, i, 7),
                                .last_ms = be64(r, i, 8),
                                .deleted = !PQgetisnull(r, i, 9) && PQgetvalue(r, i, 9)[0],
                                .owner = PQgetisnull(r, i, 10) ? NULL : PQgetvalue(r, i, 10)};
        if (produce_snapshot(c, pub, (const uint8_t *)PQgetvalue(r, i, 2),
                             (size_t)PQgetlength(r, i, 2), be64(r, i, 3), &meta) == QUIRE_OK)
            stat_add(c, ST_REPUBLISHED, 1);
    }
    PQclear(r);
    if (n) {
        QLOG_INFO("publishing snapshots a previous run left unpublished", "partition=%d count=%d",
                  part, n);
        rd_kafka_flush(c->prod, 30000);
        process_done(c);
    }
    c->parts[part].republish = false;
    return QUIRE_OK;
}

/* ---------------------------------------------------------------- snapshots */

/* Marks the document's pending events as covered without a snapshot (none of them was indexed:
 * poison or resends), or as never to be snapshotted (broken). */
static void doc_clear(cdoc_t *d)
{
    d->bytes_since = 0;
    d->events_since = 0;
    d->first_pending_off = -1;
}

/*
 * Makes the snapshot of d as of its latest counted event. QUIRE_OK also when it had to wait (the
 * projector has not indexed that far: retried later) or gave up on the document (logged);
 * QUIRE_ERR_PG when the session is lost.
 */
static quire_err_t snapshot_doc(compactor_t *c, cdoc_t *d, compactor_reason_t why)
{
    int64_t o = d->last_off, now = mono_ms();
    char pb[16], ob[24];
    snprintf(pb, sizeof pb, "%d", d->part);
    snprintf(ob, sizeof ob, "%lld", (long long)o);
    const char *p1[] = {c->topic_updates, pb};
    PGresult *r = pq(c,
                     "SELECT next_offset FROM projector_offsets WHERE topic = $1 AND partition = "
                     "$2::int4",
                     2, p1, NULL, NULL, 0);
    if (!r)
        return QUIRE_ERR_PG;
    int64_t indexed = PQntuples(r) == 1 ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (indexed <= o) {
        d->retry_at_ms = now + c->conf.retry_ms;
        if (d->retry_at_ms < c->next_check_ms)
            c->next_check_ms = d->retry_at_ms;
        stat_add(c, ST_DEFERRED, 1);
        quire_metric_add(c->m_deferred, 1);
        return QUIRE_OK;
    }
    readmodel_doc_t rd = {0};
    readmodel_point_t at = {.offset = o};
    quire_err_t err = readmodel_load_at(c->pg, d->id, &at, &rd, NULL);
    if (err == QUIRE_ERR_NOT_FOUND) {
        d->snap_position = o + 1; /* nothing of it indexed up to o: nothing to keep */
        doc_clear(d);
        return QUIRE_OK;
    }
    if (err == QUIRE_ERR_PG) {
        if (!pg_ok(c))
            c->pg_lost = true;
        return QUIRE_ERR_PG;
    }
    uint8_t *state = NULL;
    size_t len = 0;
    ydoc_t *doc = NULL;
    yjs_error_t ye = {0};
    if (!err)
        err = ydoc_new(NULL, &doc);
    if (!err)
        err = ydoc_apply(doc, rd.state, rd.state_len, 0, NULL, &ye);
    if (!err)
        err = ydoc_encode_state(doc, NULL, 0, &state, &len, &ye);
    ydoc_destroy(doc);
    if (!err && len > c->conf.max_state_bytes)
        err = QUIRE_ERR_TOO_LARGE;
    if (err) {
        QLOG_ERROR("cannot snapshot a document", "doc=%s offset=%lld err=\"%s\" detail=\"%s\"",
                   d->id, (long long)o, quire_err_str(err), ye.message);
        readmodel_doc_deinit(&rd);
        free(state);
        d->broken = true; /* it holds its partition's coverage back: an operator must look */
        return QUIRE_OK;
    }
    uint8_t hash[SNAPSHOT_CODEC_HASH_LEN];
    snapshot_codec_hash(state, len, hash);
    char posb[24], verb[24], timeb[24], cntb[24], bytesb[24], firstb[24];
    snprintf(posb, sizeof posb, "%lld", (long long)(o + 1));
    snprintf(verb, sizeof verb, "%lld", (long long)rd.version);
    snprintf(timeb, sizeof timeb, "%lld", (long long)rd.updated_ms);
    snprintf(cntb, sizeof cntb, "%lld", (long long)rd.event_count);
    snprintf(bytesb, sizeof bytesb, "%lld", (long long)rd.event_bytes);
    snprintf(firstb, sizeof firstb, "%lld", (long long)rd.created_ms);
    const char *vals[] = {d->id,
                          pb,
                          posb,
                          verb,
                          timeb,
                          (const char *)state,
                          (const char *)hash,
                          cntb,
                          bytesb,
                          rd.owner,
                          firstb,
                          rd.lifecycle == READMODEL_DELETED ? "true" : "false"};
    int lens[12] = {0};
    int fmts[12] = {0};
    lens[5] = (int)len;
    fmts[5] = 1;
    lens[6] = SNAPSHOT_CODEC_HASH_LEN;
    fmts[6] = 1;
    r = pq(c,
           "INSERT INTO doc_snapshots (doc_id, partition, position, version, broker_time, ydoc, "
           "content_hash, event_count, event_bytes, owner, first_time, deleted) VALUES ($1, "
           "$2::int4, $3::int8, $4::int8, timestamptz 'epoch' + $5::int8 * interval '1 ms', $6, "
           "$7, $8::int8, $9::int8, $10, timestamptz 'epoch' + $11::int8 * interval '1 ms', "
           "$12::bool) ON CONFLICT (doc_id, position) DO NOTHING",
           12, vals, lens, fmts, 0);
    bool deleted = rd.lifecycle == READMODEL_DELETED;
    snapshot_meta_t meta = {.version = rd.version,
                            .event_count = rd.event_count,
                            .event_bytes = rd.event_bytes,
                            .first_ms = rd.created_ms,
                            .last_ms = rd.updated_ms,
                            .deleted = deleted,
                            .owner = rd.owner};
    if (!r) {
        readmodel_doc_deinit(&rd);
        free(state);
        d->retry_at_ms = now + c->conf.retry_ms;
        return c->pg_lost ? QUIRE_ERR_PG : QUIRE_OK;
    }
    PQclear(r);
    stat_add(c, ST_SNAPSHOTS, 1);
    stat_add(c, ST_SNAP_BYTES, (int64_t)len);
    stat_add(c, ST_R0 + (int)why, 1);
    quire_metric_add(c->m_snapshots, 1);
    quire_metric_add(c->m_bytes, (int64_t)len);
    QLOG_DEBUG("snapshot written", "doc=%s partition=%d position=%lld bytes=%zu reason=%s", d->id,
               d->part, (long long)(o + 1), len, compactor_reason_str(why));
    /* The row is committed: the document's counters restart; the coverage waits for the broker. */
    if (d->inflight_pos == 0)
        c->inflight++;
    if (d->inflight_pos == 0 || d->inflight_first < 0)
        d->inflight_first = d->first_pending_off;
    d->inflight_pos = o + 1;
    d->snap_position = o + 1;
    d->state_bytes = (int64_t)len;
    d->snapshot_bytes += (int64_t)len;
    d->has_snapshot = true;
    d->deleted = deleted;
    d->retry_at_ms = 0;
    doc_clear(d);
    pub_t *pub = calloc(1, sizeof *pub);
    if (pub) {
        snprintf(pub->doc, sizeof pub->doc, "%s", d->id);
        pub->part = d->part;
        pub->position = o + 1;
        if (produce_snapshot(c, pub, state, len, wall_ms(), &meta) != QUIRE_OK)
            c->parts[d->part].republish = true;
    } else {
        c->parts[d->part].republish = true;
    }
    readmodel_doc_deinit(&rd);
    free(state);
    return QUIRE_OK;
}

/* ---------------------------------------------------------------- partitions */

static rd_kafka_topic_partition_list_t *one_partition(compactor_t *c, int32_t part)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->topic_updates, part);
    return l;
}

/* The coverage of a partition: the lowest offset not known to be in a published snapshot. */
static int64_t coverage(compactor_t *c, int32_t part)
{
    int64_t cov = c->parts[part].pos;
    for (size_t i = 0; i < c->tabcap; i++)
        for (cdoc_t *d = c->tab[i]; d; d = d->next) {
            if (d->part != part)
                continue;
            if (d->events_since > 0 && d->first_pending_off >= 0 && d->first_pending_off < cov)
                cov = d->first_pending_off;
            if (d->inflight_pos > 0 && d->inflight_first >= 0 && d->inflight_first < cov)
                cov = d->inflight_first;
        }
    return cov;
}

/* Commits the coverage of the locked partitions to the group (async unless sync). */
static void commit_coverage(compactor_t *c, bool sync)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(c->nparts);
    for (int32_t i = 0; i < c->nparts; i++) {
        cpart_t *p = &c->parts[i];
        if (!p->owned || !p->locked)
            continue;
        int64_t cov = coverage(c, i);
        if (cov != p->committed && cov >= 0) {
            rd_kafka_topic_partition_list_add(l, c->topic_updates, i)->offset = cov;
            p->committed = cov;
        }
    }
    if (l->cnt) {
        rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, l, sync ? 0 : 1);
        if (e)
            QLOG_WARN("could not commit the coverage", "err=\"%s\"", rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(l);
    c->last_commit_ms = mono_ms();
}

static void unlock_partition(compactor_t *c, int32_t part)
{
    cpart_t *p = &c->parts[part];
    if (p->locked && pg_ok(c)) {
        char kb[16], pb[16];
        snprintf(kb, sizeof kb, "%d", c->lock_class);
        snprintf(pb, sizeof pb, "%d", part);
        const char *v[] = {kb, pb};
        PGresult *r = pq(c, "SELECT pg_advisory_unlock($1::int4, $2::int4)", 2, v, NULL, NULL, 0);
        PQclear(r);
    }
    p->locked = false;
}

/* Forgets what was followed in the partition and moves the consumer back to its committed
 * coverage, paused until the partition is locked again. */
static void reset_partition(compactor_t *c, int32_t part)
{
    cpart_t *p = &c->parts[part];
    docs_drop(c, part);
    p->blocked = NULL;
    p->locked = false;
    p->start = p->committed >= 0 ? p->committed : 0;
    p->pos = p->start;
    rd_kafka_topic_partition_list_t *l = one_partition(c, part);
    l->elems[0].offset = p->start;
    rd_kafka_pause_partitions(c->rk, l);
    rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, 5000);
    if (e) {
        QLOG_WARN("could not seek", "partition=%d err=\"%s\"", part, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Takes the advisory locks of owned partitions not yet locked, then resumes them. */
static void lock_partitions(compactor_t *c)
{
    int64_t now = mono_ms();
    for (int32_t i = 0; i < c->nparts && !c->pg_lost; i++) {
        cpart_t *p = &c->parts[i];
        if (!p->owned || p->locked || now < p->lock_retry_ms)
            continue;
        char kb[16], pb[16];
        snprintf(kb, sizeof kb, "%d", c->lock_class);
        snprintf(pb, sizeof pb, "%d", i);
        const char *v[] = {kb, pb};
        PGresult *r = pq(c, "SELECT pg_try_advisory_lock($1::int4, $2::int4)", 2, v, NULL, NULL, 0);
        if (!r)
            return;
        bool got = PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (!got) {
            /* the previous owner still works on it (or has not noticed yet) */
            QLOG_INFO("partition locked by another compactor, waiting", "partition=%d", i);
            p->lock_retry_ms = now + 1000;
            continue;
        }
        p->locked = true;
        if (republish(c, i) != QUIRE_OK) {
            unlock_partition(c, i);
            p->lock_retry_ms = now + c->conf.retry_ms;
            return;
        }
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(c->rk, c->topic_updates, i, &lo, &hi, 10000))
            hi = INT64_MAX; /* unknown: until_idle will not stop on this partition's account */
        p->end = hi;
        rd_kafka_topic_partition_list_t *l = one_partition(c, i);
        rd_kafka_resume_partitions(c->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        QLOG_INFO("partition taken", "partition=%d from=%lld end=%lld", i, (long long)p->start,
                  (long long)hi);
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    compactor_t *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_resp_err_t e = rd_kafka_committed(rk, parts, 10000);
        if (e)
            QLOG_WARN("could not read the committed coverage", "err=\"%s\"", rd_kafka_err2str(e));
        for (int i = 0; i < parts->cnt; i++) {
            rd_kafka_topic_partition_t *tp = &parts->elems[i];
            if (tp->partition < 0 || tp->partition >= c->nparts)
                continue;
            cpart_t *p = &c->parts[tp->partition];
            int64_t start = !e && tp->offset >= 0 ? tp->offset : 0;
            tp->offset = start;
            *p = (cpart_t){.owned = true, .start = start, .pos = start, .committed = start};
        }
        rd_kafka_assign(rk, parts);
        rd_kafka_pause_partitions(rk, parts); /* until locked */
        atomic_store(&c->ready, true);
    } else {
        rd_kafka_flush(c->prod, 10000);
        process_done(c);
        commit_coverage(c, true);
        for (int i = 0; i < parts->cnt; i++) {
            int32_t part = parts->elems[i].partition;
            if (part < 0 || part >= c->nparts)
                continue;
            unlock_partition(c, part);
            docs_drop(c, part);
            c->parts[part] = (cpart_t){0};
        }
        rd_kafka_assign(rk, NULL);
        atomic_store(&c->ready, false);
    }
}

/* ---------------------------------------------------------------- following the log */

/*
 * The time rules (QUIET, AGE) run on the log's clock: the broker time (LogAppendTime) of the
 * latest event consumed in the partition, plus the time since it was consumed. While events keep
 * coming — a compactor catching up, however fast or slow it reads — this is the log's own time,
 * so the quiet periods are those that were in the log; once it is read to its end, the wall clock
 * (broker times are append times). *ret_moving: an event was consumed in the last 100 ms (the
 * clock jumps as the log is read).
 */
static int64_t part_now(compactor_t *c, int32_t part, bool *ret_moving)
{
    cpart_t *p = &c->parts[part];
    int64_t since = mono_ms() - p->consumed_mono;
    *ret_moving = since < 100;
    int64_t t = p->clock_ms ? p->clock_ms + since : wall_ms();
    /* Read to the end (nothing consumed for a while, not paused, at the high watermark): the
     * broker times are the real ones, so the wall clock tells how long the log has been quiet. */
    int64_t lo = 0, hi = -1;
    if (since >= 100 && !p->blocked &&
        rd_kafka_get_watermark_offsets(c->rk, c->topic_updates, part, &lo, &hi) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        hi >= 0 && p->pos >= hi && wall_ms() > t)
        t = wall_ms();
    return t;
}

/* A time on the partition's clock as a monotonic wake-up time. */
static int64_t wake_at(int64_t when, int64_t now_log, bool behind, int64_t mono)
{
    if (when == INT64_MAX)
        return INT64_MAX;
    if (behind)
        return mono + 100; /* the log's clock moves as it is read: look again soon */
    return mono + (when > now_log ? when - now_log : 0);
}

static quire_err_t on_message(compactor_t *c, const rd_kafka_message_t *m)
{
    if (m->partition < 0 || m->partition >= c->nparts)
        return QUIRE_OK;
    cpart_t *p = &c->parts[m->partition];
    if (!p->owned || !p->locked || m->offset < p->pos)
        return QUIRE_OK; /* not ours, or redelivered below where we are */
    p->pos = m->offset + 1;
    event_codec_event_t ev;
    if (event_codec_decode(c->codec, m->payload, m->len, &ev) != QUIRE_OK || !m->key ||
        m->key_len != ev.doc_id_len || memcmp(m->key, ev.doc_id, m->key_len) != 0)
        return QUIRE_OK; /* poison: quarantined by the projector, never in a snapshot */
    stat_add(c, ST_EVENTS, 1);
    stat_add(c, ST_EVENT_BYTES, (int64_t)ev.update_len);
    quire_metric_add(c->m_events, 1);
    quire_err_t err;
    cdoc_t *d = doc_get(c, ev.doc_id, ev.doc_id_len, m->partition, &err);
    if (!d)
        return err;
    if (m->offset < d->snap_position || d->deleted || d->broken)
        return QUIRE_OK; /* already in a snapshot, or nothing more to do */
    int64_t now = mono_ms();
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    if (ts < 0)
        ts = wall_ms();
    if (ts > p->clock_ms)
        p->clock_ms = ts;
    p->consumed_mono = now;
    if (d->events_since == 0) {
        d->first_pending_off = m->offset;
        d->first_pending_ms = ts;
    }
    d->events_since++;
    d->bytes_since += (int64_t)ev.update_len;
    d->event_bytes += (int64_t)ev.update_len;
    d->last_off = m->offset;
    d->last_event_ms = ts;
    bool behind;
    int64_t now_log = part_now(c, m->partition, &behind);
    compactor_doc_stats_t s = {.bytes_since = d->bytes_since,
                               .events_since = d->events_since,
                               .state_bytes = d->state_bytes,
                               .snapshot_bytes = d->snapshot_bytes,
                               .event_bytes = d->event_bytes,
                               .last_event_ms = d->last_event_ms,
                               .first_pending_ms = d->first_pending_ms,
                               .has_snapshot = d->has_snapshot};
    int64_t next;
    compactor_reason_t why = compactor_policy_decide(&c->conf.policy, &s, now_log, &next);
    next = wake_at(why ? now_log : next, now_log, behind, now);
    if (why == COMPACTOR_BYTES && now >= d->retry_at_ms) {
        err = snapshot_doc(c, d, why);
        if (!err && d->events_since > 0 && !d->broken && d->retry_at_ms > now) {
            p->blocked = d;
            rd_kafka_topic_partition_list_t *l = one_partition(c, m->partition);
            rd_kafka_pause_partitions(c->rk, l);
            rd_kafka_topic_partition_list_destroy(l);
        }
        return err;
    }
    if (next < c->next_check_ms)
        c->next_check_ms = next;
    return QUIRE_OK;
}

/* Retries the snapshots that paused their partitions; resumes those that are done. */
static void unblock_partitions(compactor_t *c)
{
    int64_t now = mono_ms();
    for (int32_t i = 0; i < c->nparts && !c->pg_lost; i++) {
        cdoc_t *d = c->parts[i].blocked;
        if (!d)
            continue;
        if (d->events_since > 0 && !d->broken && !d->deleted) {
            if (now < d->retry_at_ms)
                continue;
            if (snapshot_doc(c, d, COMPACTOR_BYTES) != QUIRE_OK ||
                (d->events_since > 0 && !d->broken && d->retry_at_ms > now))
                continue;
        }
        c->parts[i].blocked = NULL;
        rd_kafka_topic_partition_list_t *l = one_partition(c, i);
        rd_kafka_resume_partitions(c->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
    }
}

/* Snapshots every document a time rule (or a retry) makes due; recomputes the next check. */
static quire_err_t check_due(compactor_t *c, bool *ret_busy)
{
    int64_t now = mono_ms(), next = INT64_MAX;
    bool busy = false;
    quire_err_t err = QUIRE_OK;
    int64_t *clock = calloc((size_t)c->nparts, sizeof *clock);
    bool *behind = calloc((size_t)c->nparts, sizeof *behind);
    if (!clock || !behind) {
        free(clock);
        free(behind);
        *ret_busy = true;
        c->next_check_ms = now + 100;
        return QUIRE_ERR_NOMEM;
    }
    for (int32_t i = 0; i < c->nparts; i++)
        if (c->parts[i].locked)
            clock[i] = part_now(c, i, &behind[i]);
    for (size_t i = 0; i < c->tabcap && !err; i++)
        for (cdoc_t *d = c->tab[i]; d && !err; d = d->next) {
            if (d->events_since == 0 || d->broken || d->deleted || !c->parts[d->part].locked)
                continue;
            if (d->inflight_pos > 0)
                busy = true; /* not covered until confirmed; a newer snapshot may follow */
            compactor_doc_stats_t s = {.bytes_since = d->bytes_since,
                                       .events_since = d->events_since,
                                       .state_bytes = d->state_bytes,
                                       .snapshot_bytes = d->snapshot_bytes,
                                       .event_bytes = d->event_bytes,
                                       .last_event_ms = d->last_event_ms,
                                       .first_pending_ms = d->first_pending_ms,
                                       .has_snapshot = d->has_snapshot};
            int64_t when;
            compactor_reason_t why =
                compactor_policy_decide(&c->conf.policy, &s, clock[d->part], &when);
            when = wake_at(when, clock[d->part], behind[d->part], now);
            if (why && now < d->retry_at_ms) {
                when = d->retry_at_ms;
                why = COMPACTOR_NOT_YET;
            }
            if (why) {
                err = snapshot_doc(c, d, why);
                if (d->events_since > 0 && d->retry_at_ms > now)
                    when = d->retry_at_ms;
                else
                    when = INT64_MAX;
            }
            if (when != INT64_MAX && when - now <= IDLE_HORIZON_MS)
                busy = true; /* due soon; later ones (AGE, long quiet periods) are not waited for */
            if (when < next)
                next = when;
        }
    free(clock);
    free(behind);
    c->next_check_ms = next;
    *ret_busy = busy;
    return err;
}

/* until_idle: every partition of the topic locked and read to its end as of locking. */
static bool caught_up(compactor_t *c)
{
    for (int32_t i = 0; i < c->nparts; i++) {
        cpart_t *p = &c->parts[i];
        if (!p->owned || !p->locked || p->pos < p->end)
            return false;
    }
    return true;
}

static void recover_pg(compactor_t *c)
{
    QLOG_WARN("lost the postgresql session: its locks are gone, starting the partitions over");
    for (int32_t i = 0; i < c->nparts; i++)
        if (c->parts[i].owned)
            reset_partition(c, i);
    c->inflight = 0;
    if (pg_connect(c) == QUIRE_OK)
        c->pg_lost = false;
}

quire_err_t compactor_run(compactor_t *c, volatile sig_atomic_t *stop)
{
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, c->topic_updates, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(c->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (se) {
        QLOG_ERROR("cannot subscribe", "topic=%s err=\"%s\"", c->topic_updates,
                   rd_kafka_err2str(se));
        return QUIRE_ERR_KAFKA;
    }
    quire_err_t rc = QUIRE_OK;
    int64_t idle_since = -1;
    while (!*stop) {
        if (c->pg_lost || !pg_ok(c)) {
            recover_pg(c);
            if (c->pg_lost || !pg_ok(c)) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, (int)c->conf.retry_ms);
                if (m)
                    rd_kafka_message_destroy(m); /* paused partitions: only rebalances */
                continue;
            }
        }
        lock_partitions(c);
        for (int32_t i = 0; i < c->nparts && !c->pg_lost; i++)
            if (c->parts[i].owned && c->parts[i].locked && c->parts[i].republish &&
                mono_ms() >= c->parts[i].lock_retry_ms)
                republish(c, i);
        int64_t now = mono_ms();
        int timeout = 1000;
        if (c->next_check_ms != INT64_MAX) {
            int64_t t = c->next_check_ms - now;
            timeout = t < 0 ? 0 : (t < 1000 ? (int)t : 1000);
        }
        if (c->inflight && timeout > 100)
            timeout = 100;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout);
        if (m) {
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    QLOG_WARN("consumer error", "err=\"%s\"", rd_kafka_message_errstr(m));
            } else if (on_message(c, m) == QUIRE_ERR_NOMEM) {
                rd_kafka_message_destroy(m);
                rc = QUIRE_ERR_NOMEM;
                break;
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(c->prod, 0);
        process_done(c);
        unblock_partitions(c);
        bool busy = false;
        if (mono_ms() >= c->next_check_ms)
            check_due(c, &busy);
        else
            busy = c->next_check_ms - mono_ms() <= IDLE_HORIZON_MS;
        if (mono_ms() - c->last_commit_ms >= 1000)
            commit_coverage(c, false);
        if (c->conf.until_idle) {
            bool idle = !m && !busy && c->inflight == 0 && caught_up(c);
            if (!idle)
                idle_since = -1;
            else if (idle_since < 0)
                idle_since = mono_ms();
            else if (mono_ms() - idle_since > 500)
                break;
        }
    }
    rd_kafka_flush(c->prod, 10000);
    process_done(c);
    commit_coverage(c, true);
    return rc;
}

/* ---------------------------------------------------------------- lifecycle */

compactor_t *compactor_new(const compactor_conf_t *conf, char *errbuf, size_t errlen)
{
    compactor_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    c->conf = *conf;
    c->brokers = strdup(conf->brokers);
    c->topic_updates = strdup(conf->topic_updates);
    c->topic_snapshots = strdup(conf->topic_snapshots);
    c->pg_conninfo = strdup(conf->pg);
    c->group = strdup(conf->group_id);
    c->next_check_ms = INT64_MAX;
    if (c->conf.retry_ms <= 0)
        c->conf.retry_ms = 200;
    if (!c->conf.max_state_bytes || c->conf.max_state_bytes > SNAPSHOT_CODEC_DEFAULT_MAX_STATE)
        c->conf.max_state_bytes = SNAPSHOT_CODEC_DEFAULT_MAX_STATE;
    /* One lock space per (topic, group): the compactors of one group exclude each other. */
    char lk[600];
    int lkn = snprintf(lk, sizeof lk, "compactor:%s:%s", conf->topic_updates, conf->group_id);
    c->lock_class = (int32_t)(quire_murmur2(lk, lkn > 0 ? (size_t)lkn : 0) & 0x7fffffff);
    if (!c->brokers || !c->topic_updates || !c->topic_snapshots || !c->pg_conninfo || !c->group) {
        snprintf(errbuf, errlen, "out of memory");
        compactor_destroy(c);
        return NULL;
    }
    snapshot_codec_opts_t so = {.max_state_bytes = c->conf.max_state_bytes};
    if (event_codec_new(NULL, &c->codec, errbuf, errlen) ||
        snapshot_codec_new(&so, &c->scodec, errbuf, errlen)) {
        compactor_destroy(c);
        return NULL;
    }
    rd_kafka_conf_t *pc = quire_kafka_producer_conf(c->brokers, "5", errbuf, errlen);
    char mmb[24];
    snprintf(mmb, sizeof mmb, "%zu", snapshot_codec_max_message(c->scodec) + 4096);
    if (!pc || quire_kafka_conf_set(pc, "message.max.bytes", mmb, errbuf, errlen)) {
        if (pc)
            rd_kafka_conf_destroy(pc);
        compactor_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_opaque(pc, c);
    rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);
    c->prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errbuf, errlen);
    if (!c->prod) {
        rd_kafka_conf_destroy(pc);
        compactor_destroy(c);
        return NULL;
    }
    rd_kafka_conf_t *kc = quire_kafka_consumer_conf(c->brokers, c->group, errbuf, errlen);
    char st[24];
    snprintf(st, sizeof st, "%d", conf->session_timeout_ms > 0 ? conf->session_timeout_ms : 10000);
    if (!kc || quire_kafka_conf_set(kc, "session.timeout.ms", st, errbuf, errlen) ||
        quire_kafka_conf_set(kc, "enable.partition.eof", "false", errbuf, errlen)) {
        if (kc)
            rd_kafka_conf_destroy(kc);
        compactor_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_opaque(kc, c);
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errbuf, errlen);
    if (!c->rk) {
        rd_kafka_conf_destroy(kc);
        compactor_destroy(c);
        return NULL;
    }
    rd_kafka_poll_set_consumer(c->rk);
    c->nparts = quire_kafka_partition_count(c->rk, c->topic_updates, 15000, errbuf, errlen);
    if (c->nparts <= 0 || !(c->parts = calloc((size_t)c->nparts, sizeof *c->parts))) {
        compactor_destroy(c);
        return NULL;
    }
    if (pg_connect(c) != QUIRE_OK) {
        snprintf(errbuf, errlen, "cannot connect to postgresql");
        compactor_destroy(c);
        return NULL;
    }
    if (conf->metrics) {
        quire_metrics_t *mt = conf->metrics;
        c->m_snapshots =
            quire_metrics_add(mt, QUIRE_METRIC_COUNTER, "quire_compactor_snapshots_total", NULL,
                              "snapshots written to the history table");
        c->m_bytes =
            quire_metrics_add(mt, QUIRE_METRIC_COUNTER, "quire_compactor_snapshot_bytes_total",
                              NULL, "state bytes written as snapshots");
        c->m_events = quire_metrics_add(mt, QUIRE_METRIC_COUNTER, "quire_compactor_events_total",
                                        NULL, "events followed");
        c->m_deferred =
            quire_metrics_add(mt, QUIRE_METRIC_COUNTER, "quire_compactor_deferred_total", NULL,
                              "snapshots postponed until the projector indexed them");
        c->m_published =
            quire_metrics_add(mt, QUIRE_METRIC_COUNTER, "quire_compactor_published_total", NULL,
                              "snapshots confirmed on the snapshot topic");
    }
    return c;
}

void compactor_destroy(compactor_t *c)
{
    if (!c)
        return;
    if (c->rk) {
        rd_kafka_consumer_close(c->rk); /* revokes: flushes, commits, unlocks */
        rd_kafka_destroy(c->rk);
    }
    if (c->prod) {
        rd_kafka_flush(c->prod, 10000);
        rd_kafka_destroy(c->prod);
    }
    for (size_t i = 0; i < c->ndone; i++)
        free(c->done[i].pub);
    free(c->done);
    docs_drop(c, -1);
    free(c->tab);
    free(c->parts);
    if (c->pg)
        PQfinish(c->pg); /* ends the session: any advisory lock left goes with it */
    event_codec_destroy(c->codec);
    snapshot_codec_destroy(c->scodec);
    free(c->brokers);
    free(c->topic_updates);
    free(c->topic_snapshots);
    free(c->pg_conninfo);
    free(c->group);
    free(c);
}

bool compactor_ready(void *opaque, char *buf, size_t len)
{
    compactor_t *c = opaque;
    if (!atomic_load(&c->ready)) {
        snprintf(buf, len, "no partitions assigned yet");
        return false;
    }
    return true;
}

void compactor_stats(compactor_t *c, compactor_stats_t *ret)
{
    ret->events = atomic_load(&c->st[ST_EVENTS]);
    ret->snapshots = atomic_load(&c->st[ST_SNAPSHOTS]);
    ret->published = atomic_load(&c->st[ST_PUBLISHED]);
    ret->snapshot_bytes = atomic_load(&c->st[ST_SNAP_BYTES]);
    ret->event_bytes = atomic_load(&c->st[ST_EVENT_BYTES]);
    ret->deferred = atomic_load(&c->st[ST_DEFERRED]);
    for (int i = 0; i < 4; i++)
        ret->by_reason[i] = atomic_load(&c->st[ST_R0 + i]);
    ret->republished = atomic_load(&c->st[ST_REPUBLISHED]);
}
