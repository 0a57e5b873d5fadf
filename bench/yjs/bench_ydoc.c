/*
 * bench_ydoc — figures of the integrated document (lib/yjs/ydoc.h) on an editing trace, for
 * bench/yjs/run_ydoc.sh, which runs yjs on Node on the same input in the same run.
 *
 *   bench_ydoc <updates> [runs=7] [--json out.json] [--compare yjs-state.bin yjs-text.txt]
 *
 * <updates> is trace_updates.mjs's output: (u32 little-endian length, update v1) records, one
 * update per edit. Figures (medians of `runs` runs; the state load of 20 × runs):
 *
 *   integrate   a fresh document, ydoc_apply of every update (always fully validated), then
 *               the text materialised (ydoc_render of root "text") — what the projector does
 *   load        ydoc_apply of the final state (ydoc_encode_state) into a fresh document and the
 *               text materialised — a gateway opening a document, a compactor loading a snapshot
 *   memory      ydoc_memory after every update (peak and final, ÷ the v1 size of the final
 *               state), after ydoc_trim, and of the loaded document; process peak RSS for context
 *
 * With --compare it checks that its final state is byte-identical to yjs's and its text equal.
 * Prints figures; never fails on time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "ydoc.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n, double *ret_best)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    *ret_best = v[0];
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint8_t *read_file(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(p);
        return NULL;
    }
    fclose(f);
    *ret_len = (size_t)n;
    return p;
}

typedef struct input_s {
    const uint8_t **u;
    size_t *len;
    size_t n, bytes;
} input_t;

static void die(const char *what, quire_err_t err)
{
    fprintf(stderr, "bench_ydoc: %s: %s\n", what, quire_err_str(err));
    exit(1);
}

/* Integrates every update into a fresh document and renders the text. Returns the document. */
static ydoc_t *replay(const input_t *in, unsigned flags, size_t *ret_peak, char **ret_text,
                      size_t *ret_text_len)
{
    ydoc_t *d;
    quire_err_t err = ydoc_new(NULL, &d);
    if (err != QUIRE_OK)
        die("ydoc_new", err);
    size_t peak = 0;
    for (size_t i = 0; i < in->n; i++) {
        err = ydoc_apply(d, in->u[i], in->len[i], flags, NULL, NULL);
        if (err != QUIRE_OK)
            die("ydoc_apply", err);
        if (ret_peak) {
            size_t m = ydoc_memory(d);
            if (m > peak)
                peak = m;
        }
    }
    err = ydoc_render(d, "text", 4, YDOC_TYPE_TEXT, YDOC_FORMAT_STRING, 0, ret_text, ret_text_len);
    if (err != QUIRE_OK)
        die("ydoc_render", err);
    if (ret_peak)
        *ret_peak = peak;
    return d;
}

