/*
 * projector — see the header for the transaction of a batch and the fence.
 *
 * DESIGN of the in-memory side:
 *   - pdoc: a cached document: its merged state as of its last row write plus the raw updates
 *     applied since (merged when the row is written), and its counters. A cached pdoc always
 *     covers its partition up to part[p].next. Anything that may break this (a rolled-back batch,
 *     a fence loss, a revoke) drops every pdoc of the partition; the next batch reloads them from
 *     PostgreSQL (row + indexed tail), inside its own fenced transaction.
 *   - dirty: applied events not yet in the documents row. Their events are in doc_events already,
 *     so a reader merges them from there; the row is rewritten when the document is new or
 *     changed lifecycle (at once), else when flush_interval passed since its last write.
 *   - Flush-only transactions (no new events) run when a deferred write falls due; they are
 *     fenced like batches and position rows at part[p].next.
 */
#include "projector.h"

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "doc_content.h"
#include "event_codec.h"
#include "pgval.h"
#include "quarantine.h"
#include "quire_kafka.h"
#include "quire_log.h"
#include "quire_pg.h"
#include "readmodel.h"
#include "yjs_update.h"

#define NOTIFY_CHANNEL "quire_readmodel"

/* ---------------------------------------------------------------- growable text buffer */

typedef struct sbuf_s {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf_t;

static void sb_reserve(sbuf_t *b, size_t more)
{
    if (b->oom || b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *n = realloc(b->p, cap);
    if (!n) {
        b->oom = true;
        return;
    }
    b->p = n;
    b->cap = cap;
}
static void sb_put(sbuf_t *b, const void *s, size_t n)
{
    if (n == 0)
        return;
    sb_reserve(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void sb_str(sbuf_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}
static void sb_fmt(sbuf_t *b, const char *fmt, ...) QUIRE_PRINTF(2, 3);
static void sb_fmt(sbuf_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
/* A value for COPY's text format: backslash, newline, CR and tab escaped. */
static void sb_copy_text(sbuf_t *b, const char *s, size_t n)
{
    sb_reserve(b, n * 2);
    if (b->oom)
        return;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        switch (c) {
        case '\\':
            b->p[b->len++] = '\\';
            b->p[b->len++] = '\\';
            break;
        case '\n':
            b->p[b->len++] = '\\';
            b->p[b->len++] = 'n';
            break;
        case '\r':
            b->p[b->len++] = '\\';
            b->p[b->len++] = 'r';
            break;
        case '\t':
            b->p[b->len++] = '\\';
            b->p[b->len++] = 't';
            break;
        default:
            b->p[b->len++] = c;
        }
    }
    b->p[b->len] = '\0';
}
/* A bytea for COPY's text format: \\x and hex. */
static void sb_copy_bytea(sbuf_t *b, const uint8_t *d, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_reserve(b, 3 + n * 2);
    if (b->oom)
        return;
    b->p[b->len++] = '\\';
    b->p[b->len++] = '\\';
    b->p[b->len++] = 'x';
    for (size_t i = 0; i < n; i++) {
        b->p[b->len++] = hex[d[i] >> 4];
        b->p[b->len++] = hex[d[i] & 15];
    }
    b->p[b->len] = '\0';
}
static void sb_copy_time(sbuf_t *b, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    sb_fmt(b, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* COPY's binary format (no text escaping, no hex): a header, rows of (int16 field count, then
 * per field int32 length + the type's binary form), a trailer. */
static void sb_be(sbuf_t *b, uint64_t v, int bytes)
{
    uint8_t tmp[8];
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        tmp[i] = (uint8_t)(v & 0xff);
    sb_put(b, tmp, (size_t)bytes);
}
static void sb_bin_header(sbuf_t *b)
{
    sb_put(b, "PGCOPY\n\377\r\n\0", 11);
    sb_be(b, 0, 4); /* flags */
    sb_be(b, 0, 4); /* header extension */
}
static void sb_bin_bytes(sbuf_t *b, const void *d, size_t n)
{
    sb_be(b, (uint32_t)n, 4);
    sb_put(b, d, n);
}
static void sb_bin_int(sbuf_t *b, int64_t v, int bytes)
{
    sb_be(b, (uint32_t)bytes, 4);
    sb_be(b, (uint64_t)v, bytes);
}
/* timestamptz: microseconds since 2000-01-01 00:00:00 UTC */
static void sb_bin_time(sbuf_t *b, int64_t ms)
{
    sb_bin_int(b, (ms - INT64_C(946684800000)) * 1000, 8);
}
static void sb_bin_trailer(sbuf_t *b)
{
    sb_be(b, 0xffff, 2);
}

/* ---------------------------------------------------------------- cached documents */

typedef struct pdoc_s {
    struct pdoc_s *hnext;
    char *id;
    uint32_t hash;
    int32_t partition;
    bool dirty, urgent, touched;
    bool writing;          /* written by the transaction in progress */
    int64_t next_flush_ms; /* a dirty row is due from then on (monotonic ms) */
    uint8_t *state;        /* as of the last row write (or load) */
    size_t state_len;
    uint8_t *pbuf; /* updates applied since, back to back */
    size_t plen, pcap;
    size_t *poffs; /* npend + 1 entries */
    size_t npend, poffcap;
    int64_t version, event_count, event_bytes, created_ms, updated_ms;
    char *owner;
    readmodel_lifecycle_t lifecycle;
} pdoc_t;

typedef struct part_s {
    bool assigned;
    int64_t next;        /* -1: unknown (read it from PostgreSQL) */
    int64_t end;         /* until_end: the high watermark as of start */
    int64_t gap_checked; /* a batch may start past `next` only after a fresh fetch from it */
} part_t;

struct projector_s {
    projector_conf_t conf;
    char *brokers, *topic, *pgconn, *group;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    PGconn *pg;
    bool pg_down_logged;
    quarantine_checker_t *qc;
    int32_t nparts;
    part_t *parts;
    pdoc_t **htab;
    size_t hsize, ndocs;
    bool rebalanced;  /* set by the rebalance callback: drop what was gathered */
    bool need_resync; /* re-read offsets from PostgreSQL and seek */
    /* Offsets are committed to Kafka too, only so lag shows in Kafka's tooling: at most once a
     * second (a commit per batch queues heartbeats behind commits and costs the session). */
    bool kafka_commit_pending;
    int64_t kafka_committed_ms;
    volatile sig_atomic_t *stop;
    quire_err_t fatal;
    atomic_bool ready;
    /* stats */
    atomic_llong n_events, n_dups, n_quarantined, n_skipped, n_batches, n_fence;
    quire_metric_t *m_events, *m_dups, *m_quar, *m_skipped, *m_batches, *m_fence, *m_lag,
        *m_batch_s, *m_flushes;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static void pdoc_free(pdoc_t *d)
{
    if (!d)
        return;
    free(d->id);
    free(d->state);
    free(d->pbuf);
    free(d->poffs);
    free(d->owner);
    free(d);
}

static pdoc_t *cache_find(projector_t *p, const char *id, size_t n)
{
    uint32_t h = hash_str(id, n);
    for (pdoc_t *d = p->htab[h & (p->hsize - 1)]; d; d = d->hnext)
        if (d->hash == h && strlen(d->id) == n && memcmp(d->id, id, n) == 0)
            return d;
    return NULL;
}

static quire_err_t cache_grow(projector_t *p)
{
    size_t ns = p->hsize * 2;
    pdoc_t **nt = calloc(ns, sizeof *nt);
    if (!nt)
        return QUIRE_ERR_NOMEM;
    for (size_t i = 0; i < p->hsize; i++) {
        for (pdoc_t *d = p->htab[i], *nx; d; d = nx) {
            nx = d->hnext;
            d->hnext = nt[d->hash & (ns - 1)];
            nt[d->hash & (ns - 1)] = d;
        }
    }
    free(p->htab);
    p->htab = nt;
    p->hsize = ns;
    return QUIRE_OK;
}

static void cache_insert(projector_t *p, pdoc_t *d)
{
    if (p->ndocs + 1 > p->hsize && cache_grow(p) != QUIRE_OK) {
        /* keep the longer chains: correct, only slower */
    }
    d->hnext = p->htab[d->hash & (p->hsize - 1)];
    p->htab[d->hash & (p->hsize - 1)] = d;
    p->ndocs++;
}

/* Drops the cached documents of one partition (all when partition < 0). */
static void cache_drop(projector_t *p, int32_t partition)
{
    for (size_t i = 0; i < p->hsize; i++) {
        pdoc_t **pp = &p->htab[i];
        while (*pp) {
            pdoc_t *d = *pp;
            if (partition < 0 || d->partition == partition) {
                *pp = d->hnext;
                pdoc_free(d);
                p->ndocs--;
            } else {
                pp = &d->hnext;
            }
        }
    }
}

/* Evicts clean documents not touched by the current batch while over the cap. */
static void cache_trim(projector_t *p)
{
    if (p->ndocs <= p->conf.max_cached_docs)
        return;
    for (size_t i = 0; i < p->hsize && p->ndocs > p->conf.max_cached_docs / 2; i++) {
        pdoc_t **pp = &p->htab[i];
        while (*pp) {
            pdoc_t *d = *pp;
            if (!d->dirty && !d->touched) {
                *pp = d->hnext;
                pdoc_free(d);
                p->ndocs--;
            } else {
                pp = &d->hnext;
            }
        }
    }
}

static quire_err_t pdoc_append(pdoc_t *d, const uint8_t *u, size_t n)
{
    if (d->plen + n > d->pcap) {
        size_t cap = d->pcap ? d->pcap : 1024;
        while (cap < d->plen + n)
            cap *= 2;
        uint8_t *nb = realloc(d->pbuf, cap);
        if (!nb)
            return QUIRE_ERR_NOMEM;
        d->pbuf = nb;
        d->pcap = cap;
    }
    if (d->npend + 2 > d->poffcap) {
        size_t cap = d->poffcap ? d->poffcap * 2 : 16;
        size_t *no = realloc(d->poffs, cap * sizeof *no);
        if (!no)
            return QUIRE_ERR_NOMEM;
        d->poffs = no;
        d->poffcap = cap;
    }
    if (d->npend == 0)
        d->poffs[0] = 0;
    memcpy(d->pbuf + d->plen, u, n);
    d->plen += n;
    d->npend++;
    d->poffs[d->npend] = d->plen;
    return QUIRE_OK;
}

/* Folds the pending updates into state. */
static quire_err_t pdoc_fold(pdoc_t *d)
{
    if (d->npend == 0 && d->state)
        return QUIRE_OK;
    size_t n = d->npend + 1, k = 0;
    const uint8_t **ups = malloc(n * sizeof *ups);
    size_t *lens = malloc(n * sizeof *lens);
    if (!ups || !lens) {
        free(ups);
        free(lens);
        return QUIRE_ERR_NOMEM;
    }
    if (d->state && d->state_len) {
        ups[k] = d->state;
        lens[k++] = d->state_len;
    }
    for (size_t i = 0; i < d->npend; i++) {
        ups[k] = d->pbuf + d->poffs[i];
        lens[k++] = d->poffs[i + 1] - d->poffs[i];
    }
    uint8_t *out;
    size_t outlen;
    yjs_error_t e;
    quire_err_t err = yjs_update_merge(ups, lens, k, NULL, YJS_DECODE_SKIM, &out, &outlen, &e);
    free(ups);
    free(lens);
    if (err)
        return err;
    free(d->state);
    d->state = out;
    d->state_len = outlen;
    d->plen = 0;
    d->npend = 0;
    return QUIRE_OK;
}

/* ---------------------------------------------------------------- PostgreSQL */

static bool pg_ok(projector_t *p)
{
    return p->pg && PQstatus(p->pg) == CONNECTION_OK;
}

static quire_err_t pg_connect(projector_t *p)
{
    if (pg_ok(p))
        return QUIRE_OK;
    if (p->pg)
        PQfinish(p->pg);
    char err[512];
    p->pg = quire_pg_connect(p->pgconn, "quire-projector", err, sizeof err);
    if (!p->pg) {
        if (!p->pg_down_logged)
            QLOG_WARN("could not connect to postgresql; waiting", "err=\"%s\"", err);
        p->pg_down_logged = true;
        return QUIRE_ERR_PG;
    }
    if (quire_pg_exec(p->pg,
                      "CREATE TEMP TABLE IF NOT EXISTS pj_docs (doc_id text, lifecycle text, "
                      "partition int4, version int8, position int8, ydoc bytea, content jsonb, "
                      "event_count int8, event_bytes int8, owner text, created_at timestamptz, "
                      "updated_at timestamptz, engine text) ON COMMIT DELETE ROWS; "
                      "CREATE TEMP TABLE IF NOT EXISTS pj_events (doc_id text, partition int4, "
                      "\"offset\" int8, event_id bytea, kind int2, broker_time timestamptz, "
                      "actor text, origin text, size int4, \"update\" bytea) ON COMMIT DELETE "
                      "ROWS",
                      err, sizeof err) != QUIRE_OK) {
        QLOG_WARN("could not prepare the projector session", "err=\"%s\"", err);
        PQfinish(p->pg);
        p->pg = NULL;
        return QUIRE_ERR_PG;
    }
    if (!p->conf.synchronous_commit &&
        quire_pg_exec(p->pg, "SET synchronous_commit = off", err, sizeof err) != QUIRE_OK) {
        PQfinish(p->pg);
        p->pg = NULL;
        return QUIRE_ERR_PG;
    }
    if (p->pg_down_logged)
        QLOG_INFO("connected to postgresql again");
    p->pg_down_logged = false;
    return QUIRE_OK;
}

/* Waits (backing off) until PostgreSQL answers or stop is set. */
static quire_err_t pg_wait(projector_t *p)
{
    int backoff = 50;
    while (pg_connect(p) != QUIRE_OK) {
        atomic_store(&p->ready, false);
        if (p->stop && *p->stop)
            return QUIRE_ERR_SHUTDOWN;
        usleep((useconds_t)backoff * 1000);
        backoff = backoff < 1000 ? backoff * 2 : 1000;
    }
    return QUIRE_OK;
}

static PGresult *pq(projector_t *p, const char *sql, int n, const char *const *params, int fmt)
{
    PGresult *r = PQexecParams(p->pg, sql, n, NULL, params, NULL, NULL, fmt);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        QLOG_WARN("projector statement failed", "err=\"%s\"", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

static bool pq_exec(projector_t *p, const char *sql)
{
    PGresult *r = pq(p, sql, 0, NULL, 0);
    PQclear(r);
    return r != NULL;
}

/* COPY … FROM STDIN of data. *ret_sqlstate (may be NULL) gets the SQLSTATE of a failure. */
static bool pq_copy_state(projector_t *p, const char *sql, const sbuf_t *data, bool quiet,
                          char ret_sqlstate[6])
{
    if (ret_sqlstate)
        ret_sqlstate[0] = '\0';
    PGresult *r = PQexec(p->pg, sql);
    bool ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!ok)
        return false;
    ok = PQputCopyData(p->pg, data->p, (int)data->len) == 1;
    ok = PQputCopyEnd(p->pg, ok ? NULL : "aborted") == 1 && ok;
    while ((r = PQgetResult(p->pg)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (ret_sqlstate && st)
                snprintf(ret_sqlstate, 6, "%s", st);
            if (!quiet)
                QLOG_WARN("projector copy failed", "err=\"%s\"", PQresultErrorMessage(r));
            ok = false;
        }
        PQclear(r);
    }
    return ok;
}

static bool pq_copy(projector_t *p, const char *sql, const sbuf_t *data)
{
    return pq_copy_state(p, sql, data, false, NULL);
}

/* Reads the stored next offsets of the assigned partitions (creating rows at 0) into part[]. */
static quire_err_t load_offsets(projector_t *p)
{
    char np[16];
    snprintf(np, sizeof np, "%d", p->nparts);
    const char *params[] = {p->topic, np};
    PGresult *r =
        pq(p,
           "INSERT INTO projector_offsets (topic, partition, next_offset) SELECT $1, g, 0 "
           "FROM generate_series(0, $2::int4 - 1) g ON CONFLICT DO NOTHING",
           2, params, 0);
    PQclear(r);
    if (!r)
        return QUIRE_ERR_PG;
    r = pq(p, "SELECT partition, next_offset FROM projector_offsets WHERE topic = $1", 1, params,
           1);
    if (!r)
        return QUIRE_ERR_PG;
    for (int i = 0; i < PQntuples(r); i++) {
        int32_t part = pgval_i32(r, i, 0);
        if (part >= 0 && part < p->nparts)
            p->parts[part].next = pgval_i64(r, i, 1);
    }
    PQclear(r);
    return QUIRE_OK;
}

/* Loads the given uncached documents (row + indexed tail) inside the current transaction, whose
 * lock on the partition's offset row keeps every other writer out. */
static quire_err_t load_docs(projector_t *p, int32_t partition, char **ids, size_t n)
{
    if (n == 0)
        return QUIRE_OK;
    sbuf_t arr = {0};
    sb_str(&arr, "{");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_str(&arr, ",");
        sb_str(&arr, ids[i]); /* [A-Za-z0-9._~-]: nothing to quote */
    }
    sb_str(&arr, "}");
    if (arr.oom) {
        free(arr.p);
        return QUIRE_ERR_NOMEM;
    }
    const char *params[] = {arr.p};
    PGresult *rows = pq(p,
                        "SELECT doc_id, version, position, (lifecycle = 'deleted'), ydoc, "
                        "event_count, event_bytes, owner, (extract(epoch FROM created_at) * "
                        "1000)::int8, (extract(epoch FROM updated_at) * 1000)::int8 FROM documents "
                        "WHERE doc_id = ANY ($1::text[])",
                        1, params, 1);
    PGresult *tail = rows ? pq(p,
                               "SELECT e.doc_id, e.\"offset\", e.kind, e.\"update\", "
                               "(extract(epoch FROM e.broker_time) * 1000)::int8, e.actor, "
                               "e.size::int8 FROM doc_events e LEFT JOIN documents d ON d.doc_id = "
                               "e.doc_id WHERE e.doc_id = ANY ($1::text[]) AND e.\"offset\" >= "
                               "COALESCE(d.position, 0) ORDER BY e.doc_id, e.\"offset\"",
                               1, params, 1)
                          : NULL;
    free(arr.p);
    if (!rows || !tail) {
        PQclear(rows);
        return QUIRE_ERR_PG;
    }
    quire_err_t err = QUIRE_OK;
    for (size_t i = 0; i < n && !err; i++) {
        pdoc_t *d = calloc(1, sizeof *d);
        if (!d || !(d->id = strdup(ids[i]))) {
            free(d);
            err = QUIRE_ERR_NOMEM;
            break;
        }
        d->hash = hash_str(d->id, strlen(d->id));
        d->partition = partition;
        d->version = -1;
        for (int r = 0; r < PQntuples(rows); r++) {
            if (strcmp(PQgetvalue(rows, r, 0), ids[i]) != 0)
                continue;
            d->version = pgval_i64(rows, r, 1);
            d->lifecycle = pgval_bool(rows, r, 3) ? READMODEL_DELETED : READMODEL_ACTIVE;
            d->state_len = (size_t)PQgetlength(rows, r, 4);
            d->state = malloc(d->state_len ? d->state_len : 1);
            if (!d->state)
                err = QUIRE_ERR_NOMEM;
            else
                memcpy(d->state, PQgetvalue(rows, r, 4), d->state_len);
            d->event_count = pgval_i64(rows, r, 5);
            d->event_bytes = pgval_i64(rows, r, 6);
            d->owner = pgval_dup(rows, r, 7, NULL);
            d->created_ms = pgval_i64(rows, r, 8);
            d->updated_ms = pgval_i64(rows, r, 9);
        }
        for (int r = 0; r < PQntuples(tail) && !err; r++) {
            if (strcmp(PQgetvalue(tail, r, 0), ids[i]) != 0)
                continue;
            if (d->version < 0 && !d->owner) {
                d->created_ms = pgval_i64(tail, r, 4);
                d->owner = pgval_dup(tail, r, 5, NULL);
            }
            d->version = pgval_i64(tail, r, 1);
            d->updated_ms = pgval_i64(tail, r, 4);
            d->event_count++;
            d->event_bytes += pgval_i64(tail, r, 6);
            if (pgval_i16(tail, r, 2) == EVENT_CODEC_KIND_DELETE)
                d->lifecycle = READMODEL_DELETED;
            if (PQgetlength(tail, r, 3) > 0)
                err = pdoc_append(d, (const uint8_t *)PQgetvalue(tail, r, 3),
                                  (size_t)PQgetlength(tail, r, 3));
            d->dirty = true; /* the row lags its tail: rewrite it when due */
        }
        if (err) {
            pdoc_free(d);
            break;
        }
        d->next_flush_ms = mono_ms() + p->conf.flush_interval_ms;
        cache_insert(p, d);
    }
    PQclear(rows);
    PQclear(tail);
    return err;
}

/* ---------------------------------------------------------------- one batch */

typedef struct bevent_s {
    rd_kafka_message_t *m;
    char *doc_id;
    uint8_t event_id[EVENT_CODEC_EVENT_ID_LEN];
    int kind;
    char *actor, *origin;
    uint8_t *update_copy; /* the Yjs update, copied out of the codec */
    size_t update_len;
    int64_t broker_ms;
    char reason[300];
    bool poison, dup;
    bool candidate; /* sent to the index */
} bevent_t;

static void bevents_free(bevent_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(b[i].doc_id);
        free(b[i].actor);
        free(b[i].origin);
        free(b[i].update_copy);
    }
    free(b);
}

static int64_t msg_time(const rd_kafka_message_t *m)
{
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    return ts >= 0 ? ts : now_ms();
}

/* The messages of one partition in a transaction (offset order; n may be 0: rows only). */
typedef struct group_s {
    int32_t part;
    rd_kafka_message_t **msgs;
    size_t n;
    int64_t new_next;
} group_t;

static bool due(const projector_t *p, const pdoc_t *d, int64_t now, bool all)
{
    return d->dirty && (all || d->urgent || now >= d->next_flush_ms);
}

/* Writes the documents due (all dirty ones when `all`) of the batch's partitions, each positioned
 * at its partition's new next offset. Inside the caller's transaction. */
static quire_err_t flush_docs(projector_t *p, const group_t *g, size_t ng, bool all, size_t *ret_n)
{
    int64_t now = mono_ms();
    sbuf_t b = {0};
    size_t n = 0;
    quire_err_t err = QUIRE_OK;
    for (size_t i = 0; i < p->hsize && !err; i++) {
        for (pdoc_t *d = p->htab[i]; d && !err; d = d->hnext) {
            if (!due(p, d, now, all))
                continue;
            const group_t *gg = NULL;
            for (size_t k = 0; k < ng && !gg; k++)
                if (g[k].part == d->partition)
                    gg = &g[k];
            if (!gg)
                continue;
            err = pdoc_fold(d);
            if (err)
                break;
            d->writing = true;
            char *content = NULL;
            size_t clen = 0;
            err = doc_content_render(d->state, d->state_len, &content, &clen);
            if (err)
                break;
            sb_copy_text(&b, d->id, strlen(d->id));
            sb_str(&b, d->lifecycle == READMODEL_DELETED ? "\tdeleted\t" : "\tactive\t");
            sb_fmt(&b, "%d\t%lld\t%lld\t", d->partition, (long long)d->version,
                   (long long)gg->new_next);
            sb_copy_bytea(&b, d->state, d->state_len);
            sb_str(&b, "\t");
            sb_copy_text(&b, content, clen);
            free(content);
            sb_fmt(&b, "\t%lld\t%lld\t", (long long)d->event_count, (long long)d->event_bytes);
            if (d->owner)
                sb_copy_text(&b, d->owner, strlen(d->owner));
            else
                sb_str(&b, "\\N");
            sb_str(&b, "\t");
            sb_copy_time(&b, d->created_ms);
            sb_str(&b, "\t");
            sb_copy_time(&b, d->updated_ms);
            sb_str(&b, "\t");
            sb_str(&b, readmodel_engine_version());
            sb_str(&b, "\n");
            n++;
        }
    }
    if (!err && b.oom)
        err = QUIRE_ERR_NOMEM;
    if (!err && n) {
        if (!pq_copy(p,
                     "COPY pj_docs (doc_id, lifecycle, partition, version, position, ydoc, "
                     "content, event_count, event_bytes, owner, created_at, updated_at, engine) "
                     "FROM STDIN",
                     &b) ||
            !pq_exec(p, "INSERT INTO documents (doc_id, lifecycle, partition, version, position, "
                        "ydoc, content, event_count, event_bytes, owner, created_at, updated_at, "
                        "engine) SELECT doc_id, lifecycle, partition, version, position, ydoc, "
                        "content, event_count, event_bytes, owner, created_at, updated_at, engine "
                        "FROM pj_docs ON CONFLICT (doc_id) DO UPDATE SET lifecycle = "
                        "EXCLUDED.lifecycle, partition = EXCLUDED.partition, version = "
                        "EXCLUDED.version, position = EXCLUDED.position, ydoc = EXCLUDED.ydoc, "
                        "content = EXCLUDED.content, event_count = EXCLUDED.event_count, "
                        "event_bytes = EXCLUDED.event_bytes, owner = COALESCE(documents.owner, "
                        "EXCLUDED.owner), created_at = EXCLUDED.created_at, updated_at = "
                        "EXCLUDED.updated_at, engine = EXCLUDED.engine") ||
            !pq_exec(p, "TRUNCATE pj_docs"))
            err = QUIRE_ERR_PG;
    }
    free(b.p);
    if (!err)
        *ret_n = n;
    return err;
}

/* Marks the documents written by the committed transaction clean. Only after COMMIT. */
static void flush_done(projector_t *p)
{
    int64_t now = mono_ms();
    for (size_t i = 0; i < p->hsize; i++)
        for (pdoc_t *d = p->htab[i]; d; d = d->hnext)
            if (d->writing) {
                d->dirty = d->urgent = d->writing = false;
                /* ±20 % jitter, so rows written together do not all fall due together */
                int64_t iv = p->conf.flush_interval_ms;
                d->next_flush_ms =
                    now + iv - iv / 5 +
                    (int64_t)((d->hash ^ (uint32_t)now) % (uint32_t)(iv * 2 / 5 + 1));
            }
}

/* Rolls back and drops what the failed transaction's partitions cached; resync follows. */
static void fail_batch(projector_t *p, const group_t *g, size_t ng, const char *why)
{
    QLOG_WARN("batch rolled back; reloading its partitions from postgresql",
              "partitions=%zu first=%d reason=\"%s\"", ng, ng ? g[0].part : -1, why);
    if (p->pg && PQstatus(p->pg) == CONNECTION_OK && PQtransactionStatus(p->pg) != PQTRANS_IDLE)
        pq_exec(p, "ROLLBACK");
    for (size_t k = 0; k < ng; k++)
        cache_drop(p, g[k].part);
    for (size_t i = 0; i < p->hsize; i++)
        for (pdoc_t *d = p->htab[i]; d; d = d->hnext)
            d->writing = d->touched = false;
    p->need_resync = true;
}

/* Appends "{a,b,c}" of the groups' partitions (and, with next, their new offsets). */
static void int_array(sbuf_t *b, const group_t *g, size_t ng, bool next)
{
    sb_str(b, "{");
    for (size_t k = 0; k < ng; k++)
        sb_fmt(b, "%s%lld", k ? "," : "", next ? (long long)g[k].new_next : (long long)g[k].part);
    sb_str(b, "}");
}

/*
 * One fenced transaction over the groups' partitions (ascending, each at most once): their
 * messages (may be none: a rows-only transaction). Returns QUIRE_OK when committed; any failure
 * has been handled (rolled back, the partitions' caches dropped, resync requested).
 */
static quire_err_t run_batch(projector_t *p, group_t *g, size_t ng, bool rows, bool flush_all)
{
    int64_t t0 = mono_ms();
    if (pg_wait(p) != QUIRE_OK)
        return QUIRE_ERR_SHUTDOWN;
    size_t n = 0;
    for (size_t k = 0; k < ng; k++) {
        part_t *ps = &p->parts[g[k].part];
        if (ps->next < 0) {
            p->need_resync = true;
            return QUIRE_ERR_CONFLICT;
        }
        /* Messages below our position were already applied (a seek can redeliver them). */
        while (g[k].n && g[k].msgs[0]->offset < ps->next) {
            g[k].msgs++;
            g[k].n--;
        }
        /* Offsets may be sparse (kafka.md §10), but quire's topic has no transactions or
         * compaction: a batch starting past our position is suspicious. Re-fetch from the stored
         * offset once; if the first message is still past it, the gap is real. */
        if (g[k].n && g[k].msgs[0]->offset > ps->next && ps->gap_checked != ps->next) {
            QLOG_WARN("batch starts past the stored offset; fetching again from it",
                      "partition=%d next=%lld first=%lld", g[k].part, (long long)ps->next,
                      (long long)g[k].msgs[0]->offset);
            ps->gap_checked = ps->next;
            cache_drop(p, g[k].part);
            p->need_resync = true;
            return QUIRE_ERR_CONFLICT;
        }
        g[k].new_next = g[k].n ? g[k].msgs[g[k].n - 1]->offset + 1 : ps->next;
        n += g[k].n;
    }
    if (!pq_exec(p, "BEGIN")) {
        fail_batch(p, g, ng, "begin failed");
        return QUIRE_ERR_PG;
    }
    /* The fence: lock every partition's offset row (ascending: no deadlock between instances)
     * and check it is where this instance believes. */
    sbuf_t parts = {0};
    int_array(&parts, g, ng, false);
    const char *lp[] = {p->topic, parts.p};
    PGresult *r = parts.oom
                      ? NULL
                      : pq(p,
                           "SELECT partition, next_offset FROM projector_offsets WHERE topic = "
                           "$1 AND partition = ANY ($2::int4[]) ORDER BY partition FOR UPDATE",
                           2, lp, 1);
    if (!r) {
        free(parts.p);
        fail_batch(p, g, ng, "could not lock the offset rows");
        return QUIRE_ERR_PG;
    }
    bool fenced = PQntuples(r) == (int)ng;
    for (int i = 0; fenced && i < PQntuples(r); i++)
        fenced = pgval_i32(r, i, 0) == g[i].part && pgval_i64(r, i, 1) == p->parts[g[i].part].next;
    PQclear(r);
    if (!fenced) {
        free(parts.p);
        atomic_fetch_add(&p->n_fence, 1);
        quire_metric_add(p->m_fence, 1);
        fail_batch(p, g, ng, "fence: another instance moved a stored offset");
        return QUIRE_ERR_CONFLICT;
    }

    /* Judge and copy every message. */
    bevent_t *ev = calloc(n ? n : 1, sizeof *ev);
    if (!ev) {
        free(parts.p);
        fail_batch(p, g, ng, "out of memory");
        return QUIRE_ERR_NOMEM;
    }
    quire_err_t err = QUIRE_OK;
    size_t at = 0;
    for (size_t k = 0; k < ng && !err; k++) {
        for (size_t j = 0; j < g[k].n && !err; j++, at++) {
            bevent_t *b = &ev[at];
            rd_kafka_message_t *m = g[k].msgs[j];
            b->m = m;
            b->broker_ms = msg_time(m);
            event_codec_event_t e;
            quire_err_t q = quarantine_check(p->qc, m->key, m->key_len, g[k].part, p->nparts,
                                             m->payload, m->len, &e, b->reason, sizeof b->reason);
            if (q == QUIRE_ERR_MALFORMED) {
                b->poison = true;
                continue;
            }
            if (q) {
                err = q;
                break;
            }
            b->doc_id = strdup(e.doc_id);
            b->actor = strdup(e.actor);
            b->origin = strdup(e.origin);
            memcpy(b->event_id, e.event_id, sizeof b->event_id);
            b->kind = (int)e.kind;
            b->update_len = e.update_len;
            if (e.update_len) {
                b->update_copy = malloc(e.update_len);
                if (b->update_copy)
                    memcpy(b->update_copy, e.update, e.update_len);
            }
            if (!b->doc_id || !b->actor || !b->origin || (e.update_len && !b->update_copy))
                err = QUIRE_ERR_NOMEM;
        }
    }
    int64_t t_judged = mono_ms();
    /* Load the uncached documents of this batch, per partition. */
    char **need = calloc(n ? n : 1, sizeof *need);
    if (!need && !err)
        err = QUIRE_ERR_NOMEM;
    at = 0;
    for (size_t k = 0; k < ng && !err; k++) {
        size_t nneed = 0;
        for (size_t j = 0; j < g[k].n; j++) {
            bevent_t *b = &ev[at + j];
            if (b->poison || cache_find(p, b->doc_id, strlen(b->doc_id)))
                continue;
            bool seen = false;
            for (size_t q = 0; q < nneed && !seen; q++)
                seen = strcmp(need[q], b->doc_id) == 0;
            if (!seen)
                need[nneed++] = b->doc_id;
        }
        err = load_docs(p, g[k].part, need, nneed);
        at += g[k].n;
    }
    free(need);
    int64_t t_loaded = mono_ms();
    /*
     * Index: every event that is not poison and not for a deleted document goes to doc_events.
     * The common case has no resend: one binary COPY straight into the index. A unique violation
     * (a resend of an indexed event id, earlier or in this batch) rolls back to the savepoint and
     * goes through a temp table with ON CONFLICT (doc_id, event_id) DO NOTHING in offset order;
     * the rows it returns are the events applied. A resend cannot be the first event of a
     * document or a DELETE of a live one (its original would have made it exist, or deleted it),
     * so deciding creation and deletion before knowing the duplicates is exact.
     */
    sbuf_t copy = {0};
    size_t ncand = 0, napplied = 0, nquar = 0, ndup = 0, nskip = 0;
    for (size_t i = 0; i < n && !err; i++) {
        bevent_t *b = &ev[i];
        if (b->poison)
            continue;
        pdoc_t *d = cache_find(p, b->doc_id, strlen(b->doc_id));
        if (!d) {
            d = calloc(1, sizeof *d);
            if (!d || !(d->id = strdup(b->doc_id))) {
                free(d);
                err = QUIRE_ERR_NOMEM;
                break;
            }
            d->hash = hash_str(d->id, strlen(d->id));
            d->partition = b->m->partition;
            d->version = -1;
            cache_insert(p, d);
        }
        if (d->lifecycle == READMODEL_DELETED) {
            b->dup = true; /* not indexed, not applied */
            nskip++;
            continue;
        }
        if (b->kind == EVENT_CODEC_KIND_DELETE)
            d->lifecycle = READMODEL_DELETED;
        /* doc_id partition offset event_id kind broker_time actor origin size update */
        if (copy.len == 0)
            sb_bin_header(&copy);
        sb_be(&copy, 10, 2);
        sb_bin_bytes(&copy, b->doc_id, strlen(b->doc_id));
        sb_bin_int(&copy, b->m->partition, 4);
        sb_bin_int(&copy, b->m->offset, 8);
        sb_bin_bytes(&copy, b->event_id, EVENT_CODEC_EVENT_ID_LEN);
        sb_bin_int(&copy, b->kind, 2);
        sb_bin_time(&copy, b->broker_ms);
        sb_bin_bytes(&copy, b->actor, strlen(b->actor));
        sb_bin_bytes(&copy, b->origin, strlen(b->origin));
        sb_bin_int(&copy, (int64_t)b->update_len, 4);
        sb_bin_bytes(&copy, b->update_copy, b->update_len);
        b->dup = true; /* until the index says otherwise */
        b->candidate = true;
        ncand++;
    }
    if (copy.len)
        sb_bin_trailer(&copy);
    if (!err && copy.oom)
        err = QUIRE_ERR_NOMEM;
    int64_t t_applied = mono_ms();
    bool copied = false;
    if (!err && ncand) {
        char state[6];
        if (!pq_exec(p, "SAVEPOINT ix")) {
            err = QUIRE_ERR_PG;
        } else if (pq_copy_state(p,
                                 "COPY doc_events (doc_id, partition, \"offset\", event_id, kind, "
                                 "broker_time, actor, origin, size, \"update\") FROM STDIN "
                                 "(FORMAT binary)",
                                 &copy, true, state)) {
            copied = true;
            for (size_t i = 0; i < n; i++)
                if (ev[i].candidate)
                    ev[i].dup = false;
        } else if (strcmp(state, "23505") != 0 || !pq_exec(p, "ROLLBACK TO SAVEPOINT ix")) {
            QLOG_WARN("could not index events", "sqlstate=%s", state);
            err = QUIRE_ERR_PG;
        }
    }
    if (!err && ncand && !copied) {
        if (!pq_copy(p,
                     "COPY pj_events (doc_id, partition, \"offset\", event_id, kind, broker_time, "
                     "actor, origin, size, \"update\") FROM STDIN (FORMAT binary)",
                     &copy)) {
            err = QUIRE_ERR_PG;
        } else {
            r = pq(p,
                   "INSERT INTO doc_events (doc_id, partition, \"offset\", event_id, kind, "
                   "broker_time, actor, origin, size, \"update\") SELECT doc_id, partition, "
                   "\"offset\", event_id, kind, broker_time, actor, origin, size, \"update\" FROM "
                   "pj_events ORDER BY partition, \"offset\" ON CONFLICT (doc_id, event_id) DO "
                   "NOTHING RETURNING partition, \"offset\"",
                   0, NULL, 1);
            if (!r || !pq_exec(p, "TRUNCATE pj_events")) {
                err = QUIRE_ERR_PG;
            } else {
                /* events are in (partition, offset) order: find each returned one by bisection */
                for (int j = 0; j < PQntuples(r); j++) {
                    int32_t rp = pgval_i32(r, j, 0);
                    int64_t off = pgval_i64(r, j, 1);
                    size_t lo = 0, hi = n;
                    while (lo < hi) {
                        size_t mid = (lo + hi) / 2;
                        const rd_kafka_message_t *mm = ev[mid].m;
                        if (mm->partition < rp || (mm->partition == rp && mm->offset < off))
                            lo = mid + 1;
                        else
                            hi = mid;
                    }
                    if (lo < n && ev[lo].m->partition == rp && ev[lo].m->offset == off)
                        ev[lo].dup = false;
                }
            }
            PQclear(r);
        }
    }
    free(copy.p);
    /* Apply in offset order; quarantine. */
    for (size_t i = 0; i < n && !err; i++) {
        bevent_t *b = &ev[i];
        if (b->poison) {
            char partbuf[16], offbuf[24];
            snprintf(partbuf, sizeof partbuf, "%d", (int)b->m->partition);
            snprintf(offbuf, sizeof offbuf, "%lld", (long long)b->m->offset);
            const char *qp[] = {p->topic,
                                partbuf,
                                offbuf,
                                b->reason,
                                readmodel_engine_version(),
                                (const char *)b->m->payload};
            int lens[] = {0, 0, 0, 0, 0, (int)b->m->len};
            int fmts[] = {0, 0, 0, 0, 0, 1};
            r = PQexecParams(
                p->pg,
                "INSERT INTO quarantine (topic, partition, \"offset\", reason, engine, "
                "payload) VALUES ($1, $2::int4, $3::int8, $4, $5, $6) ON CONFLICT DO "
                "NOTHING",
                6, NULL, qp, lens, fmts, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                QLOG_WARN("could not quarantine", "err=\"%s\"", PQresultErrorMessage(r));
                err = QUIRE_ERR_PG;
            }
            PQclear(r);
            QLOG_WARN("event quarantined", "partition=%d offset=%lld reason=\"%s\"",
                      (int)b->m->partition, (long long)b->m->offset, b->reason);
            nquar++;
            continue;
        }
        if (b->dup)
            continue;
        pdoc_t *d = cache_find(p, b->doc_id, strlen(b->doc_id));
        QUIRE_ASSERT(d != NULL);
        if (d->version < 0) {
            d->created_ms = b->broker_ms;
            d->urgent = true; /* a new document: its row at once */
            if (!d->owner)
                d->owner = strdup(b->actor);
        }
        if (b->kind == EVENT_CODEC_KIND_UPDATE) {
            err = pdoc_append(d, b->update_copy, b->update_len);
            if (err)
                break;
        } else if (b->kind == EVENT_CODEC_KIND_DELETE) {
            d->urgent = true;
        }
        d->version = b->m->offset;
        d->updated_ms = b->broker_ms;
        d->event_count++;
        d->event_bytes += (int64_t)b->update_len;
        d->dirty = true;
        d->touched = true;
        napplied++;
    }
    ndup = ncand > napplied ? ncand - napplied : 0;
    int64_t t_indexed = mono_ms();
    size_t nflushed = 0;
    if (!err && rows)
        err = flush_docs(p, g, ng, flush_all, &nflushed);
    int64_t t_flushed = mono_ms();
    if (!err && n) {
        sbuf_t nexts = {0};
        int_array(&nexts, g, ng, true);
        const char *up[] = {p->topic, parts.p, nexts.p, NOTIFY_CHANNEL};
        r = nexts.oom ? NULL
                      : pq(p,
                           "WITH u AS (UPDATE projector_offsets o SET next_offset = v.n, "
                           "updated_at = now() FROM unnest($2::int4[], $3::int8[]) AS v(p, n) "
                           "WHERE o.topic = $1 AND o.partition = v.p AND v.n <> o.next_offset "
                           "RETURNING o.partition, o.next_offset) SELECT pg_notify($4, "
                           "u.partition || ':' || u.next_offset) FROM u",
                           4, up, 0);
        if (!r)
            err = QUIRE_ERR_PG;
        PQclear(r);
        free(nexts.p);
    }
    free(parts.p);
    if (!err && !pq_exec(p, "COMMIT"))
        err = QUIRE_ERR_PG;
    if (err) {
        bevents_free(ev, n);
        fail_batch(p, g, ng, quire_err_str(err));
        return err;
    }
    /* Committed. */
    QLOG_DEBUG("batch committed",
               "partitions=%zu events=%zu judge_ms=%lld load_ms=%lld prepare_ms=%lld "
               "index_ms=%lld rows=%zu rows_ms=%lld offsets_commit_ms=%lld",
               ng, n, (long long)(t_judged - t0), (long long)(t_loaded - t_judged),
               (long long)(t_applied - t_loaded), (long long)(t_indexed - t_applied), nflushed,
               (long long)(t_flushed - t_indexed), (long long)(mono_ms() - t_flushed));
    for (size_t k = 0; k < ng; k++)
        p->parts[g[k].part].next = g[k].new_next;
    flush_done(p);
    int64_t done_ms = now_ms();
    for (size_t i = 0; i < n; i++)
        if (!ev[i].poison && !ev[i].dup)
            quire_metric_observe(p->m_lag, (double)(done_ms - ev[i].broker_ms) / 1000.0);
    bevents_free(ev, n);
    for (size_t i = 0; i < p->hsize; i++)
        for (pdoc_t *d = p->htab[i]; d; d = d->hnext)
            d->touched = false;
    cache_trim(p);
    atomic_fetch_add(&p->n_events, (long long)napplied);
    atomic_fetch_add(&p->n_dups, (long long)ndup);
    atomic_fetch_add(&p->n_quarantined, (long long)nquar);
    atomic_fetch_add(&p->n_skipped, (long long)nskip);
    atomic_fetch_add(&p->n_batches, 1);
    quire_metric_add(p->m_events, (int64_t)napplied);
    quire_metric_add(p->m_dups, (int64_t)ndup);
    quire_metric_add(p->m_quar, (int64_t)nquar);
    quire_metric_add(p->m_skipped, (int64_t)nskip);
    quire_metric_add(p->m_batches, 1);
    quire_metric_add(p->m_flushes, (int64_t)nflushed);
    quire_metric_observe(p->m_batch_s, (double)(mono_ms() - t0) / 1000.0);
    if (n && p->conf.group_id)
        p->kafka_commit_pending = true;
    return QUIRE_OK;
}

/* ---------------------------------------------------------------- Kafka side */

static rd_kafka_topic_partition_list_t *assignment_list(projector_t *p)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(p->nparts);
    for (int32_t i = 0; i < p->nparts; i++)
        if (p->parts[i].assigned)
            rd_kafka_topic_partition_list_add(l, p->topic, i)->offset = p->parts[i].next;
    return l;
}

/* Reads the offsets from PostgreSQL (waiting while it is down) and positions the consumer. */
static quire_err_t resync(projector_t *p, bool reassign)
{
    for (;;) {
        if (pg_wait(p) != QUIRE_OK)
            return QUIRE_ERR_SHUTDOWN;
        if (load_offsets(p) == QUIRE_OK)
            break;
        if (p->pg && PQstatus(p->pg) == CONNECTION_OK && p->pg)
            usleep(200 * 1000);
    }
    for (int32_t i = 0; i < p->nparts; i++)
        if (p->parts[i].assigned)
            cache_drop(p, i);
    if (reassign) {
        rd_kafka_topic_partition_list_t *l = assignment_list(p);
        rd_kafka_resp_err_t e = rd_kafka_assign(p->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (e) {
            QLOG_WARN("could not assign partitions", "err=\"%s\"", rd_kafka_err2str(e));
            return QUIRE_ERR_KAFKA;
        }
    } else {
        for (int32_t i = 0; i < p->nparts; i++) {
            if (!p->parts[i].assigned)
                continue;
            rd_kafka_resp_err_t e = rd_kafka_seek(p->rkt, i, p->parts[i].next, 10000);
            if (e) {
                QLOG_WARN("could not seek; reassigning", "partition=%d err=\"%s\"", i,
                          rd_kafka_err2str(e));
                return resync(p, true);
            }
        }
    }
    p->need_resync = false;
    atomic_store(&p->ready, true);
    return QUIRE_OK;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    projector_t *p = opaque;
    p->rebalanced = true;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].partition >= 0 && parts->elems[i].partition < p->nparts)
                p->parts[parts->elems[i].partition].assigned = true;
        QLOG_INFO("partitions assigned", "count=%d", parts->cnt);
        if (resync(p, true) != QUIRE_OK) {
            rd_kafka_assign(rk, NULL);
            for (int32_t i = 0; i < p->nparts; i++)
                p->parts[i].assigned = false;
        }
    } else {
        QLOG_INFO("partitions revoked", "count=%d", parts->cnt);
        /* Everything applied is committed (batches are synchronous); dirty rows are covered by
         * their indexed events, so the next owner reloads them correctly. */
        for (int i = 0; i < parts->cnt; i++) {
            int32_t part = parts->elems[i].partition;
            if (part >= 0 && part < p->nparts) {
                p->parts[part].assigned = false;
                p->parts[part].next = -1;
                cache_drop(p, part);
            }
        }
        rd_kafka_assign(rk, NULL);
        atomic_store(&p->ready, false);
    }
}

projector_t *projector_new(const projector_conf_t *conf, char *errbuf, size_t errlen)
{
    projector_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    p->conf = *conf;
    if (!p->conf.flush_interval_ms)
        p->conf.flush_interval_ms = 250;
    if (!p->conf.max_batch_events)
        p->conf.max_batch_events = 20000;
    if (!p->conf.max_batch_bytes)
        p->conf.max_batch_bytes = 32u << 20;
    if (!p->conf.max_cached_docs)
        p->conf.max_cached_docs = 10000;
    p->brokers = strdup(conf->brokers);
    p->topic = strdup(conf->topic);
    p->pgconn = strdup(conf->pg);
    p->group = strdup(conf->group_id ? conf->group_id : "quire-replay");
    p->hsize = 1024;
    p->htab = calloc(p->hsize, sizeof *p->htab);
    p->qc = quarantine_checker_new(errbuf, errlen);
    if (!p->brokers || !p->topic || !p->pgconn || !p->group || !p->htab || !p->qc)
        goto fail;
    p->conf.brokers = p->brokers;
    p->conf.topic = p->topic;
    p->conf.pg = p->pgconn;
    p->conf.group_id = conf->group_id ? p->group : NULL;
    rd_kafka_conf_t *kc = quire_kafka_consumer_conf(p->brokers, p->group, errbuf, errlen);
    if (!kc)
        goto fail;
    char st[24];
    snprintf(st, sizeof st, "%d", conf->session_timeout_ms ? conf->session_timeout_ms : 10000);
    if (quire_kafka_conf_set(kc, "session.timeout.ms", st, errbuf, errlen) ||
        quire_kafka_conf_set(kc, "heartbeat.interval.ms", "1000", errbuf, errlen) ||
        quire_kafka_conf_set(kc, "fetch.wait.max.ms", "500", errbuf, errlen) ||
        quire_kafka_conf_set(kc, "queued.max.messages.kbytes", "262144", errbuf, errlen) ||
        quire_kafka_conf_set(kc, "max.partition.fetch.bytes", "16777216", errbuf, errlen) ||
        quire_kafka_conf_set(kc, "queued.min.messages", "200000", errbuf, errlen)) {
        rd_kafka_conf_destroy(kc);
        goto fail;
    }
    for (size_t i = 0; i < conf->nconsumer_extra; i++) {
        char kv[512];
        snprintf(kv, sizeof kv, "%s", conf->consumer_extra[i]);
        char *eq = strchr(kv, '=');
        if (!eq || (*eq = '\0', quire_kafka_conf_set(kc, kv, eq + 1, errbuf, errlen))) {
            rd_kafka_conf_destroy(kc);
            goto fail;
        }
    }
    rd_kafka_conf_set_opaque(kc, p);
    if (conf->group_id)
        rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    p->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errbuf, errlen);
    if (!p->rk) {
        rd_kafka_conf_destroy(kc);
        goto fail;
    }
    rd_kafka_poll_set_consumer(p->rk);
    p->nparts = quire_kafka_partition_count(p->rk, p->topic, 15000, errbuf, errlen);
    if (p->nparts <= 0)
        goto fail;
    p->rkt = rd_kafka_topic_new(p->rk, p->topic, NULL);
    p->parts = calloc((size_t)p->nparts, sizeof *p->parts);
    if (!p->parts || !p->rkt) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    for (int32_t i = 0; i < p->nparts; i++)
        p->parts[i].next = p->parts[i].gap_checked = -1;
    quire_metrics_t *m = conf->metrics;
    if (m) {
        p->m_events = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_projector_events_total",
                                        NULL, "events applied and indexed");
        p->m_dups = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_projector_duplicates_total",
                                      NULL, "events skipped as resends of an indexed event id");
        p->m_quar = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_projector_quarantined_total",
                                      NULL, "poison events quarantined");
        p->m_skipped = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_projector_skipped_total",
                                         NULL, "updates to deleted documents, not applied");
        p->m_batches = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_projector_batches_total",
                                         NULL, "committed transactions");
        p->m_fence =
            quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_projector_fence_losses_total", NULL,
                              "batches refused because another instance moved the offset");
        p->m_flushes =
            quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_projector_row_writes_total", NULL,
                              "document rows (full state) written");
        p->m_lag = quire_metrics_add(m, QUIRE_METRIC_HISTOGRAM, "quire_projector_lag_seconds", NULL,
                                     "broker append time to committed in the read model");
        p->m_batch_s = quire_metrics_add(m, QUIRE_METRIC_HISTOGRAM, "quire_projector_batch_seconds",
                                         NULL, "duration of one batch transaction");
    }
    return p;
