/*
 * yjs_update — validate, merge, diff, state vector and split, without a document.
 *
 * DESIGN
 * Merge, diff and state vector are ports of Yjs 13.6 src/utils/updates.js (mergeUpdatesV2,
 * diffUpdateV2, encodeStateVectorFromUpdateV2) over the streaming decoder, so that outputs are
 * byte-identical. Two points need care:
 *
 *   - mergeUpdatesV2 re-sorts its decoders before every step with Array.prototype.sort keyed by
 *     the current struct (client descending, clock ascending). For equal (client, clock) its
 *     comparator returns 0 when both structs have the same class but -1 *both ways* for a GC
 *     against an Item, so which decoder comes first then depends on the engine's sort algorithm.
 *     With fewer than 64 decoders, V8's TimSort is one CountAndMakeRun plus a binary insertion
 *     sort; quire replays exactly that (V8_SORT_MAX), so Node's and Chrome's choices are
 *     reproduced even with mixed ties. With 64 or more, a consistent comparator would make the
 *     sort stable, which amounts to "the decoder that just moved goes first among equal keys;
 *     initially lower input index first": a priority queue with that tie-break reproduces Yjs in
 *     O(log n) per step instead of O(n log n) — exact unless a GC and an Item share a
 *     (client, clock), where Yjs's own output depends on the JavaScript engine. The queue is a
 *     sorted array of the initial keys (already sorted, hence free, for a document's updates in
 *     log order) plus a binary heap for decoders that move.
 *   - Items never merge in mergeUpdates (Item.mergeWith compares `this.right === right`, which is
 *     false for decoded items); GCs merge with an adjacent GC only in the main loop, not while
 *     copying a decoder's consecutive structs.
 *
 * Structs are copied by their raw bytes (only the info byte is re-derived); only structs cut at a
 * clock offset are re-encoded field by field.
 *
 * MEMORY: merge keeps one decoder (~170 bytes) per input that has structs, and the output; diff,
 * state vector and validate keep O(1) besides their output; split keeps the current part.
 */
#include "yjs_update.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yjs_any.h"
#include "yjs_ds.h"
#include "yjs_sv.h"

/* Re-skipping `any` values already validated: the depth was checked then. */
#define RESKIP_DEPTH 4096

/* ---------------------------------------------------------------------------------------- */
/* errors */

static void set_error(yjs_error_t *e, size_t input, const yjs_decoder_t *d, const char *what)
{
    if (!e)
        return;
    size_t off = 0;
    const char *msg = what;
    if (d) {
        msg = yjs_decode_error(d, &off);
        if (!msg[0])
            msg = what;
    }
    e->input = input;
    e->offset = off;
    snprintf(e->message, sizeof e->message, "%s", msg);
}

static quire_err_t decoder_fail(yjs_error_t *e, size_t input, const yjs_decoder_t *d, int r)
{
    set_error(e, input, d, quire_err_str((quire_err_t)r));
    return (quire_err_t)r;
}

/* ---------------------------------------------------------------------------------------- */
/* the lazy struct writer of updates.js: structs are appended to `body`, grouped per client */

typedef struct group_s {
    uint64_t client;
    uint64_t clock;
    uint64_t count;
    size_t off; /* offset of the group's first struct in body */
} group_t;

typedef struct lazy_s {
    yjs_buf_t body;
    group_t *groups;
    size_t ngroups;
    size_t cap;
    size_t closed_hdr; /* header bytes of every group but the last (split's size accounting) */
    quire_err_t err;
} lazy_t;

static size_t group_hdr(const group_t *g)
{
    return yjs_wire_varuint_size(g->count) + yjs_wire_varuint_size(g->client) +
           yjs_wire_varuint_size(g->clock);
}

static void lazy_write(lazy_t *lw, const yjs_struct_t *s)
{
    if (lw->ngroups == 0 || lw->groups[lw->ngroups - 1].client != s->id.client) {
        if (lw->ngroups == lw->cap) {
            size_t cap = lw->cap ? lw->cap * 2 : 8;
            group_t *g = realloc(lw->groups, cap * sizeof *g);
            if (!g) {
                lw->err = QUIRE_ERR_NOMEM;
                return;
            }
            lw->groups = g;
            lw->cap = cap;
        }
        if (lw->ngroups)
            lw->closed_hdr += group_hdr(&lw->groups[lw->ngroups - 1]);
        lw->groups[lw->ngroups++] = (group_t){s->id.client, s->id.clock, 0, lw->body.len};
    }
    lw->groups[lw->ngroups - 1].count++;
    yjs_struct_write(s, &lw->body);
}

/* Writes the struct section (group headers around the collected bodies) to out. */
static void lazy_finish(const lazy_t *lw, yjs_buf_t *out)
{
    yjs_buf_varuint(out, lw->ngroups);
    for (size_t i = 0; i < lw->ngroups; i++) {
        const group_t *g = &lw->groups[i];
        size_t end = i + 1 < lw->ngroups ? lw->groups[i + 1].off : lw->body.len;
        yjs_buf_varuint(out, g->count);
        yjs_buf_varuint(out, g->client);
        yjs_buf_varuint(out, g->clock);
        yjs_buf_bytes(out, lw->body.data + g->off, end - g->off);
    }
}

static void lazy_deinit(lazy_t *lw)
{
    yjs_buf_deinit(&lw->body);
    free(lw->groups);
    memset(lw, 0, sizeof *lw);
}

/* Writes v as a varUint at p (yjs_wire_varuint_size(v) bytes); returns the end. */
static uint8_t *put_varuint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Turns the collected bodies into the update in place (group headers slid in between, delete
 * set appended) and hands it out: no second copy of the output. */
