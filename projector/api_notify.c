/* api_notify — see the header. */
#include "api_notify.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "quire_log.h"
#include "quire_pg.h"

typedef struct waiter_s {
    struct waiter_s *next;
    int32_t partition;
    int64_t offset;
    int64_t deadline_ms;
    api_notify_fn fn;
    void *opaque;
} waiter_t;

struct api_notify_s {
    char *conninfo, *topic;
    int32_t nparts;
    _Atomic int64_t *pos;
    atomic_bool healthy;
    atomic_bool running;
    int wake_fd;
    pthread_t thread;
    pthread_mutex_t lock;
    waiter_t *waiters;
    PGconn *pg;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t api_notify_position(api_notify_t *n, int32_t partition)
{
    if (!n || partition < 0 || partition >= n->nparts || !atomic_load(&n->healthy))
        return -1;
    return atomic_load(&n->pos[partition]);
}

bool api_notify_healthy(api_notify_t *n)
{
    return n && atomic_load(&n->healthy);
}

static void wake(api_notify_t *n)
{
    uint64_t one = 1;
    ssize_t w = write(n->wake_fd, &one, sizeof one);
    (void)w;
}

quire_err_t api_notify_wait(api_notify_t *n, int32_t partition, int64_t offset, int timeout_ms,
                            api_notify_fn fn, void *opaque)
{
    if (partition >= 0 && partition < n->nparts && atomic_load(&n->healthy) &&
        atomic_load(&n->pos[partition]) > offset) {
        fn(opaque, true);
        return QUIRE_OK;
    }
    waiter_t *w = calloc(1, sizeof *w);
    if (!w)
        return QUIRE_ERR_NOMEM;
    w->partition = partition;
    w->offset = offset;
    w->deadline_ms = mono_ms() + timeout_ms;
    w->fn = fn;
    w->opaque = opaque;
    pthread_mutex_lock(&n->lock);
    w->next = n->waiters;
    n->waiters = w;
    pthread_mutex_unlock(&n->lock);
    wake(n); /* re-checks positions and deadlines */
    return QUIRE_OK;
}

/* Calls every waiter that is done (reached, timed out, or all when stopping). */
static void fire(api_notify_t *n, bool all)
{
    int64_t now = mono_ms();
    waiter_t *done = NULL;
    pthread_mutex_lock(&n->lock);
    for (waiter_t **pp = &n->waiters; *pp;) {
        waiter_t *w = *pp;
        bool reached = atomic_load(&n->healthy) && w->partition >= 0 && w->partition < n->nparts &&
                       atomic_load(&n->pos[w->partition]) > w->offset;
        if (all || reached || now >= w->deadline_ms) {
            *pp = w->next;
            w->next = done;
            done = w;
            w->offset = reached ? 1 : 0; /* reuse: the outcome */
        } else {
            pp = &w->next;
        }
    }
    pthread_mutex_unlock(&n->lock);
    while (done) {
        waiter_t *w = done;
        done = w->next;
        w->fn(w->opaque, w->offset == 1);
        free(w);
    }
}

static int next_timeout(api_notify_t *n)
{
    int64_t now = mono_ms(), t = -1;
    pthread_mutex_lock(&n->lock);
    for (waiter_t *w = n->waiters; w; w = w->next)
        if (t < 0 || w->deadline_ms - now < t)
            t = w->deadline_ms - now;
    pthread_mutex_unlock(&n->lock);
    if (t < 0)
        return -1;
    return t > 60000 ? 60000 : (int)t;
}

static void disconnect(api_notify_t *n)
{
    atomic_store(&n->healthy, false);
    if (n->pg)
        PQfinish(n->pg);
    n->pg = NULL;
}

static bool connect_listen(api_notify_t *n)
{
    char err[512];
    n->pg = quire_pg_connect(n->conninfo, "quire-api-notify", err, sizeof err);
    if (!n->pg)
        return false;
    PGresult *r = PQexec(n->pg, "LISTEN quire_readmodel");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        disconnect(n);
        return false;
    }
    const char *params[] = {n->topic};
    r = PQexecParams(n->pg, "SELECT partition, next_offset FROM projector_offsets WHERE topic = $1",
                     1, NULL, params, NULL, NULL, 0);
    ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    for (int i = 0; ok && i < n->nparts; i++)
        atomic_store(&n->pos[i], 0);
    for (int i = 0; ok && i < PQntuples(r); i++) {
        int part = atoi(PQgetvalue(r, i, 0));
        if (part >= 0 && part < n->nparts)
            atomic_store(&n->pos[part], atoll(PQgetvalue(r, i, 1)));
    }
    PQclear(r);
    if (!ok) {
        disconnect(n);
        return false;
    }
    atomic_store(&n->healthy, true);
    return true;
}

