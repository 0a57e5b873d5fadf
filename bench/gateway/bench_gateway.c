/*
 * bench_gateway — load generator for quire's gateway that speaks the y-websocket protocol
 * (wsc.c), for the figures of the gateway issue. Run through bench/gateway/run.sh, which starts
 * the gateways and passes their ports and pids.
 *
 *   bench_gateway latency <portA> <portB> <rate> <seconds>
 *       one writer on gateway A, one observer on gateway B: edit-to-delivery latency
 *   bench_gateway fanout <portA> <portB> <observers> <rate> <seconds> <pidA> <pidB>
 *       one writer, N observers over both gateways: latency of every delivery, gateway CPU per
 *       delivered update (utime+stime from /proc)
 *   bench_gateway idle <port> <connections> <pid>
 *       N synced idle sockets on one gateway: resident memory per connection
 *   bench_gateway busy <port> <idle connections> <rate> <seconds> <pid>
 *       N synced idle sockets, plus one writer and one observer on another document of the same
 *       gateway: its CPU per delivered update — the tax idle sockets put on live ones
 *   bench_gateway fill <port> <doc> <megabytes>
 *       one writer makes `doc` a document of that size (500 KB text inserts), waits for the echoes
 *   bench_gateway join <port> <clients> <pid> <doc>
 *       N clients join an existing document at once: time until each holds the full state
 *
 * Environment: BENCH_TOKEN (a bearer token), BENCH_DOC_PREFIX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsc.h"

static const char *token;
static char doc_prefix[64] = "bench";

typedef struct {
    int64_t *lat; /* ns */
    size_t n, cap;
} samples_t;

static void add_sample(samples_t *s, int64_t v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->lat = realloc(s->lat, s->cap * sizeof *s->lat);
    }
    s->lat[s->n++] = v;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, samples_t *s)
{
    if (!s->n) {
        printf("%s: no samples\n", what);
        return;
    }
    qsort(s->lat, s->n, sizeof *s->lat, cmp64);
    printf("%s: n=%zu p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", what, s->n,
           (double)s->lat[s->n / 2] / 1e6, (double)s->lat[s->n * 99 / 100] / 1e6,
           (double)s->lat[s->n - 1] / 1e6);
}