static quire_err_t finish_output(lazy_t *lw, const yjs_ds_t *ds, uint8_t **ret, size_t *ret_len,
                                 yjs_error_t *e)
{
    quire_err_t err = lw->err != QUIRE_OK ? lw->err : yjs_buf_err(&lw->body);
    size_t head = yjs_wire_varuint_size(lw->ngroups), headers = head;
    for (size_t i = 0; i < lw->ngroups; i++)
        headers += yjs_wire_varuint_size(lw->groups[i].count) +
                   yjs_wire_varuint_size(lw->groups[i].client) +
                   yjs_wire_varuint_size(lw->groups[i].clock);
    if (err == QUIRE_OK && !yjs_buf_reserve(&lw->body, headers + yjs_ds_size(ds)))
        err = yjs_buf_err(&lw->body);
    if (err != QUIRE_OK) {
        set_error(e, 0, NULL, quire_err_str(err));
        return err;
    }
    uint8_t *d = lw->body.data;
    size_t body_end = lw->body.len, shift = headers;
    for (size_t i = lw->ngroups; i-- > 0;) {
        const group_t *g = &lw->groups[i];
        size_t gh = yjs_wire_varuint_size(g->count) + yjs_wire_varuint_size(g->client) +
                    yjs_wire_varuint_size(g->clock);
        memmove(d + g->off + shift, d + g->off, body_end - g->off);
        shift -= gh;
        uint8_t *p = d + g->off + shift;
        p = put_varuint(p, g->count);
        p = put_varuint(p, g->client);
        put_varuint(p, g->clock);
        body_end = g->off;
    }
    put_varuint(d, lw->ngroups);
    lw->body.len += headers;
    yjs_ds_write(ds, &lw->body);
    if ((err = yjs_buf_err(&lw->body)) != QUIRE_OK) {
        set_error(e, 0, NULL, quire_err_str(err));
        return err;
    }
    *ret = yjs_buf_steal(&lw->body, ret_len);
    return QUIRE_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* validate */

void yjs_validation_deinit(yjs_validation_t *v)
{
    if (!v)
        return;
    free(v->ranges);
    memset(v, 0, sizeof *v);
}

static quire_err_t add_range(yjs_validation_t *v, uint64_t client, uint64_t clock, uint64_t end)
{
    if (v->nranges) {
        yjs_client_range_t *last = &v->ranges[v->nranges - 1];
        if (last->client == client && last->end == clock) {
            last->end = end;
            return QUIRE_OK;
        }
    }
    if (v->nranges == v->ranges_cap) {
        size_t cap = v->ranges_cap ? v->ranges_cap * 2 : 8;
        yjs_client_range_t *r = realloc(v->ranges, cap * sizeof *r);
        if (!r)
            return QUIRE_ERR_NOMEM;
        v->ranges = r;
        v->ranges_cap = cap;
    }
    v->ranges[v->nranges++] = (yjs_client_range_t){client, clock, end};
    return QUIRE_OK;
}

quire_err_t yjs_update_validate(const uint8_t *update, size_t len, const yjs_limits_t *limits,
                                unsigned flags, yjs_validation_t *ret)
{
    ret->nranges = 0;
    ret->nstructs = ret->nskips = ret->ndelete_ranges = 0;
    ret->error.message[0] = '\0';
    ret->error.input = ret->error.offset = 0;
    yjs_decoder_t d;
    quire_err_t err = yjs_decode_init(&d, update, len, limits, flags);
    if (err != QUIRE_OK) {
        set_error(&ret->error, 0, &d, "");
        return ret->err = err;
    }
    yjs_struct_t s;
    int r;
    while ((r = yjs_decode_next_struct(&d, &s)) > 0) {
        if (s.kind == YJS_KIND_SKIP) {
            ret->nskips++;
            continue;
        }
        ret->nstructs++;
        if (add_range(ret, s.id.client, s.id.clock, s.id.clock + s.len) != QUIRE_OK) {
            set_error(&ret->error, 0, NULL, "out of memory");
            return ret->err = QUIRE_ERR_NOMEM;
        }
    }
    uint64_t client, clock, dlen;
    if (r == 0)
        while ((r = yjs_decode_next_delete(&d, &client, &clock, &dlen)) > 0)
            ret->ndelete_ranges++;
    if (r < 0) {
        decoder_fail(&ret->error, 0, &d, r);
        return ret->err = (quire_err_t)r;
    }
    return ret->err = QUIRE_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* merge */

/* One input of a merge: its current struct (Skips are filtered out, as LazyStructReader(…, true)
 * does), compact because a merge may have hundreds of thousands of inputs. Only inputs with
 * structs left after the current one keep a decoder (in merge_t.decs). */
typedef struct mcur_s {
    uint64_t client, clock, len;
    const uint8_t *raw;
    uint32_t raw_len;
    uint32_t dec;   /* index into merge_t.decs, or NO_DEC once the input's structs are all read */
    uint32_t input; /* index of the input (for errors); cursors exist only for inputs with structs,
                       in input order, so cursor order is input order */
    uint8_t kind, info;
    bool has;
} mcur_t;

#define NO_DEC UINT32_MAX

/* queue entry: the key of a decoder's current struct, and the tie-break */
typedef struct qent_s {
    uint64_t client;
    uint64_t clock;
    int64_t seq; /* initial: input index; re-inserted: decreasing negatives (goes first) */
    size_t idx;
} qent_t;

static inline bool qless(const qent_t *a, const qent_t *b)
{
    if (a->client != b->client)
        return a->client > b->client;
    if (a->clock != b->clock)
        return a->clock < b->clock;
    return a->seq < b->seq;
}

/* Below this many decoders V8 sorts by binary insertion alone, which quire replays exactly. */
#define V8_SORT_MAX 64

typedef struct merge_s {
    mcur_t *cur;
    yjs_decoder_t *decs;
    size_t ndecs, decs_cap;
    uint32_t *init; /* inputs with structs, sorted by their first struct's key */
    size_t ninit, init_head;
    qent_t *heap; /* inputs that moved, keyed by their current struct */
    size_t nheap, heap_cap;
    int64_t seq;
    size_t *arr; /* V8 mode: decoder indices in Yjs's array order */
    size_t narr;
    bool v8;
    yjs_ds_t ds;
    lazy_t lw;
    const yjs_limits_t *limits;
    unsigned flags;
    yjs_error_t *e;
    quire_err_t err;
} merge_t;

/* Reads the rest of d (its delete set) into m->ds. */
static bool drain_ds(merge_t *m, yjs_decoder_t *d, size_t idx)
{
    uint64_t client, clock, len;
    int r;
    while ((r = yjs_decode_next_delete(d, &client, &clock, &len)) > 0)
        if (yjs_ds_add(&m->ds, client, clock, len) != QUIRE_OK) {
            m->err = QUIRE_ERR_NOMEM;
            set_error(m->e, idx, NULL, "out of memory");
            return false;
        }
    if (r < 0) {
        m->err = decoder_fail(m->e, idx, d, r);
        return false;
    }
    return true;
}

/* Reads d's next non-Skip struct into c (c->has = false at the end). When d has no structs
 * left after it, the delete set is read at once and the decoder is no longer needed:
 * *ret_done is set. */
static bool read_next(merge_t *m, mcur_t *c, yjs_decoder_t *d, size_t idx, bool *ret_done)
{
    yjs_struct_t s;
    int r;
    while ((r = yjs_decode_next_struct(d, &s)) > 0) {
        if (s.kind == YJS_KIND_SKIP)
            continue;
        c->client = s.id.client;
        c->clock = s.id.clock;
        c->len = s.len;
        c->raw = s.raw.ptr;
        c->raw_len = (uint32_t)s.raw.len;
        c->kind = s.kind;
        c->info = s.info;
        c->has = true;
        *ret_done = d->structs_left == 0 && d->groups_left == 0;
        return !*ret_done || drain_ds(m, d, idx);
    }
    c->has = false;
    *ret_done = true;
    if (r < 0) {
        m->err = decoder_fail(m->e, idx, d, r);
        return false;
    }
    return drain_ds(m, d, idx);
}

/* Advances c to its input's next non-Skip struct. */
static bool mcur_next(merge_t *m, mcur_t *c)
{
    if (c->dec == NO_DEC) {
        c->has = false;
        return true;
    }
    bool done;
    if (!read_next(m, c, &m->decs[c->dec], c->input, &done))
        return false;
    if (done)
        c->dec = NO_DEC;
    return true;
}

static bool heap_push(merge_t *m, qent_t e)
{
    if (m->nheap == m->heap_cap) {
        size_t cap = m->heap_cap ? m->heap_cap * 2 : 64;
        qent_t *h = realloc(m->heap, cap * sizeof *h);
        if (!h) {
            m->err = QUIRE_ERR_NOMEM;
            set_error(m->e, 0, NULL, "out of memory");
            return false;
        }
        m->heap = h;
        m->heap_cap = cap;
    }
    size_t i = m->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!qless(&e, &m->heap[p]))
            break;
        m->heap[i] = m->heap[p];
        i = p;
    }
    m->heap[i] = e;
    return true;
}