int main(int argc, char **argv)
{
    const char *json = NULL, *cmp_state = NULL, *cmp_text = NULL;
    const char *pos[2] = {NULL, NULL};
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else if (strcmp(argv[i], "--compare") == 0 && i + 2 < argc) {
            cmp_state = argv[++i];
            cmp_text = argv[++i];
        } else if (np < 2)
            pos[np++] = argv[i];
    }
    if (!pos[0]) {
        fprintf(stderr, "usage: bench_ydoc <updates> [runs] [--json out] [--compare state text]\n");
        return 2;
    }
    int runs = pos[1] ? atoi(pos[1]) : 7;
    if (runs < 1)
        runs = 1;
    size_t flen;
    uint8_t *file = read_file(pos[0], &flen);
    if (!file) {
        perror(pos[0]);
        return 2;
    }
    input_t in = {0};
    for (size_t off = 0; off + 4 <= flen; in.n++) {
        size_t l = (size_t)file[off] | (size_t)file[off + 1] << 8 | (size_t)file[off + 2] << 16 |
                   (size_t)file[off + 3] << 24;
        off += 4 + l;
    }
    in.u = calloc(in.n, sizeof *in.u);
    in.len = calloc(in.n, sizeof *in.len);
    for (size_t off = 0, i = 0; i < in.n; i++) {
        size_t l = (size_t)file[off] | (size_t)file[off + 1] << 8 | (size_t)file[off + 2] << 16 |
                   (size_t)file[off + 3] << 24;
        in.u[i] = file + off + 4;
        in.len[i] = l;
        in.bytes += l;
        off += 4 + l;
    }
    printf("input: %zu updates, %zu bytes of Yjs v1\n", in.n, in.bytes);

    double *t = calloc((size_t)runs * 40, sizeof *t);
    char *text = NULL;
    size_t text_len = 0;

    /* integrate + materialise */
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        ydoc_t *d = replay(&in, 0, NULL, &text, &text_len);
        t[r] = now_ms() - t0;
        ydoc_destroy(d);
        free(text);
    }
    double integ_best, integ = median(t, runs, &integ_best);

    /* memory, final state */
    size_t peak;
    ydoc_t *d = replay(&in, 0, &peak, &text, &text_len);
    size_t final_mem = ydoc_memory(d);
    ydoc_stats_t st;
    ydoc_stats(d, &st);
    uint8_t *state;
    size_t state_len;
    quire_err_t err = ydoc_encode_state(d, NULL, 0, &state, &state_len, NULL);
    if (err != QUIRE_OK)
        die("ydoc_encode_state", err);
    (void)ydoc_trim(d);
    size_t trimmed = ydoc_memory(d);
    ydoc_destroy(d);

    /* load the final state */
    int lruns = runs * 20;
    size_t loaded_mem = 0;
    {
        for (int r = 0; r < lruns; r++) {
            double t0 = now_ms();
            ydoc_t *l;
            if ((err = ydoc_new(NULL, &l)) != QUIRE_OK)
                die("ydoc_new", err);
            if ((err = ydoc_apply(l, state, state_len, 0, NULL, NULL)))
                die("ydoc_apply(state)", err);
            char *s;
            size_t sl;
            if ((err = ydoc_render(l, "text", 4, YDOC_TYPE_TEXT, YDOC_FORMAT_STRING, 0, &s, &sl)))
                die("ydoc_render", err);
            t[r] = now_ms() - t0;
            if (sl != text_len || memcmp(s, text, sl) != 0)
                die("loaded state renders differently", QUIRE_ERR_INTERNAL);
            loaded_mem = ydoc_memory(l);
            free(s);
            ydoc_destroy(l);
        }
    }
    double load_best, load = median(t, lruns, &load_best);

    int same_state = -1, same_text = -1;
    if (cmp_state) {
        size_t yl, tl;
        uint8_t *ys = read_file(cmp_state, &yl);
        uint8_t *yt = read_file(cmp_text, &tl);
        same_state = ys && yl == state_len && memcmp(ys, state, yl) == 0;
        same_text = yt && tl == text_len && memcmp(yt, text, tl) == 0;
        free(ys);
        free(yt);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;

    printf("medians (best) of %d runs; load: of %d runs\n", runs, lruns);
    printf("integrate every update + text:  %8.1f ms (%.1f)  = %.0f ns/update\n", integ, integ_best,
           integ * 1e6 / (double)in.n);
    printf("load final state + text:        %8.3f ms (%.3f)  state %zu bytes\n", load, load_best,
           state_len);
    printf("memory: peak %zu B (%.2f x state), final %zu B (%.2f x), trimmed %zu B (%.2f x), "
           "loaded %zu B (%.2f x); peak RSS %.1f MB\n",
           peak, (double)peak / (double)state_len, final_mem, (double)final_mem / (double)state_len,
           trimmed, (double)trimmed / (double)state_len, loaded_mem,
           (double)loaded_mem / (double)state_len, rss_mb);
    printf("document: %" PRIu64 " structs (%" PRIu64
           " deleted), %zu content bytes, text %zu bytes\n",
           st.structs, st.items_deleted, st.content_bytes, text_len);
    if (cmp_state)
        printf("final state vs yjs: %s; text vs yjs: %s\n",
               same_state ? "byte-identical" : "DIFFERENT", same_text ? "equal" : "DIFFERENT");
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            perror(json);
            return 1;
        }
        fprintf(f,
                "{\"updates\":%zu,\"bytes\":%zu,\"runs\":%d,\"load_runs\":%d,"
                "\"integrate_ms\":%.3f,\"integrate_best_ms\":%.3f,"
                "\"load_ms\":%.4f,\"load_best_ms\":%.4f,\"state_bytes\":%zu,"
                "\"peak_bytes\":%zu,\"final_bytes\":%zu,\"trimmed_bytes\":%zu,"
                "\"loaded_bytes\":%zu,\"rss_mb\":%.1f,\"structs\":%" PRIu64
                ",\"same_state\":%d,\"same_text\":%d}\n",
                in.n, in.bytes, runs, lruns, integ, integ_best, load, load_best, state_len, peak,
                final_mem, trimmed, loaded_mem, rss_mb, st.structs, same_state, same_text);
        fclose(f);
    }
    free(text);
    free(state);
    free(t);
    free(in.u);
    free(in.len);
    free(file);
    return 0;
}