fail:
    if (!errbuf[0])
        snprintf(errbuf, errlen, "out of memory");
    projector_destroy(p);
    return NULL;
}

void projector_destroy(projector_t *p)
{
    if (!p)
        return;
    if (p->rk) {
        if (p->conf.group_id)
            rd_kafka_consumer_close(p->rk);
        if (p->rkt)
            rd_kafka_topic_destroy(p->rkt);
        rd_kafka_destroy(p->rk);
    }
    if (p->htab) {
        cache_drop(p, -1);
        free(p->htab);
    }
    if (p->pg)
        PQfinish(p->pg);
    quarantine_checker_destroy(p->qc);
    free(p->parts);
    free(p->brokers);
    free(p->topic);
    free(p->pgconn);
    free(p->group);
    free(p);
}

bool projector_ready(void *opaque, char *buf, size_t len)
{
    projector_t *p = opaque;
    if (!atomic_load(&p->ready)) {
        snprintf(buf, len, "no partitions or postgresql unreachable");
        return false;
    }
    return true;
}

void projector_stats(projector_t *p, projector_stats_t *ret)
{
    ret->events = atomic_load(&p->n_events);
    ret->duplicates = atomic_load(&p->n_dups);
    ret->quarantined = atomic_load(&p->n_quarantined);
    ret->skipped = atomic_load(&p->n_skipped);
    ret->batches = atomic_load(&p->n_batches);
    ret->fence_losses = atomic_load(&p->n_fence);
}