static void *run(void *opaque)
{
    api_notify_t *n = opaque;
    int backoff = 100;
    bool logged = false;
    while (atomic_load(&n->running)) {
        if (!n->pg) {
            if (!connect_listen(n)) {
                if (!logged)
                    QLOG_WARN("could not listen for read model progress; retrying");
                logged = true;
                fire(n, false);
                struct pollfd pf = {.fd = n->wake_fd, .events = POLLIN};
                int t = next_timeout(n);
                poll(&pf, 1, t >= 0 && t < backoff ? t : backoff);
                if (pf.revents & POLLIN) {
                    uint64_t v;
                    ssize_t rd = read(n->wake_fd, &v, sizeof v);
                    (void)rd;
                }
                backoff = backoff < 2000 ? backoff * 2 : 2000;
                continue;
            }
            if (logged)
                QLOG_INFO("listening for read model progress again");
            logged = false;
            backoff = 100;
            fire(n, false);
        }
        struct pollfd pf[2] = {{.fd = PQsocket(n->pg), .events = POLLIN},
                               {.fd = n->wake_fd, .events = POLLIN}};
        int rc = poll(pf, 2, next_timeout(n));
        if (rc < 0 && errno != EINTR) {
            disconnect(n);
            continue;
        }
        if (pf[1].revents & POLLIN) {
            uint64_t v;
            ssize_t rd = read(n->wake_fd, &v, sizeof v);
            (void)rd;
        }
        if (pf[0].revents & (POLLIN | POLLERR | POLLHUP)) {
            if (!PQconsumeInput(n->pg)) {
                QLOG_WARN("lost the read model progress connection", "err=\"%s\"",
                          PQerrorMessage(n->pg));
                disconnect(n);
                fire(n, false);
                continue;
            }
            PGnotify *nt;
            while ((nt = PQnotifies(n->pg)) != NULL) {
                int part = -1;
                long long next = -1;
                if (sscanf(nt->extra, "%d:%lld", &part, &next) == 2 && part >= 0 &&
                    part < n->nparts)
                    atomic_store(&n->pos[part], next);
                PQfreemem(nt);
            }
        }
        fire(n, false);
    }
    disconnect(n);
    fire(n, true);
    return NULL;
}

api_notify_t *api_notify_new(const char *conninfo, const char *topic, int32_t partitions)
{
    api_notify_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->conninfo = strdup(conninfo);
    n->topic = strdup(topic);
    n->nparts = partitions > 0 ? partitions : 1;
    n->pos = calloc((size_t)n->nparts, sizeof *n->pos);
    n->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!n->conninfo || !n->topic || !n->pos || n->wake_fd < 0) {
        if (n->wake_fd >= 0)
            close(n->wake_fd);
        free(n->conninfo);
        free(n->topic);
        free(n->pos);
        free(n);
        return NULL;
    }
    pthread_mutex_init(&n->lock, NULL);
    atomic_store(&n->running, true);
    if (pthread_create(&n->thread, NULL, run, n) != 0) {
        close(n->wake_fd);
        pthread_mutex_destroy(&n->lock);
        free(n->conninfo);
        free(n->topic);
        free(n->pos);
        free(n);
        return NULL;
    }
    return n;
}

void api_notify_destroy(api_notify_t *n)
{
    if (!n)
        return;
    atomic_store(&n->running, false);
    wake(n);
    pthread_join(n->thread, NULL);
    close(n->wake_fd);
    pthread_mutex_destroy(&n->lock);
    free(n->conninfo);
    free(n->topic);
    free(n->pos);
    free(n);
}
