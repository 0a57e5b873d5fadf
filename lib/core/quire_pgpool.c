/* quire_pgpool — see the header. Slots are connected lazily; a broken slot is closed and
 * reconnected by the next get(). */
#include "quire_pgpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quire_pg.h"

typedef struct {
    PGconn *pg;
    bool busy;
} slot_t;

struct quire_pgpool_s {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *conninfo, *app;
    size_t size;
    slot_t *slots;
};

quire_pgpool_t *quire_pgpool_new(const char *conninfo, const char *app, size_t size)
{
    quire_pgpool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->conninfo = strdup(conninfo);
    p->app = strdup(app ? app : "quire");
    p->size = size ? size : 4;
    p->slots = calloc(p->size, sizeof *p->slots);
    if (!p->conninfo || !p->app || !p->slots) {
        quire_pgpool_destroy(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    return p;
}

void quire_pgpool_destroy(quire_pgpool_t *p)
{
    if (!p)
        return;
    if (p->slots) {
        for (size_t i = 0; i < p->size; i++)
            if (p->slots[i].pg)
                PQfinish(p->slots[i].pg);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->freed);
    }
    free(p->slots);
    free(p->conninfo);
    free(p->app);
    free(p);
}

PGconn *quire_pgpool_get(quire_pgpool_t *p, int timeout_ms, char *errbuf, size_t errlen)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->lock);
    slot_t *slot = NULL;
    for (;;) {
        for (size_t i = 0; i < p->size && !slot; i++)
            if (!p->slots[i].busy && p->slots[i].pg)
                slot = &p->slots[i];
        for (size_t i = 0; i < p->size && !slot; i++)
            if (!p->slots[i].busy)
                slot = &p->slots[i];
        if (slot)
            break;
        if (pthread_cond_timedwait(&p->freed, &p->lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->lock);
            snprintf(errbuf, errlen, "all %zu database connections are busy", p->size);
            return NULL;
        }
    }
    slot->busy = true;
    pthread_mutex_unlock(&p->lock);
    if (slot->pg && PQstatus(slot->pg) != CONNECTION_OK) {
        PQfinish(slot->pg);
        slot->pg = NULL;
    }
    if (!slot->pg)
        slot->pg = quire_pg_connect(p->conninfo, p->app, errbuf, errlen);
    if (!slot->pg) {
        pthread_mutex_lock(&p->lock);
        slot->busy = false;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
        return NULL;
    }
    return slot->pg;
}

void quire_pgpool_put(quire_pgpool_t *p, PGconn *pg, bool broken)
{
    if (!pg)
        return;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->size; i++) {
        if (p->slots[i].pg == pg) {
            if (broken || PQtransactionStatus(pg) != PQTRANS_IDLE) {
                PQfinish(pg);
                p->slots[i].pg = NULL;
            }
            p->slots[i].busy = false;
            break;
        }
    }
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}