/* The earliest monotonic time a deferred row write falls due, or -1. */
static int64_t next_due(projector_t *p)
{
    int64_t due = -1;
    for (size_t i = 0; i < p->hsize; i++)
        for (pdoc_t *d = p->htab[i]; d; d = d->hnext)
            if (d->dirty) {
                int64_t t = d->urgent ? 0 : d->next_flush_ms;
                if (due < 0 || t < due)
                    due = t;
            }
    return due;
}

/* Commits the assigned partitions' positions to Kafka, at most once a second, asynchronously. */
static void commit_to_kafka(projector_t *p, bool force)
{
    int64_t now = mono_ms();
    if (!p->kafka_commit_pending || (!force && now - p->kafka_committed_ms < 1000))
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(p->nparts);
    for (int32_t i = 0; i < p->nparts; i++)
        if (p->parts[i].assigned && p->parts[i].next >= 0)
            rd_kafka_topic_partition_list_add(l, p->topic, i)->offset = p->parts[i].next;
    if (l->cnt)
        rd_kafka_commit(p->rk, l, 1);
    rd_kafka_topic_partition_list_destroy(l);
    p->kafka_commit_pending = false;
    p->kafka_committed_ms = now;
}

/*
 * Two transactions for what is gathered: the messages of every assigned partition (batch[0..n),
 * any order across partitions, offset order within one), then the rows that fall due (all dirty
 * rows when `all`). Nothing to do: no transaction, no query.
 */