static qent_t heap_pop(merge_t *m)
{
    qent_t top = m->heap[0];
    qent_t last = m->heap[--m->nheap];
    size_t i = 0, n = m->nheap;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= n)
            break;
        size_t c = l + 1 < n && qless(&m->heap[l + 1], &m->heap[l]) ? l + 1 : l;
        if (!qless(&m->heap[c], &last))
            break;
        m->heap[i] = m->heap[c];
        i = c;
    }
    if (n)
        m->heap[i] = last;
    return top;
}

/* Yjs's decoder comparator (updates.js mergeUpdatesV2), Skips being filtered out. */
static int ycmp(const mcur_t *a, const mcur_t *b)
{
    if (a->client == b->client) {
        if (a->clock == b->clock)
            return a->kind == b->kind ? 0 : -1;
        return a->clock < b->clock ? -1 : 1;
    }
    return b->client < a->client ? -1 : 1;
}

/* V8's Array.prototype.sort (TimSort, third_party/v8/builtins/array-sort.tq) for n < 64, where
 * it is CountAndMakeRun followed by BinaryInsertionSort over the whole array. */
static void v8_sort(const mcur_t *cur, size_t *a, size_t n)
{
    if (n < 2)
        return;
    size_t run = 2;
    bool desc = ycmp(&cur[a[1]], &cur[a[0]]) < 0;
    size_t prev = a[1];
    for (size_t i = 2; i < n; i++) {
        int order = ycmp(&cur[a[i]], &cur[prev]);
        if (desc ? order >= 0 : order < 0)
            break;
        prev = a[i];
        run++;
    }
    if (desc)
        for (size_t i = 0, j = run - 1; i < j; i++, j--) {
            size_t t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    for (size_t start = run; start < n; start++) {
        size_t left = 0, right = start, pivot = a[start];
        while (left < right) {
            size_t mid = left + ((right - left) >> 1);
            if (ycmp(&cur[pivot], &cur[a[mid]]) < 0)
                right = mid;
            else
                left = mid + 1;
        }
        memmove(&a[left + 1], &a[left], (start - left) * sizeof *a);
        a[left] = pivot;
    }
}

/* Pops the decoder Yjs's sort would put first; false when none is left. */
static bool queue_pop(merge_t *m, size_t *ret_idx)
{
    if (m->v8) {
        size_t k = 0;
        for (size_t i = 0; i < m->narr; i++)
            if (m->cur[m->arr[i]].has)
                m->arr[k++] = m->arr[i];
        m->narr = k;
        if (k == 0)
            return false;
        v8_sort(m->cur, m->arr, k);
        *ret_idx = m->arr[0];
        return true;
    }
    bool have_init = m->init_head < m->ninit;
    if (!have_init && m->nheap == 0)
        return false;
    if (have_init && m->nheap) {
        uint32_t i = m->init[m->init_head];
        qent_t q = {m->cur[i].client, m->cur[i].clock, (int64_t)i, i};
        have_init = qless(&q, &m->heap[0]);
    }
    if (have_init)
        *ret_idx = m->init[m->init_head++];
    else
        *ret_idx = heap_pop(m).idx;
    return true;
}

static void queue_push(merge_t *m, size_t idx)
{
    if (m->v8)
        return; /* it stays in the array; the next sort moves it */
    const mcur_t *c = &m->cur[idx];
    heap_push(m, (qent_t){c->client, c->clock, --m->seq, idx}); /* failure sets m->err */
}

/* W := the current struct of c, unparsed (raw bytes). */
static void take_current(const mcur_t *c, yjs_struct_t *w)
{
    w->id.client = c->client;
    w->id.clock = c->clock;
    w->len = c->len;
    w->kind = c->kind;
    w->info = c->info;
    w->raw.ptr = c->raw;
    w->raw.len = c->raw_len;
}

/* Drops the first `diff` units of a struct taken with take_current (parses Items first). */
static quire_err_t slice_taken(merge_t *m, yjs_struct_t *s, uint64_t diff)
{
    if (s->kind == YJS_KIND_ITEM) {
        quire_err_t err = yjs_decode_struct(s->raw.ptr, s->raw.len, s->id.client, s->id.clock,
                                            m->limits, m->flags | YJS_DECODE_SKIM, s);
        if (err != QUIRE_OK)
            return QUIRE_ERR_INTERNAL;
    }
    return yjs_struct_slice(s, diff);
}

/* Initial order of inputs: by first struct (client descending, clock ascending), then index. */
static inline bool init_less(const mcur_t *cur, uint32_t a, uint32_t b)
{
    const mcur_t *x = &cur[a], *y = &cur[b];
    if (x->client != y->client)
        return x->client > y->client;
    if (x->clock != y->clock)
        return x->clock < y->clock;
    return a < b;
}

/* Bottom-up merge sort of the initial input order (one scratch array). */
static bool sort_init(merge_t *m)
{
    size_t n = m->ninit;
    uint32_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return false;
    uint32_t *src = m->init, *dst = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                dst[k++] = init_less(m->cur, src[b], src[a]) ? src[b++] : src[a++];
            while (a < mid)
                dst[k++] = src[a++];
            while (b < hi)
                dst[k++] = src[b++];
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != m->init)
        memcpy(m->init, src, n * sizeof *src);
    free(tmp);
    return true;
}

