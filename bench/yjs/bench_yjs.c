/*
 * bench_yjs — figures of lib/yjs on a real editing trace (one update per edit).
 *
 *   bench_yjs <updates> [runs=7] [--json out.json] [--compare merged.bin]
 *
 * <updates> holds (u32 little-endian length, update v1) records, as bench/yjs/trace_updates.mjs
 * writes them. Each figure is the median of `runs` runs (state vectors: of 10 × runs):
 *   validate  yjs_update_validate on every update (full strict validation, ranges collected)
 *   merge     yjs_update_merge of all updates at once, MB/s of input
 *   sv        yjs_update_state_vector of the merged update (full validation, and skim)
 * plus diff against the empty state vector and split at 1 MiB, and peak RSS. With --compare, the
 * merged update is compared byte for byte with yjs's (written by bench_yjs.mjs).
 * A benchmark prints figures; it never fails on time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "yjs_update.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorts v); the best (smallest) goes to *ret_best. The machine may be shared:
 * the median is the figure, the best shows what an idle machine gives. */
static double median(double *v, int n, double *ret_best)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *ret_best = v[0];
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint8_t *slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *ret_len = n > 0 ? (size_t)n : 0;
    return b;
}

static void die(const char *what, quire_err_t err, const yjs_error_t *e)
{
    fprintf(stderr, "bench_yjs: %s failed: %s (%s)\n", what, quire_err_name(err),
            e ? e->message : "");
    exit(1);
}

