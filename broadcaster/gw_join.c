/*
 * gw_join — worker threads that read a joining document's state from the read model
 * (DESIGN §4 "join without gaps"): in one REPEATABLE READ snapshot, the document row (state
 * covering its partition below `position`), the partition's next offset P, and the document's
 * indexed events at offsets >= position; merged, that state covers the partition up to P. Then
 * the partition's high watermark H, so the loop knows when the catch-up from P is complete.
 * Blocking I/O happens here, never on the event loop.
 */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "quire_log.h"
#include "quire_pg.h"
#include "ydoc.h"

typedef struct jreq_s {
    struct jreq_s *next;
    char doc_id[EVENT_CODEC_DOC_ID_MAX + 1];
    int32_t partition;
} jreq_t;

struct gw_join_s {
    gw_t *gw;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    jreq_t *head, *tail;
    bool stop;
    int nworkers;
    pthread_t *threads;
};

static int64_t be64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (uint8_t)p[i];
    return (int64_t)v;
}

static quire_err_t load(gw_join_t *j, PGconn *pg, const jreq_t *r, gw_ev_t *ev)
{
    char part[16];
    snprintf(part, sizeof part, "%d", r->partition);
    PGresult *res = PQexec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok)
        return QUIRE_ERR_PG;
    quire_err_t err = QUIRE_ERR_PG;
    const uint8_t **parts = NULL;
    size_t *lens = NULL;
    PGresult *row = NULL, *off = NULL, *evs = NULL;
    const char *p1[] = {r->doc_id};
    row = PQexecParams(pg,
                       "SELECT lifecycle, version, position, ydoc FROM documents WHERE doc_id = $1",
                       1, NULL, p1, NULL, NULL, 1);
    if (PQresultStatus(row) != PGRES_TUPLES_OK)
        goto out;
    const char *p2[] = {j->gw->topic_updates, part};
    off = PQexecParams(pg,
                       "SELECT next_offset FROM projector_offsets WHERE topic = $1 AND "
                       "partition = $2::int",
                       2, NULL, p2, NULL, NULL, 1);
    if (PQresultStatus(off) != PGRES_TUPLES_OK)
        goto out;
    int64_t position = 0, version = -1, P = 0;
    bool deleted = false;
    if (PQntuples(row) == 1) {
        deleted = strcmp(PQgetvalue(row, 0, 0), "deleted") == 0;
        version = be64(PQgetvalue(row, 0, 1));
        position = be64(PQgetvalue(row, 0, 2));
    }
    if (PQntuples(off) == 1)
        P = be64(PQgetvalue(off, 0, 0));
    char posbuf[24];
    snprintf(posbuf, sizeof posbuf, "%lld", (long long)position);
    const char *p3[] = {r->doc_id, posbuf};
    evs = PQexecParams(pg,
                       "SELECT \"offset\", kind, \"update\" FROM doc_events WHERE doc_id = $1 AND "
                       "\"offset\" >= $2::bigint ORDER BY \"offset\"",
                       2, NULL, p3, NULL, NULL, 1);
    if (PQresultStatus(evs) != PGRES_TUPLES_OK)
        goto out;
    int n = PQntuples(evs);
    parts = calloc((size_t)n + 1, sizeof *parts);
    lens = calloc((size_t)n + 1, sizeof *lens);
    if (!parts || !lens) {
        err = QUIRE_ERR_NOMEM;
        goto out;
    }
    size_t np = 0;
    if (PQntuples(row) == 1 && PQgetlength(row, 0, 3) > 0) {
        parts[np] = (const uint8_t *)PQgetvalue(row, 0, 3);
        lens[np++] = (size_t)PQgetlength(row, 0, 3);
    }
    for (int i = 0; i < n; i++) {
        int64_t o = be64(PQgetvalue(evs, i, 0));
        uint16_t kind_be;
        memcpy(&kind_be, PQgetvalue(evs, i, 1), 2);
        int kind = ntohs(kind_be);
        if (o > version)
            version = o;
        if (kind == EVENT_CODEC_KIND_DELETE)
            deleted = true;
        if (PQgetlength(evs, i, 2) > 0) {
            parts[np] = (const uint8_t *)PQgetvalue(evs, i, 2);
            lens[np++] = (size_t)PQgetlength(evs, i, 2);
        }
    }
    uint8_t *merged = NULL;
    size_t mlen = 0;
    yjs_error_t yerr;
    if (np == 0) {
        merged = malloc(2);
        if (merged) {
            merged[0] = merged[1] = 0;
            mlen = 2;
        }
        err = merged ? QUIRE_OK : QUIRE_ERR_NOMEM;
    } else {
        err = yjs_update_merge(parts, lens, np, NULL, YJS_DECODE_SKIM, &merged, &mlen, &yerr);
        if (err)
            QLOG_ERROR("could not merge a document's stored state", "doc=%s err=\"%s\"", r->doc_id,
                       yerr.message);
    }
    if (!err) {
        ev->data = merged;
        ev->len = mlen;
        ev->version = version;
        ev->position = P > position ? P : position;
        ev->deleted = deleted;
    }