static quire_err_t merge_run(merge_t *m, const uint8_t *const *updates, const size_t *lens,
                             size_t n)
{
    if (n >= NO_DEC) {
        set_error(m->e, 0, NULL, "too many updates");
        return QUIRE_ERR_LIMIT;
    }
    m->cur = malloc((n ? n : 1) * sizeof *m->cur);
    m->init = malloc((n ? n : 1) * sizeof *m->init);
    if (!m->cur || !m->init) {
        set_error(m->e, 0, NULL, "out of memory");
        return QUIRE_ERR_NOMEM;
    }
    size_t ncur = 0;
    bool sorted = true;
    for (size_t i = 0; i < n; i++) {
        mcur_t *c = &m->cur[ncur]; /* claimed only if the input has a struct */
        yjs_decoder_t d;
        quire_err_t err = yjs_decode_init(&d, updates[i], lens[i], m->limits, m->flags);
        if (err != QUIRE_OK)
            return decoder_fail(m->e, i, &d, err);
        if (lens[i] > UINT32_MAX) {
            set_error(m->e, i, NULL, "update larger than 4 GiB");
            return QUIRE_ERR_TOO_LARGE;
        }
        bool done;
        c->dec = NO_DEC;
        c->input = (uint32_t)i;
        if (!read_next(m, c, &d, i, &done))
            return m->err;
        if (!c->has)
            continue; /* no structs: its delete set is read, nothing else to keep */
        if (!done) {  /* keep the decoder for the input's later structs */
            if (m->ndecs == m->decs_cap) {
                size_t cap = m->decs_cap ? m->decs_cap * 2 : 16;
                yjs_decoder_t *nd = realloc(m->decs, cap * sizeof *nd);
                if (!nd) {
                    set_error(m->e, i, NULL, "out of memory");
                    return QUIRE_ERR_NOMEM;
                }
                m->decs = nd;
                m->decs_cap = cap;
            }
            c->dec = (uint32_t)m->ndecs;
            m->decs[m->ndecs++] = d;
        }
        if (m->ninit && init_less(m->cur, (uint32_t)ncur, m->init[m->ninit - 1]))
            sorted = false;
        m->init[m->ninit++] = (uint32_t)ncur;
        ncur++;
    }
    /* inputs without structs (delete-only updates) keep no cursor */
    if (ncur < n / 2) {
        mcur_t *shrunk = realloc(m->cur, (ncur ? ncur : 1) * sizeof *shrunk);
        if (shrunk)
            m->cur = shrunk;
    }
    if (m->ninit < V8_SORT_MAX) {
        m->v8 = true;
        m->arr = malloc((m->ninit ? m->ninit : 1) * sizeof *m->arr);
        if (!m->arr) {
            set_error(m->e, 0, NULL, "out of memory");
            return QUIRE_ERR_NOMEM;
        }
        for (size_t i = 0; i < m->ninit; i++)
            m->arr[i] = m->init[i];
        m->narr = m->ninit;
    } else if (!sorted && !sort_init(m)) {
        set_error(m->e, 0, NULL, "out of memory");
        return QUIRE_ERR_NOMEM;
    }

    yjs_struct_t w;
    memset(&w, 0, sizeof w);
    bool have_w = false;
    size_t idx;
    while (queue_pop(m, &idx)) {
        mcur_t *c = &m->cur[idx];
        uint64_t first_client = c->client;
        if (have_w) {
            uint64_t wend = yjs_struct_end(&w);
            bool iterated = false;
            while (c->has && c->clock + c->len <= wend && c->client >= w.id.client) {
                if (!mcur_next(m, c))
                    return m->err;
                iterated = true;
            }
            if (!c->has || c->client != first_client || (iterated && c->clock > wend)) {
                if (c->has)
                    queue_push(m, idx);
                if (m->err != QUIRE_OK)
                    return m->err;
                continue;
            }
            if (first_client != w.id.client) {
                lazy_write(&m->lw, &w);
                take_current(c, &w);
                if (!mcur_next(m, c))
                    return m->err;
            } else if (wend < c->clock) {
                if (w.kind == YJS_KIND_SKIP) {
                    w.len = c->clock + c->len - w.id.clock;
                } else {
                    lazy_write(&m->lw, &w);
                    uint64_t gap = c->clock - wend;
                    memset(&w, 0, sizeof w);
                    w.id.client = first_client;
                    w.id.clock = wend;
                    w.len = gap;
                    w.kind = YJS_KIND_SKIP;
                    w.info = YJS_KIND_SKIP;
                }
            } else {
                uint64_t diff = wend - c->clock;
                yjs_struct_t cs;
                memset(&cs, 0, sizeof cs);
                take_current(c, &cs);
                if (diff > 0) {
                    if (w.kind == YJS_KIND_SKIP) {
                        w.len -= diff;
                    } else {
                        quire_err_t err = slice_taken(m, &cs, diff);
                        if (err != QUIRE_OK) {
                            set_error(m->e, idx, NULL, "could not slice a struct");
                            return err;
                        }
                    }
                }
                if (w.kind == cs.kind && w.kind != YJS_KIND_ITEM) {
                    w.len += cs.len; /* GC.mergeWith / Skip.mergeWith */
                } else {
                    lazy_write(&m->lw, &w);
                    w = cs;
                    if (!mcur_next(m, c))
                        return m->err;
                }
            }
        } else {
            take_current(c, &w);
            have_w = true;
            if (!mcur_next(m, c))
                return m->err;
        }
        while (c->has && c->client == first_client && c->clock == yjs_struct_end(&w)) {
            lazy_write(&m->lw, &w);
            take_current(c, &w);
            if (!mcur_next(m, c))
                return m->err;
        }
        if (c->has)
            queue_push(m, idx);
        if (m->err != QUIRE_OK)
            return m->err;
    }
    if (have_w)
        lazy_write(&m->lw, &w);
    return QUIRE_OK;
}

