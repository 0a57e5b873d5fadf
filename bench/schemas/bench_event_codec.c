/*
 * bench_event_codec — the cost of encoding and decoding one DocEvent of about 100 bytes, the hot
 * path of ingest (encode) and of every consumer (decode) at 50,000 events/s per gateway.
 *
 * Prints, for each operation, the median over RUNS runs of the mean ns/event of a run of N
 * events (with the fastest and slowest run), single-threaded. Usage:
 *   bench_event_codec [events-per-run [runs]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event_codec.h"

#define MAX_RUNS 51

typedef struct bench_s {
    event_codec_t *codec;    /* writes and reads schema 2 */
    event_codec_t *v1writer; /* writes schema 1 */
    event_codec_event_t ev;
    uint8_t msg[1024], msg_v1[1024];
    size_t msg_len, msg_v1_len;
    long n;
} bench_t;

typedef enum op_e { OP_ENCODE, OP_ENCODE_ALLOC, OP_DECODE, OP_DECODE_V1, OP_COUNT } op_t;
static const char *const op_names[OP_COUNT] = {"encode (caller buffer)", "encode_alloc + free",
                                               "decode (schema 2)",
                                               "decode (schema 1 -> 2, resolved)"};

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One run of b->n operations; returns ns per operation, or -1 on a codec error. */
static double run(bench_t *b, op_t op)
{
    uint8_t buf[1024];
    size_t len = 0;
    event_codec_event_t got;
    uint64_t sink = 0;
    double t0 = now_ns();
    for (long i = 0; i < b->n; i++) {
        quire_err_t err = QUIRE_OK;
        switch (op) {
        case OP_ENCODE:
            b->ev.server_time_ms = i;
            err = event_codec_encode(b->codec, &b->ev, buf, sizeof buf, &len);
            sink += buf[len - 1];
            break;
        case OP_ENCODE_ALLOC: {
            uint8_t *p = NULL;
            b->ev.server_time_ms = i;
            err = event_codec_encode_alloc(b->codec, &b->ev, &p, &len);
            if (!err)
                sink += p[len - 1];
            free(p);
            break;
        }
        case OP_DECODE:
            err = event_codec_decode(b->codec, b->msg, b->msg_len, &got);
            sink += got.update_len;
            break;
        case OP_DECODE_V1:
            err = event_codec_decode(b->codec, b->msg_v1, b->msg_v1_len, &got);
            sink += got.update_len;
            break;
        case OP_COUNT:
            break;
        }
        if (err) {
            fprintf(stderr, "%s failed: %s: %s\n", op_names[op], quire_err_name(err),
                    event_codec_last_error(b->codec));
            return -1;
        }
    }
    double t1 = now_ns();
    if (sink == 42) /* keeps the loop's results alive */
        fputc(' ', stderr);
    return (t1 - t0) / (double)b->n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int runs = argc > 2 ? atoi(argv[2]) : 9;
    if (n <= 0 || runs <= 0 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: %s [events-per-run [runs <= %d]]\n", argv[0], MAX_RUNS);
        return 2;
    }
    static const uint8_t update[40] = {0x01, 0x01, 0xb9, 0xe4, 0xa2, 0x07, 0x05, 0x84,
                                       0xb9, 0xe4, 0xa2, 0x07, 0x04, 0x01, 0x1e, 0x68};
    bench_t b = {.n = n};
    event_codec_opts_t o1 = {.writer_schema_id = 1};
    char err[256];
    if (event_codec_new(NULL, &b.codec, err, sizeof err) ||
        event_codec_new(&o1, &b.v1writer, err, sizeof err)) {
        fprintf(stderr, "could not build the codec: %s\n", err);
        return 1;
    }
    b.ev = (event_codec_event_t){.doc_id = "team-notes.2025-q3",
                                 .doc_id_len = 18,
                                 .event_id = {0x3c, 0x91, 0x0e, 0x55, 0x7a, 0x12, 0x4b, 0x3e, 0x8f,
                                              0x20, 0x61, 0xd4, 0x09, 0xaa, 0x17, 0xc2},
                                 .kind = EVENT_CODEC_KIND_UPDATE,
                                 .actor = "user-8f2c41",
                                 .actor_len = 11,
                                 .server_time_ms = 1760000000123,
                                 .origin = "gw-7",
                                 .origin_len = 4,
                                 .update = update,
                                 .update_len = sizeof update};
    if (event_codec_encode(b.codec, &b.ev, b.msg, sizeof b.msg, &b.msg_len) ||
        event_codec_encode(b.v1writer, &b.ev, b.msg_v1, sizeof b.msg_v1, &b.msg_v1_len)) {
        fprintf(stderr, "could not encode the sample event\n");
        return 1;
    }
    printf("event_codec: %zu-byte DocEvent (schema 2; %zu bytes as schema 1), %ld events x %d "
           "runs, one thread\n",
           b.msg_len, b.msg_v1_len, n, runs);
    printf("%-34s %10s %10s %10s\n", "operation", "median ns", "min ns", "max ns");
    for (int op = 0; op < OP_COUNT; op++) {
        double t[MAX_RUNS];
        (void)run(&b, (op_t)op); /* warm-up */
        for (int r = 0; r < runs; r++) {
            if ((t[r] = run(&b, (op_t)op)) < 0)
                return 1;
        }
        qsort(t, (size_t)runs, sizeof t[0], cmp_double);
        printf("%-34s %10.0f %10.0f %10.0f\n", op_names[op], t[runs / 2], t[0], t[runs - 1]);
    }
    event_codec_destroy(b.codec);
    event_codec_destroy(b.v1writer);
    return 0;
}