out:
    free(parts);
    free(lens);
    PQclear(row);
    PQclear(off);
    PQclear(evs);
    res = PQexec(pg, "COMMIT");
    PQclear(res);
    return err;
}

static void *worker(void *arg)
{
    gw_join_t *j = arg;
    PGconn *pg = NULL;
    char errbuf[512];
    for (;;) {
        pthread_mutex_lock(&j->lock);
        while (!j->head && !j->stop)
            pthread_cond_wait(&j->cond, &j->lock);
        if (j->stop) {
            pthread_mutex_unlock(&j->lock);
            break;
        }
        jreq_t *r = j->head;
        j->head = r->next;
        if (!j->head)
            j->tail = NULL;
        pthread_mutex_unlock(&j->lock);

        gw_ev_t *ev = gw_ev_new(GW_EV_JOIN_DONE);
        if (!ev) {
            free(r);
            continue;
        }
        snprintf(ev->doc_id, sizeof ev->doc_id, "%s", r->doc_id);
        ev->partition = r->partition;
        ev->err = QUIRE_ERR_UNAVAILABLE;
        for (int attempt = 0; attempt < 2 && ev->err; attempt++) {
            if (!pg || PQstatus(pg) != CONNECTION_OK) {
                if (pg)
                    PQfinish(pg);
                pg = quire_pg_connect(j->gw->conf.pg, "quire-gateway", errbuf, sizeof errbuf);
                if (!pg) {
                    QLOG_WARN("could not load a document", "doc=%s err=\"%s\"", r->doc_id, errbuf);
                    break;
                }
            }
            ev->err = load(j, pg, r, ev);
            if (ev->err == QUIRE_ERR_PG) {
                QLOG_WARN("could not read the read model", "doc=%s err=\"%s\"", r->doc_id,
                          PQerrorMessage(pg));
                PQfinish(pg);
                pg = NULL;
            }
        }
        if (!ev->err) {
            ev->high = gw_kafka_high_watermark(j->gw->kafka, r->partition);
            if (ev->high < 0)
                ev->err = QUIRE_ERR_KAFKA;
        }
        free(r);
        gw_post(j->gw, ev);
    }
    if (pg)
        PQfinish(pg);
    return NULL;
}

gw_join_t *gw_join_new(gw_t *gw, int workers, char *errbuf, size_t errlen)
{
    gw_join_t *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    j->gw = gw;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    j->threads = calloc((size_t)workers, sizeof *j->threads);
    for (int i = 0; j->threads && i < workers; i++) {
        if (pthread_create(&j->threads[i], NULL, worker, j) != 0)
            break;
        j->nworkers++;
    }
    if (j->nworkers == 0) {
        snprintf(errbuf, errlen, "could not start join workers");
        gw_join_destroy(j);
        return NULL;
    }
    return j;
}

void gw_join_destroy(gw_join_t *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    j->stop = true;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    for (int i = 0; i < j->nworkers; i++)
        pthread_join(j->threads[i], NULL);
    for (jreq_t *r = j->head, *n; r; r = n) {
        n = r->next;
        free(r);
    }
    free(j->threads);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->cond);
    free(j);
}

void gw_join_request(gw_join_t *j, const char *doc_id, int32_t partition)
{
    jreq_t *r = calloc(1, sizeof *r);
    if (!r)
        return;
    snprintf(r->doc_id, sizeof r->doc_id, "%s", doc_id);
    r->partition = partition;
    pthread_mutex_lock(&j->lock);
    if (j->tail)
        j->tail->next = r;
    else
        j->head = r;
    j->tail = r;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
}