static void run_gathered(projector_t *p, rd_kafka_message_t **batch, size_t n,
                         rd_kafka_message_t **sorted, group_t *groups, bool all)
{
    /* The events first: their commit (and its notification) is what readers wait for. */
    size_t ng = 0, k = 0;
    for (int32_t part = 0; part < p->nparts && n; part++) {
        if (!p->parts[part].assigned)
            continue;
        size_t start = k;
        for (size_t i = 0; i < n; i++)
            if (batch[i]->partition == part)
                sorted[k++] = batch[i];
        if (k > start)
            groups[ng++] = (group_t){.part = part, .msgs = sorted + start, .n = k - start};
    }
    if (ng && run_batch(p, groups, ng, false, false) != QUIRE_OK)
        return;
    /* Then the rows that fall due, in a transaction of their own: the events are indexed
     * already, so no reader waits for these. */
    int64_t now = mono_ms();
    ng = 0;
    for (int32_t part = 0; part < p->nparts; part++) {
        if (!p->parts[part].assigned)
            continue;
        bool rows = false;
        for (size_t i = 0; i < p->hsize && !rows; i++)
            for (pdoc_t *d = p->htab[i]; d && !rows; d = d->hnext)
                rows = d->partition == part && due(p, d, now, all);
        if (rows)
            groups[ng++] = (group_t){.part = part};
    }
    if (ng)
        run_batch(p, groups, ng, true, all);
}

