/*
 * ydoc_batch — the C side of the ydoc differential tests (ydoc_differential.mjs): builds one
 * integrated document per case from a file of updates and writes everything the tests compare
 * with yjs, so thousands of cases cost one process.
 *
 *   ydoc_batch <cases> <results>
 *
 * All integers little-endian. blob = u32 length ‖ bytes.
 *
 *   cases   = "QYDB" ‖ u32 n ‖ n × case
 *   case    = u32 flags (1: YDOC_NO_GC, 2: YJS_DECODE_SKIM) ‖ u32 nupdates ‖ blob* ‖
 *             u32 nsv ‖ blob* (state vectors for SyncStep2) ‖ u32 nnovel ‖ blob* (updates for
 *             ydoc_novel against the final document) ‖ u32 nroots ‖ (blob name ‖ u8 type)*
 *   result  = per update (i32 err ‖ u32 status) ‖ i32 final err ‖ blob sv ‖ blob state ‖
 *             per sv blob ‖ blob content ‖ blob content sorted ‖
 *             per root (u8 inferred ‖ blob string ‖ blob delta ‖ blob json) ‖ blob pending ‖
 *             u32 nmissing ‖ (blob client decimal ‖ blob clock decimal)* ‖
 *             per novel (i32 err ‖ u8 has ‖ blob update) ‖ u64 memory
 *
 * A failed render or encode writes an empty blob (the comparison then fails visibly).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ydoc.h"

typedef struct rd_s {
    const uint8_t *p, *end;
} rd_t;

static uint32_t rd_u32(rd_t *r)
{
    if (r->end - r->p < 4) {
        fprintf(stderr, "ydoc_batch: truncated case file\n");
        exit(2);
    }
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
                 (uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

static const uint8_t *rd_blob(rd_t *r, size_t *len)
{
    *len = rd_u32(r);
    if ((size_t)(r->end - r->p) < *len) {
        fprintf(stderr, "ydoc_batch: truncated case file\n");
        exit(2);
    }
    const uint8_t *p = r->p;
    r->p += *len;
    return p;
}

static void wr_u32(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, f);
}

static void wr_blob(FILE *f, const void *p, size_t n)
{
    wr_u32(f, (uint32_t)n);
    if (n)
        fwrite(p, 1, n, f);
}

static void wr_owned(FILE *f, quire_err_t err, void *p, size_t n)
{
    wr_blob(f, err == QUIRE_OK ? p : NULL, err == QUIRE_OK ? n : 0);
    if (err == QUIRE_OK)
        free(p);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ydoc_batch <cases> <results>\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        perror(argv[1]);
        return 2;
    }
    fseek(in, 0, SEEK_END);
    long sz = ftell(in);
    fseek(in, 0, SEEK_SET);
    uint8_t *buf = malloc(sz > 0 ? (size_t)sz : 1);
    if (!buf || fread(buf, 1, (size_t)sz, in) != (size_t)sz) {
        fprintf(stderr, "ydoc_batch: cannot read %s\n", argv[1]);
        return 2;
    }
    fclose(in);
    FILE *out = fopen(argv[2], "wb");
    if (!out) {
        perror(argv[2]);
        return 2;
    }
    rd_t r = {buf, buf + sz};
    if (sz < 4 || memcmp(buf, "QYDB", 4) != 0) {
        fprintf(stderr, "ydoc_batch: not a case file\n");
        return 2;
    }
    r.p += 4;
    uint32_t ncases = rd_u32(&r);
    for (uint32_t c = 0; c < ncases; c++) {
        uint32_t flags = rd_u32(&r);
        ydoc_limits_t lim = YDOC_LIMITS_DEFAULT;
        if (flags & 1)
            lim.flags |= YDOC_NO_GC;
        unsigned aflags = (flags & 2) ? YJS_DECODE_SKIM : 0;
        ydoc_t *d = NULL;
        if (ydoc_new(&lim, &d) != QUIRE_OK) {
            fprintf(stderr, "ydoc_batch: out of memory\n");
            return 2;
        }
        uint32_t nup = rd_u32(&r);
        quire_err_t last = QUIRE_OK;
        for (uint32_t i = 0; i < nup; i++) {
            size_t len;
            const uint8_t *u = rd_blob(&r, &len);
            ydoc_apply_t res = {0};
            yjs_error_t e;
            quire_err_t err = ydoc_apply(d, u, len, aflags, &res, &e);
            if (err != QUIRE_OK) {
                last = err;
                if (getenv("YDOC_BATCH_VERBOSE"))
                    fprintf(stderr, "case %u update %u: %s: %s\n", c, i, quire_err_name(err),
                            e.message);
            }
            wr_u32(out, (uint32_t)(int32_t)err);
            wr_u32(out, res.status);
        }
        wr_u32(out, (uint32_t)(int32_t)last);
        uint8_t *p;
        size_t n;
        quire_err_t err = ydoc_state_vector(d, &p, &n);
        wr_owned(out, err, p, n);
        err = ydoc_encode_state(d, NULL, 0, &p, &n, NULL);
        wr_owned(out, err, p, n);
        uint32_t nsv = rd_u32(&r);
        for (uint32_t i = 0; i < nsv; i++) {
            size_t len;
            const uint8_t *sv = rd_blob(&r, &len);
            err = ydoc_encode_state(d, sv, len, &p, &n, NULL);
            wr_owned(out, err, p, n);
        }
        char *s;
        err = ydoc_content_json(d, 0, &s, &n);
        wr_owned(out, err, s, n);
        err = ydoc_content_json(d, YDOC_JSON_SORT_KEYS, &s, &n);
        wr_owned(out, err, s, n);
        uint32_t nnovel = rd_u32(&r);
        const uint8_t **nov = calloc(nnovel ? nnovel : 1, sizeof *nov);
        size_t *novlen = calloc(nnovel ? nnovel : 1, sizeof *novlen);
        for (uint32_t i = 0; i < nnovel; i++)
            nov[i] = rd_blob(&r, &novlen[i]);
        uint32_t nroots = rd_u32(&r);
        for (uint32_t i = 0; i < nroots; i++) {
            size_t nl;
            const char *name = (const char *)rd_blob(&r, &nl);
            if (r.p >= r.end) {
                fprintf(stderr, "ydoc_batch: truncated case file\n");
                return 2;
            }
            ydoc_type_t type = (ydoc_type_t)*r.p++;
            uint8_t inferred = (uint8_t)ydoc_root_type(d, name, nl);
            fwrite(&inferred, 1, 1, out);
            err = ydoc_render(d, name, nl, type, YDOC_FORMAT_STRING, 0, &s, &n);
            wr_owned(out, err, s, n);
            err = ydoc_render(d, name, nl, type, YDOC_FORMAT_DELTA, 0, &s, &n);
            wr_owned(out, err, s, n);
            err = ydoc_render(d, name, nl, type, YDOC_FORMAT_JSON, 0, &s, &n);
            wr_owned(out, err, s, n);
        }
        err = ydoc_pending_update(d, &p, &n);
        wr_owned(out, err, p, n);
        size_t nm = ydoc_missing(d, NULL, 0);
        yjs_id_t *ids = calloc(nm ? nm : 1, sizeof *ids);
        ydoc_missing(d, ids, nm);
        wr_u32(out, (uint32_t)nm);
        for (size_t i = 0; i < nm; i++) {
            char t[32];
            int k = snprintf(t, sizeof t, "%" PRIu64, ids[i].client);
            wr_blob(out, t, (size_t)k);
            k = snprintf(t, sizeof t, "%" PRIu64, ids[i].clock);
            wr_blob(out, t, (size_t)k);
        }
        free(ids);
        for (uint32_t i = 0; i < nnovel; i++) {
            p = NULL;
            n = 0;
            err = ydoc_novel(d, nov[i], novlen[i], 0, &p, &n, NULL);
            wr_u32(out, (uint32_t)(int32_t)err);
            uint8_t has = err == QUIRE_OK && p != NULL;
            fwrite(&has, 1, 1, out);
            wr_owned(out, has ? QUIRE_OK : QUIRE_ERR_INVALID, p, n);
        }
        free(nov);
        free(novlen);
        uint64_t mem = ydoc_memory(d);
        wr_u32(out, (uint32_t)mem);
        wr_u32(out, (uint32_t)(mem >> 32));
        ydoc_destroy(d);
    }
    fclose(out);
    free(buf);
    return 0;
}
