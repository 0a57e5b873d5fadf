/*
 * bench_ingest — the write path through the ingest library against the real broker
 * (QUIRE_KAFKA_BROKERS; run under the stack: `set -a; . .quire/test/stack.env; set +a`).
 *
 *   1. sustained throughput: 30-byte Yjs updates as fast as the library accepts them, acks=all,
 *      idempotent; updates/s from first submit to last durable report (median of runs);
 *   2. latency: a steady 1,000 updates/s for 10 s; submit-to-durable-report p50/p99/max.
 *
 * Usage: bench_ingest [throughput-count] [runs]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingest.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A 30-byte Yjs update: client 1 inserts 8 characters into Y.Text "t" at clock c. */
static size_t make_update(uint8_t *buf, uint32_t client, uint32_t clock)
{
    size_t n = 0;
    buf[n++] = 1; /* one client group */
    buf[n++] = 1; /* one struct */
    uint32_t c = client;
    do { /* varUint client */
        uint8_t b = c & 0x7f;
        c >>= 7;
        buf[n++] = b | (c ? 0x80 : 0);
    } while (c);
    uint32_t k = clock;
    do {
        uint8_t b = k & 0x7f;
        k >>= 7;
        buf[n++] = b | (k ? 0x80 : 0);
    } while (k);
    if (clock == 0) {
        buf[n++] = 0x04; /* Item, string content, no origins */
        buf[n++] = 1;    /* parent: root */
        buf[n++] = 1;
        buf[n++] = 't';
    } else {
        buf[n++] = 0x84; /* Item with origin (client, clock-1) */
        uint32_t o = client;
        do {
            uint8_t b = o & 0x7f;
            o >>= 7;
            buf[n++] = b | (o ? 0x80 : 0);
        } while (o);
        k = clock - 1;
        do {
            uint8_t b = k & 0x7f;
            k >>= 7;
            buf[n++] = b | (k ? 0x80 : 0);
        } while (k);
    }
    buf[n++] = 8;
    memcpy(buf + n, "abcdefgh", 8);
    n += 8;
    buf[n++] = 0; /* empty delete set */
    return n;
}

typedef struct {
    atomic_long done, failed;
    int64_t *lat_ns; /* per submission (latency run) */
} state_t;

typedef struct {
    state_t *st;
    int64_t t0;
    long idx;
} sub_t;

static void on_done(void *opaque, const ingest_result_t *res)
{
    sub_t *s = opaque;
    if (res->err)
        atomic_fetch_add(&s->st->failed, 1);
    if (s->st->lat_ns)
        s->st->lat_ns[s->idx] = now_ns() - s->t0;
    atomic_fetch_add(&s->st->done, 1);
    free(s);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static ingest_t *make_ingest(const char *brokers, const char *topic, const char *linger)
{
    char err[512];
    ingest_conf_t c = {.brokers = brokers,
                       .topic = topic,
                       .origin = "bench",
                       .linger_ms = linger,
                       .max_inflight = 200000,
                       .max_inflight_bytes = 256u << 20};
    ingest_t *in = ingest_new(&c, err, sizeof err);
    if (!in)
        fprintf(stderr, "ingest_new: %s\n", err);
    return in;
}

static double throughput_run(ingest_t *in, long n)
{
    state_t st = {0};
    uint8_t upd[64];
    char doc[32], err[256];
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        size_t len = make_update(upd, 1000 + (uint32_t)(i % 64), (uint32_t)(i / 64) * 8);
        snprintf(doc, sizeof doc, "bench-doc-%ld", i % 64);
        ingest_write_t w = {.doc_id = doc,
                            .actor = "bench",
                            .kind = EVENT_CODEC_KIND_UPDATE,
                            .update = upd,
                            .len = len,
                            .doc_bytes = -1};
        sub_t *s = malloc(sizeof *s);
        *s = (sub_t){.st = &st, .t0 = 0, .idx = i};
        quire_err_t e;
        while ((e = ingest_submit(in, &w, on_done, s, NULL, err, sizeof err)) == QUIRE_ERR_BUSY)
            usleep(100);
        if (e) {
            fprintf(stderr, "submit: %s\n", err);
            free(s);
            return 0;
        }
    }
    while (atomic_load(&st.done) < n)
        usleep(200);
    double secs = (double)(now_ns() - t0) / 1e9;
    if (atomic_load(&st.failed))
        fprintf(stderr, "%ld failed\n", atomic_load(&st.failed));
    return (double)n / secs;
}

static void latency_run(ingest_t *in, int rate, int seconds)
{
    long n = (long)rate * seconds;
    state_t st = {0};
    st.lat_ns = calloc((size_t)n, sizeof *st.lat_ns);
    uint8_t upd[64];
    char doc[32], err[256];
    int64_t start = now_ns(), period = 1000000000LL / rate;
    for (long i = 0; i < n; i++) {
        int64_t due = start + i * period;
        int64_t now;
        while ((now = now_ns()) < due) {
            int64_t d = due - now;
            if (d > 200000)
                usleep((useconds_t)(d / 2000));
        }
        size_t len = make_update(upd, 5000 + (uint32_t)(i % 16), (uint32_t)(i / 16) * 8);
        snprintf(doc, sizeof doc, "lat-doc-%ld", i % 16);
        ingest_write_t w = {.doc_id = doc,
                            .actor = "bench",
                            .kind = EVENT_CODEC_KIND_UPDATE,
                            .update = upd,
                            .len = len,
                            .doc_bytes = -1};
        sub_t *s = malloc(sizeof *s);
        *s = (sub_t){.st = &st, .t0 = now_ns(), .idx = i};
        if (ingest_submit(in, &w, on_done, s, NULL, err, sizeof err)) {
            fprintf(stderr, "submit: %s\n", err);
            free(s);
        }
    }
    while (atomic_load(&st.done) < n)
        usleep(1000);
    qsort(st.lat_ns, (size_t)n, sizeof *st.lat_ns, cmp64);
    printf("latency at %d updates/s for %d s (n=%ld): p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
           rate, seconds, n, (double)st.lat_ns[n / 2] / 1e6, (double)st.lat_ns[n * 99 / 100] / 1e6,
           (double)st.lat_ns[n - 1] / 1e6);
    free(st.lat_ns);
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *brokers = getenv("QUIRE_KAFKA_BROKERS");
    const char *prefix = getenv("QUIRE_TOPIC_PREFIX");
    if (!brokers) {
        fprintf(stderr, "set QUIRE_KAFKA_BROKERS (source a stack.env)\n");
        return 2;
    }
    char topic[128];
    snprintf(topic, sizeof topic, "%s.doc-updates", prefix ? prefix : "quire");
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int runs = argc > 2 ? atoi(argv[2]) : 3;

    ingest_t *in = make_ingest(brokers, topic, "5");
    if (!in)
        return 1;
    throughput_run(in, 5000); /* warm up: metadata, connections */
    double r[16];
    for (int i = 0; i < runs && i < 16; i++) {
        r[i] = throughput_run(in, n);
        printf("throughput run %d: %.0f updates/s (%ld x 30-byte updates, acks=all)\n", i + 1, r[i],
               n);
    }
    qsort(r, (size_t)runs, sizeof r[0], cmpd);
    printf("throughput median: %.0f updates/s (target >= 50,000)\n", r[runs / 2]);
    ingest_destroy(in, 10000);

    in = make_ingest(brokers, topic, "0");
    throughput_run(in, 1000);
    for (int i = 0; i < 3; i++)
        latency_run(in, 1000, 10);
    ingest_destroy(in, 10000);
    return 0;
}
