/*
 * quire verify — proves the read model equals a fresh replay of the log (I3).
 *
 * In one REPEATABLE READ snapshot of PostgreSQL it reads every partition's next offset P, then
 * folds the log below P in memory with the projector's rules (quarantine.h, dedupe on (document,
 * event id), nothing applied to a deleted document) and compares with what the snapshot holds:
 *   - the event index: exactly the applied events, each once (offset, event id, kind, size,
 *     actor) — nothing applied twice, nothing skipped; from each partition's floor on when the
 *     read model was bootstrapped from snapshots (index_floors: below it the events are in the
 *     log and in the snapshots, not indexed);
 *   - the quarantine: exactly the poison offsets;
 *   - every document as readmodel_load_in reads it: version, counts, lifecycle, owner, and its
 *     state — same state vector, same delete set, same content — as the merge of its events.
 * A projector may keep running meanwhile: the snapshot pins what is compared. Exit status 0 when
 * equal, 1 on any difference (each printed), 2 when it could not check.
 */
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc_content.h"
#include "pgval.h"
#include "quarantine.h"
#include "quire_cmd.h"
#include "quire_kafka.h"
#include "quire_log.h"
#include "quire_pg.h"
#include "readmodel.h"
#include "ydoc.h"
#include "yjs_update.h"

typedef struct verify_conf_s {
    quire_common_conf_t common;
    int64_t max_report;
} verify_conf_t;

static const quire_cfg_opt_t verify_opts[] = {
    QUIRE_CFG_COMMON_OPTS(verify_conf_t),
    {"max-report", QUIRE_CFG_INT, "20", 1, 1000000, offsetof(verify_conf_t, max_report), 0,
     "differences printed at most"},
};

typedef struct vevent_s {
    int64_t offset;
    uint8_t id[EVENT_CODEC_EVENT_ID_LEN];
    int kind;
    int64_t size;
    char *actor;
} vevent_t;

typedef struct vdoc_s {
    char *id;
    int32_t partition;
    vevent_t *ev;
    size_t nev, cap;
    bool deleted;
    uint8_t *upbuf;
    size_t uplen, upcap;
    size_t *upoffs;
    size_t nup, upoffcap;
    bool seen_in_db;
} vdoc_t;

typedef struct vstate_s {
    vdoc_t **docs;
    size_t ndocs, cap;
    size_t *dtab; /* doc hash → index + 1 */
    size_t dcap;
    uint64_t *etab; /* (doc index + 1) << 32 | event index + 1 */
    size_t ecap, ecount;
    int64_t *quar; /* partition << 48 | offset */
    size_t nquar, quarcap;
    long reported, max_report;
} vstate_t;