quire_err_t yjs_update_merge(const uint8_t *const *updates, const size_t *lens, size_t n,
                             const yjs_limits_t *limits, unsigned flags, uint8_t **ret_update,
                             size_t *ret_len, yjs_error_t *ret_error)
{
    if (n == 1) {
        yjs_decoder_t d;
        quire_err_t err = yjs_decode_init(&d, updates[0], lens[0], limits, flags);
        uint64_t a, b, c;
        int r = err;
        if (err == QUIRE_OK)
            while ((r = yjs_decode_next_delete(&d, &a, &b, &c)) > 0)
                ;
        if (r < 0)
            return decoder_fail(ret_error, 0, &d, r);
        uint8_t *copy = malloc(lens[0]);
        if (!copy) {
            set_error(ret_error, 0, NULL, "out of memory");
            return QUIRE_ERR_NOMEM;
        }
        memcpy(copy, updates[0], lens[0]);
        *ret_update = copy;
        *ret_len = lens[0];
        return QUIRE_OK;
    }
    merge_t m;
    memset(&m, 0, sizeof m);
    m.limits = limits;
    m.flags = flags;
    m.e = ret_error;
    quire_err_t err = merge_run(&m, updates, lens, n);
    if (err == QUIRE_OK)
        err = m.err;
    if (err == QUIRE_OK) {
        err = yjs_ds_sort_merge(&m.ds);
        if (err != QUIRE_OK)
            set_error(ret_error, 0, NULL, "out of memory");
    }
    if (err == QUIRE_OK)
        err = finish_output(&m.lw, &m.ds, ret_update, ret_len, ret_error);
    free(m.cur);
    free(m.decs);
    free(m.init);
    free(m.heap);
    free(m.arr);
    yjs_ds_deinit(&m.ds);
    lazy_deinit(&m.lw);
    return err;
}

/* ---------------------------------------------------------------------------------------- */
/* diff */

