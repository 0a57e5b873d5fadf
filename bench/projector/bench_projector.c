/*
 * bench_projector — figures for the read model (issue 6), against the real broker and a real
 * PostgreSQL database that it may empty (never point it at data you keep).
 *
 *   bench_projector replay <updates-file> [runs]
 *       Produces every update of the file (u32 LE length + Yjs update records, e.g. from
 *       trace_updates.mjs) as DocEvents of one document into a fresh topic, then `runs` times
 *       (default 3): empties the read model and projects the whole topic from Kafka into
 *       PostgreSQL (projector.h, until the end of the log), end to end. Prints events/s per run
 *       and the median.
 *   bench_projector lag [rate] [seconds] [runs]
 *       A projector in a consumer group follows a fresh topic while events of 200 documents are
 *       produced at `rate` per second (default 5000) for `seconds` (default 20). The lag of an
 *       event is from its broker append time (LogAppendTime) to the moment the read model's
 *       commit that covers it is announced (LISTEN quire_readmodel); events of the first two
 *       seconds (warm-up: each document is loaded on first sight) are not counted. Prints
 *       p50/p99/max per run and the medians.
 *
 * Environment: QUIRE_KAFKA_BROKERS, QUIRE_BENCH_PG (a database migrated with `quire migrate`).
 * Benchmarks print figures; they never fail on time.
 */
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event_codec.h"
#include "projector.h"
#include "quire_kafka.h"
#include "quire_log.h"
#include "quire_pg.h"

static const char *brokers, *pgconn;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int create_topic(const char *topic, int partitions)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk)
        return -1;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof err);
    rd_kafka_NewTopic_set_config(nt, "message.timestamp.type", "LogAppendTime");
    rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1");
    rd_kafka_NewTopic_set_config(nt, "max.message.bytes", "2097152");
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = -1;
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rc = n == 1 && rd_kafka_topic_result_error(res[0]) == 0 ? 0 : -1;
        if (rc)
            fprintf(stderr, "create topic: %s\n",
                    n ? rd_kafka_topic_result_error_string(res[0]) : "?");
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    sleep(1); /* metadata propagation */
    return rc;
}

/* ---------------------------------------------------------------- producing */

typedef struct prod_s {
    rd_kafka_t *rk;
    event_codec_t *codec;
    atomic_long delivered, failed;
    /* lag: broker time of each delivered (partition, offset) */
    int64_t **bt; /* [partition][offset] */
    int64_t *btcap;
    int32_t nparts;
    pthread_mutex_t lock;
} prod_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    prod_t *p = opaque;
    if (m->err) {
        atomic_fetch_add(&p->failed, 1);
        return;
    }
    atomic_fetch_add(&p->delivered, 1);
    if (p->bt && m->partition >= 0 && m->partition < p->nparts) {
        rd_kafka_timestamp_type_t tt;
        int64_t ts = rd_kafka_message_timestamp(m, &tt);
        pthread_mutex_lock(&p->lock);
        if (m->offset < p->btcap[m->partition])
            p->bt[m->partition][m->offset] = ts;
        pthread_mutex_unlock(&p->lock);
    }
}

static int prod_init(prod_t *p, int32_t nparts, int64_t per_part_cap)
{
    char err[512];
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    rd_kafka_conf_t *c = quire_kafka_producer_conf(brokers, "5", err, sizeof err);
    if (!c)
        return -1;
    rd_kafka_conf_set_opaque(c, p);
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!p->rk || event_codec_new(NULL, &p->codec, err, sizeof err)) {
        fprintf(stderr, "producer: %s\n", err);
        return -1;
    }
    if (per_part_cap) {
        p->nparts = nparts;
        p->bt = calloc((size_t)nparts, sizeof *p->bt);
        p->btcap = calloc((size_t)nparts, sizeof *p->btcap);
        for (int32_t i = 0; i < nparts; i++) {
            p->bt[i] = calloc((size_t)per_part_cap, sizeof **p->bt);
            p->btcap[i] = per_part_cap;
        }
    }
    return 0;
}

