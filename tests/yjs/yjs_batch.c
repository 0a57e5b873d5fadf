/*
 * yjs_batch — runs a file of engine requests and writes the results, so the differential tests
 * (differential.mjs) can check thousands of cases against the yjs npm package with one process.
 *
 *   yjs_batch <requests> <results>
 *
 * All integers little-endian u32. A request: op, id, nargs, then nargs × (len, bytes).
 * A result: id, status (the quire_err_t, as i32), nouts, then nouts × (len, bytes).
 *
 *   op 1 merge     args: updates...         outs: merged
 *   op 2 diff      args: update, sv         outs: diff
 *   op 3 sv        args: update             outs: state vector
 *   op 4 split     args: update, cap (u32)  outs: parts..., then nsliced (u32)
 *   op 5 validate  args: update             outs: text, one "client clock end\n" per range
 *   op 6 merge, skim mode (as 1 with YJS_DECODE_SKIM)
 *   op 7 sv, skim mode (as 3 with YJS_DECODE_SKIM)
 *
 * Malformed request files are a test-harness bug: reported on stderr with exit status 2.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yjs_update.h"

enum {
    OP_MERGE = 1,
    OP_DIFF = 2,
    OP_SV = 3,
    OP_SPLIT = 4,
    OP_VALIDATE = 5,
    OP_MERGE_SKIM = 6,
    OP_SV_SKIM = 7
};

typedef struct rd_s {
    const uint8_t *p, *end;
} rd_t;

static int rd_u32(rd_t *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return -1;
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
         (uint32_t)r->p[3] << 24;
    r->p += 4;
    return 0;
}

static void wr_u32(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, f);
}

static void wr_out(FILE *f, const void *p, size_t n)
{
    wr_u32(f, (uint32_t)n);
    fwrite(p, 1, n, f);
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

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: yjs_batch <requests> <results>\n");
        return 2;
    }
    size_t len;
    uint8_t *req = slurp(argv[1], &len);
    FILE *out = fopen(argv[2], "wb");
    if (!req || !out) {
        fprintf(stderr, "yjs_batch: could not open files\n");
        return 2;
    }
    rd_t r = {req, req + len};
    const uint8_t **args = NULL;
    size_t *lens = NULL;
    size_t args_cap = 0;
    unsigned count = 0;
    while (r.p < r.end) {
        uint32_t op, id, nargs;
        if (rd_u32(&r, &op) || rd_u32(&r, &id) || rd_u32(&r, &nargs))
            goto bad;
        if (nargs > args_cap) {
            args_cap = nargs * 2;
            args = realloc(args, args_cap * sizeof *args);
            lens = realloc(lens, args_cap * sizeof *lens);
            if (!args || !lens)
                goto bad;
        }
        for (uint32_t i = 0; i < nargs; i++) {
            uint32_t n;
            if (rd_u32(&r, &n) || (size_t)(r.end - r.p) < n)
                goto bad;
            args[i] = r.p;
            lens[i] = n;
            r.p += n;
        }
        uint8_t *res = NULL;
        size_t res_len = 0;
        yjs_error_t e = {.message = "unknown request"};
        quire_err_t err = QUIRE_ERR_INVALID;
        wr_u32(out, id);
        if (op == OP_MERGE || op == OP_MERGE_SKIM) {
            err = yjs_update_merge(args, lens, nargs, NULL,
                                   op == OP_MERGE_SKIM ? YJS_DECODE_SKIM : 0, &res, &res_len, &e);
        } else if (op == OP_DIFF && nargs == 2) {
            err = yjs_update_diff(args[0], lens[0], args[1], lens[1], NULL, 0, &res, &res_len, &e);
        } else if ((op == OP_SV || op == OP_SV_SKIM) && nargs == 1) {
            err = yjs_update_state_vector(
                args[0], lens[0], NULL, op == OP_SV_SKIM ? YJS_DECODE_SKIM : 0, &res, &res_len, &e);
        } else if (op == OP_SPLIT && nargs == 2 && lens[1] == 4) {
            rd_t cr = {args[1], args[1] + 4};
            uint32_t cap;
            rd_u32(&cr, &cap);
            yjs_parts_t parts = {0};
            err = yjs_update_split(args[0], lens[0], cap, NULL, 0, &parts, &e);
            wr_u32(out, (uint32_t)err);
            if (err == QUIRE_OK) {
                wr_u32(out, (uint32_t)parts.n + 1);
                for (size_t i = 0; i < parts.n; i++) {
                    size_t plen;
                    const uint8_t *p = yjs_parts_get(&parts, i, &plen);
                    wr_out(out, p, plen);
                }
                uint8_t ns[4] = {(uint8_t)parts.nsliced, (uint8_t)(parts.nsliced >> 8),
                                 (uint8_t)(parts.nsliced >> 16), (uint8_t)(parts.nsliced >> 24)};
                wr_out(out, ns, 4);
            } else {
                wr_u32(out, 1);
                wr_out(out, e.message, strlen(e.message));
            }
            yjs_parts_deinit(&parts);
            count++;
            continue;
        } else if (op == OP_VALIDATE && nargs == 1) {
            yjs_validation_t v = {0};
            err = yjs_update_validate(args[0], lens[0], NULL, 0, &v);
            if (err == QUIRE_OK) {
                size_t cap = 64 + v.nranges * 64;
                res = malloc(cap);
                if (res) {
                    for (size_t i = 0; i < v.nranges; i++)
                        res_len += (size_t)snprintf((char *)res + res_len, cap - res_len,
                                                    "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                                                    v.ranges[i].client, v.ranges[i].clock,
                                                    v.ranges[i].end);
                }
            } else {
                e = v.error;
            }
            yjs_validation_deinit(&v);
        }
        wr_u32(out, (uint32_t)err);
        if (err == QUIRE_OK) {
            wr_u32(out, 1);
            wr_out(out, res, res_len);
        } else {
            wr_u32(out, 1);
            wr_out(out, e.message, strlen(e.message));
        }
        free(res);
        count++;
    }
    free(args);
    free(lens);
    free(req);
    if (fclose(out) != 0)
        return 2;
    fprintf(stderr, "yjs_batch: %u requests\n", count);
    return 0;
bad:
    fprintf(stderr, "yjs_batch: malformed request file\n");
    return 2;
}