quire_err_t yjs_update_diff(const uint8_t *update, size_t len, const uint8_t *sv, size_t sv_len,
                            const yjs_limits_t *limits, unsigned flags, uint8_t **ret_update,
                            size_t *ret_len, yjs_error_t *ret_error)
{
    static const yjs_limits_t defaults = YJS_LIMITS_DEFAULT;
    const yjs_limits_t *lim = limits ? limits : &defaults;
    yjs_sv_t state = {0};
    quire_err_t err = yjs_sv_decode(sv, sv_len, lim->max_clients, &state);
    if (err != QUIRE_OK) {
        set_error(ret_error, 1, NULL, "malformed state vector");
        return err;
    }
    yjs_decoder_t d;
    lazy_t lw;
    memset(&lw, 0, sizeof lw);
    yjs_ds_t ds = {0};
    err = yjs_decode_init(&d, update, len, limits, flags);
    if (err != QUIRE_OK) {
        yjs_sv_deinit(&state);
        return decoder_fail(ret_error, 0, &d, err);
    }
    yjs_struct_t s;
    int r = yjs_decode_next_struct(&d, &s);
    while (r > 0) {
        uint64_t client = s.id.client;
        uint64_t sv_clock = yjs_sv_get(&state, client);
        if (s.kind == YJS_KIND_SKIP) {
            r = yjs_decode_next_struct(&d, &s);
            continue;
        }
        if (yjs_struct_end(&s) > sv_clock) {
            if (sv_clock > s.id.clock && yjs_struct_slice(&s, sv_clock - s.id.clock) != QUIRE_OK) {
                err = QUIRE_ERR_INTERNAL;
                set_error(ret_error, 0, NULL, "could not slice a struct");
                break;
            }
            lazy_write(&lw, &s);
            while ((r = yjs_decode_next_struct(&d, &s)) > 0 && s.id.client == client)
                lazy_write(&lw, &s);
        } else {
            while ((r = yjs_decode_next_struct(&d, &s)) > 0 && s.id.client == client &&
                   yjs_struct_end(&s) <= sv_clock)
                ;
        }
    }
    uint64_t dc, dk, dl;
    if (err == QUIRE_OK && r == 0)
        while ((r = yjs_decode_next_delete(&d, &dc, &dk, &dl)) > 0)
            if (yjs_ds_add(&ds, dc, dk, dl) != QUIRE_OK) {
                r = QUIRE_ERR_NOMEM;
                break;
            }
    if (err == QUIRE_OK && r < 0)
        err = decoder_fail(ret_error, 0, &d, r);
    if (err == QUIRE_OK && (err = yjs_ds_group(&ds)) != QUIRE_OK)
        set_error(ret_error, 0, NULL, "out of memory");
    if (err == QUIRE_OK)
        err = finish_output(&lw, &ds, ret_update, ret_len, ret_error);
    lazy_deinit(&lw);
    yjs_ds_deinit(&ds);
    yjs_sv_deinit(&state);
    return err;
}

/* ---------------------------------------------------------------------------------------- */
/* state vector */