static int produce(prod_t *p, const char *topic, const char *doc, const uint8_t *u, size_t len)
{
    event_codec_event_t ev = {
        .doc_id = doc,
        .doc_id_len = strlen(doc),
        .kind = EVENT_CODEC_KIND_UPDATE,
        .actor = "bench",
        .actor_len = 5,
        .server_time_ms = wall_ms(),
        .origin = "bench",
        .origin_len = 5,
        .update = u,
        .update_len = len,
    };
    randombytes_buf(ev.event_id, sizeof ev.event_id);
    ev.event_id[6] = (ev.event_id[6] & 0x0f) | 0x40;
    uint8_t *buf;
    size_t blen;
    if (event_codec_encode_alloc(p->codec, &ev, &buf, &blen))
        return -1;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(doc, strlen(doc)),
            RD_KAFKA_V_VALUE(buf, blen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
        if (!e)
            return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            free(buf);
            return -1;
        }
        rd_kafka_poll(p->rk, 10);
    }
}

static void prod_deinit(prod_t *p)
{
    rd_kafka_flush(p->rk, 60000);
    rd_kafka_destroy(p->rk);
    event_codec_destroy(p->codec);
    for (int32_t i = 0; i < p->nparts; i++)
        free(p->bt[i]);
    free(p->bt);
    free(p->btcap);
}

static int reset_readmodel(const char *topic)
{
    char err[512];
    PGconn *pg = quire_pg_connect(pgconn, "bench", err, sizeof err);
    if (!pg) {
        fprintf(stderr, "postgresql: %s\n", err);
        return -1;
    }
    const char *params[] = {topic};
    PGresult *r = PQexec(pg, "TRUNCATE documents, doc_events, quarantine");
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(r);
    r = PQexecParams(pg, "DELETE FROM projector_offsets WHERE topic = $1", 1, NULL, params, NULL,
                     NULL, 0);
    rc |= PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(r);
    r = PQexec(pg, "VACUUM ANALYZE");
    PQclear(r);
    PQfinish(pg);
    return rc;
}

/* ---------------------------------------------------------------- replay */

static int bench_replay(const char *file, int runs)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        perror(file);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)sz);
    if (!data || fread(data, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        return 2;
    }
    fclose(f);
    char prefix[64], topic[128];
    snprintf(prefix, sizeof prefix, "bench%ld", (long)time(NULL));
    snprintf(topic, sizeof topic, "%s.doc-updates", prefix);
    if (create_topic(topic, 12)) {
        fprintf(stderr, "could not create topic %s\n", topic);
        return 2;
    }
    prod_t p;
    if (prod_init(&p, 12, 0))
        return 2;
    size_t n = 0;
    double t0 = now_s();
    for (long off = 0; off + 4 <= sz;) {
        uint32_t len = (uint32_t)data[off] | (uint32_t)data[off + 1] << 8 |
                       (uint32_t)data[off + 2] << 16 | (uint32_t)data[off + 3] << 24;
        off += 4;
        if (off + (long)len > sz || produce(&p, topic, "automerge-paper", data + off, len)) {
            fprintf(stderr, "could not produce\n");
            return 2;
        }
        off += (long)len;
        n++;
        rd_kafka_poll(p.rk, 0);
    }
    rd_kafka_flush(p.rk, 120000);
    printf("produced %zu events (%ld bytes of updates) to %s in %.1fs; failed %ld\n", n, sz, topic,
           now_s() - t0, (long)atomic_load(&p.failed));
    prod_deinit(&p);
    free(data);
    double *rates = calloc((size_t)runs, sizeof *rates);
    for (int r = 0; r < runs; r++) {
        if (reset_readmodel(topic))
            return 2;
        char err[512] = "";
        projector_conf_t pc = {
            .brokers = brokers,
            .topic = topic,
            .pg = pgconn,
            .until_end = true,
            .flush_interval_ms = 10000, /* as `quire replay` */
        };
        volatile sig_atomic_t stop = 0;
        double s = now_s();
        projector_t *pj = projector_new(&pc, err, sizeof err);
        if (!pj) {
            fprintf(stderr, "projector: %s\n", err);
            return 2;
        }
        quire_err_t rc = projector_run(pj, &stop);
        double secs = now_s() - s;
        projector_stats_t st;
        projector_stats(pj, &st);
        projector_destroy(pj);
        rates[r] = (double)st.events / secs;
        printf("replay run %d: %lld events in %.2fs = %.0f events/s (%lld transactions, %s)\n",
               r + 1, (long long)st.events, secs, rates[r], (long long)st.batches,
               quire_err_str(rc));
        fflush(stdout);
    }
    printf("REPLAY automerge-paper Kafka -> PostgreSQL: median %.0f events/s over %d runs\n",
           median(rates, runs), runs);
    free(rates);
    return 0;
}