static size_t put_varuint(uint8_t *o, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        o[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    o[n++] = (uint8_t)v;
    return n;
}

static int read_varuint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    unsigned s = 0;
    while (*p < end) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << s;
        s += 7;
        if (b < 0x80) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* A Yjs update: `client` inserts `n` characters at `clock` into Y.Text "t" after its own last one.
 */
static size_t make_update(uint8_t *buf, uint32_t client, uint64_t clock, const char *text, size_t n)
{
    size_t o = 0;
    buf[o++] = 1;
    buf[o++] = 1;
    o += put_varuint(buf + o, client);
    o += put_varuint(buf + o, clock);
    if (clock == 0) {
        buf[o++] = 0x04;
        buf[o++] = 1;
        buf[o++] = 1;
        buf[o++] = 't';
    } else {
        buf[o++] = 0x84;
        o += put_varuint(buf + o, client);
        o += put_varuint(buf + o, clock - 1);
    }
    o += put_varuint(buf + o, n);
    memcpy(buf + o, text, n);
    o += n;
    buf[o++] = 0;
    return o;
}

static size_t sync_msg(uint8_t *out, int subtype, const uint8_t *payload, size_t len)
{
    size_t o = 0;
    out[o++] = 0;
    out[o++] = (uint8_t)subtype;
    o += put_varuint(out + o, len);
    memcpy(out + o, payload, len);
    return o + len;
}

/* The clock of the first struct of a pushed update (00 02 len update). */
static int pushed_clock(const uint8_t *m, size_t len, uint64_t *client, uint64_t *clock)
{
    if (len < 4 || m[0] != 0 || m[1] != 2)
        return -1;
    const uint8_t *p = m + 2, *end = m + len;
    uint64_t ulen, groups, nstructs;
    if (read_varuint(&p, end, &ulen) || read_varuint(&p, end, &groups) || groups == 0 ||
        read_varuint(&p, end, &nstructs) || read_varuint(&p, end, client) ||
        read_varuint(&p, end, clock))
        return -1;
    return 0;
}

typedef struct peer_s {
    wsc_t *ws;
    bool open, synced, failed;
    int close_code;
    int64_t t_connect, t_synced;
    size_t received;
} peer_t;

typedef struct {
    int64_t sent_at[1 << 20]; /* by clock */
    uint32_t writer_client;
    samples_t lat;
    size_t deliveries;
    int64_t measure_from;
    size_t fill_chunk; /* fill: echoes are counted, not timed */
} run_t;

static run_t *R;

static void on_state(wsc_t *ws, bool open, int code, void *opaque)
{
    peer_t *p = opaque;
    if (open) {
        p->open = true;
        uint8_t m[8];
        uint8_t sv[1] = {0};
        size_t n = sync_msg(m, 0, sv, 1); /* SyncStep1, empty state vector */
        wsc_send(ws, m, n);
    } else {
        p->failed = true;
        p->close_code = code;
    }
}

static void on_msg(wsc_t *ws, const uint8_t *m, size_t len, void *opaque)
{
    peer_t *p = opaque;
    p->received += len;
    if (len >= 2 && m[0] == 0 && m[1] == 1 && !p->synced) {
        p->synced = true;
        p->t_synced = wsc_now_ns();
        return;
    }
    uint64_t client, clock;
    if (R && R->fill_chunk && p->synced && pushed_clock(m, len, &client, &clock) == 0 &&
        client == R->writer_client) {
        R->deliveries++;
        return;
    }
    if (R && p->synced && pushed_clock(m, len, &client, &clock) == 0 &&
        client == R->writer_client && clock < (1u << 20) && R->sent_at[clock]) {
        int64_t now = wsc_now_ns();
        R->deliveries++;
        if (R->sent_at[clock] >= R->measure_from)
            add_sample(&R->lat, now - R->sent_at[clock]);
    }
}

static peer_t *open_peer(wsc_loop_t *l, int port, const char *doc)
{
    peer_t *p = calloc(1, sizeof *p);
    char path[4600];
    snprintf(path, sizeof path, "/ws/%s?token=%s", doc, token);
    p->t_connect = wsc_now_ns();
    p->ws = wsc_connect(l, "127.0.0.1", port, path, on_msg, on_state, p);
    if (!p->ws)
        p->failed = true;
    return p;
}

static bool all_synced(peer_t **ps, size_t n, size_t *ret_failed)
{
    size_t ok = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        ok += ps[i]->synced;
        bad += ps[i]->failed;
    }
    *ret_failed = bad;
    return ok + bad == n;
}

static void wait_synced(wsc_loop_t *l, peer_t **ps, size_t n, int timeout_ms)
{
    int64_t deadline = wsc_now_ns() + (int64_t)timeout_ms * 1000000;
    size_t bad = 0;
    while (!all_synced(ps, n, &bad) && wsc_now_ns() < deadline)
        wsc_loop_run(l, 20);
    if (bad) {
        int code = 0;
        for (size_t i = 0; i < n && !code; i++)
            if (ps[i]->failed)
                code = ps[i]->close_code ? ps[i]->close_code : -1;
        fprintf(stderr, "%zu of %zu connections failed (e.g. code %d)\n", bad, n, code);
    }
}

static double cpu_seconds(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    if (p &&
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) == 2)
        return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    return -1;
}

static long rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

/* Drives one writer at `rate` edits/s for `seconds`, after a 1 s warm-up. */
static void drive_writer(wsc_loop_t *l, peer_t *w, int rate, int seconds)
{
    uint8_t upd[64], msg[96];
    int64_t period = 1000000000LL / rate;
    int64_t start = wsc_now_ns();
    R->measure_from = start + 1000000000LL;
    int64_t end = R->measure_from + (int64_t)seconds * 1000000000LL;
    uint64_t clock = 0;
    while (wsc_now_ns() < end) {
        int64_t due = start + (int64_t)clock * period;
        while (wsc_now_ns() < due)
            wsc_loop_run(l, 1);
        size_t ul = make_update(upd, R->writer_client, clock, "x", 1);
        size_t ml = sync_msg(msg, 2, upd, ul);
        R->sent_at[clock] = wsc_now_ns();
        wsc_send(w->ws, msg, ml);
        clock++;
    }
    wsc_loop_run(l, 1000); /* drain */
}

