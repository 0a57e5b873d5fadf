/*
 * yjs_ds — delete-set normalisation. Sorting is a stable bottom-up merge sort (O(n log n), one
 * scratch array) with a linear pass first: ranges that arrive already in order — the common case
 * for one document's updates — cost one comparison each.
 */
#include "yjs_ds.h"

#include <stdlib.h>
#include <string.h>

#include "yjs_wire.h"

quire_err_t yjs_ds_add(yjs_ds_t *ds, uint64_t client, uint64_t clock, uint64_t len)
{
    if (ds->n == ds->cap) {
        size_t cap = ds->cap ? ds->cap * 2 : 16;
        if (cap > SIZE_MAX / sizeof *ds->r)
            return QUIRE_ERR_NOMEM;
        yjs_ds_range_t *r = realloc(ds->r, cap * sizeof *r);
        if (!r)
            return QUIRE_ERR_NOMEM;
        ds->r = r;
        ds->cap = cap;
    }
    ds->r[ds->n++] = (yjs_ds_range_t){client, clock, len};
    return QUIRE_OK;
}

/* a sorts before b: client descending, then (if by_clock) clock ascending */
static inline int before(const yjs_ds_range_t *a, const yjs_ds_range_t *b, int by_clock)
{
    if (a->client != b->client)
        return a->client > b->client;
    return by_clock && a->clock < b->clock;
}

static quire_err_t stable_sort(yjs_ds_t *ds, int by_clock)
{
    size_t n = ds->n;
    size_t i;
    for (i = 1; i < n; i++)
        if (before(&ds->r[i], &ds->r[i - 1], by_clock))
            break;
    if (i >= n)
        return QUIRE_OK;
    yjs_ds_range_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return QUIRE_ERR_NOMEM;
    yjs_ds_range_t *src = ds->r, *dst = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                dst[k++] = before(&src[b], &src[a], by_clock) ? src[b++] : src[a++];
            while (a < mid)
                dst[k++] = src[a++];
            while (b < hi)
                dst[k++] = src[b++];
        }
        yjs_ds_range_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != ds->r) {
        memcpy(ds->r, src, n * sizeof *src);
        free(src);
    } else {
        free(dst);
    }
    return QUIRE_OK;
}

/* LSD radix sort by clock (11-bit digits, as many passes as the largest clock needs), stable. */
static quire_err_t radix_by_clock(yjs_ds_t *ds)
{
    size_t n = ds->n;
    uint64_t max = 0;
    for (size_t i = 0; i < n; i++)
        max |= ds->r[i].clock;
    yjs_ds_range_t *tmp = malloc(n * sizeof *tmp);
    size_t *count = malloc(2048 * sizeof *count);
    if (!tmp || !count) {
        free(tmp);
        free(count);
        return QUIRE_ERR_NOMEM;
    }
    yjs_ds_range_t *src = ds->r, *dst = tmp;
    for (unsigned shift = 0; shift < 64 && (max >> shift) != 0; shift += 11) {
        memset(count, 0, 2048 * sizeof *count);
        for (size_t i = 0; i < n; i++)
            count[(src[i].clock >> shift) & 2047]++;
        size_t sum = 0;
        for (size_t k = 0; k < 2048; k++) {
            size_t c = count[k];
            count[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i].clock >> shift) & 2047]++] = src[i];
        yjs_ds_range_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != ds->r)
        memcpy(ds->r, src, n * sizeof *src);
    free(tmp);
    free(count);
    return QUIRE_OK;
}

quire_err_t yjs_ds_sort_merge(yjs_ds_t *ds)
{
    quire_err_t err = QUIRE_OK;
    size_t first_unsorted;
    for (first_unsorted = 1; first_unsorted < ds->n; first_unsorted++)
        if (before(&ds->r[first_unsorted], &ds->r[first_unsorted - 1], 1))
            break;
    if (first_unsorted < ds->n) {
        if (ds->n >= 512) {
            /* by clock, then stably by client: (client descending, clock ascending) */
            err = radix_by_clock(ds);
            if (err == QUIRE_OK)
                err = stable_sort(ds, 0);
        } else {
            err = stable_sort(ds, 1);
        }
    }
    if (err != QUIRE_OK)
        return err;
    size_t j = 0;
    for (size_t i = 0; i < ds->n; i++) {
        yjs_ds_range_t r = ds->r[i];
        if (j > 0 && ds->r[j - 1].client == r.client &&
            ds->r[j - 1].clock + ds->r[j - 1].len >= r.clock) {
            yjs_ds_range_t *l = &ds->r[j - 1];
            uint64_t end = r.clock + r.len - l->clock;
            if (end > l->len)
                l->len = end;
        } else {
            ds->r[j++] = r;
        }
    }
    ds->n = j;
    return QUIRE_OK;
}

quire_err_t yjs_ds_group(yjs_ds_t *ds)
{
    return stable_sort(ds, 0);
}

void yjs_ds_write(const yjs_ds_t *ds, yjs_buf_t *out)
{
    size_t clients = 0;
    for (size_t i = 0; i < ds->n; i++)
        if (i == 0 || ds->r[i].client != ds->r[i - 1].client)
            clients++;
    yjs_buf_varuint(out, clients);
    for (size_t i = 0; i < ds->n;) {
        size_t j = i;
        while (j < ds->n && ds->r[j].client == ds->r[i].client)
            j++;
        yjs_buf_varuint(out, ds->r[i].client);
        yjs_buf_varuint(out, j - i);
        for (; i < j; i++) {
            yjs_buf_varuint(out, ds->r[i].clock);
            yjs_buf_varuint(out, ds->r[i].len);
        }
    }
}

size_t yjs_ds_size(const yjs_ds_t *ds)
{
    size_t clients = 0, n = 0;
    for (size_t i = 0; i < ds->n;) {
        size_t j = i;
        while (j < ds->n && ds->r[j].client == ds->r[i].client)
            j++;
        clients++;
        n += yjs_wire_varuint_size(ds->r[i].client) + yjs_wire_varuint_size(j - i);
        for (; i < j; i++)
            n += yjs_wire_varuint_size(ds->r[i].clock) + yjs_wire_varuint_size(ds->r[i].len);
    }
    return n + yjs_wire_varuint_size(clients);
}

void yjs_ds_deinit(yjs_ds_t *ds)
{
    if (!ds)
        return;
    free(ds->r);
    memset(ds, 0, sizeof *ds);
}