/* ---------------------------------------------------------------- lag */

typedef struct lagrun_s {
    projector_t *pj;
    volatile sig_atomic_t stop;
} lagrun_t;

static void *run_projector(void *opaque)
{
    lagrun_t *l = opaque;
    projector_run(l->pj, &l->stop);
    return NULL;
}

static int bench_lag(int rate, int seconds, int runs)
{
    double *p50s = calloc((size_t)runs, sizeof(double)),
           *p99s = calloc((size_t)runs, sizeof(double));
    for (int run = 0; run < runs; run++) {
        char prefix[64], topic[128], group[128], err[512] = "";
        snprintf(prefix, sizeof prefix, "lag%ld%d", (long)time(NULL), run);
        snprintf(topic, sizeof topic, "%s.doc-updates", prefix);
        snprintf(group, sizeof group, "%s-group", prefix);
        const int32_t nparts = 12;
        if (create_topic(topic, nparts) || reset_readmodel(topic))
            return 2;
        PGconn *listen = quire_pg_connect(pgconn, "bench-listen", err, sizeof err);
        PGresult *r = PQexec(listen, "LISTEN quire_readmodel");
        PQclear(r);
        projector_conf_t pc = {
            .brokers = brokers,
            .topic = topic,
            .pg = pgconn,
            .group_id = group,
            .session_timeout_ms = 6000,
        };
        lagrun_t l = {.pj = projector_new(&pc, err, sizeof err)};
        if (!l.pj) {
            fprintf(stderr, "projector: %s\n", err);
            return 2;
        }
        pthread_t th;
        pthread_create(&th, NULL, run_projector, &l);
        /* join the group first: the figure is the steady state, not the join */
        char why[128];
        for (int w = 0; w < 600 && !projector_ready(l.pj, why, sizeof why); w++)
            usleep(100 * 1000);
        int64_t total = (int64_t)rate * seconds;
        prod_t p;
        if (prod_init(&p, nparts, total + 16))
            return 2;
        /* notifications: per partition, (next offset, arrival wall ms) in order */
        size_t ncap = 1 << 20, nn = 0;
        int32_t *np = malloc(ncap * sizeof *np);
        int64_t *nnext = malloc(ncap * sizeof *nnext), *nat = malloc(ncap * sizeof *nat);
        char docs[200][32];
        for (int i = 0; i < 200; i++)
            snprintf(docs[i], sizeof docs[i], "lagdoc-%d", i);
        uint8_t upd[64];
        double start = now_s();
        int64_t start_wall = wall_ms(), sent = 0;
        while (sent < total || now_s() - start < seconds + 15.0) {
            double el = now_s() - start;
            int64_t due = (int64_t)(el * rate);
            if (due > total)
                due = total;
            while (sent < due) {
                /* a minimal valid Yjs update: one insert of a short string by client 1+sent */
                size_t k = 0;
                uint64_t client = 1000 + (uint64_t)sent;
                upd[k++] = 1;
                upd[k++] = 1;
                uint64_t c = client;
                do {
                    upd[k++] = (uint8_t)((c & 0x7f) | (c >= 0x80 ? 0x80 : 0));
                    c >>= 7;
                } while (c);
                upd[k++] = 0;    /* clock */
                upd[k++] = 0x04; /* ContentString, no origins, parent info follows */
                upd[k++] = 1;    /* parent is a root name */
                upd[k++] = 1;
                upd[k++] = 't';
                upd[k++] = 2;
                upd[k++] = 'h';
                upd[k++] = 'i';
                upd[k++] = 0; /* empty delete set */
                produce(&p, topic, docs[sent % 200], upd, k);
                sent++;
            }
            rd_kafka_poll(p.rk, 0);
            struct pollfd pf = {.fd = PQsocket(listen), .events = POLLIN};
            poll(&pf, 1, 1);
            if (pf.revents & POLLIN) {
                PQconsumeInput(listen);
                PGnotify *nt;
                while ((nt = PQnotifies(listen)) != NULL) {
                    int part;
                    long long next;
                    if (nn < ncap && sscanf(nt->extra, "%d:%lld", &part, &next) == 2) {
                        np[nn] = part;
                        nnext[nn] = next;
                        nat[nn++] = wall_ms();
                    }
                    PQfreemem(nt);
                }
            }
            if (sent >= total && (int64_t)atomic_load(&p.delivered) >= total) {
                /* wait until every partition's last event is announced */
                int64_t last[12] = {0};
                for (size_t i = 0; i < nn; i++)
                    if (nnext[i] > last[np[i]])
                        last[np[i]] = nnext[i];
                int64_t covered = 0;
                for (int i = 0; i < nparts; i++)
                    covered += last[i];
                if (covered >= total)
                    break;
            }
        }
        rd_kafka_flush(p.rk, 30000);
        /* lag per event */
        double *lags = malloc((size_t)total * sizeof *lags);
        size_t nl = 0;
        size_t unmatched = 0;
        for (int32_t part = 0; part < nparts; part++) {
            size_t ni = 0;
            for (int64_t off = 0; off < p.btcap[part]; off++) {
                if (!p.bt[part][off])
                    continue; /* no event at this offset */
                while (ni < nn && !(np[ni] == part && nnext[ni] > off))
                    ni++;
                if (ni >= nn) {
                    unmatched++;
                    continue;
                }
                /* the first two seconds warm up (first sight of each document loads it) */
                if (p.bt[part][off] >= start_wall + 2000)
                    lags[nl++] = (double)(nat[ni] - p.bt[part][off]);
            }
        }
        if (unmatched)
            printf("  %zu events were never announced within the run\n", unmatched);
        qsort(lags, nl, sizeof *lags, cmp_d);
        double p50 = nl ? lags[nl / 2] : -1, p99 = nl ? lags[(size_t)((double)nl * 0.99)] : -1;
        double mx = nl ? lags[nl - 1] : -1;
        p50s[run] = p50;
        p99s[run] = p99;
        printf("lag run %d: %zu/%lld events measured at %d/s for %ds: p50 %.0f ms, p99 %.0f ms, "
               "max %.0f ms\n",
               run + 1, nl, (long long)total, rate, seconds, p50, p99, mx);
        fflush(stdout);
        free(lags);
        free(np);
        free(nnext);
        free(nat);
        prod_deinit(&p);
        l.stop = 1;
        pthread_join(th, NULL);
        projector_destroy(l.pj);
        PQfinish(listen);
    }
    printf("LAG at %d events/s: median p50 %.0f ms, median p99 %.0f ms over %d runs\n", rate,
           median(p50s, runs), median(p99s, runs), runs);
    free(p50s);
    free(p99s);
    return 0;
}