int main(int argc, char **argv)
{
    const char *path = NULL, *json = NULL, *compare = NULL;
    int runs = 7;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else if (strcmp(argv[i], "--compare") == 0 && i + 1 < argc)
            compare = argv[++i];
        else if (!path)
            path = argv[i];
        else
            runs = atoi(argv[i]);
    }
    if (!path || runs < 1 || runs > 1000) {
        fprintf(stderr, "usage: bench_yjs <updates> [runs] [--json out] [--compare merged.bin]\n");
        return 2;
    }
    size_t flen;
    uint8_t *file = slurp(path, &flen);
    if (!file) {
        fprintf(stderr, "bench_yjs: could not read %s\n", path);
        return 1;
    }
    size_t n = 0, cap = 1024, total = 0;
    const uint8_t **ups = malloc(cap * sizeof *ups);
    size_t *lens = malloc(cap * sizeof *lens);
    for (size_t off = 0; off + 4 <= flen;) {
        size_t len = (size_t)file[off] | (size_t)file[off + 1] << 8 | (size_t)file[off + 2] << 16 |
                     (size_t)file[off + 3] << 24;
        off += 4;
        if (len > flen - off)
            break;
        if (n == cap) {
            cap *= 2;
            ups = realloc(ups, cap * sizeof *ups);
            lens = realloc(lens, cap * sizeof *lens);
        }
        ups[n] = file + off;
        lens[n++] = len;
        total += len;
        off += len;
    }
    printf("input: %zu updates, %zu bytes (%.2f MB) of Yjs v1\n", n, total, total / 1e6);
    double *t = malloc((size_t)runs * 10 * sizeof *t);
    yjs_error_t e;
    quire_err_t err;

    /* decode + validate every update */
    yjs_validation_t v = {0};
    uint64_t ranges = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        ranges = 0;
        for (size_t i = 0; i < n; i++) {
            if ((err = yjs_update_validate(ups[i], lens[i], NULL, 0, &v)) != QUIRE_OK)
                die("validate", err, &v.error);
            ranges += v.nranges;
        }
        t[r] = now_ms() - t0;
    }
    double validate_ms_best, validate_ms = median(t, runs, &validate_ms_best);
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        for (size_t i = 0; i < n; i++)
            if ((err = yjs_update_validate(ups[i], lens[i], NULL, YJS_DECODE_SKIM, &v)) != QUIRE_OK)
                die("validate (skim)", err, &v.error);
        t[r] = now_ms() - t0;
    }
    double skim_ms_best, skim_ms = median(t, runs, &skim_ms_best);
    yjs_validation_deinit(&v);

    /* merge everything at once */
    uint8_t *merged = NULL;
    size_t mlen = 0;
    for (int r = 0; r < runs; r++) {
        free(merged);
        double t0 = now_ms();
        if ((err = yjs_update_merge(ups, lens, n, NULL, 0, &merged, &mlen, &e)) != QUIRE_OK)
            die("merge", err, &e);
        t[r] = now_ms() - t0;
    }
    double merge_ms_best, merge_ms = median(t, runs, &merge_ms_best);
    for (int r = 0; r < runs; r++) {
        uint8_t *m2;
        size_t m2len;
        double t0 = now_ms();
        if ((err = yjs_update_merge(ups, lens, n, NULL, YJS_DECODE_SKIM, &m2, &m2len, &e)) !=
            QUIRE_OK)
            die("merge (skim)", err, &e);
        t[r] = now_ms() - t0;
        free(m2);
    }
    double merge_skim_ms_best, merge_skim_ms = median(t, runs, &merge_skim_ms_best);

    /* state vector of the merged update */
    uint8_t *sv = NULL;
    size_t svlen = 0;
    int svruns = runs * 10;
    for (int r = 0; r < svruns; r++) {
        free(sv);
        double t0 = now_ms();
        if ((err = yjs_update_state_vector(merged, mlen, NULL, 0, &sv, &svlen, &e)) != QUIRE_OK)
            die("state vector", err, &e);
        t[r] = now_ms() - t0;
    }
    double sv_ms_best, sv_ms = median(t, svruns, &sv_ms_best);
    for (int r = 0; r < svruns; r++) {
        free(sv);
        double t0 = now_ms();
        if ((err = yjs_update_state_vector(merged, mlen, NULL, YJS_DECODE_SKIM, &sv, &svlen, &e)) !=
            QUIRE_OK)
            die("state vector (skim)", err, &e);
        t[r] = now_ms() - t0;
    }
    double sv_skim_ms_best, sv_skim_ms = median(t, svruns, &sv_skim_ms_best);

    /* diff against the empty state vector; split at 1 MiB */
    const uint8_t empty_sv[] = {0};
    for (int r = 0; r < runs; r++) {
        uint8_t *d;
        size_t dlen;
        double t0 = now_ms();
        if ((err = yjs_update_diff(merged, mlen, empty_sv, 1, NULL, 0, &d, &dlen, &e)) != QUIRE_OK)
            die("diff", err, &e);
        t[r] = now_ms() - t0;
        free(d);
    }
    double diff_ms_best, diff_ms = median(t, runs, &diff_ms_best);
    size_t nparts = 0;
    for (int r = 0; r < runs; r++) {
        yjs_parts_t parts = {0};
        double t0 = now_ms();
        if ((err = yjs_update_split(merged, mlen, (size_t)1 << 20, NULL, 0, &parts, &e)) !=
            QUIRE_OK)
            die("split", err, &e);
        t[r] = now_ms() - t0;
        nparts = parts.n;
        yjs_parts_deinit(&parts);
    }
    double split_ms_best, split_ms = median(t, runs, &split_ms_best);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int same = -1;
    if (compare) {
        size_t ylen;
        uint8_t *y = slurp(compare, &ylen);
        same = y && ylen == mlen && memcmp(y, merged, mlen) == 0;
        free(y);
    }

    double mb = total / 1e6;
    printf("medians (best) of %d runs\n", runs);
    printf("decode+validate all updates: %8.2f ms (%6.2f)  %7.1f MB/s   (%llu client ranges)\n",
           validate_ms, validate_ms_best, mb / (validate_ms / 1e3), (unsigned long long)ranges);
    printf("  skim (no UTF-8/JSON check): %8.2f ms (%6.2f)  %7.1f MB/s\n", skim_ms, skim_ms_best,
           mb / (skim_ms / 1e3));
    printf("merge all into one:          %8.2f ms (%6.2f)  %7.1f MB/s   (→ %zu bytes)\n", merge_ms,
           merge_ms_best, mb / (merge_ms / 1e3), mlen);
    printf("  skim:                       %8.2f ms (%6.2f)  %7.1f MB/s\n", merge_skim_ms,
           merge_skim_ms_best, mb / (merge_skim_ms / 1e3));
    printf("state vector of the merge:   %8.3f ms (%6.3f)  skim %.3f ms (%.3f); %zu bytes\n", sv_ms,
           sv_ms_best, sv_skim_ms, sv_skim_ms_best, svlen);
    printf("diff merge vs empty sv:      %8.2f ms (%6.2f)\n", diff_ms, diff_ms_best);
    printf("split merge at 1 MiB:        %8.2f ms (%6.2f)  (%zu parts)\n", split_ms, split_ms_best,
           nparts);
    printf("peak RSS: %.1f MB%s\n", ru.ru_maxrss / 1024.0,
           same < 0 ? ""
           : same   ? "; merged update byte-identical to yjs's"
                    : "; merged update DIFFERS from yjs's");
    if (json) {
        FILE *f = fopen(json, "w");
        if (f) {
            fprintf(f,
                    "{\"updates\":%zu,\"bytes\":%zu,\"validate_ms\":%.3f,\"validate_skim_ms\":%.3f,"
                    "\"merge_ms\":%.3f,\"merge_skim_ms\":%.3f,\"merged_bytes\":%zu,\"sv_ms\":%.4f,"
                    "\"sv_skim_ms\":%.4f,\"diff_ms\":%.3f,\"split_ms\":%.3f,\"peak_rss_mb\":%.1f,"
                    "\"same_as_yjs\":%d,\"runs\":%d,\"best\":{\"validate_ms\":%.3f,"
                    "\"validate_skim_ms\":%.3f,\"merge_ms\":%.3f,\"merge_skim_ms\":%.3f,"
                    "\"sv_ms\":%.4f,\"sv_skim_ms\":%.4f,\"diff_ms\":%.3f,\"split_ms\":%.3f}}\n",
                    n, total, validate_ms, skim_ms, merge_ms, merge_skim_ms, mlen, sv_ms,
                    sv_skim_ms, diff_ms, split_ms, ru.ru_maxrss / 1024.0, same, runs,
                    validate_ms_best, skim_ms_best, merge_ms_best, merge_skim_ms_best, sv_ms_best,
                    sv_skim_ms_best, diff_ms_best, split_ms_best);
            fclose(f);
        }
    }
    free(sv);
    free(merged);
    free(t);
    free(ups);
    free(lens);
    free(file);
    return 0;
}