quire_err_t yjs_update_state_vector(const uint8_t *update, size_t len, const yjs_limits_t *limits,
                                    unsigned flags, uint8_t **ret_sv, size_t *ret_len,
                                    yjs_error_t *ret_error)
{
    yjs_decoder_t d;
    quire_err_t err = yjs_decode_init(&d, update, len, limits, flags);
    if (err != QUIRE_OK)
        return decoder_fail(ret_error, 0, &d, err);
    /* Per group of structs, Yjs (encodeStateVectorFromUpdateV2) counts from clock 0 up to the
     * first Skip; a group not starting at 0 counts nothing; consecutive groups of one client
     * continue the count; a client's entry is written when the client changes. Yjs computes the
     * first clock before looking at the first struct's kind, so an update whose very first
     * struct is a Skip at clock 0 counts that Skip. */
    yjs_sv_t sv = {0};
    yjs_group_extent_t g;
    bool any = false, stop = false, first = true;
    uint64_t cur_client = 0, cur_clock = 0;
    int r;
    while ((r = yjs_decode_next_group(&d, &g)) > 0) {
        if (g.nstructs == 0)
            continue; /* an empty group yields no struct in Yjs's reader */
        if (!any || cur_client != g.client) {
            if (any && cur_clock != 0 && yjs_sv_add(&sv, cur_client, cur_clock) != QUIRE_OK) {
                r = QUIRE_ERR_NOMEM;
                break;
            }
            cur_client = g.client;
            cur_clock = 0;
            stop = g.clock != 0;
            any = true;
        }
        if (first && !stop)
            cur_clock = g.first_end; /* the quirk (a no-op unless the first struct is a Skip) */
        first = false;
        if (!stop) {
            if (g.skip_clock != g.end) { /* the group has a Skip: count up to it, then stop */
                if (!g.first_is_skip)
                    cur_clock = g.skip_clock;
                stop = true;
            } else {
                cur_clock = g.end;
            }
        }
    }
    if (r == 0 && any && cur_clock != 0 && yjs_sv_add(&sv, cur_client, cur_clock) != QUIRE_OK)
        r = QUIRE_ERR_NOMEM;
    uint64_t a, b, c;
    if (r == 0)
        while ((r = yjs_decode_next_delete(&d, &a, &b, &c)) > 0)
            ;
    if (r < 0) {
        yjs_sv_deinit(&sv);
        return decoder_fail(ret_error, 0, &d, r);
    }
    yjs_buf_t out = {0};
    yjs_sv_write(&sv, &out);
    yjs_sv_deinit(&sv);
    if ((err = yjs_buf_err(&out)) != QUIRE_OK) {
        yjs_buf_deinit(&out);
        set_error(ret_error, 0, NULL, "out of memory");
        return err;
    }
    *ret_sv = yjs_buf_steal(&out, ret_len);
    return QUIRE_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* split */

typedef struct splitter_s {
    size_t cap;
    lazy_t lw;       /* structs of the current part */
    yjs_ds_t ds;     /* delete ranges of the current part */
    yjs_buf_t out;   /* finished parts, back to back */
    size_t *offsets; /* part starts, then the end */
    size_t nparts, offsets_cap;
    uint64_t nsliced;
    quire_err_t err;
    yjs_id_t too_large; /* the struct that could not be placed */
    /* size of the part's delete set, kept incrementally (ranges are grouped as they come) */
    size_t ds_clients, ds_fixed, ds_last_count;
} splitter_t;

static size_t split_ds_size(size_t clients, size_t fixed, size_t last_count)
{
    return yjs_wire_varuint_size(clients) + fixed +
           (clients ? yjs_wire_varuint_size(last_count) : 0);
}

/* Size of the current part: struct section and delete set. */
static size_t part_size(const splitter_t *sp)
{
    size_t n = yjs_wire_varuint_size(sp->lw.ngroups) + sp->lw.body.len + sp->lw.closed_hdr +
               split_ds_size(sp->ds_clients, sp->ds_fixed, sp->ds_last_count);
    if (sp->lw.ngroups)
        n += group_hdr(&sp->lw.groups[sp->lw.ngroups - 1]);
    return n;
}

/* Extra bytes that appending s to the current part costs. */
static size_t struct_cost(const splitter_t *sp, const yjs_struct_t *s)
{
    size_t n = yjs_struct_size(s);
    const group_t *g = sp->lw.ngroups ? &sp->lw.groups[sp->lw.ngroups - 1] : NULL;
    if (g && g->client == s->id.client) {
        n += yjs_wire_varuint_size(g->count + 1) - yjs_wire_varuint_size(g->count);
    } else {
        n += 1 + yjs_wire_varuint_size(s->id.client) + yjs_wire_varuint_size(s->id.clock);
        n += yjs_wire_varuint_size(sp->lw.ngroups + 1) - yjs_wire_varuint_size(sp->lw.ngroups);
    }
    return n;
}

static bool part_empty(const splitter_t *sp)
{
    return sp->lw.ngroups == 0 && sp->ds.n == 0;
}

static void part_flush(splitter_t *sp)
{
    if (sp->err != QUIRE_OK)
        return;
    if (sp->nparts + 2 > sp->offsets_cap) {
        size_t cap = sp->offsets_cap ? sp->offsets_cap * 2 : 8;
        size_t *o = realloc(sp->offsets, cap * sizeof *o);
        if (!o) {
            sp->err = QUIRE_ERR_NOMEM;
            return;
        }
        sp->offsets = o;
        sp->offsets_cap = cap;
    }
    sp->offsets[sp->nparts++] = sp->out.len;
    lazy_finish(&sp->lw, &sp->out);
    yjs_ds_write(&sp->ds, &sp->out);
    if (sp->lw.err != QUIRE_OK)
        sp->err = sp->lw.err;
    else if (yjs_buf_err(&sp->lw.body) != QUIRE_OK)
        sp->err = yjs_buf_err(&sp->lw.body);
    else if (yjs_buf_err(&sp->out) != QUIRE_OK)
        sp->err = yjs_buf_err(&sp->out);
    sp->lw.body.len = 0;
    sp->lw.ngroups = 0;
    sp->lw.closed_hdr = 0;
    sp->ds.n = 0;
    sp->ds_clients = sp->ds_fixed = sp->ds_last_count = 0;
}

/* Largest k in [1, s->len) whose left part costs at most `room`; 0 if none. Strings are never
 * cut inside a surrogate pair. */
static uint64_t fit_prefix(const splitter_t *sp, const yjs_struct_t *s, size_t room)
{
    uint64_t lo = 0, hi = s->len - 1;
    /* every string unit and every JSON/any element takes at least one byte, so no more than
     * `room` of them fit: bounding the search keeps each probe O(cap), and a whole split
     * O(size · log cap), however long the struct */
    if (s->content.ref != YJS_CONTENT_DELETED && hi > room)
        hi = room;
    if (s->content.ref == YJS_CONTENT_JSON || s->content.ref == YJS_CONTENT_ANY) {
        /* one linear walk: cost(k) = cost(1) − size(e1) − |varuint(1)| + |varuint(k)| + Σ size */
        yjs_struct_t one = *s;
        if (yjs_struct_truncate(&one, 1) != QUIRE_OK)
            return 0;
        size_t base = struct_cost(sp, &one) - one.content.body.len - 1;
        yjs_wire_t w = {s->content.body.ptr, s->content.body.ptr + s->content.body.len};
        uint64_t k = 0;
        while (k < hi) {
            if (s->content.ref == YJS_CONTENT_JSON) {
                const uint8_t *p;
                size_t l;
                if (!yjs_wire_buf(&w, &p, &l))
                    break;
            } else if (yjs_any_skip(&w, RESKIP_DEPTH, false) != QUIRE_OK) {
                break;
            }
            size_t bytes = (size_t)(w.pos - s->content.body.ptr);
            if (base + yjs_wire_varuint_size(k + 1) + bytes > room)
                break;
            k++;
        }
        return k;
    }
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        yjs_struct_t t = *s;
        if (yjs_struct_truncate(&t, mid) == QUIRE_OK && struct_cost(sp, &t) <= room)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (lo > 0 && s->kind == YJS_KIND_ITEM && s->content.ref == YJS_CONTENT_STRING) {
        yjs_struct_t t = *s;
        if (yjs_struct_truncate(&t, lo) == QUIRE_OK && (t.content.str_flags & YJS_STR_TRAIL_FFFD))
            lo--; /* cut before the pair instead */
    }
    return lo;
}

static quire_err_t split_struct(splitter_t *sp, yjs_struct_t *s, const yjs_limits_t *limits,
                                unsigned flags)
{
    bool parsed = false;
    sp->too_large = s->id;
    for (;;) {
        size_t size = part_size(sp);
        size_t cost = struct_cost(sp, s);
        if (size + cost <= sp->cap) {
            lazy_write(&sp->lw, s);
            return QUIRE_OK;
        }
        if (!part_empty(sp)) {
            part_flush(sp);
            if (sp->err != QUIRE_OK)
                return sp->err;
            if (s->kind == YJS_KIND_SKIP)
                return QUIRE_OK; /* a part never starts with a Skip */
            continue;
        }
        /* alone in an empty part and still too large: cut it */
        if (s->kind != YJS_KIND_ITEM)
            return QUIRE_ERR_TOO_LARGE; /* a GC/Skip is at most 9 bytes; cap ≥ 64 */
        if (!parsed && s->raw.len) {
            if (yjs_decode_struct(s->raw.ptr, s->raw.len, s->id.client, s->id.clock, limits,
                                  flags | YJS_DECODE_SKIM, s) != QUIRE_OK)
                return QUIRE_ERR_INTERNAL;
            parsed = true;
        }
        uint8_t ref = s->content.ref;
        if (ref != YJS_CONTENT_STRING && ref != YJS_CONTENT_JSON && ref != YJS_CONTENT_ANY &&
            ref != YJS_CONTENT_DELETED)
            return QUIRE_ERR_TOO_LARGE;
        size_t room = sp->cap - size;
        uint64_t k = s->len > 1 ? fit_prefix(sp, s, room) : 0;
        if (k == 0)
            return QUIRE_ERR_TOO_LARGE;
        yjs_struct_t left = *s;
        if (yjs_struct_truncate(&left, k) != QUIRE_OK || yjs_struct_slice(s, k) != QUIRE_OK)
            return QUIRE_ERR_INTERNAL;
        lazy_write(&sp->lw, &left);
        sp->nsliced++;
        part_flush(sp);
        if (sp->err != QUIRE_OK)
            return sp->err;
    }
}

static quire_err_t split_delete(splitter_t *sp, uint64_t client, uint64_t clock, uint64_t len)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        bool same = sp->ds.n && sp->ds.r[sp->ds.n - 1].client == client;
        size_t rb = yjs_wire_varuint_size(clock) + yjs_wire_varuint_size(len);
        size_t clients = sp->ds_clients, fixed = sp->ds_fixed, last = sp->ds_last_count;
        if (same) {
            fixed += rb;
            last++;
        } else {
            if (clients)
                fixed += yjs_wire_varuint_size(last);
            clients++;
            fixed += yjs_wire_varuint_size(client) + rb;
            last = 1;
        }
        size_t size = part_size(sp) -
                      split_ds_size(sp->ds_clients, sp->ds_fixed, sp->ds_last_count) +
                      split_ds_size(clients, fixed, last);
        if (size <= sp->cap) {
            if (yjs_ds_add(&sp->ds, client, clock, len) != QUIRE_OK)
                return QUIRE_ERR_NOMEM;
            sp->ds_clients = clients;
            sp->ds_fixed = fixed;
            sp->ds_last_count = last;
            return QUIRE_OK;
        }
        if (part_empty(sp))
            break;
        part_flush(sp);
        if (sp->err != QUIRE_OK)
            return sp->err;
    }
    return QUIRE_ERR_INTERNAL; /* a lone range in an empty part is < 64 bytes */
}