static uint32_t hstr(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void differ(vstate_t *v, const char *fmt, ...) QUIRE_PRINTF(2, 3);
static void differ(vstate_t *v, const char *fmt, ...)
{
    v->reported++;
    if (v->reported > v->max_report)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "DIFF ");
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static size_t doc_index(vstate_t *v, const char *id, bool create, int32_t partition)
{
    if (v->ndocs * 2 + 2 > v->dcap) {
        size_t nc = v->dcap ? v->dcap * 2 : 1024;
        size_t *nt = calloc(nc, sizeof *nt);
        if (!nt)
            return (size_t)-1;
        for (size_t i = 0; i < v->ndocs; i++) {
            size_t s = hstr(v->docs[i]->id) & (nc - 1);
            while (nt[s])
                s = (s + 1) & (nc - 1);
            nt[s] = i + 1;
        }
        free(v->dtab);
        v->dtab = nt;
        v->dcap = nc;
    }
    size_t s = hstr(id) & (v->dcap - 1);
    for (; v->dtab[s]; s = (s + 1) & (v->dcap - 1))
        if (strcmp(v->docs[v->dtab[s] - 1]->id, id) == 0)
            return v->dtab[s] - 1;
    if (!create)
        return (size_t)-1;
    vdoc_t *d = calloc(1, sizeof *d);
    if (!d || !(d->id = strdup(id)) ||
        !grow((void **)&v->docs, &v->cap, v->ndocs + 1, sizeof *v->docs)) {
        if (d)
            free(d->id);
        free(d);
        return (size_t)-1;
    }
    d->partition = partition;
    v->docs[v->ndocs] = d;
    v->dtab[s] = ++v->ndocs;
    return v->ndocs - 1;
}

/* True when (doc, id) was applied before; else records it. */
static int seen_event(vstate_t *v, size_t di, const uint8_t id[16], size_t ei)
{
    if (v->ecount * 2 + 2 > v->ecap) {
        size_t nc = v->ecap ? v->ecap * 2 : 4096;
        uint64_t *nt = calloc(nc, sizeof *nt);
        if (!nt)
            return -1;
        for (size_t i = 0; i < v->ecap; i++) {
            if (!v->etab[i])
                continue;
            vdoc_t *d = v->docs[(v->etab[i] >> 32) - 1];
            uint64_t h;
            memcpy(&h, d->ev[(v->etab[i] & 0xffffffffu) - 1].id, 8);
            size_t s = (size_t)(h ^ hstr(d->id)) & (nc - 1);
            while (nt[s])
                s = (s + 1) & (nc - 1);
            nt[s] = v->etab[i];
        }
        free(v->etab);
        v->etab = nt;
        v->ecap = nc;
    }
    uint64_t h;
    memcpy(&h, id, 8);
    size_t s = (size_t)(h ^ hstr(v->docs[di]->id)) & (v->ecap - 1);
    for (; v->etab[s]; s = (s + 1) & (v->ecap - 1)) {
        size_t odi = (size_t)(v->etab[s] >> 32) - 1, oei = (size_t)(v->etab[s] & 0xffffffffu) - 1;
        if (odi == di && memcmp(v->docs[odi]->ev[oei].id, id, 16) == 0)
            return 1;
    }
    v->etab[s] = ((uint64_t)(di + 1) << 32) | (uint64_t)(ei + 1);
    v->ecount++;
    return 0;
}

static int fold(vstate_t *v, quarantine_checker_t *qc, const rd_kafka_message_t *m, int32_t nparts)
{
    event_codec_event_t e;
    char reason[300];
    quire_err_t q = quarantine_check(qc, m->key, m->key_len, m->partition, nparts, m->payload,
                                     m->len, &e, reason, sizeof reason);
    if (q == QUIRE_ERR_MALFORMED) {
        if (!grow((void **)&v->quar, &v->quarcap, v->nquar + 1, sizeof *v->quar))
            return -1;
        v->quar[v->nquar++] = (int64_t)m->partition << 48 | m->offset;
        return 0;
    }
    if (q)
        return -1;
    size_t di = doc_index(v, e.doc_id, true, m->partition);
    if (di == (size_t)-1)
        return -1;
    vdoc_t *d = v->docs[di];
    if (d->deleted)
        return 0;
    if (!grow((void **)&d->ev, &d->cap, d->nev + 1, sizeof *d->ev))
        return -1;
    int s = seen_event(v, di, e.event_id, d->nev);
    if (s)
        return s < 0 ? -1 : 0;
    vevent_t *ev = &d->ev[d->nev++];
    ev->offset = m->offset;
    memcpy(ev->id, e.event_id, 16);
    ev->kind = (int)e.kind;
    ev->size = (int64_t)e.update_len;
    ev->actor = strdup(e.actor);
    if (e.kind == EVENT_CODEC_KIND_DELETE)
        d->deleted = true;
    if (e.update_len) {
        if (!grow((void **)&d->upbuf, &d->upcap, d->uplen + e.update_len, 1) ||
            !grow((void **)&d->upoffs, &d->upoffcap, d->nup + 2, sizeof *d->upoffs))
            return -1;
        if (d->nup == 0)
            d->upoffs[0] = 0;
        memcpy(d->upbuf + d->uplen, e.update, e.update_len);
        d->uplen += e.update_len;
        d->upoffs[++d->nup] = d->uplen;
    }
    return 0;
}

/* A state as an integrated document encodes it (garbage-collected, as the compactor's snapshots
 * and the gateways hold it): integration also records the deletions a binary merge cannot know —
 * the losing value of a map key set concurrently — so two encodings of one document compare
 * equal only in this form. NULL when the engine refuses it (the plain form is compared then). */
static uint8_t *integrated(const uint8_t *s, size_t len, size_t *ret_len)
{
    ydoc_t *doc = NULL;
    uint8_t *out = NULL;
    yjs_error_t e;
    if (ydoc_new(NULL, &doc) || ydoc_apply(doc, s, len, 0, NULL, &e) ||
        ydoc_encode_state(doc, NULL, 0, &out, ret_len, &e))
        out = NULL;
    ydoc_destroy(doc);
    return out;
}

/* Compares two states semantically, as integrated documents: state vector, delete set
 * (normalised by diffing against the state's own vector), content. */
static bool same_state(const uint8_t *a0, size_t alen0, const uint8_t *b0, size_t blen0, char *why,
                       size_t wl)
{
    if (alen0 == blen0 && memcmp(a0, b0, alen0) == 0)
        return true;
    size_t ial = 0, ibl = 0;
    uint8_t *ia = integrated(a0, alen0, &ial), *ib = integrated(b0, blen0, &ibl);
    const uint8_t *a = ia && ib ? ia : a0, *b = ia && ib ? ib : b0;
    size_t alen = ia && ib ? ial : alen0, blen = ia && ib ? ibl : blen0;
    if (alen == blen && memcmp(a, b, alen) == 0) {
        free(ia);
        free(ib);
        return true;
    }
    uint8_t *sva = NULL, *svb = NULL, *da = NULL, *db = NULL;
    char *ca = NULL, *cb = NULL;
    size_t sval = 0, svbl = 0, dal = 0, dbl = 0, cal = 0, cbl = 0;
    bool same = false;
    yjs_error_t e;
    if (yjs_update_state_vector(a, alen, NULL, YJS_DECODE_SKIM, &sva, &sval, &e) ||
        yjs_update_state_vector(b, blen, NULL, YJS_DECODE_SKIM, &svb, &svbl, &e)) {
        snprintf(why, wl, "state does not decode: %s", e.message);
    } else if (sval != svbl || memcmp(sva, svb, sval) != 0) {
        snprintf(why, wl, "state vectors differ");
    } else if (yjs_update_diff(a, alen, sva, sval, NULL, YJS_DECODE_SKIM, &da, &dal, &e) ||
               yjs_update_diff(b, blen, svb, svbl, NULL, YJS_DECODE_SKIM, &db, &dbl, &e)) {
        snprintf(why, wl, "state does not diff: %s", e.message);
    } else if (dal != dbl || memcmp(da, db, dal) != 0) {
        snprintf(why, wl, "delete sets differ");
    } else if (doc_content_render(a, alen, &ca, &cal) || doc_content_render(b, blen, &cb, &cbl)) {
        snprintf(why, wl, "content does not render");
    } else if (cal != cbl || memcmp(ca, cb, cal) != 0) {
        snprintf(why, wl, "content differs");
    } else {
        same = true;
    }
    free(sva);
    free(svb);
    free(da);
    free(db);
    free(ca);
    free(cb);
    free(ia);
    free(ib);
    return same;
}

static int verify_run(void *confp, int argc, char **argv)
{
    verify_conf_t *conf = confp;
    char err[512], topic[256];
    quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_DOC_UPDATES, topic, sizeof topic);
    vstate_t v = {.max_report = (long)conf->max_report};
    PGconn *pg = quire_pg_connect(conf->common.pg, "quire-verify", err, sizeof err);
    if (!pg) {
        fprintf(stderr, "quire verify: %s\n", err);
        return 2;
    }
    int status = 2;
    rd_kafka_t *rk = NULL;
    quarantine_checker_t *qc = NULL;
    int64_t *P = NULL, *F = NULL;
    PGresult *r = PQexec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    PQclear(r);
    const char *tp[] = {topic};
    r = PQexecParams(pg, "SELECT partition, next_offset FROM projector_offsets WHERE topic = $1", 1,
                     NULL, tp, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "quire verify: %s", PQerrorMessage(pg));
        PQclear(r);
        goto out;
    }
    rd_kafka_conf_t *kc =
        quire_kafka_consumer_conf(conf->common.kafka_brokers, "quire-verify", err, sizeof err);
    rk = kc ? rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err) : NULL;
    qc = quarantine_checker_new(err, sizeof err);
    int32_t nparts = rk ? quire_kafka_partition_count(rk, topic, 15000, err, sizeof err) : -1;
    if (!rk || !qc || nparts <= 0) {
        fprintf(stderr, "quire verify: %s\n", err);
        PQclear(r);
        goto out;
    }
    rd_kafka_poll_set_consumer(rk);
    P = calloc((size_t)nparts, sizeof *P);
    F = calloc((size_t)nparts, sizeof *F);
    for (int i = 0; P && i < PQntuples(r); i++) {
        int part = atoi(PQgetvalue(r, i, 0));
        if (part >= 0 && part < nparts)
            P[part] = atoll(PQgetvalue(r, i, 1));
    }
    PQclear(r);
    if (!P || !F) {
        fprintf(stderr, "quire verify: out of memory\n");
        goto out;
    }
    r = PQexecParams(pg, "SELECT partition, floor FROM index_floors WHERE topic = $1", 1, NULL, tp,
                     NULL, NULL, 0);
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
        int part = atoi(PQgetvalue(r, i, 0));
        if (part >= 0 && part < nparts)
            F[part] = atoll(PQgetvalue(r, i, 1));
    }
    PQclear(r);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    int remaining = 0;
    int64_t total = 0;
    for (int32_t i = 0; i < nparts; i++)
        if (P[i] > 0) {
            rd_kafka_topic_partition_list_add(l, topic, i)->offset = 0;
            remaining++;
            total += P[i];
        }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int idle = 0;
    int64_t folded = 0;
    while (remaining > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (!m) {
            if (++idle > 30) {
                fprintf(stderr, "quire verify: the log ends before the read model's offsets\n");
                goto out;
            }
            continue;
        }
        idle = 0;
        if (m->err) {
            fprintf(stderr, "quire verify: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            goto out;
        }
        if (m->offset < P[m->partition]) {
            if (fold(&v, qc, m, nparts) < 0) {
                fprintf(stderr, "quire verify: out of memory\n");
                rd_kafka_message_destroy(m);
                goto out;
            }
            folded++;
            if (m->offset + 1 == P[m->partition]) {
                remaining--;
                rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(one, topic, m->partition);
                rd_kafka_pause_partitions(rk, one);
                rd_kafka_topic_partition_list_destroy(one);
            }
        }
        rd_kafka_message_destroy(m);
    }
    /* The event index. */
    r = PQexecParams(pg,
                     "SELECT doc_id, \"offset\", event_id, kind, size::int8, actor, partition "
                     "FROM doc_events ORDER BY doc_id, \"offset\"",
                     0, NULL, NULL, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "quire verify: %s", PQerrorMessage(pg));
        PQclear(r);
        goto out;
    }
    int nrows = PQntuples(r);
    int64_t indexed = 0;
    for (int i = 0; i < nrows;) {
        const char *id = PQgetvalue(r, i, 0);
        size_t di = doc_index(&v, id, false, 0);
        vdoc_t *d = di == (size_t)-1 ? NULL : v.docs[di];
        size_t k = 0;
        while (d && k < d->nev && d->ev[k].offset < F[d->partition])
            k++; /* below the floor: not indexed */
        for (; i < nrows && strcmp(PQgetvalue(r, i, 0), id) == 0; i++, k++) {
            int64_t off = pgval_i64(r, i, 1);
            if (!d || k >= d->nev) {
                differ(&v, "doc=%s offset=%lld indexed but not applied by the replay", id,
                       (long long)off);
                continue;
            }
            vevent_t *e = &d->ev[k];
            if (e->offset != off || PQgetlength(r, i, 2) != 16 ||
                memcmp(PQgetvalue(r, i, 2), e->id, 16) != 0 || pgval_i16(r, i, 3) != e->kind ||
                pgval_i64(r, i, 4) != e->size || strcmp(PQgetvalue(r, i, 5), e->actor) != 0 ||
                pgval_i32(r, i, 6) != d->partition)
                differ(&v,
                       "doc=%s index row %zu (offset %lld) differs from the replay's event at "
                       "offset %lld",
                       id, k, (long long)off, (long long)e->offset);
            indexed++;
        }
        if (d) {
            d->seen_in_db = true;
            if (k < d->nev)
                differ(&v,
                       "doc=%s %zu events applied by the replay are missing from the index "
                       "(first at offset %lld)",
                       id, d->nev - k, (long long)d->ev[k].offset);
        }
    }
    PQclear(r);
    for (size_t i = 0; i < v.ndocs; i++)
        if (!v.docs[i]->seen_in_db && v.docs[i]->nev &&
            v.docs[i]->ev[v.docs[i]->nev - 1].offset >= F[v.docs[i]->partition])
            differ(&v, "doc=%s missing from the event index (%zu events)", v.docs[i]->id,
                   v.docs[i]->nev);
    /* Quarantine. */
    r = PQexecParams(pg, "SELECT partition, \"offset\" FROM quarantine WHERE topic = $1", 1, NULL,
                     tp, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        size_t matched = 0, below = 0;
        for (size_t q = 0; q < v.nquar; q++)
            if ((v.quar[q] & ((INT64_C(1) << 48) - 1)) < F[(v.quar[q] >> 48) % nparts])
                below++; /* below the floor: quarantined before the bootstrap, not recorded */
        for (int i = 0; i < PQntuples(r); i++) {
            int64_t key = (int64_t)atoll(PQgetvalue(r, i, 0)) << 48 | atoll(PQgetvalue(r, i, 1));
            if (atoll(PQgetvalue(r, i, 1)) >= P[atoi(PQgetvalue(r, i, 0)) % nparts])
                continue; /* beyond the snapshot's offsets: cannot be */
            bool found = false;
            for (size_t q = 0; q < v.nquar && !found; q++)
                found = v.quar[q] == key;
            if (found)
                matched++;
            else
                differ(&v, "quarantined partition=%s offset=%s is not poison in the replay",
                       PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        }
        if (matched != v.nquar - below)
            differ(&v, "the replay quarantines %zu events, the read model %zu", v.nquar - below,
                   matched);
    }
    PQclear(r);
    /* Documents. */
    r = PQexecParams(pg, "SELECT doc_id FROM documents", 0, NULL, NULL, NULL, NULL, 0);
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
        if (doc_index(&v, PQgetvalue(r, i, 0), false, 0) == (size_t)-1)
            differ(&v, "doc=%s has a row but no event in the replay", PQgetvalue(r, i, 0));
    PQclear(r);
    for (size_t i = 0; i < v.ndocs; i++) {
        vdoc_t *d = v.docs[i];
        if (!d->nev)
            continue;
        readmodel_doc_t got = {0};
        quire_err_t e = readmodel_load_in(pg, topic, d->id, &got);
        if (e) {
            differ(&v, "doc=%s cannot be read: %s", d->id, quire_err_str(e));
            continue;
        }
        vevent_t *last = &d->ev[d->nev - 1];
        int64_t bytes = 0;
        for (size_t k = 0; k < d->nev; k++)
            bytes += d->ev[k].size;
        if (got.version != last->offset || got.event_count != (int64_t)d->nev ||
            got.event_bytes != bytes || (got.lifecycle == READMODEL_DELETED) != d->deleted ||
            !got.owner || strcmp(got.owner, d->ev[0].actor) != 0 || got.partition != d->partition)
            differ(&v,
                   "doc=%s read model version=%lld events=%lld bytes=%lld deleted=%d owner=%s, "
                   "replay version=%lld events=%zu bytes=%lld deleted=%d owner=%s",
                   d->id, (long long)got.version, (long long)got.event_count,
                   (long long)got.event_bytes, got.lifecycle == READMODEL_DELETED,
                   got.owner ? got.owner : "-", (long long)last->offset, d->nev, (long long)bytes,
                   d->deleted, d->ev[0].actor);
        const uint8_t **ups = malloc((d->nup + 1) * sizeof *ups);
        size_t *lens = malloc((d->nup + 1) * sizeof *lens);
        uint8_t *want = NULL;
        size_t wantlen = 0;
        yjs_error_t ye;
        for (size_t k = 0; ups && lens && k < d->nup; k++) {
            ups[k] = d->upbuf + d->upoffs[k];
            lens[k] = d->upoffs[k + 1] - d->upoffs[k];
        }
        char why[320];
        if (!ups || !lens ||
            yjs_update_merge(ups, lens, d->nup, NULL, YJS_DECODE_SKIM, &want, &wantlen, &ye))
            differ(&v, "doc=%s the replay's updates do not merge", d->id);
        else if (!same_state(got.state, got.state_len, want, wantlen, why, sizeof why))
            differ(&v, "doc=%s state: %s", d->id, why);
        free(ups);
        free(lens);
        free(want);
        readmodel_doc_deinit(&got);
    }
    printf("verify: %lld events below the read model's offsets, %zu documents, %lld indexed, "
           "%zu quarantined, %ld differences\n",
           (long long)folded, v.ndocs, (long long)indexed, v.nquar, v.reported);
    (void)total;
    status = v.reported ? 1 : 0;
out:
    r = PQexec(pg, "ROLLBACK");
    PQclear(r);
    PQfinish(pg);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    quarantine_checker_destroy(qc);
    free(P);
    free(F);
    for (size_t i = 0; i < v.ndocs; i++) {
        vdoc_t *d = v.docs[i];
        for (size_t k = 0; k < d->nev; k++)
            free(d->ev[k].actor);
        free(d->ev);
        free(d->upbuf);
        free(d->upoffs);
        free(d->id);
        free(d);
    }
    free(v.docs);
    free(v.dtab);
    free(v.etab);
    free(v.quar);
    return status;
}

const quire_cmd_t quire_cmd_verify = {
    .name = "verify",
    .summary = "compare the read model with a fresh replay of the log; non-zero on any difference",
    .synopsis = "",
    .opts = verify_opts,
    .nopts = QUIRE_NOPTS(verify_opts),
    .conf_size = sizeof(verify_conf_t),
    .run = verify_run,
};
