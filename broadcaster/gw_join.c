/*
 * gw_join — worker threads that read a joining document's state from the read model
 * (DESIGN §4 "join without gaps"): readmodel_load gives, in one REPEATABLE READ snapshot, the
 * state covering the document's partition up to P (the projector's next offset). Then the
 * partition's high watermark H, so the loop knows when the catch-up from P is complete.
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
#include "readmodel.h"
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

/* A document the read model does not know yet: its state is empty and covers the partition up
 * to the projector's next offset (events of it the projector has not reached are read from
 * Kafka from there). */
static quire_err_t load_new(gw_join_t *j, PGconn *pg, const jreq_t *r, gw_ev_t *ev)
{
    char part[16];
    snprintf(part, sizeof part, "%d", r->partition);
    const char *params[] = {j->gw->topic_updates, part};
    PGresult *res = PQexecParams(pg,
                                 "SELECT next_offset FROM projector_offsets WHERE topic = $1 AND "
                                 "partition = $2::int",
                                 2, NULL, params, NULL, NULL, 1);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return QUIRE_ERR_PG;
    }
    ev->position = PQntuples(res) == 1 ? be64(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    ev->version = -1;
    ev->deleted = false;
    return QUIRE_OK;
}

static quire_err_t load(gw_join_t *j, PGconn *pg, const jreq_t *r, gw_ev_t *ev)
{
    readmodel_doc_t d;
    memset(&d, 0, sizeof d);
    quire_err_t err = readmodel_load(pg, j->gw->topic_updates, r->doc_id, &d);
    if (err == QUIRE_ERR_NOT_FOUND)
        return load_new(j, pg, r, ev);
    if (err)
        return err;
    ydoc_limits_t lim;
    gw_state_limits(&lim, (size_t)j->gw->conf.max_doc_bytes);
    ydoc_t *doc = NULL;
    err = ydoc_new(&lim, &doc);
    if (!err && d.state_len) {
        yjs_error_t yerr;
        err = ydoc_apply(doc, d.state, d.state_len, 0, NULL, &yerr);
        if (err)
            QLOG_ERROR("could not load a document's stored state", "doc=%s err=\"%s\"", r->doc_id,
                       yerr.message);
    }
    if (err) {
        ydoc_destroy(doc);
    } else {
        ev->doc = doc;
        ev->version = d.version;
        ev->position = d.next_offset;
        ev->deleted = d.lifecycle == READMODEL_DELETED;
    }
    readmodel_doc_deinit(&d);
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