void yjs_parts_deinit(yjs_parts_t *parts)
{
    if (!parts)
        return;
    free(parts->data);
    free(parts->offsets);
    memset(parts, 0, sizeof *parts);
}

quire_err_t yjs_update_split(const uint8_t *update, size_t len, size_t cap,
                             const yjs_limits_t *limits, unsigned flags, yjs_parts_t *ret_parts,
                             yjs_error_t *ret_error)
{
    if (cap < 64) {
        set_error(ret_error, 0, NULL, "the part size cap must be at least 64 bytes");
        return QUIRE_ERR_INVALID;
    }
    /* validate completely first: a part must never be produced from a bad update */
    yjs_decoder_t d;
    quire_err_t err = yjs_decode_check(update, len, limits, flags);
    if (err != QUIRE_OK) {
        yjs_decode_init(&d, update, len, limits, flags);
        uint64_t a, b, c;
        int r = d.err;
        if (d.err == QUIRE_OK)
            while ((r = yjs_decode_next_delete(&d, &a, &b, &c)) > 0)
                ;
        return decoder_fail(ret_error, 0, &d, r < 0 ? r : err);
    }
    splitter_t sp;
    memset(&sp, 0, sizeof sp);
    sp.cap = cap;
    err = yjs_decode_init(&d, update, len, limits, flags | YJS_DECODE_SKIM);
    yjs_struct_t s;
    int r = 0;
    while (err == QUIRE_OK && (r = yjs_decode_next_struct(&d, &s)) > 0) {
        bool group_start =
            sp.lw.ngroups == 0 || sp.lw.groups[sp.lw.ngroups - 1].client != s.id.client;
        if (s.kind == YJS_KIND_SKIP && group_start)
            continue; /* never start a group with a Skip */
        err = split_struct(&sp, &s, limits, flags);
    }
    uint64_t dc, dk, dl;
    if (err == QUIRE_OK && r == 0)
        while ((r = yjs_decode_next_delete(&d, &dc, &dk, &dl)) > 0 && err == QUIRE_OK)
            err = split_delete(&sp, dc, dk, dl);
    if (err == QUIRE_OK && r < 0)
        err = (quire_err_t)r;
    if (err == QUIRE_OK && (!part_empty(&sp) || sp.nparts == 0))
        part_flush(&sp);
    if (err == QUIRE_OK)
        err = sp.err;
    if (err != QUIRE_OK) {
        if (err == QUIRE_ERR_TOO_LARGE && ret_error) {
            snprintf(ret_error->message, sizeof ret_error->message,
                     "struct (%" PRIu64 ",%" PRIu64 ") cannot be cut to fit the part size cap",
                     sp.too_large.client, sp.too_large.clock);
            ret_error->input = ret_error->offset = 0;
        } else {
            set_error(ret_error, 0, NULL, quire_err_str(err));
        }
        lazy_deinit(&sp.lw);
        yjs_ds_deinit(&sp.ds);
        yjs_buf_deinit(&sp.out);
        free(sp.offsets);
        return err;
    }
    sp.offsets[sp.nparts] = sp.out.len;
    lazy_deinit(&sp.lw);
    yjs_ds_deinit(&sp.ds);
    size_t total;
    ret_parts->data = yjs_buf_steal(&sp.out, &total);
    ret_parts->offsets = sp.offsets;
    ret_parts->n = sp.nparts;
    ret_parts->nsliced = sp.nsliced;
    return QUIRE_OK;
}
