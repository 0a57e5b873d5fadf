/* yjs_sv — state-vector decoding (Yjs semantics: later duplicates win), lookup and encoding. */
#include "yjs_sv.h"

#include <stdlib.h>
#include <string.h>

#include "yjs_wire.h"

quire_err_t yjs_sv_add(yjs_sv_t *sv, uint64_t client, uint64_t clock)
{
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 16;
        yjs_sv_entry_t *e = realloc(sv->e, cap * sizeof *e);
        if (!e)
            return QUIRE_ERR_NOMEM;
        sv->e = e;
        sv->cap = cap;
    }
    sv->e[sv->n++] = (yjs_sv_entry_t){client, clock};
    return QUIRE_OK;
}

/* Insertion position keeps order of equal clients: stable. */
static int cmp_entry(const void *a, const void *b)
{
    const yjs_sv_entry_t *x = a, *y = b;
    if (x->client != y->client)
        return x->client > y->client ? -1 : 1;
    return 0;
}

quire_err_t yjs_sv_decode(const uint8_t *sv, size_t len, size_t max_entries, yjs_sv_t *ret)
{
    if (len == 0)
        return QUIRE_ERR_EMPTY;
    yjs_wire_t w = {sv, sv + len};
    uint64_t n;
    if (!yjs_wire_varuint(&w, &n) || n > yjs_wire_left(&w) / 2)
        return QUIRE_ERR_MALFORMED;
    if (n > max_entries)
        return QUIRE_ERR_LIMIT;
    yjs_sv_t out = {0};
    /* remember input order in the clock's place while sorting: sort (client, index) pairs */
    for (uint64_t i = 0; i < n; i++) {
        uint64_t client, clock;
        if (!yjs_wire_varuint(&w, &client) || !yjs_wire_varuint(&w, &clock)) {
            yjs_sv_deinit(&out);
            return QUIRE_ERR_MALFORMED;
        }
        if (yjs_sv_add(&out, client, clock) != QUIRE_OK) {
            yjs_sv_deinit(&out);
            return QUIRE_ERR_NOMEM;
        }
    }
    if (w.pos != w.end) {
        yjs_sv_deinit(&out);
        return QUIRE_ERR_MALFORMED;
    }
    /* later duplicates win: walk from the end, keep the first occurrence of each client */
    size_t sorted = 1;
    for (size_t i = 1; i < out.n && sorted; i++)
        sorted = out.e[i].client < out.e[i - 1].client;
    if (!sorted && out.n > 1) {
        /* reverse so that a stable-by-position pick keeps the last occurrence */
        for (size_t i = 0, j = out.n - 1; i < j; i++, j--) {
            yjs_sv_entry_t t = out.e[i];
            out.e[i] = out.e[j];
            out.e[j] = t;
        }
        /* qsort is not stable: tag each entry's position in its clock's high bits is not
         * possible (clocks use 53 bits), so sort then resolve duplicates by a second pass. */
        yjs_sv_entry_t *pos = malloc(out.n * sizeof *pos);
        if (!pos) {
            yjs_sv_deinit(&out);
            return QUIRE_ERR_NOMEM;
        }
        for (size_t i = 0; i < out.n; i++)
            pos[i] = (yjs_sv_entry_t){out.e[i].client, i};
        qsort(pos, out.n, sizeof *pos, cmp_entry);
        /* among equal clients the smallest position (= last in input) wins */
        size_t k = 0;
        for (size_t i = 0; i < out.n;) {
            size_t j = i, best = pos[i].clock;
            while (j < out.n && pos[j].client == pos[i].client) {
                if (pos[j].clock < best)
                    best = pos[j].clock;
                j++;
            }
            pos[k++] = (yjs_sv_entry_t){pos[i].client, out.e[best].clock};
            i = j;
        }
        free(out.e);
        out.e = pos;
        out.n = k;
        out.cap = out.n;
    }
    *ret = out;
    return QUIRE_OK;
}

uint64_t yjs_sv_get(const yjs_sv_t *sv, uint64_t client)
{
    size_t lo = 0, hi = sv->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sv->e[mid].client == client)
            return sv->e[mid].clock;
        if (sv->e[mid].client > client)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

void yjs_sv_write(const yjs_sv_t *sv, yjs_buf_t *out)
{
    yjs_buf_varuint(out, sv->n);
    for (size_t i = 0; i < sv->n; i++) {
        yjs_buf_varuint(out, sv->e[i].client);
        yjs_buf_varuint(out, sv->e[i].clock);
    }
}

void yjs_sv_deinit(yjs_sv_t *sv)
{
    if (!sv)
        return;
    free(sv->e);
    memset(sv, 0, sizeof *sv);
}