static int cmd_latency(int portA, int portB, int rate, int seconds)
{
    wsc_loop_t *l = wsc_loop_new();
    char doc[128];
    snprintf(doc, sizeof doc, "%s-lat-%d", doc_prefix, (int)getpid());
    peer_t *w = open_peer(l, portA, doc), *o = open_peer(l, portB, doc);
    peer_t *ps[2] = {w, o};
    wait_synced(l, ps, 2, 20000);
    R = calloc(1, sizeof *R);
    R->writer_client = 0x51000000u + (uint32_t)getpid();
    drive_writer(l, w, rate, seconds);
    printf("gateway A → gateway B, one writer at %d edits/s, acks=all:\n", rate);
    report("  delivery latency", &R->lat);
    return 0;
}

/* Gateway CPU seconds spent over the run, per update delivered to a peer. */
static void report_cpu(double cpu)
{
    printf("  deliveries %zu, gateway CPU %.2f s → %.2f µs per delivered update\n", R->deliveries,
           cpu, R->deliveries ? cpu * 1e6 / (double)R->deliveries : 0);
}

static int cmd_fanout(int portA, int portB, int observers, int rate, int seconds, int pidA,
                      int pidB)
{
    wsc_loop_t *l = wsc_loop_new();
    char doc[128];
    snprintf(doc, sizeof doc, "%s-fan-%d", doc_prefix, (int)getpid());
    peer_t **ps = calloc((size_t)observers + 1, sizeof *ps);
    ps[0] = open_peer(l, portA, doc);
    for (int i = 0; i < observers; i++) {
        ps[i + 1] = open_peer(l, i % 2 ? portB : portA, doc);
        if (i % 50 == 49)
            wsc_loop_run(l, 5);
    }
    wait_synced(l, ps, (size_t)observers + 1, 60000);
    R = calloc(1, sizeof *R);
    R->writer_client = 0x52000000u + (uint32_t)getpid();
    double c0 = cpu_seconds(pidA) + cpu_seconds(pidB);
    drive_writer(l, ps[0], rate, seconds);
    double c1 = cpu_seconds(pidA) + cpu_seconds(pidB);
    printf("fan-out: one writer at %d edits/s, %d observers over two gateways:\n", rate, observers);
    report("  delivery latency", &R->lat);
    report_cpu(c1 - c0);
    return 0;
}

static peer_t **open_idle(wsc_loop_t *l, int port, int n)
{
    peer_t **ps = calloc((size_t)n, sizeof *ps);
    for (int i = 0; i < n; i++) {
        char doc[128];
        snprintf(doc, sizeof doc, "%s-idle-%d-%d", doc_prefix, (int)getpid(), i % 100);
        ps[i] = open_peer(l, port, doc);
        if (i % 250 == 249) /* a few hundred upgrades in flight at a time, as clients arrive */
            wait_synced(l, ps, (size_t)i + 1, 30000);
    }
    wait_synced(l, ps, (size_t)n, 120000);
    return ps;
}

static int cmd_idle(int port, int n, int pid)
{
    wsc_loop_t *l = wsc_loop_new();
    long before = rss_kb(pid);
    peer_t **ps = open_idle(l, port, n);
    size_t bad = 0;
    all_synced(ps, (size_t)n, &bad);
    wsc_loop_run(l, 3000); /* let the gateway settle */
    long after = rss_kb(pid);
    printf("idle: %d synced sockets (%zu failed) over 100 documents: gateway RSS %ld → %ld KiB, "
           "%.2f KiB per connection\n",
           n, bad, before, after, (double)(after - before) / (double)(n - (int)bad));
    return 0;
}