int main(int argc, char **argv)
{
    brokers = getenv("QUIRE_KAFKA_BROKERS");
    pgconn = getenv("QUIRE_BENCH_PG");
    if (argc < 2 || !brokers || !pgconn) {
        fprintf(stderr, "usage: QUIRE_KAFKA_BROKERS=... QUIRE_BENCH_PG=... bench_projector "
                        "replay <updates-file> [runs] | lag [rate] [seconds] [runs]\n");
        return 2;
    }
    quire_log_level_t level = QUIRE_LOG_ERROR;
    if (getenv("QUIRE_BENCH_LOG"))
        quire_log_level_parse(getenv("QUIRE_BENCH_LOG"), &level);
    quire_log_init("bench", level);
    if (sodium_init() < 0)
        return 2;
    if (strcmp(argv[1], "replay") == 0 && argc >= 3)
        return bench_replay(argv[2], argc > 3 ? atoi(argv[3]) : 3);
    if (strcmp(argv[1], "lag") == 0)
        return bench_lag(argc > 2 ? atoi(argv[2]) : 5000, argc > 3 ? atoi(argv[3]) : 20,
                         argc > 4 ? atoi(argv[4]) : 3);
    fprintf(stderr, "unknown benchmark %s\n", argv[1]);
    return 2;
}
