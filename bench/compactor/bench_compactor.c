/*
 * bench_compactor — producers and the cold-load figure for the compactor (issue 8), against the
 * real broker and PostgreSQL of a stack whose data may be lost. run.sh drives the whole set.
 *
 *   bench_compactor topics <prefix> [partitions]
 *       creates <prefix>.doc-updates and <prefix>.doc-snapshots as ops/stack does (LogAppendTime,
 *       infinite retention; the snapshots compacted, 64 MiB messages); existing ones are kept.
 *   bench_compactor produce <prefix> <doc> <updates-file> [limit]
 *       produces the file's updates (u32 LE length + Yjs update records, from
 *       bench/projector/trace_updates.mjs) as DocEvents of one document, in order, straight to
 *       Kafka — the real event encoding, as ingest writes it. Also used by the integration test
 *       of automerge-paper (259,778 events, no HTTP).
 *   bench_compactor produce-docs <prefix> <ndocs> <per-doc> <updates-file>...
 *       documents bench-<i> (i < ndocs), each the first per-doc updates of file i mod nfiles,
 *       interleaved round-robin (one update of each document in turn).
 *   bench_compactor load <doc> [runs] [topic] [at-offset]
 *       the gateway's cold load of a document, as broadcaster/gw_join.c does it on a pooled
 *       connection: readmodel_load (the row, or the newest snapshot, plus the tail), then the
 *       state integrated into a fresh ydoc and the full SyncStep2 encoded; and the same through a
 *       snapshot (readmodel_load_at of the latest version: the ?at= path, and what a join reads
 *       while the row lags), and at a given offset (a long tail). Prints per-phase medians and
 *       what each load read.
 *
 * Environment: QUIRE_KAFKA_BROKERS, QUIRE_PG. Benchmarks print figures; they never fail on time.
 */
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <sodium.h>
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
#include "ydoc.h"

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

/* ---------------------------------------------------------------- topics */

static int create_topics(const char *prefix, int partitions)
{
    char err[512], t1[256], t2[256];
    quire_kafka_topic(prefix, QUIRE_TOPIC_DOC_UPDATES, t1, sizeof t1);
    quire_kafka_topic(prefix, QUIRE_TOPIC_DOC_SNAPSHOTS, t2, sizeof t2);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk)
        return -1;
    rd_kafka_NewTopic_t *nt[2];
    nt[0] = rd_kafka_NewTopic_new(t1, partitions, 1, err, sizeof err);
    rd_kafka_NewTopic_set_config(nt[0], "message.timestamp.type", "LogAppendTime");
    rd_kafka_NewTopic_set_config(nt[0], "retention.ms", "-1");
    rd_kafka_NewTopic_set_config(nt[0], "max.message.bytes", "2097152");
    nt[1] = rd_kafka_NewTopic_new(t2, partitions, 1, err, sizeof err);
    rd_kafka_NewTopic_set_config(nt[1], "message.timestamp.type", "LogAppendTime");
    rd_kafka_NewTopic_set_config(nt[1], "cleanup.policy", "compact");
    rd_kafka_NewTopic_set_config(nt[1], "max.message.bytes", "67108864");
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, 2, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = 0;
    if (ev) {
        size_t n = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                fprintf(stderr, "%s: %s\n", rd_kafka_topic_result_name(res[i]),
                        rd_kafka_err2str(e));
                rc = -1;
            }
        }
        rd_kafka_event_destroy(ev);
    } else {
        rc = -1;
    }
    rd_kafka_NewTopic_destroy_array(nt, 2);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---------------------------------------------------------------- producing */

typedef struct prod_s {
    rd_kafka_t *rk;
    event_codec_t *codec;
    atomic_long failed;
    char topic[256];
} prod_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    prod_t *p = opaque;
    if (m->err)
        atomic_fetch_add(&p->failed, 1);
}

static int prod_init(prod_t *p, const char *prefix)
{
    char err[512];
    memset(p, 0, sizeof *p);
    quire_kafka_topic(prefix, QUIRE_TOPIC_DOC_UPDATES, p->topic, sizeof p->topic);
    rd_kafka_conf_t *c = quire_kafka_producer_conf(brokers, "20", err, sizeof err);
    if (!c)
        return -1;
    quire_kafka_conf_set(c, "batch.size", "1000000", err, sizeof err);
    quire_kafka_conf_set(c, "queue.buffering.max.messages", "1000000", err, sizeof err);
    rd_kafka_conf_set_opaque(c, p);
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!p->rk || event_codec_new(NULL, &p->codec, err, sizeof err)) {
        fprintf(stderr, "producer: %s\n", err);
        return -1;
    }
    return 0;
}