static int cmd_busy(int port, int n, int rate, int seconds, int pid)
{
    wsc_loop_t *l = wsc_loop_new();
    peer_t **idle = open_idle(l, port, n);
    size_t bad = 0;
    all_synced(idle, (size_t)n, &bad);
    char doc[128];
    snprintf(doc, sizeof doc, "%s-busy-%d", doc_prefix, (int)getpid());
    peer_t *ps[2] = {open_peer(l, port, doc), open_peer(l, port, doc)};
    wait_synced(l, ps, 2, 20000);
    R = calloc(1, sizeof *R);
    R->writer_client = 0x54000000u + (uint32_t)getpid();
    double c0 = cpu_seconds(pid);
    drive_writer(l, ps[0], rate, seconds);
    double c1 = cpu_seconds(pid);
    printf("busy: %d idle sockets (%zu failed) + one writer at %d edits/s and one observer:\n", n,
           bad, rate);
    report("  delivery latency", &R->lat);
    report_cpu(c1 - c0);
    return 0;
}

static int cmd_join(int port, int n, int pid, const char *doc)
{
    wsc_loop_t *l = wsc_loop_new();
    peer_t **ps = calloc((size_t)n, sizeof *ps);
    int64_t t0 = wsc_now_ns();
    for (int i = 0; i < n; i++)
        ps[i] = open_peer(l, port, doc);
    wait_synced(l, ps, (size_t)n, 60000);
    samples_t s = {0};
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        if (ps[i]->synced)
            add_sample(&s, ps[i]->t_synced - t0);
        bytes += ps[i]->received;
    }
    printf("join: %d clients at once, %.1f MB received in all:\n", n, (double)bytes / 1e6);
    report("  time to full state", &s);
    printf("  gateway RSS after: %.1f MiB\n", (double)rss_kb(pid) / 1024.0);
    return 0;
}

static int cmd_fill(int port, const char *doc, int mb)
{
    wsc_loop_t *l = wsc_loop_new();
    peer_t *w = open_peer(l, port, doc);
    wait_synced(l, &w, 1, 20000);
    R = calloc(1, sizeof *R);
    R->writer_client = 0x53000000u + (uint32_t)getpid();
    size_t chunk = 500000, total = (size_t)mb * 1000000;
    R->fill_chunk = chunk;
    char *text = malloc(chunk);
    for (size_t i = 0; i < chunk; i++)
        text[i] = (char)('a' + i % 26);
    uint8_t *upd = malloc(chunk + 64), *msg = malloc(chunk + 128);
    uint64_t clock = 0;
    size_t n = 0;
    for (size_t sent = 0; sent < total; sent += chunk, n++) {
        size_t ul = make_update(upd, R->writer_client, clock, text, chunk);
        size_t ml = sync_msg(msg, 2, upd, ul);
        R->sent_at[n] = wsc_now_ns();
        wsc_send(w->ws, msg, ml);
        clock += chunk;
        wsc_loop_run(l, 50);
    }
    /* echoes carry the first clock of each chunk */
    int64_t deadline = wsc_now_ns() + 60000000000LL;
    while (R->deliveries < n && wsc_now_ns() < deadline)
        wsc_loop_run(l, 50);
    printf("fill: %s holds %zu x %zu-byte inserts (%.1f MB), %zu echoed\n", doc, n, chunk,
           (double)(n * chunk) / 1e6, R->deliveries);
    return R->deliveries == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    token = getenv("BENCH_TOKEN");
    if (getenv("BENCH_DOC_PREFIX"))
        snprintf(doc_prefix, sizeof doc_prefix, "%s", getenv("BENCH_DOC_PREFIX"));
    if (!token || argc < 2) {
        fprintf(stderr, "usage: see the file comment; BENCH_TOKEN must be set\n");
        return 2;
    }
    if (!strcmp(argv[1], "latency") && argc == 6)
        return cmd_latency(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (!strcmp(argv[1], "fanout") && argc == 9)
        return cmd_fanout(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]),
                          atoi(argv[7]), atoi(argv[8]));
    if (!strcmp(argv[1], "idle") && argc == 5)
        return cmd_idle(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    if (!strcmp(argv[1], "fill") && argc == 5)
        return cmd_fill(atoi(argv[2]), argv[3], atoi(argv[4]));
    if (!strcmp(argv[1], "busy") && argc == 7)
        return cmd_busy(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
    if (!strcmp(argv[1], "join") && argc == 6)
        return cmd_join(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), argv[5]);
    fprintf(stderr, "unknown or incomplete command\n");
    return 2;
}