static bool at_end(projector_t *p)
{
    for (int32_t i = 0; i < p->nparts; i++)
        if (p->parts[i].assigned && p->parts[i].next < p->parts[i].end)
            return false;
    return true;
}

quire_err_t projector_run(projector_t *p, volatile sig_atomic_t *stop)
{
    p->stop = stop;
    char err[512];
    int64_t total = 0;
    if (!p->conf.group_id) {
        /* Replay: every partition, from the stored offsets, up to the end as of now. */
        for (int32_t i = 0; i < p->nparts; i++) {
            int64_t lo, hi;
            rd_kafka_resp_err_t e =
                rd_kafka_query_watermark_offsets(p->rk, p->topic, i, &lo, &hi, 15000);
            if (e) {
                QLOG_ERROR("could not read the end of a partition", "partition=%d err=\"%s\"", i,
                           rd_kafka_err2str(e));
                return QUIRE_ERR_KAFKA;
            }
            p->parts[i].assigned = true;
            p->parts[i].end = hi;
        }
        if (resync(p, true) != QUIRE_OK)
            return QUIRE_ERR_SHUTDOWN;
        for (int32_t i = 0; i < p->nparts; i++)
            total += p->parts[i].end > p->parts[i].next ? p->parts[i].end - p->parts[i].next : 0;
    } else {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, p->topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t e = rd_kafka_subscribe(p->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (e) {
            QLOG_ERROR("could not subscribe", "topic=%s err=\"%s\"", p->topic, rd_kafka_err2str(e));
            return QUIRE_ERR_KAFKA;
        }
    }
    size_t cap = p->conf.max_batch_events;
    rd_kafka_message_t **batch = calloc(cap, sizeof *batch);
    rd_kafka_message_t **sorted = calloc(cap, sizeof *sorted);
    group_t *groups = calloc((size_t)p->nparts, sizeof *groups);
    if (!batch || !sorted || !groups) {
        free(batch);
        free(sorted);
        free(groups);
        return QUIRE_ERR_NOMEM;
    }
    int64_t start_ms = mono_ms(), last_progress = 0, done_base = 0;
    if (!p->conf.group_id)
        for (int32_t i = 0; i < p->nparts; i++)
            done_base += p->parts[i].next;
    quire_err_t status = QUIRE_OK;
    while (!*stop && !p->fatal) {
        if (p->need_resync && resync(p, false) != QUIRE_OK)
            break;
        if (p->conf.until_end && at_end(p))
            break;
        int64_t due = next_due(p), timeout = 1000;
        if (p->kafka_commit_pending) /* come back for the deferred Kafka commit */
            due = due < 0
                      ? p->kafka_committed_ms + 1000
                      : (due < p->kafka_committed_ms + 1000 ? due : p->kafka_committed_ms + 1000);
        if (due >= 0) {
            timeout = due - mono_ms();
            timeout = timeout < 0 ? 0 : timeout > 1000 ? 1000 : timeout;
        }
        size_t n = 0, bytes = 0;
        p->rebalanced = false;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(p->rk, (int)timeout);
        while (m) {
            if (m->err) {
                if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                    m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
                    QLOG_ERROR("stored offset is no longer in kafka; stopping (replay needed)",
                               "partition=%d err=\"%s\"", m->partition, rd_kafka_message_errstr(m));
                    p->fatal = QUIRE_ERR_KAFKA;
                } else {
                    QLOG_WARN("consumer error", "err=\"%s\"", rd_kafka_message_errstr(m));
                }
                rd_kafka_message_destroy(m);
            } else {
                batch[n++] = m;
                bytes += m->len;
            }
            if (n >= cap || bytes >= p->conf.max_batch_bytes || p->rebalanced || p->fatal)
                break;
            m = rd_kafka_consumer_poll(p->rk, 0);
        }
        if (p->rebalanced || p->fatal || p->need_resync) {
            /* Messages fetched after a new assignment are not stale: dropping them leaves a gap
             * unless the consumer goes back to the stored offsets. */
            if (n && !p->fatal)
                p->need_resync = true;
            for (size_t i = 0; i < n; i++)
                rd_kafka_message_destroy(batch[i]);
            continue;
        }
        /* One transaction for every partition gathered (offset order within each). */
        run_gathered(p, batch, n, sorted, groups, false);
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(batch[i]);
        commit_to_kafka(p, false);
        if (p->conf.progress && mono_ms() - last_progress >= 1000) {
            last_progress = mono_ms();
            int64_t done = -done_base;
            for (int32_t i = 0; i < p->nparts; i++)
                done += p->parts[i].next;
            p->conf.progress(p->conf.progress_opaque, done, total);
        }
    }
    /* Write every dirty row before leaving (not needed for correctness: the tail covers them). */
    if (!p->need_resync && !p->fatal)
        run_gathered(p, batch, 0, sorted, groups, true);
    if (!p->fatal)
        commit_to_kafka(p, true);
    if (p->conf.progress) {
        int64_t done = -done_base;
        for (int32_t i = 0; i < p->nparts; i++)
            done += p->parts[i].next > 0 ? p->parts[i].next : 0;
        p->conf.progress(p->conf.progress_opaque, done, total);
    }
    (void)start_ms;
    (void)err;
    free(batch);
    free(sorted);
    free(groups);
    if (p->fatal)
        status = p->fatal;
    return status;
}