static int produce(prod_t *p, const char *doc, const uint8_t *u, size_t len)
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
            p->rk, RD_KAFKA_V_TOPIC(p->topic), RD_KAFKA_V_KEY(doc, strlen(doc)),
            RD_KAFKA_V_VALUE(buf, blen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
        if (!e) {
            rd_kafka_poll(p->rk, 0);
            return 0;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            free(buf);
            return -1;
        }
        rd_kafka_poll(p->rk, 10);
    }
}

static int prod_deinit(prod_t *p)
{
    rd_kafka_flush(p->rk, 300000);
    long failed = atomic_load(&p->failed) + rd_kafka_outq_len(p->rk);
    rd_kafka_destroy(p->rk);
    event_codec_destroy(p->codec);
    return failed ? -1 : 0;
}

/* An updates file: records of (u32 LE length, update). */
typedef struct updates_s {
    uint8_t *data;
    size_t len;
    size_t *offs; /* start of each update */
    size_t n;
} updates_t;

static int updates_load(const char *file, updates_t *u)
{
    memset(u, 0, sizeof *u);
    FILE *f = fopen(file, "rb");
    if (!f) {
        perror(file);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    u->data = malloc(sz > 0 ? (size_t)sz : 1);
    if (!u->data || sz < 0 || fread(u->data, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        return -1;
    }
    fclose(f);
    u->len = (size_t)sz;
    size_t cap = 1024;
    u->offs = malloc(cap * sizeof *u->offs);
    for (size_t off = 0; u->offs && off + 4 <= u->len;) {
        uint32_t len = (uint32_t)u->data[off] | (uint32_t)u->data[off + 1] << 8 |
                       (uint32_t)u->data[off + 2] << 16 | (uint32_t)u->data[off + 3] << 24;
        if (off + 4 + len > u->len)
            return -1;
        if (u->n + 1 >= cap) {
            cap *= 2;
            size_t *n = realloc(u->offs, cap * sizeof *u->offs);
            if (!n)
                return -1;
            u->offs = n;
        }
        u->offs[u->n++] = off;
        off += 4 + len;
    }
    return u->offs ? 0 : -1;
}

static const uint8_t *update_at(const updates_t *u, size_t i, size_t *ret_len)
{
    const uint8_t *p = u->data + u->offs[i];
    *ret_len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
    return p + 4;
}

static int bench_produce(const char *prefix, const char *doc, const char *file, long limit)
{
    updates_t u;
    prod_t p;
    if (updates_load(file, &u) || prod_init(&p, prefix))
        return 2;
    size_t n = limit > 0 && (size_t)limit < u.n ? (size_t)limit : u.n, bytes = 0;
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *up = update_at(&u, i, &len);
        bytes += len;
        if (produce(&p, doc, up, len)) {
            fprintf(stderr, "could not produce\n");
            return 2;
        }
    }
    int rc = prod_deinit(&p);
    printf("produced %zu events (%zu bytes of updates) of %s to %s in %.1fs%s\n", n, bytes, doc,
           p.topic, now_s() - t0, rc ? " — SOME FAILED" : "");
    free(u.data);
    free(u.offs);
    return rc ? 1 : 0;
}

static int bench_produce_docs(const char *prefix, long ndocs, long per_doc, char **files,
                              int nfiles)
{
    updates_t *u = calloc((size_t)nfiles, sizeof *u);
    prod_t p;
    for (int i = 0; i < nfiles; i++)
        if (updates_load(files[i], &u[i]))
            return 2;
    if (prod_init(&p, prefix))
        return 2;
    double t0 = now_s();
    size_t total = 0, bytes = 0;
    char doc[64];
    for (long k = 0; k < per_doc; k++)
        for (long d = 0; d < ndocs; d++) {
            const updates_t *f = &u[d % nfiles];
            if ((size_t)k >= f->n)
                continue;
            size_t len;
            const uint8_t *up = update_at(f, (size_t)k, &len);
            snprintf(doc, sizeof doc, "bench-%ld", d);
            if (produce(&p, doc, up, len)) {
                fprintf(stderr, "could not produce\n");
                return 2;
            }
            total++;
            bytes += len;
        }
    int rc = prod_deinit(&p);
    printf("produced %zu events (%zu bytes of updates) of %ld documents to %s in %.1fs%s\n", total,
           bytes, ndocs, p.topic, now_s() - t0, rc ? " — SOME FAILED" : "");
    for (int i = 0; i < nfiles; i++) {
        free(u[i].data);
        free(u[i].offs);
    }
    free(u);
    return rc ? 1 : 0;
}

/* ---------------------------------------------------------------- cold load */

static const char *base_name(int kind)
{
    return kind == READMODEL_BASE_SNAPSHOT ? "snapshot"
           : kind == READMODEL_BASE_ROW    ? "row"
                                           : "none";
}

/* One load as the gateway's join does it; fills the phase times (ms). */
static int one_load(PGconn *pg, const char *topic, const char *doc, bool at_latest, int64_t version,
                    double *ret_db, double *ret_doc, readmodel_doc_t *ret)
{
    double t0 = now_s();
    readmodel_doc_t d = {0};
    quire_err_t e;
    if (at_latest) {
        readmodel_point_t pt = {.offset = version};
        e = readmodel_load_at(pg, doc, &pt, &d, NULL);
    } else {
        e = readmodel_load(pg, topic, doc, &d);
    }
    double t1 = now_s();
    if (e) {
        fprintf(stderr, "load: %s\n", quire_err_str(e));
        return -1;
    }
    ydoc_t *y = NULL;
    uint8_t *sync = NULL;
    size_t slen = 0;
    yjs_error_t ye;
    if (ydoc_new(NULL, &y) || ydoc_apply(y, d.state, d.state_len, 0, NULL, &ye) ||
        ydoc_encode_state(y, NULL, 0, &sync, &slen, &ye)) {
        fprintf(stderr, "ydoc refused the state\n");
        ydoc_destroy(y);
        readmodel_doc_deinit(&d);
        return -1;
    }
    double t2 = now_s();
    ydoc_destroy(y);
    free(sync);
    *ret_db = (t1 - t0) * 1000;
    *ret_doc = (t2 - t1) * 1000;
    readmodel_doc_deinit(ret);
    *ret = d;
    return 0;
}

static int bench_load(const char *doc, int runs, const char *topic, int64_t at)
{
    char err[512];
    double *db = calloc((size_t)runs, sizeof *db), *yd = calloc((size_t)runs, sizeof *yd),
           *tot = calloc((size_t)runs, sizeof *tot);
    readmodel_doc_t d = {0};
    for (int mode = 0; mode < (at >= 0 ? 3 : 2); mode++) {
        for (int r = 0; r < runs; r++) {
            PGconn *pg = quire_pg_connect(pgconn, "bench-load", err, sizeof err);
            if (!pg) {
                fprintf(stderr, "%s\n", err);
                return 2;
            }
            int64_t v = mode == 2 ? at : d.version;
            if (one_load(pg, topic, doc, mode >= 1, v, &db[r], &yd[r], &d)) {
                PQfinish(pg);
                return 2;
            }
            tot[r] = db[r] + yd[r];
            PQfinish(pg);
        }
        printf("LOAD %s %-30s base=%s (%zu bytes at %lld) tail=%lld events / %lld bytes; state "
               "%zu bytes: read %.2f ms + ydoc build and SyncStep2 %.2f ms = %.2f ms (medians of "
               "%d, fresh connection each, connecting not counted)\n",
               doc,
               mode == 2   ? "?at= the given offset"
               : mode == 1 ? "through a snapshot (?at= latest)"
                           : "current state (join)",
               base_name(d.base_kind), d.base_len, (long long)d.base_position,
               (long long)d.tail_events, (long long)d.tail_bytes, d.state_len, median(db, runs),
               median(yd, runs), median(tot, runs), runs);
    }
    readmodel_doc_deinit(&d);
    free(db);
    free(yd);
    free(tot);
    return 0;
}

int main(int argc, char **argv)
{
    brokers = getenv("QUIRE_KAFKA_BROKERS");
    pgconn = getenv("QUIRE_PG");
    if (argc < 2 || !brokers) {
        fprintf(stderr, "usage: QUIRE_KAFKA_BROKERS=... QUIRE_PG=... bench_compactor\n"
                        "  topics <prefix> [partitions]\n"
                        "  produce <prefix> <doc> <updates-file> [limit]\n"
                        "  produce-docs <prefix> <ndocs> <per-doc> <updates-file>...\n"
                        "  load <doc> [runs] [topic] [at-offset]\n");
        return 2;
    }
    quire_log_init("bench", QUIRE_LOG_ERROR);
    if (sodium_init() < 0)
        return 2;
    if (strcmp(argv[1], "topics") == 0 && argc >= 3)
        return create_topics(argv[2], argc > 3 ? atoi(argv[3]) : 12) ? 1 : 0;
    if (strcmp(argv[1], "produce") == 0 && argc >= 5)
        return bench_produce(argv[2], argv[3], argv[4], argc > 5 ? atol(argv[5]) : 0);
    if (strcmp(argv[1], "produce-docs") == 0 && argc >= 6)
        return bench_produce_docs(argv[2], atol(argv[3]), atol(argv[4]), argv + 5, argc - 5);
    if (strcmp(argv[1], "load") == 0 && argc >= 3 && pgconn)
        return bench_load(argv[2], argc > 3 ? atoi(argv[3]) : 9,
                          argc > 4 ? argv[4] : "quire.doc-updates", argc > 5 ? atoll(argv[5]) : -1);
    fprintf(stderr, "unknown or incomplete command %s\n", argv[1]);
    return 2;
}
