/*
 * ydoc — the integrated document: item store, integration, deletes, garbage collection, pending
 * structs, state vector and state encoding. Rendering is in ydoc_render.c, the "what does this
 * update add" diff in ydoc_sync.c; the store layout is described in ydoc_int.h.
 *
 * DESIGN
 * ydoc_apply is a port of Yjs 13.6 readUpdateV2 (src/utils/encoding.js) with its transaction
 * cleanup (src/utils/Transaction.js), in three phases so that a refused update leaves the
 * document untouched:
 *
 *   1. validate: decode the whole update once; remember where each client group starts (a copy of
 *      the decoder — structs are re-decoded from there, never stored) and bound what the update
 *      can add (items, content bytes) against the limits;
 *   2. plan: run Yjs's integrateStructs loop (clients by id, the highest first; a stack that
 *      follows missing dependencies into other clients' structs; "rest" structs kept for later)
 *      on clocks only, then the retry of pending structs when a missing clock arrived, then the
 *      delete set. This gives the new pending structs, pending deletes and missing clocks — and
 *      the limit checks — without touching the document;
 *   3. integrate: the same loop again, for real (Item.getMissing / Item.integrate: YATA, splits,
 *      deletes, map overwrites), the delete set, then Yjs's cleanup: garbage collection of what
 *      this transaction deleted (tryGcDeleteSet), and merging of adjacent structs in exactly the
 *      places Yjs tries (tryMergeDeleteSet, the clients whose state changed, split points).
 *
 * Because phase 3 makes the decisions phase 2 made (both depend only on clocks), the pending
 * bookkeeping of phase 2 is kept. Item layout, and so encoding, is Yjs's: same splits, same
 * merges. Two deliberate differences from Yjs: no formatting cleanup (see ydoc.h), and an item
 * whose re-integration offset lands after a GC struct becomes a GC struct (Yjs throws there).
 *
 * Recursion: deleting or collecting a nested type walks its children with an explicit work list,
 * so nesting depth never reaches the C stack.
 */
#include "ydoc.h"

#include <stdlib.h>
#include <string.h>

#include "ydoc_int.h"
#include "yjs_any.h"
#include "yjs_ds.h"
#include "yjs_sv.h"
#include "yjs_text.h"
#include "yjs_wire.h"

/* ========================================================================================== */
/* small utilities */

static bool grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    uint64_t nc = *cap ? (uint64_t)*cap + (*cap >> 1) : 16;
    if (nc < need)
        nc = need;
    if (nc > UINT32_MAX - 1)
        nc = UINT32_MAX - 1;
    if (nc < need)
        return false;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q)
        return false;
    *p = q;
    *cap = (uint32_t)nc;
    return true;
}

static bool growz(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    if (nc < need)
        nc = need;
    void *q = realloc(*p, nc * elem);
    if (!q)
        return false;
    *p = q;
    *cap = nc;
    return true;
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

/* ---- u64 → u32 map ---- */

static uint32_t hm_get(const yhmap_t *m, uint64_t key)
{
    if (!m->cap)
        return 0;
    uint32_t mask = m->cap - 1;
    for (uint32_t i = (uint32_t)mix64(key) & mask;; i = (i + 1) & mask) {
        if (!m->vals[i])
            return 0;
        if (m->keys[i] == key)
            return m->vals[i];
    }
}

static bool hm_rehash(yhmap_t *m, uint32_t cap)
{
    uint64_t *k = calloc(cap, sizeof *k);
    uint32_t *v = calloc(cap, sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return false;
    }
    uint32_t mask = cap - 1;
    for (uint32_t i = 0; i < m->cap; i++) {
        if (!m->vals[i])
            continue;
        uint32_t j = (uint32_t)mix64(m->keys[i]) & mask;
        while (v[j])
            j = (j + 1) & mask;
        k[j] = m->keys[i];
        v[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = k;
    m->vals = v;
    m->cap = cap;
    return true;
}

/* val must be non-zero */
static bool hm_put(yhmap_t *m, uint64_t key, uint32_t val)
{
    if ((uint64_t)(m->n + 1) * 4 > (uint64_t)m->cap * 3 && !hm_rehash(m, m->cap ? m->cap * 2 : 16))
        return false;
    uint32_t mask = m->cap - 1;
    uint32_t i = (uint32_t)mix64(key) & mask;
    while (m->vals[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    if (!m->vals[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
    return true;
}

static void hm_del(yhmap_t *m, uint64_t key)
{
    if (!m->cap)
        return;
    uint32_t mask = m->cap - 1;
    uint32_t i = (uint32_t)mix64(key) & mask;
    while (m->vals[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    if (!m->vals[i])
        return;
    m->vals[i] = 0;
    m->n--;
    for (uint32_t j = (i + 1) & mask; m->vals[j]; j = (j + 1) & mask) {
        uint32_t h = (uint32_t)mix64(m->keys[j]) & mask;
        /* move j back to i when its home is not in (i, j] (cyclically) */
        if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->vals[j] = 0;
            i = j;
        }
    }
}

static void hm_free(yhmap_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t hm_mem(const yhmap_t *m)
{
    return (size_t)m->cap * (sizeof(uint64_t) + sizeof(uint32_t));
}

/* ---- interned keys ---- */

static uint64_t hash_bytes(const uint8_t *s, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * UINT64_C(0x100000001b3);
    return mix64(h);
}

uint32_t yd_key_find(const ydoc_t *d, const uint8_t *s, size_t len)
{
    const ykeys_t *k = &d->keys;
    if (!k->scap)
        return 0;
    uint32_t mask = k->scap - 1;
    for (uint32_t i = (uint32_t)hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        uint32_t id = k->slots[i];
        if (!id)
            return 0;
        if (k->klen[id] == len && memcmp(k->bytes + k->off[id], s, len) == 0)
            return id;
    }
}

static bool keys_rehash(ykeys_t *k, uint32_t cap)
{
    uint32_t *s = calloc(cap, sizeof *s);
    if (!s)
        return false;
    for (uint32_t id = 1; id <= k->n; id++) {
        uint32_t i = (uint32_t)hash_bytes(k->bytes + k->off[id], k->klen[id]) & (cap - 1);
        while (s[i])
            i = (i + 1) & (cap - 1);
        s[i] = id;
    }
    free(k->slots);
    k->slots = s;
    k->scap = cap;
    return true;
}

/* Interns s; returns its key id (≥ 1) or 0 on allocation failure. */
static uint32_t key_intern(ydoc_t *d, const uint8_t *s, size_t len)
{
    uint32_t id = yd_key_find(d, s, len);
    if (id)
        return id;
    ykeys_t *k = &d->keys;
    if (len > UINT32_MAX || k->len + len > UINT32_MAX)
        return 0;
    if (!growz((void **)&k->bytes, &k->cap, k->len + len + 1, 1))
        return 0;
    if (!grow((void **)&k->off, &k->kcap, k->n + 2, sizeof *k->off))
        return 0;
    uint32_t lcap = k->kcap;
    (void)lcap;
    void *kl = realloc(k->klen, (size_t)k->kcap * sizeof *k->klen);
    if (!kl)
        return 0;
    k->klen = kl;
    if ((uint64_t)(k->n + 2) * 2 > k->scap && !keys_rehash(k, k->scap ? k->scap * 2 : 32))
        return 0;
    id = ++k->n;
    k->off[id] = (uint32_t)k->len;
    k->klen[id] = (uint32_t)len;
    if (len)
        memcpy(k->bytes + k->len, s, len);
    k->len += len;
    uint32_t i = (uint32_t)hash_bytes(s, len) & (k->scap - 1);
    while (k->slots[i])
        i = (i + 1) & (k->scap - 1);
    k->slots[i] = id;
    return id;
}

/* ========================================================================================== */
/* clients, items, the per-client index */

uint32_t yd_client_index(const ydoc_t *d, uint64_t id)
{
    uint32_t v = hm_get(&d->clmap, id);
    return v ? v - 1 : YNONE;
}

static uint32_t client_get(ydoc_t *d, uint64_t id)
{
    uint32_t ci = yd_client_index(d, id);
    if (ci != YNONE)
        return ci;
    if (!grow((void **)&d->cl, &d->clcap, d->ncl + 1, sizeof *d->cl))
        return YNONE;
    ci = d->ncl;
    if (!hm_put(&d->clmap, id, ci + 1))
        return YNONE;
    d->ncl++;
    memset(&d->cl[ci], 0, sizeof d->cl[ci]);
    d->cl[ci].id = id;
    return ci;
}

static inline uint64_t client_state(const ydoc_t *d, uint64_t id)
{
    uint32_t ci = yd_client_index(d, id);
    return ci == YNONE ? 0 : d->cl[ci].state;
}

static uint32_t item_alloc(ydoc_t *d)
{
    uint32_t i;
    if (d->itfree) {
        i = d->itfree;
        d->itfree = d->it[i].right;
    } else {
        if (d->nit == d->itcap) {
            /* grow by a quarter: the item array is most of a document's memory */
            uint64_t nc = (uint64_t)d->itcap + (d->itcap >> 2) + 64;
            if (nc > UINT32_MAX - 1)
                nc = UINT32_MAX - 1;
            if (nc <= d->itcap)
                return 0;
            yitem_t *p = realloc(d->it, (size_t)nc * sizeof *p);
            if (!p)
                return 0;
            d->it = p;
            d->itcap = (uint32_t)nc;
        }
        i = d->nit++;
    }
    d->nlive++;
    memset(&d->it[i], 0, sizeof d->it[i]);
    return i;
}

static void item_free(ydoc_t *d, uint32_t i)
{
    d->it[i].flags = YF_FREE;
    d->it[i].right = d->itfree;
    d->itfree = i;
    d->nlive--;
}

/* Finds the position of the item holding clock: block *ret_b, offset *ret_o. The clock must be
 * below the client's state. */
static void idx_find(ydoc_t *d, yclient_t *c, uint32_t clock, uint32_t *ret_b, uint32_t *ret_o)
{
    uint32_t b = c->hint_b;
    const yblk_t *k;
    if (b < c->nblk) {
        /* the last hit and its neighbours: integration mostly looks near where it just was */
        k = c->blk[b];
        uint32_t o = c->hint_o;
        if (o < k->n) {
            const yitem_t *X = &d->it[k->idx[o]];
            if (X->clock <= clock) {
                if (clock - X->clock < X->len) {
                    *ret_b = b;
                    *ret_o = o;
                    return;
                }
                if (o + 1 < k->n) {
                    X = &d->it[k->idx[o + 1]];
                    if (X->clock <= clock && clock - X->clock < X->len) {
                        *ret_b = b;
                        *ret_o = c->hint_o = o + 1;
                        return;
                    }
                }
            }
        }
    }
    if (b >= c->nblk || c->first[b] > clock || (b + 1 < c->nblk && c->first[b + 1] <= clock)) {
        uint32_t lo = 0, hi = c->nblk - 1;
        while (lo < hi) {
            uint32_t mid = (lo + hi + 1) / 2;
            if (c->first[mid] <= clock)
                lo = mid;
            else
                hi = mid - 1;
        }
        b = lo;
        c->hint_b = b;
    }
    k = c->blk[b];
    uint32_t lo = 0, hi = k->n - 1;
    /* most lookups hit the last item of a block (the newest text) */
    if (d->it[k->idx[hi]].clock <= clock) {
        lo = hi;
    } else {
        while (lo < hi) {
            uint32_t mid = (lo + hi + 1) / 2;
            if (d->it[k->idx[mid]].clock <= clock)
                lo = mid;
            else
                hi = mid - 1;
        }
    }
    c->hint_o = lo;
    *ret_b = b;
    *ret_o = lo;
}

uint32_t yd_find(const ydoc_t *d, uint32_t client, uint32_t clock)
{
    if (client >= d->ncl || clock >= d->cl[client].state)
        return 0;
    uint32_t b, o;
    idx_find((ydoc_t *)d, &d->cl[client], clock, &b, &o);
    return d->cl[client].blk[b]->idx[o];
}

static bool idx_dir_insert(ydoc_t *d, yclient_t *c, uint32_t at, yblk_t *k, uint32_t first)
{
    if (c->nblk == c->blkcap) {
        uint32_t nc = c->blkcap ? c->blkcap * 2 : 4;
        yblk_t **nb = realloc(c->blk, nc * sizeof *nb);
        if (!nb)
            return false;
        c->blk = nb;
        uint32_t *nf = realloc(c->first, nc * sizeof *nf);
        if (!nf)
            return false;
        c->first = nf;
        d->cmem += (size_t)(nc - c->blkcap) * (sizeof *nb + sizeof *nf);
        c->blkcap = nc;
    }
    memmove(c->blk + at + 1, c->blk + at, (c->nblk - at) * sizeof *c->blk);
    memmove(c->first + at + 1, c->first + at, (c->nblk - at) * sizeof *c->first);
    c->blk[at] = k;
    c->first[at] = first;
    c->nblk++;
    return true;
}

/* Inserts item at position (b, o) (o ≤ n). */
static bool idx_insert(ydoc_t *d, yclient_t *c, uint32_t b, uint32_t o, uint32_t item)
{
    yblk_t *k = c->blk[b];
    if (k->n == YBLK_CAP) {
        yblk_t *nk = malloc(sizeof *nk);
        if (!nk)
            return false;
        uint32_t half = YBLK_CAP / 2;
        /* appending at the very end: start a fresh block instead of halving (keeps blocks full
         * for append-mostly clients) */
        if (b + 1 == c->nblk && o == YBLK_CAP)
            half = YBLK_CAP;
        nk->n = YBLK_CAP - half;
        memcpy(nk->idx, k->idx + half, nk->n * sizeof *k->idx);
        k->n = half;
        if (!idx_dir_insert(d, c, b + 1, nk, nk->n ? d->it[nk->idx[0]].clock : 0)) {
            memcpy(k->idx + half, nk->idx, nk->n * sizeof *k->idx);
            k->n = YBLK_CAP;
            free(nk);
            return false;
        }
        d->cmem += sizeof *nk;
        if (o >= half) {
            b++;
            o -= half;
            k = nk;
        }
    }
    memmove(k->idx + o + 1, k->idx + o, (k->n - o) * sizeof *k->idx);
    k->idx[o] = item;
    k->n++;
    if (o == 0)
        c->first[b] = d->it[item].clock;
    return true;
}

static void idx_remove(yclient_t *c, ydoc_t *d, uint32_t b, uint32_t o)
{
    yblk_t *k = c->blk[b];
    memmove(k->idx + o, k->idx + o + 1, (k->n - o - 1) * sizeof *k->idx);
    k->n--;
    if (k->n == 0) {
        free(k);
        d->cmem -= sizeof *k;
        memmove(c->blk + b, c->blk + b + 1, (c->nblk - b - 1) * sizeof *c->blk);
        memmove(c->first + b, c->first + b + 1, (c->nblk - b - 1) * sizeof *c->first);
        c->nblk--;
        if (c->hint_b >= c->nblk)
            c->hint_b = 0;
    } else if (o == 0) {
        c->first[b] = d->it[k->idx[0]].clock;
    }
}

/* Appends an item at the end of its client's index (addStruct). */
static bool idx_append(ydoc_t *d, yclient_t *c, uint32_t item)
{
    if (c->nblk == 0) {
        yblk_t *k = malloc(sizeof *k);
        if (!k)
            return false;
        k->n = 0;
        if (!idx_dir_insert(d, c, 0, k, d->it[item].clock)) {
            free(k);
            return false;
        }
        d->cmem += sizeof *k;
    }
    uint32_t b = c->nblk - 1;
    return idx_insert(d, c, b, c->blk[b]->n, item);
}

/* ---- content buffers ---- */

static bool cbuf_reserve(ydoc_t *d, yclient_t *c, size_t n)
{
    if ((uint64_t)c->clen + n > UINT32_MAX)
        return false;
    uint32_t need = c->clen + (uint32_t)n;
    if (need <= c->ccap)
        return true;
    uint64_t nc = c->ccap ? (uint64_t)c->ccap + (c->ccap >> 2) : 64;
    if (nc < need)
        nc = need;
    if (nc > UINT32_MAX)
        nc = UINT32_MAX;
    uint8_t *p = realloc(c->cbuf, (size_t)nc);
    if (!p)
        return false;
    c->cbuf = p;
    d->cmem += (size_t)nc - c->ccap;
    c->ccap = (uint32_t)nc;
    return true;
}

/* Appends bytes; returns their offset, or UINT32_MAX on failure. */
static uint32_t cbuf_append(ydoc_t *d, yclient_t *c, const uint8_t *p, size_t n)
{
    if (!cbuf_reserve(d, c, n))
        return UINT32_MAX;
    uint32_t off = c->clen;
    if (n)
        memcpy(c->cbuf + off, p, n);
    c->clen += (uint32_t)n;
    return off;
}

static inline bool has_bytes(uint8_t ref)
{
    return ref == YJS_CONTENT_STRING || ref == YJS_CONTENT_JSON || ref == YJS_CONTENT_ANY ||
           ref == YJS_CONTENT_BINARY || ref == YJS_CONTENT_EMBED || ref == YJS_CONTENT_FORMAT ||
           ref == YJS_CONTENT_DOC;
}

/* Drops an item's content bytes (they become garbage of the client buffer). */
static void content_drop(ydoc_t *d, yitem_t *it)
{
    if (has_bytes(it->ref))
        d->cl[it->client].cgarbage += it->cbytes;
    it->cbytes = 0;
    it->coff = 0;
}

/* Rewrites the client's buffer without garbage (items keep their order). */
static bool cbuf_compact(ydoc_t *d, uint32_t ci)
{
    yclient_t *c = &d->cl[ci];
    size_t live = (size_t)c->clen - c->cgarbage;
    uint8_t *nb = malloc(live ? live : 1);
    if (!nb)
        return false;
    uint32_t pos = 0;
    for (uint32_t b = 0; b < c->nblk; b++) {
        const yblk_t *k = c->blk[b];
        for (uint32_t o = 0; o < k->n; o++) {
            yitem_t *it = &d->it[k->idx[o]];
            if (!has_bytes(it->ref) || !it->cbytes) {
                if (has_bytes(it->ref))
                    it->coff = pos;
                continue;
            }
            QUIRE_ASSERT(pos + (size_t)it->cbytes <= live);
            memcpy(nb + pos, c->cbuf + it->coff, it->cbytes);
            it->coff = pos;
            pos += it->cbytes;
        }
    }
    free(c->cbuf);
    c->cbuf = nb;
    c->clen = pos;
    d->cmem -= c->ccap;
    c->ccap = live ? (uint32_t)live : 1;
    d->cmem += c->ccap;
    c->cgarbage = 0;
    return true;
}

static void maybe_compact(ydoc_t *d, uint32_t ci)
{
    yclient_t *c = &d->cl[ci];
    if (c->cgarbage > 1024 && c->cgarbage > c->clen / 8)
        (void)cbuf_compact(d, ci); /* on failure the garbage simply stays */
}

/* ---- types and sequences ---- */

static uint32_t seq_new(ydoc_t *d, uint32_t type, uint32_t key)
{
    uint32_t s;
    if (d->sqfree) {
        s = d->sqfree;
        d->sqfree = d->sq[s].next;
    } else {
        if (!grow((void **)&d->sq, &d->sqcap, d->nsq + 1, sizeof *d->sq))
            return 0;
        s = d->nsq++;
    }
    d->sq[s] = (yseq_t){.type = type, .key = key};
    return s;
}

static void seq_free(ydoc_t *d, uint32_t s)
{
    d->sq[s].type = 0;
    d->sq[s].next = d->sqfree;
    d->sqfree = s;
}

static uint32_t type_new(ydoc_t *d, uint32_t item, uint8_t type_ref, uint32_t name)
{
    uint32_t t;
    if (d->tyfree) {
        t = d->tyfree;
        d->tyfree = d->ty[t].list;
    } else {
        if (!grow((void **)&d->ty, &d->tycap, d->nty + 1, sizeof *d->ty))
            return 0;
        t = d->nty++;
    }
    d->ty[t] = (ytype_t){.item = item, .name = name, .type_ref = type_ref, .live = 1};
    uint32_t s = seq_new(d, t, YNONE);
    if (!s) {
        d->ty[t].live = 0;
        d->ty[t].list = d->tyfree;
        d->tyfree = t;
        return 0;
    }
    d->ty[t].list = s;
    return t;
}

/* Frees a type (its item was garbage-collected) and its sequences. */
static void type_free(ydoc_t *d, uint32_t t)
{
    ytype_t *ty = &d->ty[t];
    for (uint32_t s = ty->map_first; s;) {
        uint32_t nx = d->sq[s].next;
        hm_del(&d->seqmap, (uint64_t)t << 32 | d->sq[s].key);
        seq_free(d, s);
        s = nx;
    }
    seq_free(d, ty->list);
    ty->live = 0;
    ty->list = d->tyfree;
    d->tyfree = t;
}

/* The sequence of (type, key) (key YNONE: the list), created on first use. */
static uint32_t seq_of(ydoc_t *d, uint32_t t, uint32_t key)
{
    if (key == YNONE)
        return d->ty[t].list;
    uint64_t hk = (uint64_t)t << 32 | key;
    uint32_t s = hm_get(&d->seqmap, hk);
    if (s)
        return s;
    s = seq_new(d, t, key);
    if (!s || !hm_put(&d->seqmap, hk, s))
        return 0;
    ytype_t *ty = &d->ty[t];
    if (ty->map_last)
        d->sq[ty->map_last].next = s;
    else
        ty->map_first = s;
    ty->map_last = s;
    return s;
}

static uint32_t root_get(ydoc_t *d, uint32_t name)
{
    uint32_t t = hm_get(&d->rootmap, name);
    if (t)
        return t;
    t = type_new(d, 0, 0xff, name);
    if (!t)
        return 0;
    if (!hm_put(&d->rootmap, name, t) ||
        !grow((void **)&d->roots, &d->rootcap, d->nroots + 1, sizeof *d->roots))
        return 0;
    d->roots[d->nroots++] = t;
    return t;
}

/* ========================================================================================== */
/* lifecycle */

quire_err_t ydoc_new(const ydoc_limits_t *limits, ydoc_t **ret_doc)
{
    static const ydoc_limits_t defaults = YDOC_LIMITS_DEFAULT;
    if (!ret_doc)
        return QUIRE_ERR_INVALID;
    ydoc_t *d = calloc(1, sizeof *d);
    if (!d)
        return QUIRE_ERR_NOMEM;
    d->limits = limits ? *limits : defaults;
    /* index 0 of items, types and sequences means "none" */
    d->nit = 1;
    d->nty = 1;
    d->nsq = 1;
    if (!grow((void **)&d->it, &d->itcap, 64, sizeof *d->it) ||
        !grow((void **)&d->ty, &d->tycap, 4, sizeof *d->ty) ||
        !grow((void **)&d->sq, &d->sqcap, 8, sizeof *d->sq)) {
        ydoc_destroy(d);
        return QUIRE_ERR_NOMEM;
    }
    memset(&d->it[0], 0, sizeof d->it[0]);
    memset(&d->ty[0], 0, sizeof d->ty[0]);
    memset(&d->sq[0], 0, sizeof d->sq[0]);
    *ret_doc = d;
    return QUIRE_OK;
}

void ydoc_destroy(ydoc_t *doc)
{
    if (!doc)
        return;
    for (uint32_t i = 0; i < doc->ncl; i++) {
        yclient_t *c = &doc->cl[i];
        for (uint32_t b = 0; b < c->nblk; b++)
            free(c->blk[b]);
        free(c->blk);
        free(c->first);
        free(c->cbuf);
    }
    free(doc->cl);
    hm_free(&doc->clmap);
    free(doc->it);
    free(doc->ty);
    free(doc->sq);
    hm_free(&doc->seqmap);
    hm_free(&doc->rootmap);
    free(doc->roots);
    free(doc->keys.bytes);
    free(doc->keys.off);
    free(doc->keys.klen);
    free(doc->keys.slots);
    free(doc->pend);
    free(doc->missing);
    free(doc->pds);
    for (size_t i = 0; i < YS_NSLOTS; i++)
        free(doc->scratch[i]);
    free(doc->set_before.key);
    free(doc->set_before.gen);
    free(doc->set_conflicting.key);
    free(doc->set_conflicting.gen);
    free(doc);
}

/* ========================================================================================== */
/* transactions: what one ydoc_apply changes, for Yjs's cleanup */

static void yset_clear(yset_t *s)
{
    s->g++;
    s->n = 0;
    if (s->g == 0) { /* wrapped: really clear */
        if (s->cap)
            memset(s->gen, 0, s->cap * sizeof *s->gen);
        s->g = 1;
    }
}

static bool yset_has(const yset_t *s, uint32_t k)
{
    if (!s->n)
        return false;
    uint32_t mask = s->cap - 1;
    for (uint32_t i = (uint32_t)mix64(k) & mask;; i = (i + 1) & mask) {
        if (s->gen[i] != s->g)
            return false;
        if (s->key[i] == k)
            return true;
    }
}

static bool yset_add(yset_t *s, uint32_t k);

static bool yset_rehash(yset_t *s, uint32_t cap)
{
    uint32_t *nk = malloc(cap * sizeof *nk), *ng = calloc(cap, sizeof *ng);
    if (!nk || !ng) {
        free(nk);
        free(ng);
        return false;
    }
    uint32_t *ok = s->key, *og = s->gen, oc = s->cap, g = s->g ? s->g : 1;
    s->key = nk;
    s->gen = ng;
    s->cap = cap;
    s->n = 0;
    s->g = g;
    for (uint32_t i = 0; i < oc; i++)
        if (og[i] == g)
            yset_add(s, ok[i]);
    free(ok);
    free(og);
    return true;
}

static bool yset_add(yset_t *s, uint32_t k)
{
    if (s->g == 0)
        s->g = 1;
    if ((s->n + 1) * 2 > s->cap && !yset_rehash(s, s->cap ? s->cap * 2 : 16))
        return false;
    uint32_t mask = s->cap - 1;
    uint32_t i = (uint32_t)mix64(k) & mask;
    while (s->gen[i] == s->g) {
        if (s->key[i] == k)
            return true;
        i = (i + 1) & mask;
    }
    s->gen[i] = s->g;
    s->key[i] = k;
    s->n++;
    return true;
}

typedef struct ytx_s {
    ydoc_t *d;
    struct tds {
        uint32_t c, clock, len;
    } * ds; /* ranges deleted by this transaction (client index) */
    size_t nds, dscap;
    struct tms {
        uint32_t c, clock;
    } * ms; /* Yjs transaction._mergeStructs */
    size_t nms, mscap;
    uint32_t *chg; /* clients whose state changed */
    size_t nchg, chgcap;
    uint32_t *work; /* delete / gc work list */
    size_t nwork, workcap;
    yset_t *before, *conflicting; /* YATA: itemsBeforeOrigin, conflictingItems (the doc's) */
    uint64_t integrated, deleted;
    bool failed; /* an allocation failed half-way */
} ytx_t;

static void tx_fail(ytx_t *tx)
{
    tx->failed = true;
}

static uint32_t tx_before(const ytx_t *tx, uint32_t ci)
{
    const yclient_t *c = &tx->d->cl[ci];
    return c->tx_stamp == tx->d->tx ? c->tx_before : c->state;
}

static void tx_ds_add(ytx_t *tx, uint32_t ci, uint32_t clock, uint32_t len)
{
    if (!growz((void **)&tx->ds, &tx->dscap, tx->nds + 1, sizeof *tx->ds)) {
        tx_fail(tx);
        return;
    }
    tx->ds[tx->nds++] = (struct tds){ci, clock, len};
}

static void tx_ms_add(ytx_t *tx, uint32_t ci, uint32_t clock)
{
    if (!growz((void **)&tx->ms, &tx->mscap, tx->nms + 1, sizeof *tx->ms)) {
        tx_fail(tx);
        return;
    }
    tx->ms[tx->nms++] = (struct tms){ci, clock};
}

static bool work_push(ytx_t *tx, uint32_t v)
{
    if (!growz((void **)&tx->work, &tx->workcap, tx->nwork + 1, sizeof *tx->work)) {
        tx_fail(tx);
        return false;
    }
    tx->work[tx->nwork++] = v;
    return true;
}

static void tx_init(ytx_t *tx, ydoc_t *d)
{
    size_t c;
    tx->d = d;
    tx->nds = tx->nms = tx->nchg = tx->nwork = 0;
    tx->integrated = tx->deleted = 0;
    tx->failed = false;
    tx->ds = yd_borrow(d, YS_TX_DS, &c);
    tx->dscap = c / sizeof *tx->ds;
    tx->ms = yd_borrow(d, YS_TX_MS, &c);
    tx->mscap = c / sizeof *tx->ms;
    tx->chg = yd_borrow(d, YS_TX_CHG, &c);
    tx->chgcap = c / sizeof *tx->chg;
    tx->work = yd_borrow(d, YS_TX_WORK, &c);
    tx->workcap = c / sizeof *tx->work;
    tx->before = &d->set_before;
    tx->conflicting = &d->set_conflicting;
}

static void tx_free(ytx_t *tx)
{
    ydoc_t *d = tx->d;
    yd_return(d, YS_TX_DS, tx->ds, tx->dscap * sizeof *tx->ds);
    yd_return(d, YS_TX_MS, tx->ms, tx->mscap * sizeof *tx->ms);
    yd_return(d, YS_TX_CHG, tx->chg, tx->chgcap * sizeof *tx->chg);
    yd_return(d, YS_TX_WORK, tx->work, tx->workcap * sizeof *tx->work);
}

/* ---- content of stored items ---- */

/* Byte length of the first n elements of JSON (varStrings) or Any content. */
static size_t elem_bytes(const uint8_t *p, size_t len, uint8_t ref, uint64_t n)
{
    yjs_wire_t w = {p, p + len};
    for (uint64_t i = 0; i < n; i++) {
        if (ref == YJS_CONTENT_JSON) {
            const uint8_t *s;
            size_t l;
            if (!yjs_wire_buf(&w, &s, &l))
                break;
        } else if (yjs_any_skip(&w, 4096, false) != QUIRE_OK) {
            break;
        }
    }
    return (size_t)(w.pos - p);
}

/* Splits the content of l at clock offset diff into l (left) and r (right, a copy of l). */
static void content_split(ydoc_t *d, yitem_t *l, yitem_t *r, uint32_t diff)
{
    const uint8_t *p = yd_content(d, l);
    switch (l->ref) {
    case YJS_CONTENT_STRING: {
        uint32_t lead = (l->flags & YF_LEAD_FFFD) ? 1 : 0;
        uint32_t trail = (l->flags & YF_TRAIL_FFFD) ? 1 : 0;
        uint32_t body_units = l->len - lead - trail;
        uint32_t kb = diff - lead;
        size_t byte = 0;
        bool pair = false;
        if (kb >= body_units)
            byte = l->cbytes;
        else if (l->flags & YF_ASCII)
            byte = kb;
        else
            yjs_text_offset(p, l->cbytes, kb, &byte, &pair);
        size_t from = pair ? byte + 4 : byte;
        r->coff = l->coff + (uint32_t)from;
        r->cbytes = l->cbytes - (uint32_t)from;
        r->flags = (uint8_t)((l->flags & ~YF_LEAD_FFFD) | (pair ? YF_LEAD_FFFD : 0));
        l->cbytes = (uint32_t)byte;
        l->flags = (uint8_t)((l->flags & ~YF_TRAIL_FFFD) | (pair ? YF_TRAIL_FFFD : 0));
        if (pair)
            d->cl[l->client].cgarbage += 4;
        break;
    }
    case YJS_CONTENT_JSON:
    case YJS_CONTENT_ANY: {
        size_t nb = elem_bytes(p, l->cbytes, l->ref, diff);
        r->coff = l->coff + (uint32_t)nb;
        r->cbytes = l->cbytes - (uint32_t)nb;
        l->cbytes = (uint32_t)nb;
        break;
    }
    default: /* Deleted (GC and length-1 contents are never split) */
        r->coff = 0;
        r->cbytes = 0;
        break;
    }
}

/* Appends s (with its U+FFFD flags written out) to out at *pos. */
static size_t put_string(uint8_t *out, const uint8_t *s, size_t n, uint8_t flags, bool lead,
                         bool trail)
{
    size_t k = 0;
    if (lead && (flags & YF_LEAD_FFFD)) {
        memcpy(out, YJS_TEXT_FFFD, YJS_TEXT_FFFD_LEN);
        k += YJS_TEXT_FFFD_LEN;
    }
    if (n)
        memcpy(out + k, s, n);
    k += n;
    if (trail && (flags & YF_TRAIL_FFFD)) {
        memcpy(out + k, YJS_TEXT_FFFD, YJS_TEXT_FFFD_LEN);
        k += YJS_TEXT_FFFD_LEN;
    }
    return k;
}

/* ContentX.mergeWith: appends r's content to l's. */
static bool content_merge(ydoc_t *d, yitem_t *l, const yitem_t *r)
{
    switch (l->ref) {
    case YJS_CONTENT_DELETED:
        return true;
    case YJS_CONTENT_STRING:
    case YJS_CONTENT_JSON:
    case YJS_CONTENT_ANY: {
        bool junction_fffd = (l->flags & YF_TRAIL_FFFD) || (r->flags & YF_LEAD_FFFD);
        if (l->coff + l->cbytes == r->coff && !junction_fffd) {
            l->cbytes += r->cbytes;
        } else {
            yclient_t *c = &d->cl[l->client];
            size_t n = (size_t)l->cbytes + r->cbytes + 2 * YJS_TEXT_FFFD_LEN;
            if (!cbuf_reserve(d, c, n))
                return false;
            uint8_t *out = c->cbuf + c->clen;
            size_t k = put_string(out, c->cbuf + l->coff, l->cbytes, l->flags, false, true);
            k += put_string(out + k, c->cbuf + r->coff, r->cbytes, r->flags, true, false);
            c->cgarbage += l->cbytes + r->cbytes;
            l->coff = c->clen;
            l->cbytes = (uint32_t)k;
            c->clen += (uint32_t)k;
        }
        l->flags = (uint8_t)((l->flags & ~(YF_TRAIL_FFFD | YF_ASCII)) | (r->flags & YF_TRAIL_FFFD) |
                             (l->flags & r->flags & YF_ASCII));
        return true;
    }
    default:
        return false;
    }
}

/* ---- split, merge ---- */

/* splitItem: cuts item x (at index position b, o of its client) at clock offset diff; returns
 * the right part (0 on allocation failure, x unchanged). */
static uint32_t split_at(ytx_t *tx, uint32_t x, uint32_t b, uint32_t o, uint32_t diff)
{
    ydoc_t *d = tx->d;
    uint32_t r = item_alloc(d);
    if (!r) {
        tx_fail(tx);
        return 0;
    }
    yitem_t *X = &d->it[x], *R = &d->it[r];
    *R = *X;
    R->clock = X->clock + diff;
    R->len = X->len - diff;
    R->left = x;
    R->ocl = X->client;
    R->ock = X->clock + diff - 1;
    content_split(d, X, R, diff);
    yclient_t *c = &d->cl[X->client];
    if (!idx_insert(d, c, b, o + 1, r)) {
        /* undo */
        X->cbytes +=
            R->cbytes; /* approximate for strings cut in a pair; never reached in practice */
        item_free(d, r);
        tx_fail(tx);
        return 0;
    }
    X->len = diff;
    X->right = r;
    if (R->right)
        d->it[R->right].left = r;
    else
        d->sq[R->parent].last = r;
    tx_ms_add(tx, X->client, R->clock);
    return r;
}

/* getItemCleanEnd: the struct ending exactly at (ci, clock), splitting an Item if needed. */
static uint32_t clean_end(ytx_t *tx, uint32_t ci, uint32_t clock)
{
    ydoc_t *d = tx->d;
    uint32_t b, o;
    idx_find(d, &d->cl[ci], clock, &b, &o);
    uint32_t x = d->cl[ci].blk[b]->idx[o];
    const yitem_t *X = &d->it[x];
    if (clock != X->clock + X->len - 1 && X->ref != YREF_GC)
        split_at(tx, x, b, o, clock - X->clock + 1);
    return x;
}

/* getItemCleanStart: the struct starting exactly at (ci, clock), splitting an Item if needed. */
static uint32_t clean_start(ytx_t *tx, uint32_t ci, uint32_t clock)
{
    ydoc_t *d = tx->d;
    uint32_t b, o;
    idx_find(d, &d->cl[ci], clock, &b, &o);
    uint32_t x = d->cl[ci].blk[b]->idx[o];
    const yitem_t *X = &d->it[x];
    if (X->clock < clock && X->ref != YREF_GC) {
        uint32_t r = split_at(tx, x, b, o, clock - X->clock);
        return r ? r : x;
    }
    return x;
}

/* Item.mergeWith / GC.mergeWith (the caller checked deleted and kind equality). */
static bool merge_with(ydoc_t *d, uint32_t li, uint32_t ri)
{
    yitem_t *L = &d->it[li];
    const yitem_t *R = &d->it[ri];
    if (L->ref == YREF_GC) {
        if (R->ref != YREF_GC)
            return false;
        L->len += R->len;
        return true;
    }
    if (R->ref == YREF_GC || L->ref != R->ref)
        return false;
    if (!(R->ocl == L->client && R->ock == L->clock + L->len - 1) || L->right != ri ||
        L->rcl != R->rcl || (L->rcl != YNONE && L->rck != R->rck) || L->client != R->client ||
        L->clock + L->len != R->clock || ((L->flags ^ R->flags) & YF_DELETED))
        return false;
    if (!content_merge(d, L, R))
        return false;
    L->right = R->right;
    if (L->right)
        d->it[L->right].left = li;
    L->len += R->len;
    yseq_t *s = &d->sq[L->parent];
    if (s->last == ri)
        s->last = li;
    return true;
}

static inline bool pos_prev(const yclient_t *c, uint32_t *b, uint32_t *o)
{
    if (*o > 0) {
        (*o)--;
        return true;
    }
    if (*b == 0)
        return false;
    (*b)--;
    *o = c->blk[*b]->n - 1;
    return true;
}

static inline bool pos_next(const yclient_t *c, uint32_t *b, uint32_t *o)
{
    if (*o + 1 < c->blk[*b]->n) {
        (*o)++;
        return true;
    }
    if (*b + 1 >= c->nblk)
        return false;
    (*b)++;
    *o = 0;
    return true;
}

static inline bool pos_is_first(uint32_t b, uint32_t o)
{
    return b == 0 && o == 0;
}

/* tryToMergeWithLefts: merges the struct at (b, o) into its left neighbours while possible;
 * (b, o) ends at the surviving struct. Returns the number of merges. */
static uint32_t merge_lefts(ydoc_t *d, uint32_t ci, uint32_t *b, uint32_t *o)
{
    yclient_t *c = &d->cl[ci];
    uint32_t n = 0;
    for (;;) {
        uint32_t pb = *b, po = *o;
        if (!pos_prev(c, &pb, &po))
            break;
        uint32_t li = c->blk[pb]->idx[po], ri = c->blk[*b]->idx[*o];
        const yitem_t *L = &d->it[li], *R = &d->it[ri];
        bool ldel = L->ref == YREF_GC || (L->flags & YF_DELETED);
        bool rdel = R->ref == YREF_GC || (R->flags & YF_DELETED);
        if (ldel != rdel || (L->ref == YREF_GC) != (R->ref == YREF_GC) || !merge_with(d, li, ri))
            break;
        idx_remove(c, d, *b, *o);
        item_free(d, ri);
        *b = pb;
        *o = po;
        n++;
    }
    return n;
}

/* ---- delete, gc ---- */

static inline bool countable_ref(uint8_t ref)
{
    return ref != YJS_CONTENT_DELETED && ref != YJS_CONTENT_FORMAT && ref != YREF_GC;
}

/* Item.delete, with ContentType.delete's walk over the children done iteratively. */
static void item_delete(ytx_t *tx, uint32_t x)
{
    ydoc_t *d = tx->d;
    size_t base = tx->nwork;
    if (!work_push(tx, x))
        return;
    while (tx->nwork > base) {
        uint32_t i = tx->work[--tx->nwork];
        yitem_t *it = &d->it[i];
        if (it->flags & YF_DELETED)
            continue;
        const yseq_t *s = &d->sq[it->parent];
        if ((it->flags & YF_COUNTABLE) && s->key == YNONE)
            d->ty[s->type].length -= it->len;
        it->flags |= YF_DELETED;
        tx_ds_add(tx, it->client, it->clock, it->len);
        tx->deleted += it->len;
        if (it->ref != YJS_CONTENT_TYPE)
            continue;
        const ytype_t *t = &d->ty[it->coff];
        /* children of the list, then the current value of every map key */
        for (uint32_t ch = d->sq[t->list].first; ch; ch = d->it[ch].right) {
            const yitem_t *C = &d->it[ch];
            if (!(C->flags & YF_DELETED))
                work_push(tx, ch);
            else if (C->clock < tx_before(tx, C->client))
                tx_ms_add(tx, C->client, C->clock);
        }
        for (uint32_t ms = t->map_first; ms; ms = d->sq[ms].next) {
            uint32_t ch = d->sq[ms].last;
            if (!ch)
                continue;
            const yitem_t *C = &d->it[ch];
            if (!(C->flags & YF_DELETED))
                work_push(tx, ch);
            else if (C->clock < tx_before(tx, C->client))
                tx_ms_add(tx, C->client, C->clock);
        }
    }
}

/* Item.gc(store, parentGCd) with ContentType.gc's walk done iteratively. The work list holds
 * item << 1 | parentGCd. */
static void item_gc(ytx_t *tx, uint32_t x)
{
    ydoc_t *d = tx->d;
    size_t base = tx->nwork;
    if (!work_push(tx, x << 1))
        return;
    while (tx->nwork > base) {
        uint32_t w = tx->work[--tx->nwork];
        uint32_t i = w >> 1;
        bool parent_gcd = w & 1;
        yitem_t *it = &d->it[i];
        if (it->ref == YREF_GC || !(it->flags & YF_DELETED))
            continue;
        if (it->ref == YJS_CONTENT_TYPE) {
            uint32_t t = it->coff;
            const ytype_t *ty = &d->ty[t];
            for (uint32_t ch = d->sq[ty->list].first; ch; ch = d->it[ch].right)
                work_push(tx, ch << 1 | 1);
            for (uint32_t ms = ty->map_first; ms; ms = d->sq[ms].next)
                for (uint32_t ch = d->sq[ms].last; ch; ch = d->it[ch].left)
                    work_push(tx, ch << 1 | 1);
            type_free(d, t);
            it = &d->it[i];
        }
        content_drop(d, it);
        if (parent_gcd) {
            it->ref = YREF_GC;
            it->flags = YF_DELETED;
            it->left = it->right = 0;
            it->ocl = it->rcl = YNONE;
            it->parent = 0;
        } else {
            it->ref = YJS_CONTENT_DELETED;
            it->flags = YF_DELETED;
        }
    }
}

/* ---- integration ---- */

static inline bool ids_eq(uint32_t ac, uint32_t ak, uint32_t bc, uint32_t bk)
{
    return ac == bc && (ac == YNONE || ak == bk);
}

/* Records the state of client ci before the transaction changes it. */
static void tx_touch(ytx_t *tx, uint32_t ci)
{
    yclient_t *c = &tx->d->cl[ci];
    if (c->tx_stamp == tx->d->tx)
        return;
    if (!growz((void **)&tx->chg, &tx->chgcap, tx->nchg + 1, sizeof *tx->chg)) {
        tx_fail(tx);
        return;
    }
    c->tx_stamp = tx->d->tx;
    c->tx_before = c->state;
    tx->chg[tx->nchg++] = ci;
}

/* addStruct for a new GC struct. */
static void add_gc(ytx_t *tx, uint32_t ci, uint32_t clock, uint32_t len)
{
    ydoc_t *d = tx->d;
    uint32_t x = item_alloc(d);
    if (!x) {
        tx_fail(tx);
        return;
    }
    yitem_t *X = &d->it[x];
    X->client = ci;
    X->clock = clock;
    X->len = len;
    X->ref = YREF_GC;
    X->flags = YF_DELETED;
    X->ocl = X->rcl = YNONE;
    tx_touch(tx, ci);
    if (!idx_append(d, &d->cl[ci], x)) {
        item_free(d, x);
        tx_fail(tx);
        return;
    }
    d->cl[ci].state = clock + len;
    tx->integrated += len;
}

/* Stores the content of s in client ci's buffer and fills the content fields of X. False on
 * allocation failure. */
static bool store_content(ydoc_t *d, uint32_t ci, const yjs_struct_t *s, yitem_t *X)
{
    yclient_t *c = &d->cl[ci];
    const yjs_content_t *ct = &s->content;
    X->ref = ct->ref;
    X->flags = countable_ref(ct->ref) ? YF_COUNTABLE : 0;
    uint32_t off = 0;
    size_t n = 0;
    switch (ct->ref) {
    case YJS_CONTENT_STRING:
        if (ct->str_flags & YJS_STR_ASCII)
            X->flags |= YF_ASCII;
        if (ct->str_flags & YJS_STR_LEAD_FFFD)
            X->flags |= YF_LEAD_FFFD;
        if (ct->str_flags & YJS_STR_TRAIL_FFFD)
            X->flags |= YF_TRAIL_FFFD;
        /* fall through */
    case YJS_CONTENT_JSON:
    case YJS_CONTENT_ANY:
    case YJS_CONTENT_BINARY:
    case YJS_CONTENT_EMBED:
        n = ct->body.len;
        off = cbuf_append(d, c, ct->body.ptr, n);
        break;
    case YJS_CONTENT_FORMAT:
    case YJS_CONTENT_DOC: {
        /* varUint(len) ‖ first string ‖ second part: format key ‖ value JSON, doc guid ‖ opts */
        const yjs_span_t *a = ct->ref == YJS_CONTENT_FORMAT ? &ct->key : &ct->body;
        const yjs_span_t *b = ct->ref == YJS_CONTENT_FORMAT ? &ct->body : &ct->key;
        uint8_t hdr[10];
        size_t h = 0;
        uint64_t v = a->len;
        while (v >= 0x80) {
            hdr[h++] = (uint8_t)(v | 0x80);
            v >>= 7;
        }
        hdr[h++] = (uint8_t)v;
        n = h + a->len + b->len;
        if (!cbuf_reserve(d, c, n))
            return false;
        off = cbuf_append(d, c, hdr, h);
        cbuf_append(d, c, a->ptr, a->len);
        cbuf_append(d, c, b->ptr, b->len);
        break;
    }
    default: /* Deleted, Type */
        return true;
    }
    if (off == UINT32_MAX)
        return false;
    X->coff = off;
    X->cbytes = (uint32_t)n;
    return true;
}

/*
 * Item.getMissing's second half (find left, right and parent; splits as Yjs does) and, when
 * `apply`, Item.integrate(offset) for struct s of client ci. The dependencies were checked.
 */
static void integrate_item(ytx_t *tx, yjs_struct_t *s, uint32_t ci, uint64_t offset, bool apply)
{
    ydoc_t *d = tx->d;
    uint32_t left = 0, right = 0, seq = 0;
    uint32_t ocl = YNONE, ock = 0, rcl = YNONE, rck = 0;
    uint32_t ptype = 0, pkey = YNONE; /* parent given by id or root name */
    bool gc = false, by_parent = false;

    if (s->info & YJS_INFO_ORIGIN) {
        ocl = yd_client_index(d, s->origin.client);
        ock = (uint32_t)s->origin.clock;
        left = clean_end(tx, ocl, ock);
    }
    if (s->info & YJS_INFO_RIGHT_ORIGIN) {
        rcl = yd_client_index(d, s->right_origin.client);
        rck = (uint32_t)s->right_origin.clock;
        /* usually the right origin is still the left origin's right neighbour: no lookup */
        uint32_t lr = left && d->it[left].ref != YREF_GC ? d->it[left].right : 0;
        if (lr && d->it[lr].client == rcl && d->it[lr].clock == rck)
            right = lr;
        else
            right = clean_start(tx, rcl, rck);
    }
    if ((left && d->it[left].ref == YREF_GC) || (right && d->it[right].ref == YREF_GC)) {
        gc = true;
    } else if (s->info & (YJS_INFO_ORIGIN | YJS_INFO_RIGHT_ORIGIN)) {
        seq = left ? d->it[left].parent : d->it[right].parent;
    } else {
        by_parent = true;
        if (s->parent_is_root) {
            pkey = YNONE;
        } else {
            uint32_t pci = yd_client_index(d, s->parent_id.client);
            uint32_t pi = yd_find(d, pci, (uint32_t)s->parent_id.clock);
            if (!pi || d->it[pi].ref != YJS_CONTENT_TYPE)
                gc = true;
            else
                ptype = d->it[pi].coff;
        }
    }
    if (!apply)
        return;

    uint32_t clock = (uint32_t)s->id.clock;
    if (offset > 0) {
        clock += (uint32_t)offset;
        left = clean_end(tx, ci, clock - 1);
        ocl = ci;
        ock = clock - 1;
        if (s->kind == YJS_KIND_ITEM)
            (void)yjs_struct_slice(s, offset);
        else
            s->len -= offset, s->id.clock += offset;
        if (d->it[left].ref == YREF_GC)
            gc = true; /* Yjs throws here; a GC struct is the only consistent outcome */
    }
    uint32_t len = (uint32_t)s->len;
    if (gc) {
        add_gc(tx, ci, clock, len);
        return;
    }
    if (by_parent) {
        if (s->parent_is_root) {
            uint32_t name = key_intern(d, s->parent_key.ptr, s->parent_key.len);
            ptype = name ? root_get(d, name) : 0;
            if (!ptype) {
                tx_fail(tx);
                return;
            }
        }
        if (s->info & YJS_INFO_PARENT_SUB) {
            pkey = key_intern(d, s->parent_sub.ptr, s->parent_sub.len);
            if (!pkey) {
                tx_fail(tx);
                return;
            }
        }
        seq = seq_of(d, ptype, pkey);
        if (!seq) {
            tx_fail(tx);
            return;
        }
    }
    yseq_t *sq = &d->sq[seq];
    uint32_t type = sq->type;
    bool is_map = sq->key != YNONE;
    uint64_t my_id = d->cl[ci].id;

    /* YATA: find the left neighbour among concurrent inserts */
    if ((!left && (!right || d->it[right].left != 0)) || (left && d->it[left].right != right)) {
        uint32_t l = left;
        uint32_t o = left ? d->it[left].right : d->sq[seq].first;
        yset_clear(tx->before);
        yset_clear(tx->conflicting);
        while (o && o != right) {
            if (!yset_add(tx->before, o) || !yset_add(tx->conflicting, o)) {
                tx_fail(tx);
                break;
            }
            const yitem_t *O = &d->it[o];
            if (ids_eq(ocl, ock, O->ocl, O->ock)) {
                if (d->cl[O->client].id < my_id) {
                    l = o;
                    yset_clear(tx->conflicting);
                } else if (ids_eq(rcl, rck, O->rcl, O->rck)) {
                    break;
                }
            } else if (O->ocl != YNONE) {
                uint32_t g = yd_find(d, O->ocl, O->ock);
                if (!yset_has(tx->before, g))
                    break;
                if (!yset_has(tx->conflicting, g)) {
                    l = o;
                    yset_clear(tx->conflicting);
                }
            } else {
                break;
            }
            o = O->right;
        }
        left = l;
    }

    uint32_t x = item_alloc(d);
    if (!x) {
        tx_fail(tx);
        return;
    }
    yitem_t *X = &d->it[x];
    X->client = ci;
    X->clock = clock;
    X->len = len;
    X->ocl = ocl;
    X->ock = ocl == YNONE ? 0 : ock;
    X->rcl = rcl;
    X->rck = rcl == YNONE ? 0 : rck;
    X->parent = seq;
    if (!store_content(d, ci, s, X)) {
        item_free(d, x);
        tx_fail(tx);
        return;
    }
    tx_touch(tx, ci);
    if (!idx_append(d, &d->cl[ci], x)) {
        content_drop(d, &d->it[x]);
        item_free(d, x);
        tx_fail(tx);
        return;
    }
    d->cl[ci].state = clock + len;
    tx->integrated += len;

    /* link */
    sq = &d->sq[seq];
    X = &d->it[x];
    X->left = left;
    if (left) {
        X->right = d->it[left].right;
        d->it[left].right = x;
    } else {
        X->right = sq->first;
        sq->first = x;
    }
    if (X->right) {
        d->it[X->right].left = x;
    } else {
        sq->last = x;
        if (is_map && left)
            item_delete(tx, left);
    }
    X = &d->it[x];
    if (!is_map && (X->flags & YF_COUNTABLE))
        d->ty[type].length += len;
    /* content.integrate */
    if (X->ref == YJS_CONTENT_DELETED) {
        X->flags |= YF_DELETED;
        tx_ds_add(tx, ci, clock, len);
    } else if (X->ref == YJS_CONTENT_TYPE) {
        uint32_t name = 0;
        if (s->content.type_ref == YJS_TYPE_XML_ELEMENT ||
            s->content.type_ref == YJS_TYPE_XML_HOOK) {
            name = key_intern(d, s->content.body.ptr, s->content.body.len);
            if (!name) {
                tx_fail(tx);
                return;
            }
        }
        uint32_t t = type_new(d, x, s->content.type_ref, name);
        if (!t) {
            tx_fail(tx);
            return;
        }
        X = &d->it[x];
        X->coff = t;
        X->extra = s->content.type_ref;
    }
    uint32_t titem = d->ty[type].item;
    if ((titem && (d->it[titem].flags & YF_DELETED)) || (is_map && X->right))
        item_delete(tx, x);
}

/* ---- delete sets ---- */

/* Deletes [clock, end) of client ci as readAndApplyDeleteSet does (end ≤ state). */
static void delete_range(ytx_t *tx, uint32_t ci, uint32_t clock, uint32_t end)
{
    ydoc_t *d = tx->d;
    yclient_t *c = &d->cl[ci];
    uint32_t b, o;
    idx_find(d, c, clock, &b, &o);
    uint32_t x = c->blk[b]->idx[o];
    const yitem_t *X = &d->it[x];
    if (!(X->flags & YF_DELETED) && X->clock < clock) {
        if (!split_at(tx, x, b, o, clock - X->clock))
            return;
        idx_find(d, c, clock, &b, &o); /* a block split may have moved things */
    }
    for (;;) {
        x = c->blk[b]->idx[o];
        X = &d->it[x];
        if (X->clock >= end)
            break;
        if (!(X->flags & YF_DELETED)) {
            if (end < X->clock + X->len) {
                if (!split_at(tx, x, b, o, end - X->clock))
                    return;
                idx_find(d, c, d->it[x].clock, &b, &o);
            }
            item_delete(tx, x);
        }
        if (!pos_next(c, &b, &o))
            break;
    }
}

static int cmp_tds(const void *a, const void *b)
{
    const struct tds *x = a, *y = b;
    if (x->c != y->c)
        return x->c < y->c ? -1 : 1;
    return x->clock < y->clock ? -1 : x->clock > y->clock;
}

/* ---- Yjs's transaction cleanup ---- */

static void cleanup(ytx_t *tx)
{
    ydoc_t *d = tx->d;
    /* sortAndMergeDeleteSet (ranges mostly arrive sorted) */
    bool sorted = true;
    for (size_t i = 1; i < tx->nds && sorted; i++)
        sorted = cmp_tds(&tx->ds[i - 1], &tx->ds[i]) <= 0;
    if (!sorted)
        qsort(tx->ds, tx->nds, sizeof *tx->ds, cmp_tds);
    size_t n = 0;
    for (size_t i = 0; i < tx->nds; i++) {
        struct tds r = tx->ds[i];
        if (n && tx->ds[n - 1].c == r.c &&
            (uint64_t)tx->ds[n - 1].clock + tx->ds[n - 1].len >= r.clock) {
            uint32_t e = tx->ds[n - 1].clock + tx->ds[n - 1].len;
            if (r.clock + r.len > e)
                tx->ds[n - 1].len = r.clock + r.len - tx->ds[n - 1].clock;
        } else {
            tx->ds[n++] = r;
        }
    }
    tx->nds = n;

    /* tryGcDeleteSet */
    if (!(d->limits.flags & YDOC_NO_GC)) {
        for (size_t i = n; i-- > 0;) {
            struct tds r = tx->ds[i];
            yclient_t *c = &d->cl[r.c];
            uint32_t b, o;
            idx_find(d, c, r.clock, &b, &o);
            uint32_t end = r.clock + r.len;
            do {
                uint32_t x = c->blk[b]->idx[o];
                if (d->it[x].clock >= end)
                    break;
                if (d->it[x].ref != YREF_GC && (d->it[x].flags & YF_DELETED))
                    item_gc(tx, x);
            } while (pos_next(c, &b, &o));
        }
    }
    /* tryMergeDeleteSet */
    for (size_t i = n; i-- > 0;) {
        struct tds r = tx->ds[i];
        yclient_t *c = &d->cl[r.c];
        uint32_t b, o;
        idx_find(d, c, r.clock + r.len - 1, &b, &o);
        pos_next(c, &b, &o);
        while (!pos_is_first(b, o) && d->it[c->blk[b]->idx[o]].clock >= r.clock) {
            merge_lefts(d, r.c, &b, &o);
            if (!pos_prev(c, &b, &o))
                break;
        }
    }
    /* merge what this transaction added to each client */
    for (size_t i = 0; i < tx->nchg; i++) {
        uint32_t ci = tx->chg[i];
        yclient_t *c = &d->cl[ci];
        if (c->tx_before == c->state || c->nblk == 0)
            continue;
        /* firstChangePos = max(findIndexSS(beforeClock), 1): its struct's clock bounds the walk */
        uint32_t fb = 0, fo = 0;
        if (c->tx_before < c->state)
            idx_find(d, c, c->tx_before, &fb, &fo);
        if (pos_is_first(fb, fo) && !pos_next(c, &fb, &fo))
            continue;
        uint32_t stop_clock = d->it[c->blk[fb]->idx[fo]].clock;
        uint32_t b = c->nblk - 1, o = c->blk[b]->n - 1;
        while (!pos_is_first(b, o) && d->it[c->blk[b]->idx[o]].clock >= stop_clock) {
            merge_lefts(d, ci, &b, &o);
            if (!pos_prev(c, &b, &o))
                break;
        }
    }
    /* _mergeStructs, last first */
    for (size_t i = tx->nms; i-- > 0;) {
        uint32_t ci = tx->ms[i].c;
        yclient_t *c = &d->cl[ci];
        uint32_t b, o;
        idx_find(d, c, tx->ms[i].clock, &b, &o);
        uint32_t nb = b, no = o;
        if (pos_next(c, &nb, &no) && merge_lefts(d, ci, &nb, &no) > 1)
            continue;
        idx_find(d, c, tx->ms[i].clock, &b, &o);
        if (!pos_is_first(b, o))
            merge_lefts(d, ci, &b, &o);
    }
    for (size_t i = 0; i < tx->nchg; i++)
        maybe_compact(d, tx->chg[i]);
    for (size_t i = 0; i < n; i++)
        maybe_compact(d, tx->ds[i].c);
}

/* ========================================================================================== */
/* applying an update: validation, plan, integration */

/* Limits for re-reading what the document itself wrote (pending structs). */
const yjs_limits_t yd_internal_limits = {.max_update_bytes = SIZE_MAX,
                                         .max_structs = UINT64_MAX,
                                         .max_clients = UINT64_MAX,
                                         .max_delete_ranges = UINT64_MAX,
                                         .max_depth = 4096};

void yd_upd_free(yupd_t *u)
{
    if (u->owner) {
        yd_return(u->owner, u->slot, u->g, u->gcap * sizeof *u->g);
        yd_return(u->owner, YS_RANGES, u->r, u->rcap * sizeof *u->r);
        if (u->slot == YS_GROUPS) {
            yd_return(u->owner, YS_STASH, u->st, u->stcap * sizeof *u->st);
            yd_return(u->owner, YS_STASH_DS, u->sd, u->sdcap * sizeof *u->sd);
        }
    } else {
        free(u->g);
        free(u->r);
    }
    u->owner = NULL;
    u->g = NULL;
    u->r = NULL;
    u->st = NULL;
    u->sd = NULL;
    u->ng = u->gcap = u->nr = u->rcap = u->nst = u->stcap = u->nsd = u->sdcap = 0;
}

/* Reads the headers of empty groups at the decoder's position (Yjs lets an empty group replace
 * an earlier group of its client). */
static bool peek_empty_groups(const yjs_decoder_t *dec, yupd_t *u)
{
    yjs_wire_t w = dec->w;
    uint64_t left = dec->groups_left;
    while (left > 0) {
        uint64_t n, client, clock;
        if (!yjs_wire_varuint(&w, &n) || !yjs_wire_varuint(&w, &client) ||
            !yjs_wire_varuint(&w, &clock) || n != 0)
            return true;
        if (!growz((void **)&u->g, &u->gcap, u->ng + 1, sizeof *u->g))
            return false;
        u->g[u->ng++] = (ygrp_t){.client = client, .n = 0};
        left--;
    }
    return true;
}

quire_err_t yd_set_err(yjs_error_t *e, quire_err_t err, const yjs_decoder_t *dec, const char *msg)
{
    if (e) {
        size_t off = 0;
        const char *m = msg;
        if (dec) {
            m = yjs_decode_error(dec, &off);
            if (!m[0])
                m = msg;
        }
        memset(e, 0, sizeof *e);
        e->offset = off;
        size_t n = strlen(m);
        if (n >= sizeof e->message)
            n = sizeof e->message - 1;
        memcpy(e->message, m, n);
        e->message[n] = 0;
    }
    return err;
}

/* Validates update completely and records its groups. Later groups of a client replace earlier
 * ones, as Yjs's readClientsStructRefs does. */
quire_err_t yd_upd_read(ydoc_t *owner, int slot, const uint8_t *update, size_t len,
                        const yjs_limits_t *limits, unsigned flags, yupd_t *u,
                        yjs_error_t *ret_error)
{
    u->owner = NULL;
    u->slot = 0;
    u->g = NULL;
    u->r = NULL;
    u->ng = u->gcap = u->nr = u->rcap = 0;
    u->nstructs = u->nranges = 0;
    u->content_bytes = 0;
    u->simple = false;
    u->st = NULL;
    u->sd = NULL;
    u->nst = u->stcap = u->nsd = u->sdcap = 0;
    if (owner) {
        size_t c;
        u->owner = owner;
        u->slot = slot;
        u->g = yd_borrow(owner, slot, &c);
        u->gcap = c / sizeof *u->g;
        u->r = yd_borrow(owner, YS_RANGES, &c);
        u->rcap = c / sizeof *u->r;
        if (slot == YS_GROUPS) {
            u->st = yd_borrow(owner, YS_STASH, &c);
            u->stcap = c / sizeof *u->st;
            u->sd = yd_borrow(owner, YS_STASH_DS, &c);
            u->sdcap = c / sizeof *u->sd;
            if (!growz((void **)&u->st, &u->stcap, YD_STASH, sizeof *u->st) ||
                !growz((void **)&u->sd, &u->sdcap, YD_STASH, sizeof *u->sd))
                return yd_set_err(ret_error, QUIRE_ERR_NOMEM, NULL, "out of memory");
        }
    }
    yjs_decoder_t dec;
    quire_err_t err = yjs_decode_init(&dec, update, len, limits, flags & YJS_DECODE_SKIM);
    if (err != QUIRE_OK)
        return yd_set_err(ret_error, err, &dec, "bad update");
    yjs_struct_t s;
    u->simple = owner != NULL;
    uint64_t cache_client = UINT64_MAX, cache_state = 0;
#define STATE_OF(id)                                                                               \
    ((id) == cache_client ? cache_state                                                            \
                          : (cache_client = (id), cache_state = client_state(owner, (id))))
    for (;;) {
        yjs_decoder_t snap;
        bool first = dec.structs_left == 0;
        if (first) {
            size_t ng = u->ng;
            if (!peek_empty_groups(&dec, u))
                return yd_set_err(ret_error, QUIRE_ERR_NOMEM, NULL, "out of memory");
            if (u->ng != ng)
                u->simple = false;
            snap = dec;
        }
        int r = yjs_decode_next_struct(&dec, &s);
        if (r < 0)
            return yd_set_err(ret_error, (quire_err_t)r, &dec, "bad update");
        if (r == 0)
            break;
        if (first) {
            if (!growz((void **)&u->g, &u->gcap, u->ng + 1, sizeof *u->g))
                return yd_set_err(ret_error, QUIRE_ERR_NOMEM, NULL, "out of memory");
            if (u->simple) {
                if (s.id.clock > STATE_OF(s.id.client) || u->ng >= 16)
                    u->simple = false;
                for (size_t j = 0; u->simple && j < u->ng; j++)
                    if (u->g[j].client == s.id.client)
                        u->simple = false;
            }
            /* the structs are re-read from here, already validated: skim them */
            snap.flags |= YJS_DECODE_SKIM;
            u->g[u->ng++] = (ygrp_t){
                .client = s.id.client, .n = dec.structs_left + 1, .first = u->nst, .dec = snap};
        }
        u->g[u->ng - 1].end = yjs_struct_end(&s);
        if (u->st && u->nstructs < YD_STASH)
            u->st[u->nst++] = s;
        u->nstructs++;
        if (s.kind == YJS_KIND_ITEM)
            u->content_bytes += s.content.body.len + s.content.key.len + 16;
        if (u->simple) {
            if (s.kind == YJS_KIND_SKIP || yjs_struct_end(&s) > YCLOCK_MAX)
                u->simple = false;
            else if (s.kind == YJS_KIND_ITEM &&
                     (((s.info & YJS_INFO_ORIGIN) && s.origin.client != s.id.client &&
                       s.origin.clock >= STATE_OF(s.origin.client)) ||
                      ((s.info & YJS_INFO_RIGHT_ORIGIN) && s.right_origin.client != s.id.client &&
                       s.right_origin.clock >= STATE_OF(s.right_origin.client)) ||
                      (!(s.info & (YJS_INFO_ORIGIN | YJS_INFO_RIGHT_ORIGIN)) && !s.parent_is_root &&
                       s.parent_id.client != s.id.client &&
                       s.parent_id.clock >= STATE_OF(s.parent_id.client))))
                u->simple = false;
        }
    }
    u->ds = dec;
    u->ds.flags |= YJS_DECODE_SKIM;
    uint64_t c, k, l;
    int r;
    while ((r = yjs_decode_next_delete(&dec, &c, &k, &l)) > 0) {
        if (u->sd && u->nranges < YD_STASH)
            u->sd[u->nsd++] = (yjs_ds_range_t){c, k, l};
        u->nranges++;
        if (u->simple) {
            uint64_t fin = STATE_OF(c);
            for (size_t j = 0; j < u->ng; j++)
                if (u->g[j].client == c && u->g[j].end > fin)
                    fin = u->g[j].end;
            if (!(k < fin && k + l <= fin))
                u->simple = false;
        }
    }
#undef STATE_OF
    if (r < 0)
        return yd_set_err(ret_error, (quire_err_t)r, &dec, "bad delete set");
    return QUIRE_OK;
}

/* Keeps the last group of every client (Yjs: a Map keyed by client). */
quire_err_t yd_upd_dedup(yupd_t *u)
{
    if (u->ng <= 16) {
        size_t n = 0;
        for (size_t i = 0; i < u->ng; i++) {
            size_t j;
            for (j = 0; j < n; j++)
                if (u->g[j].client == u->g[i].client)
                    break;
            if (j < n)
                u->g[j] = u->g[i];
            else
                u->g[n++] = u->g[i];
        }
        u->ng = n;
        return QUIRE_OK;
    }
    yhmap_t m = {0};
    size_t n = 0;
    for (size_t i = 0; i < u->ng; i++) {
        uint32_t j = hm_get(&m, u->g[i].client);
        if (j) {
            u->g[j - 1] = u->g[i];
        } else {
            u->g[n] = u->g[i];
            if (!hm_put(&m, u->g[n].client, (uint32_t)n + 1)) {
                hm_free(&m);
                return QUIRE_ERR_NOMEM;
            }
            n++;
        }
    }
    hm_free(&m);
    u->ng = n;
    return QUIRE_OK;
}

/* The clock ranges the update's (kept) structs cover. */
static quire_err_t upd_ranges(yupd_t *u)
{
    for (size_t i = 0; i < u->ng; i++) {
        yjs_decoder_t dec = u->g[i].dec;
        yjs_struct_t s;
        for (uint64_t k = 0; k < u->g[i].n; k++) {
            if (yjs_decode_next_struct(&dec, &s) != 1)
                return QUIRE_ERR_INTERNAL;
            if (s.kind == YJS_KIND_SKIP)
                continue;
            if (u->nr && u->r[u->nr - 1].client == s.id.client &&
                u->r[u->nr - 1].end == s.id.clock) {
                u->r[u->nr - 1].end = yjs_struct_end(&s);
                continue;
            }
            if (!growz((void **)&u->r, &u->rcap, u->nr + 1, sizeof *u->r))
                return QUIRE_ERR_NOMEM;
            u->r[u->nr++] = (yjs_client_range_t){s.id.client, s.id.clock, yjs_struct_end(&s)};
        }
    }
    return QUIRE_OK;
}

/* ---- Yjs's integrateStructs ---- */

typedef struct ycur_s {
    uint64_t client;
    yjs_decoder_t dec;
    uint64_t left; /* structs not fetched yet */
    yjs_struct_t last;
    bool removed;
} ycur_t;

typedef struct yrest_s {
    uint64_t client;
    yjs_struct_t first;
    ycur_t *cur; /* the rest of the group follows from cur (NULL: only `first`) */
} yrest_t;

typedef struct yrun_s {
    ydoc_t *d;
    ytx_t *tx;    /* real run; NULL when planning */
    yhmap_t *sim; /* planning: client id → simulated state + 1 */
    ycur_t *cur;
    size_t ncur, curcap;
    size_t *order; /* cursors by client ascending; the run pops from the end */
    size_t norder, ordercap;
    yhmap_t curmap; /* client id → cursor + 1 */
    yjs_struct_t *stack;
    size_t nstack, stackcap;
    yrest_t *rest;
    size_t nrest, restcap;
    yjs_id_t *missing;
    size_t nmissing, missingcap;
    uint64_t integrated;
    quire_err_t err;
    bool borrowed; /* holds scratch arrays (run_init) */
} yrun_t;

/* A hash map whose arrays are scratch (emptied on return). */
static void hm_borrow(ydoc_t *d, int ks, int vs, yhmap_t *m)
{
    size_t kc, vc;
    m->keys = yd_borrow(d, ks, &kc);
    m->vals = yd_borrow(d, vs, &vc);
    m->n = 0;
    m->cap = (uint32_t)(vc / sizeof *m->vals);
    if (!m->keys || !m->vals || kc / sizeof *m->keys != m->cap) {
        free(m->keys);
        free(m->vals);
        memset(m, 0, sizeof *m);
    }
}

static void hm_return(ydoc_t *d, int ks, int vs, yhmap_t *m)
{
    if (m->vals)
        memset(m->vals, 0, (size_t)m->cap * sizeof *m->vals);
    yd_return(d, ks, m->keys, (size_t)m->cap * sizeof *m->keys);
    yd_return(d, vs, m->vals, (size_t)m->cap * sizeof *m->vals);
    memset(m, 0, sizeof *m);
}

static void run_free(yrun_t *r)
{
    ydoc_t *d = r->d;
    if (!d || !r->borrowed)
        return;
    yd_return(d, YS_CUR, r->cur, r->curcap * sizeof *r->cur);
    yd_return(d, YS_ORDER, r->order, r->ordercap * sizeof *r->order);
    hm_return(d, YS_CURMAP_K, YS_CURMAP_V, &r->curmap);
    yd_return(d, YS_STACK, r->stack, r->stackcap * sizeof *r->stack);
    yd_return(d, YS_REST, r->rest, r->restcap * sizeof *r->rest);
    yd_return(d, YS_MISSING, r->missing, r->missingcap * sizeof *r->missing);
}

static uint64_t run_state(const yrun_t *r, uint64_t client)
{
    if (r->sim) {
        uint32_t v = hm_get(r->sim, client);
        if (v)
            return v - 1;
    }
    return client_state(r->d, client);
}

static ycur_t *run_cursor(yrun_t *r, uint64_t client)
{
    uint32_t v = hm_get(&r->curmap, client);
    return v ? &r->cur[v - 1] : NULL;
}

static void run_missing(yrun_t *r, uint64_t client, uint64_t clock)
{
    for (size_t i = 0; i < r->nmissing; i++) {
        if (r->missing[i].client == client) {
            if (r->missing[i].clock > clock)
                r->missing[i].clock = clock;
            return;
        }
    }
    if (!growz((void **)&r->missing, &r->missingcap, r->nmissing + 1, sizeof *r->missing)) {
        r->err = QUIRE_ERR_NOMEM;
        return;
    }
    r->missing[r->nmissing++] = (yjs_id_t){client, clock};
}

static void rest_set(yrun_t *r, uint64_t client, const yjs_struct_t *first, ycur_t *cur)
{
    for (size_t i = 0; i < r->nrest; i++) {
        if (r->rest[i].client == client) {
            r->rest[i].first = *first;
            r->rest[i].cur = cur;
            return;
        }
    }
    if (!growz((void **)&r->rest, &r->restcap, r->nrest + 1, sizeof *r->rest)) {
        r->err = QUIRE_ERR_NOMEM;
        return;
    }
    r->rest[r->nrest++] = (yrest_t){client, *first, cur};
}

/* addStackToRestSS */
static void run_stack_to_rest(yrun_t *r)
{
    for (size_t i = 0; i < r->nstack; i++) {
        uint64_t client = r->stack[i].id.client;
        ycur_t *c = run_cursor(r, client);
        if (c && !c->removed) {
            rest_set(r, client, &c->last, c);
            c->removed = true;
        } else {
            rest_set(r, client, &r->stack[i], NULL);
        }
    }
    r->nstack = 0;
}

static bool run_push(yrun_t *r, const yjs_struct_t *s)
{
    if (!growz((void **)&r->stack, &r->stackcap, r->nstack + 1, sizeof *r->stack)) {
        r->err = QUIRE_ERR_NOMEM;
        return false;
    }
    r->stack[r->nstack++] = *s;
    return true;
}

static bool cur_fetch(yrun_t *r, ycur_t *c, yjs_struct_t *ret)
{
    if (c->removed || c->left == 0)
        return false;
    if (yjs_decode_next_struct(&c->dec, &c->last) != 1) {
        r->err = QUIRE_ERR_INTERNAL;
        return false;
    }
    c->left--;
    *ret = c->last;
    return true;
}

static ycur_t *run_next_target(yrun_t *r)
{
    while (r->norder > 0) {
        ycur_t *c = &r->cur[r->order[r->norder - 1]];
        if (!c->removed && c->left > 0)
            return c;
        r->norder--;
    }
    return NULL;
}

/* Item.getMissing's first half: the client whose clock s needs and does not have. */
static bool run_get_missing(const yrun_t *r, const yjs_struct_t *s, uint64_t *ret_client)
{
    if (s->kind != YJS_KIND_ITEM)
        return false;
    if ((s->info & YJS_INFO_ORIGIN) && s->origin.client != s->id.client &&
        s->origin.clock >= run_state(r, s->origin.client)) {
        *ret_client = s->origin.client;
        return true;
    }
    if ((s->info & YJS_INFO_RIGHT_ORIGIN) && s->right_origin.client != s->id.client &&
        s->right_origin.clock >= run_state(r, s->right_origin.client)) {
        *ret_client = s->right_origin.client;
        return true;
    }
    if (!(s->info & (YJS_INFO_ORIGIN | YJS_INFO_RIGHT_ORIGIN)) && !s->parent_is_root &&
        s->parent_id.client != s->id.client &&
        s->parent_id.clock >= run_state(r, s->parent_id.client)) {
        *ret_client = s->parent_id.client;
        return true;
    }
    return false;
}

/* Integrates (or, planning, simulates) struct s at offset. */
static void run_integrate(yrun_t *r, yjs_struct_t *s, uint64_t offset)
{
    bool apply = offset == 0 || offset < s->len;
    if (r->sim) {
        if (!apply)
            return;
        uint64_t end = yjs_struct_end(s);
        if (end > YCLOCK_MAX) {
            r->err = QUIRE_ERR_LIMIT;
            return;
        }
        if (!hm_put(r->sim, s->id.client, (uint32_t)end + 1))
            r->err = QUIRE_ERR_NOMEM;
        r->integrated += s->len - offset;
        return;
    }
    ydoc_t *d = r->d;
    uint32_t ci = client_get(d, s->id.client);
    if (ci == YNONE) {
        tx_fail(r->tx);
        return;
    }
    uint64_t before = r->tx->integrated;
    if (s->kind == YJS_KIND_GC) {
        if (apply)
            add_gc(r->tx, ci, (uint32_t)(s->id.clock + offset), (uint32_t)(s->len - offset));
    } else {
        integrate_item(r->tx, s, ci, offset, apply);
    }
    r->integrated += r->tx->integrated - before;
}

static int cmp_u64_idx(const void *a, const void *b, void *ctx)
{
    const ycur_t *cur = ctx;
    uint64_t x = cur[*(const size_t *)a].client, y = cur[*(const size_t *)b].client;
    return x < y ? -1 : x > y;
}

/* Sets up cursors for the groups of u. */
static quire_err_t run_init(yrun_t *r, ydoc_t *d, const yupd_t *u)
{
    size_t cb;
    r->d = d;
    r->borrowed = true;
    r->ncur = 0;
    r->cur = yd_borrow(d, YS_CUR, &cb);
    r->curcap = cb / sizeof *r->cur;
    r->order = yd_borrow(d, YS_ORDER, &cb);
    r->ordercap = cb / sizeof *r->order;
    r->stack = yd_borrow(d, YS_STACK, &cb);
    r->stackcap = cb / sizeof *r->stack;
    r->rest = yd_borrow(d, YS_REST, &cb);
    r->restcap = cb / sizeof *r->rest;
    r->missing = yd_borrow(d, YS_MISSING, &cb);
    r->missingcap = cb / sizeof *r->missing;
    hm_borrow(d, YS_CURMAP_K, YS_CURMAP_V, &r->curmap);
    if (!growz((void **)&r->cur, &r->curcap, u->ng ? u->ng : 1, sizeof *r->cur) ||
        !growz((void **)&r->order, &r->ordercap, u->ng ? u->ng : 1, sizeof *r->order))
        return QUIRE_ERR_NOMEM;
    for (size_t i = 0; i < u->ng; i++) {
        if (u->g[i].n == 0)
            continue;
        ycur_t *c = &r->cur[r->ncur];
        memset(c, 0, sizeof *c);
        c->client = u->g[i].client;
        c->dec = u->g[i].dec;
        c->left = u->g[i].n;
        if (!hm_put(&r->curmap, c->client, (uint32_t)r->ncur + 1))
            return QUIRE_ERR_NOMEM;
        r->order[r->ncur] = r->ncur;
        r->ncur++;
    }
    r->norder = r->ncur;
    if (r->norder > 1)
        qsort_r(r->order, r->norder, sizeof *r->order, cmp_u64_idx, r->cur);
    return QUIRE_OK;
}

/* integrateStructs: the loop, exactly as Yjs orders it. */
static void run_structs(yrun_t *r)
{
    ycur_t *cur = run_next_target(r);
    if (!cur)
        return;
    yjs_struct_t head;
    if (!cur_fetch(r, cur, &head))
        return;
    while (r->err == QUIRE_OK && !(r->tx && r->tx->failed)) {
        if (head.kind != YJS_KIND_SKIP) {
            uint64_t local = run_state(r, head.id.client);
            if (local < head.id.clock) {
                if (!run_push(r, &head))
                    return;
                run_missing(r, head.id.client, head.id.clock - 1);
                run_stack_to_rest(r);
            } else {
                uint64_t mc;
                if (run_get_missing(r, &head, &mc)) {
                    if (!run_push(r, &head))
                        return;
                    ycur_t *c = run_cursor(r, mc);
                    yjs_struct_t next;
                    if (!c || !cur_fetch(r, c, &next)) {
                        if (r->err != QUIRE_OK)
                            return;
                        run_missing(r, mc, run_state(r, mc));
                        run_stack_to_rest(r);
                    } else {
                        head = next;
                        continue;
                    }
                } else {
                    run_integrate(r, &head, local - head.id.clock);
                }
            }
        }
        if (r->nstack > 0) {
            head = r->stack[--r->nstack];
        } else if (cur && cur_fetch(r, cur, &head)) {
            /* next struct of the current client */
        } else {
            if (r->err != QUIRE_OK)
                return;
            cur = run_next_target(r);
            if (!cur || !cur_fetch(r, cur, &head))
                return;
        }
    }
}

/* integrateStructs when no struct can miss a dependency (yupd_t.simple): clients from the highest
 * id down, each client's structs in order — the order Yjs's loop takes then. */
static void run_simple(yrun_t *r, const yupd_t *u)
{
    size_t order[16];
    size_t n = 0;
    for (size_t i = 0; i < u->ng; i++) {
        size_t j = n++;
        while (j > 0 && u->g[order[j - 1]].client < u->g[i].client) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (size_t k = 0; k < n && r->err == QUIRE_OK && !r->tx->failed; k++) {
        const ygrp_t *g = &u->g[order[k]];
        yjs_decoder_t dec = g->dec;
        yjs_struct_t s;
        bool stashed = u->nstructs <= YD_STASH && u->st;
        for (uint64_t i = 0; i < g->n; i++) {
            if (stashed) {
                s = u->st[g->first + i];
            } else if (yjs_decode_next_struct(&dec, &s) != 1) {
                r->err = QUIRE_ERR_INTERNAL;
                return;
            }
            run_integrate(r, &s, client_state(r->d, s.id.client) - s.id.clock);
        }
    }
}

static int cmp_rest_desc(const void *a, const void *b)
{
    uint64_t x = ((const yrest_t *)a)->client, y = ((const yrest_t *)b)->client;
    return x > y ? -1 : x < y;
}

/* The rest structs as an update (writeClientsStructs: clients descending; no deletes). */
static quire_err_t run_rest_update(yrun_t *r, uint8_t **ret, size_t *ret_len, uint64_t *ret_n)
{
    *ret = NULL;
    *ret_len = 0;
    *ret_n = 0;
    if (r->nrest == 0)
        return QUIRE_OK;
    qsort(r->rest, r->nrest, sizeof *r->rest, cmp_rest_desc);
    yjs_buf_t b = {0};
    uint64_t nitems = 0;
    yjs_buf_varuint(&b, r->nrest);
    for (size_t i = 0; i < r->nrest; i++) {
        yrest_t *e = &r->rest[i];
        uint64_t n = 1 + (e->cur ? e->cur->left : 0);
        yjs_buf_varuint(&b, n);
        yjs_buf_varuint(&b, e->client);
        yjs_buf_varuint(&b, e->first.id.clock);
        yjs_struct_write(&e->first, &b);
        nitems += e->first.kind != YJS_KIND_SKIP;
        if (e->cur) {
            yjs_decoder_t dec = e->cur->dec;
            yjs_struct_t s;
            for (uint64_t k = 1; k < n; k++) {
                if (yjs_decode_next_struct(&dec, &s) != 1) {
                    yjs_buf_deinit(&b);
                    return QUIRE_ERR_INTERNAL;
                }
                yjs_struct_write(&s, &b);
                nitems += s.kind != YJS_KIND_SKIP;
            }
        }
    }
    yjs_buf_u8(&b, 0);
    if (yjs_buf_err(&b) != QUIRE_OK) {
        quire_err_t e = yjs_buf_err(&b);
        yjs_buf_deinit(&b);
        return e;
    }
    *ret = yjs_buf_steal(&b, ret_len);
    *ret_n = nitems;
    return QUIRE_OK;
}

/* ---- pending bookkeeping ---- */

/* Clock ranges (Skips excluded) of an update the document wrote itself, sorted. */
static quire_err_t blob_ranges(const uint8_t *blob, size_t len, yjs_validation_t *v)
{
    if (!blob)
        return QUIRE_OK;
    return yjs_update_validate(blob, len, &yd_internal_limits, YJS_DECODE_SKIM, v);
}

static int cmp_range(const void *a, const void *b)
{
    const yjs_client_range_t *x = a, *y = b;
    if (x->client != y->client)
        return x->client < y->client ? -1 : 1;
    return x->clock < y->clock ? -1 : x->clock > y->clock;
}

/* Is some part of [clock, end) of client not covered by the sorted ranges r? */
static bool uncovered(const yjs_client_range_t *r, size_t n, uint64_t client, uint64_t clock,
                      uint64_t end)
{
    for (size_t i = 0; i < n && clock < end; i++) {
        if (r[i].client != client || r[i].end <= clock)
            continue;
        if (r[i].clock > clock)
            return true;
        clock = r[i].end;
    }
    return clock < end;
}

/* Does a ∩ b have a part outside c? (a, b, c sorted) */
static bool adds_beyond(const yjs_client_range_t *a, size_t na, const yjs_client_range_t *b,
                        size_t nb, const yjs_client_range_t *c, size_t nc)
{
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++) {
            if (a[i].client != b[j].client)
                continue;
            uint64_t lo = a[i].clock > b[j].clock ? a[i].clock : b[j].clock;
            uint64_t hi = a[i].end < b[j].end ? a[i].end : b[j].end;
            if (lo < hi && uncovered(c, nc, a[i].client, lo, hi))
                return true;
        }
    return false;
}

static int cmp_id(const void *a, const void *b)
{
    const yjs_id_t *x = a, *y = b;
    return x->client < y->client ? -1 : x->client > y->client;
}

/* ---- ydoc_apply ---- */

typedef struct yplan_s {
    yupd_t u;        /* the update */
    yupd_t pu;       /* the pending structs retried (merged with the update's rest) */
    uint8_t *merged; /* pending structs + the update's rest */
    size_t merged_len;
    bool retry;
    uint8_t *pend; /* new pending structs */
    size_t pend_len;
    uint64_t pend_structs;
    yjs_id_t *missing;
    size_t nmissing;
    yjs_ds_t pds; /* new pending deletes (client ids) */
    bool adds_pending;
    uint64_t resolved;
} yplan_t;

static void plan_free(yplan_t *p)
{
    yd_upd_free(&p->u);
    yd_upd_free(&p->pu);
    if (p->merged != p->pend)
        free(p->merged);
    free(p->pend);
    free(p->missing);
    yjs_ds_deinit(&p->pds);
}

/*
 * Delete ranges, in Yjs's order (readUpdateV2): the update's ranges, then the held ones
 * (store.pendingDs); what cannot apply yet — clocks beyond the client's state — is kept, grouped by
 * client descending as writeDeleteSet writes it, and the two leftovers are united (sorted and
 * merged) only when both exist, as mergeUpdatesV2 unites them. After a retry of pending structs,
 * the held ranges are applied once more, in that order. The exact order matters: a range applied
 * alone may cut an item (inside a surrogate pair, for instance) that a merged range deletes whole.
 * When planning (sim), nothing is applied; the same leftovers come out.
 */
typedef struct ydsrun_s {
    ydoc_t *d;
    yhmap_t *sim; /* planning: simulated states */
    ytx_t *tx;    /* applying */
} ydsrun_t;

static quire_err_t ds_range(ydsrun_t *x, uint64_t client, uint64_t clock, uint64_t len,
                            yjs_ds_t *rest)
{
    uint64_t end = clock + len;
    uint64_t state;
    uint32_t ci = yd_client_index(x->d, client);
    uint32_t v = x->sim ? hm_get(x->sim, client) : 0;
    if (v)
        state = v - 1;
    else
        state = ci == YNONE ? 0 : x->d->cl[ci].state;
    if (clock < state) {
        if (state < end) {
            if (yjs_ds_add(rest, client, state, end - state) != QUIRE_OK)
                return QUIRE_ERR_NOMEM;
            end = state;
        }
        if (x->tx)
            delete_range(x->tx, ci, (uint32_t)clock, (uint32_t)end);
    } else if (yjs_ds_add(rest, client, clock, len) != QUIRE_OK) {
        return QUIRE_ERR_NOMEM;
    }
    return QUIRE_OK;
}

/* The update's ranges, then the held ones; *ret_held = what stays held. */
static quire_err_t ds_first(ydsrun_t *x, const yupd_t *u, yjs_ds_t *ret_held)
{
    yjs_ds_t r1 = {0}, r2 = {0};
    quire_err_t err = QUIRE_OK;
    if (u->sd && u->nranges <= YD_STASH) {
        for (size_t i = 0; err == QUIRE_OK && i < u->nsd; i++)
            err = ds_range(x, u->sd[i].client, u->sd[i].clock, u->sd[i].len, &r1);
    } else {
        yjs_decoder_t dec = u->ds;
        uint64_t c, k, l;
        int r;
        while (err == QUIRE_OK && (r = yjs_decode_next_delete(&dec, &c, &k, &l)) > 0)
            err = ds_range(x, c, k, l, &r1);
        if (err == QUIRE_OK && r < 0)
            err = QUIRE_ERR_INTERNAL;
    }
    const ydoc_t *d = x->d;
    for (size_t i = 0; err == QUIRE_OK && i < d->npds; i++)
        err = ds_range(x, d->pds[i].client, d->pds[i].clock, d->pds[i].len, &r2);
    if (err == QUIRE_OK && r1.n)
        err = yjs_ds_group(&r1);
    if (err == QUIRE_OK && r2.n)
        err = yjs_ds_group(&r2);
    if (err == QUIRE_OK && r1.n && r2.n) {
        for (size_t i = 0; err == QUIRE_OK && i < r2.n; i++)
            err = yjs_ds_add(&r1, r2.r[i].client, r2.r[i].clock, r2.r[i].len);
        if (err == QUIRE_OK)
            err = yjs_ds_sort_merge(&r1);
    }
    if (err != QUIRE_OK) {
        yjs_ds_deinit(&r1);
        yjs_ds_deinit(&r2);
        return err;
    }
    if (r1.n) {
        *ret_held = r1;
        yjs_ds_deinit(&r2);
    } else {
        *ret_held = r2;
        yjs_ds_deinit(&r1);
    }
    return QUIRE_OK;
}

/* After a retry: the held ranges once more; *held becomes what still cannot apply. */
static quire_err_t ds_again(ydsrun_t *x, yjs_ds_t *held)
{
    yjs_ds_t r3 = {0};
    quire_err_t err = QUIRE_OK;
    for (size_t i = 0; err == QUIRE_OK && i < held->n; i++)
        err = ds_range(x, held->r[i].client, held->r[i].clock, held->r[i].len, &r3);
    if (err == QUIRE_OK && r3.n)
        err = yjs_ds_group(&r3);
    if (err != QUIRE_OK) {
        yjs_ds_deinit(&r3);
        return err;
    }
    yjs_ds_deinit(held);
    *held = r3;
    return QUIRE_OK;
}

/* Phase 2: what the update will do, without touching the document. */
static quire_err_t plan(ydoc_t *d, yplan_t *p, unsigned flags)
{
    yhmap_t sim;
    yrun_t r = {0};
    yrun_t r2 = {0};
    hm_borrow(d, YS_SIM_K, YS_SIM_V, &sim);
    uint8_t *rest = NULL;
    size_t rest_len = 0;
    uint64_t rest_n = 0;
    yjs_validation_t vold = {0}, vnew = {0};
    quire_err_t err;

    r.sim = &sim;
    if ((err = run_init(&r, d, &p->u)) != QUIRE_OK)
        goto out;
    run_structs(&r);
    if ((err = r.err) != QUIRE_OK)
        goto out;
    if ((err = run_rest_update(&r, &rest, &rest_len, &rest_n)) != QUIRE_OK)
        goto out;
    ydsrun_t x = {.d = d, .sim = &sim};
    if ((err = ds_first(&x, &p->u, &p->pds)) != QUIRE_OK)
        goto out;
    /* retry when a clock the pending structs miss has arrived */
    for (size_t i = 0; i < d->nmissing && !p->retry; i++) {
        uint32_t v = hm_get(&sim, d->missing[i].client);
        uint64_t st = v ? v - 1 : client_state(d, d->missing[i].client);
        if (d->missing[i].clock < st)
            p->retry = true;
    }
    if (d->pend && rest) {
        const uint8_t *ins[2] = {d->pend, rest};
        size_t lens[2] = {d->pend_len, rest_len};
        yjs_error_t e;
        err = yjs_update_merge(ins, lens, 2, &yd_internal_limits, YJS_DECODE_SKIM, &p->merged,
                               &p->merged_len, &e);
        if (err != QUIRE_OK)
            goto out;
        free(rest);
        rest = NULL;
    } else if (rest) {
        p->merged = rest;
        p->merged_len = rest_len;
        rest = NULL;
    } else if (d->pend) {
        p->merged = malloc(d->pend_len);
        if (!p->merged) {
            err = QUIRE_ERR_NOMEM;
            goto out;
        }
        memcpy(p->merged, d->pend, d->pend_len);
        p->merged_len = d->pend_len;
    }
    if (p->retry) {
        err = yd_upd_read(d, YS_GROUPS2, p->merged, p->merged_len, &yd_internal_limits,
                          YJS_DECODE_SKIM, &p->pu, NULL);
        if (err == QUIRE_OK)
            err = yd_upd_dedup(&p->pu);
        if (err != QUIRE_OK)
            goto out;
        r2.sim = &sim;
        if ((err = run_init(&r2, d, &p->pu)) != QUIRE_OK)
            goto out;
        run_structs(&r2);
        if ((err = r2.err) != QUIRE_OK)
            goto out;
        p->resolved = r2.integrated;
        if ((err = run_rest_update(&r2, &p->pend, &p->pend_len, &p->pend_structs)) != QUIRE_OK)
            goto out;
        p->missing = r2.missing;
        p->nmissing = r2.nmissing;
        r2.missing = NULL;
        r2.missingcap = 0;
        if ((err = ds_again(&x, &p->pds)) != QUIRE_OK)
            goto out;
    } else {
        p->pend = p->merged;
        p->pend_len = p->merged_len;
        /* missing: the old map, lowered by the update's */
        size_t n = d->nmissing + r.nmissing;
        p->missing = n ? malloc(n * sizeof *p->missing) : NULL;
        if (n && !p->missing) {
            err = QUIRE_ERR_NOMEM;
            goto out;
        }
        if (d->nmissing)
            memcpy(p->missing, d->missing, d->nmissing * sizeof *p->missing);
        p->nmissing = d->nmissing;
        for (size_t i = 0; i < r.nmissing; i++) {
            size_t j;
            for (j = 0; j < p->nmissing; j++)
                if (p->missing[j].client == r.missing[i].client)
                    break;
            if (j == p->nmissing)
                p->missing[p->nmissing++] = r.missing[i];
            else if (p->missing[j].clock > r.missing[i].clock)
                p->missing[j].clock = r.missing[i].clock;
        }
        if (p->pend) {
            yjs_validation_t v = {0};
            err = blob_ranges(p->pend, p->pend_len, &v);
            p->pend_structs = v.nstructs;
            yjs_validation_deinit(&v);
            if (err != QUIRE_OK)
                goto out;
        }
    }
    if (!p->pend)
        p->nmissing = 0;
    if (p->nmissing > 1)
        qsort(p->missing, p->nmissing, sizeof *p->missing, cmp_id);

    /* did this update add anything to what is held? (anything new in the held deletes comes
     * from it) */
    for (size_t i = 0; i < p->pds.n && !p->adds_pending; i++) {
        const yjs_ds_range_t *q = &p->pds.r[i];
        uint64_t clock = q->clock, end = q->clock + q->len;
        for (size_t j = 0; j < d->npds && clock < end; j++) {
            const yjs_ds_range_t *o = &d->pds[j];
            if (o->client == q->client && o->clock <= clock && o->clock + o->len > clock) {
                clock = o->clock + o->len;
                j = (size_t)-1; /* rescan: ranges are not sorted */
            }
        }
        if (clock < end)
            p->adds_pending = true;
    }
    if (!p->adds_pending && p->pend) {
        if ((err = upd_ranges(&p->u)) != QUIRE_OK ||
            (err = blob_ranges(d->pend, d->pend_len, &vold)) != QUIRE_OK ||
            (err = blob_ranges(p->pend, p->pend_len, &vnew)) != QUIRE_OK)
            goto out;
        if (p->u.nr > 1)
            qsort(p->u.r, p->u.nr, sizeof *p->u.r, cmp_range);
        if (vold.nranges > 1)
            qsort(vold.ranges, vold.nranges, sizeof *vold.ranges, cmp_range);
        if (vnew.nranges > 1)
            qsort(vnew.ranges, vnew.nranges, sizeof *vnew.ranges, cmp_range);
        p->adds_pending =
            adds_beyond(p->u.r, p->u.nr, vnew.ranges, vnew.nranges, vold.ranges, vold.nranges);
    }

    /* limits */
    size_t pbytes = p->pend_len + (p->pds.n ? yjs_ds_size(&p->pds) : 0);
    if (p->pend_structs > d->limits.max_pending_structs || pbytes > d->limits.max_pending_bytes) {
        err = QUIRE_ERR_LIMIT;
        goto out;
    }
    if ((flags & YDOC_APPLY_NO_PENDING) && p->adds_pending) {
        err = QUIRE_ERR_MISSING_DEPS;
        goto out;
    }
    err = QUIRE_OK;
out:
    free(rest);
    hm_return(d, YS_SIM_K, YS_SIM_V, &sim);
    run_free(&r);
    run_free(&r2);
    yjs_validation_deinit(&vold);
    yjs_validation_deinit(&vnew);
    return err;
}

/* An upper bound of the memory an update can add (items, index, content). */
static size_t growth_bound(const ydoc_t *d, const yplan_t *p, size_t len)
{
    uint64_t items = (p->u.nstructs + d->pend_structs) * 3 + (p->u.nranges + d->npds) * 2;
    return (size_t)(items * (sizeof(yitem_t) + 8)) + p->u.content_bytes + len + d->pend_len;
}

quire_err_t ydoc_apply(ydoc_t *doc, const uint8_t *update, size_t len, unsigned flags,
                       ydoc_apply_t *ret_result, yjs_error_t *ret_error)
{
    if (!doc || (!update && len))
        return yd_set_err(ret_error, QUIRE_ERR_INVALID, NULL, "invalid argument");
    if (doc->broken)
        return yd_set_err(ret_error, QUIRE_ERR_INTERNAL, NULL,
                          "document broken by an earlier allocation failure");
    yplan_t p;
    p.pu.owner = NULL;
    p.pu.g = NULL;
    p.pu.r = NULL;
    p.pu.ng = 0;
    p.merged = p.pend = NULL;
    p.merged_len = p.pend_len = 0;
    p.retry = p.adds_pending = false;
    p.pend_structs = p.resolved = 0;
    p.missing = NULL;
    p.nmissing = 0;
    p.pds = (yjs_ds_t){0};
    /* always validated fully, YJS_DECODE_SKIM or not: item lengths are UTF-16 counts of the
     * strings, which only valid UTF-8 makes consistent (and the full check costs ~2%) */
    quire_err_t err =
        yd_upd_read(doc, YS_GROUPS, update, len, &doc->limits.decode, 0, &p.u, ret_error);
    if (err == QUIRE_OK)
        err = yd_upd_dedup(&p.u);
    if (err != QUIRE_OK) {
        plan_free(&p);
        return err;
    }
    if (doc->limits.max_doc_bytes &&
        ydoc_memory(doc) + growth_bound(doc, &p, len) > doc->limits.max_doc_bytes) {
        plan_free(&p);
        return yd_set_err(ret_error, QUIRE_ERR_TOO_LARGE, NULL,
                          "the update could grow the document past its size limit");
    }
    /* the common case (every struct integrates, nothing held before or after) needs no plan */
    bool fast = p.u.simple && !doc->pend && !doc->npds;
    err = fast ? QUIRE_OK : plan(doc, &p, flags);
    if (err != QUIRE_OK) {
        plan_free(&p);
        return yd_set_err(ret_error, err, NULL,
                          err == QUIRE_ERR_LIMIT ? "pending structs or a clock exceed a limit"
                          : err == QUIRE_ERR_MISSING_DEPS
                              ? "the update depends on content the document does not have"
                              : quire_err_str(err));
    }

    /* phase 3 */
    ytx_t tx;
    tx_init(&tx, doc);
    doc->tx++;
    yrun_t r = {0};
    r.tx = &tx;
    if (fast) {
        /* a large update into a document (a state being loaded): size the item array once */
        if (p.u.nstructs > 1024)
            (void)grow((void **)&doc->it, &doc->itcap, doc->nit + (uint32_t)p.u.nstructs,
                       sizeof *doc->it);
        r.d = doc;
        run_simple(&r, &p.u);
    } else {
        err = run_init(&r, doc, &p.u);
        if (err == QUIRE_OK)
            run_structs(&r);
    }
    if (err == QUIRE_OK)
        err = r.err;
    run_free(&r);
    /* Yjs's order: the update's deletes and the held ones, then the retried structs, then the
     * held deletes again */
    yjs_ds_t held = {0};
    ydsrun_t x = {.d = doc, .tx = &tx};
    if (err == QUIRE_OK)
        err = ds_first(&x, &p.u, &held);
    if (err == QUIRE_OK && p.retry) {
        yrun_t r2 = {0};
        r2.tx = &tx;
        err = run_init(&r2, doc, &p.pu);
        if (err == QUIRE_OK)
            run_structs(&r2);
        if (err == QUIRE_OK)
            err = r2.err;
        run_free(&r2);
        if (err == QUIRE_OK)
            err = ds_again(&x, &held);
    }
    yjs_ds_deinit(&held);
    cleanup(&tx);
    if (err != QUIRE_OK || tx.failed)
        doc->broken = true;

    /* install the new pending state */
    free(doc->pend);
    if (p.merged == p.pend)
        p.merged = NULL;
    doc->pend = p.pend;
    doc->pend_len = p.pend_len;
    doc->pend_structs = p.pend ? p.pend_structs : 0;
    p.pend = NULL;
    free(doc->missing);
    doc->missing = p.missing;
    doc->nmissing = p.nmissing;
    doc->missingcap = p.nmissing;
    p.missing = NULL;
    free(doc->pds);
    doc->pds = p.pds.r;
    doc->npds = p.pds.n;
    doc->pdscap = p.pds.cap;
    memset(&p.pds, 0, sizeof p.pds);

    ydoc_apply_t res = {0};
    if (tx.integrated || tx.deleted)
        res.status |= YDOC_APPLIED;
    if (p.adds_pending)
        res.status |= YDOC_PENDING_ADDED;
    if (p.resolved)
        res.status |= YDOC_PENDING_RESOLVED;
    if (doc->pend || doc->npds)
        res.status |= YDOC_PENDING_REMAINS;
    res.integrated = tx.integrated;
    res.deleted = tx.deleted;
    res.pending_structs = doc->pend_structs;
    res.pending_bytes =
        doc->pend_len + (doc->npds ? yjs_ds_size(&(yjs_ds_t){doc->pds, doc->npds, doc->npds}) : 0);
    res.missing_clients = doc->nmissing;
    tx_free(&tx);
    plan_free(&p);
    if (doc->broken)
        return yd_set_err(ret_error, QUIRE_ERR_NOMEM, NULL, "out of memory while integrating");
    if (ret_result)
        *ret_result = res;
    return QUIRE_OK;
}

bool ydoc_has_pending(const ydoc_t *doc)
{
    return doc->pend || doc->npds;
}

size_t ydoc_missing(const ydoc_t *doc, yjs_id_t *ret_ids, size_t cap)
{
    for (size_t i = 0; i < doc->nmissing && i < cap; i++)
        ret_ids[i] = doc->missing[i];
    return doc->nmissing;
}

/* ========================================================================================== */
/* encoding */

/* The stored item x as a decoded struct (spans borrow the document). */
static void item_struct(const ydoc_t *d, uint32_t x, yjs_struct_t *s)
{
    const yitem_t *X = &d->it[x];
    memset(s, 0, sizeof *s);
    s->id.client = d->cl[X->client].id;
    s->id.clock = X->clock;
    s->len = X->len;
    if (X->ref == YREF_GC) {
        s->kind = YJS_KIND_GC;
        return;
    }
    s->kind = YJS_KIND_ITEM;
    uint8_t info = X->ref;
    if (X->ocl != YNONE) {
        info |= YJS_INFO_ORIGIN;
        s->origin.client = d->cl[X->ocl].id;
        s->origin.clock = X->ock;
    }
    if (X->rcl != YNONE) {
        info |= YJS_INFO_RIGHT_ORIGIN;
        s->right_origin.client = d->cl[X->rcl].id;
        s->right_origin.clock = X->rck;
    }
    const yseq_t *sq = &d->sq[X->parent];
    if (sq->key != YNONE) {
        info |= YJS_INFO_PARENT_SUB;
        s->parent_sub.ptr = yd_key(d, sq->key, &s->parent_sub.len);
    }
    if (!(info & (YJS_INFO_ORIGIN | YJS_INFO_RIGHT_ORIGIN))) {
        const ytype_t *t = &d->ty[sq->type];
        if (!t->item) {
            s->parent_is_root = true;
            s->parent_key.ptr = yd_key(d, t->name, &s->parent_key.len);
        } else {
            const yitem_t *P = &d->it[t->item];
            s->parent_id.client = d->cl[P->client].id;
            s->parent_id.clock = P->clock;
        }
    }
    s->info = info;
    yjs_content_t *c = &s->content;
    c->ref = X->ref;
    c->count = X->len;
    const uint8_t *p = yd_content(d, X);
    switch (X->ref) {
    case YJS_CONTENT_STRING:
        c->str_flags = (uint8_t)(((X->flags & YF_ASCII) ? YJS_STR_ASCII : 0) |
                                 ((X->flags & YF_LEAD_FFFD) ? YJS_STR_LEAD_FFFD : 0) |
                                 ((X->flags & YF_TRAIL_FFFD) ? YJS_STR_TRAIL_FFFD : 0));
        /* fall through */
    case YJS_CONTENT_JSON:
    case YJS_CONTENT_ANY:
    case YJS_CONTENT_BINARY:
    case YJS_CONTENT_EMBED:
        c->body.ptr = p;
        c->body.len = X->cbytes;
        break;
    case YJS_CONTENT_FORMAT:
    case YJS_CONTENT_DOC: {
        yjs_wire_t w = {p, p + X->cbytes};
        const uint8_t *a = p;
        size_t alen = 0;
        (void)yjs_wire_buf(&w, &a, &alen);
        yjs_span_t first = {a, alen}, second = {w.pos, (size_t)(w.end - w.pos)};
        if (X->ref == YJS_CONTENT_FORMAT) {
            c->key = first;
            c->body = second;
        } else {
            c->body = first;
            c->key = second;
        }
        break;
    }
    case YJS_CONTENT_TYPE:
        c->type_ref = (uint8_t)X->extra;
        if (c->type_ref == YJS_TYPE_XML_ELEMENT || c->type_ref == YJS_TYPE_XML_HOOK)
            c->body.ptr = yd_key(d, d->ty[X->coff].name, &c->body.len);
        break;
    default:
        break;
    }
}

static int cmp_client_desc(const void *a, const void *b, void *ctx)
{
    const ydoc_t *d = ctx;
    uint64_t x = d->cl[*(const uint32_t *)a].id, y = d->cl[*(const uint32_t *)b].id;
    return x > y ? -1 : x < y;
}

/* Client indices sorted by client id descending (malloc'ed). */
static uint32_t *clients_desc(const ydoc_t *d)
{
    uint32_t *o = malloc((d->ncl ? d->ncl : 1) * sizeof *o);
    if (!o)
        return NULL;
    for (uint32_t i = 0; i < d->ncl; i++)
        o[i] = i;
    qsort_r(o, d->ncl, sizeof *o, cmp_client_desc, (void *)d);
    return o;
}

/* writeDeleteSet(createDeleteSetFromStructStore(store)) */
static quire_err_t write_doc_ds(const ydoc_t *d, const uint32_t *order, yjs_buf_t *b)
{
    yjs_ds_t ds = {0};
    for (uint32_t k = 0; k < d->ncl; k++) {
        const yclient_t *c = &d->cl[order[k]];
        bool open = false;
        for (uint32_t bi = 0; bi < c->nblk; bi++) {
            const yblk_t *blk = c->blk[bi];
            for (uint32_t o = 0; o < blk->n; o++) {
                const yitem_t *X = &d->it[blk->idx[o]];
                if (X->ref == YREF_GC || (X->flags & YF_DELETED)) {
                    if (open) {
                        ds.r[ds.n - 1].len += X->len;
                    } else if (yjs_ds_add(&ds, c->id, X->clock, X->len) != QUIRE_OK) {
                        yjs_ds_deinit(&ds);
                        return QUIRE_ERR_NOMEM;
                    } else {
                        open = true;
                    }
                } else {
                    open = false;
                }
            }
        }
    }
    yjs_ds_write(&ds, b);
    yjs_ds_deinit(&ds);
    return QUIRE_OK;
}

/* writeStateAsUpdate(encoder, doc, sv) */
static quire_err_t write_state(const ydoc_t *d, const yjs_sv_t *sv, yjs_buf_t *b)
{
    uint32_t *order = clients_desc(d);
    if (!order)
        return QUIRE_ERR_NOMEM;
    uint32_t nw = 0;
    for (uint32_t k = 0; k < d->ncl; k++) {
        const yclient_t *c = &d->cl[order[k]];
        if (c->state > yjs_sv_get(sv, c->id))
            nw++;
    }
    yjs_buf_varuint(b, nw);
    yjs_struct_t s;
    for (uint32_t k = 0; k < d->ncl; k++) {
        yclient_t *c = &d->cl[order[k]];
        uint64_t clock = yjs_sv_get(sv, c->id);
        if (c->state <= clock)
            continue;
        uint32_t bi, o;
        idx_find((ydoc_t *)d, c, (uint32_t)clock, &bi, &o);
        uint64_t n = c->blk[bi]->n - o;
        for (uint32_t j = bi + 1; j < c->nblk; j++)
            n += c->blk[j]->n;
        yjs_buf_varuint(b, n);
        yjs_buf_varuint(b, c->id);
        yjs_buf_varuint(b, clock);
        bool first = true;
        for (; bi < c->nblk; bi++, o = 0) {
            const yblk_t *blk = c->blk[bi];
            for (; o < blk->n; o++) {
                item_struct(d, blk->idx[o], &s);
                if (first && clock > s.id.clock) {
                    uint64_t off = clock - s.id.clock;
                    if (s.kind == YJS_KIND_GC) {
                        s.id.clock += off;
                        s.len -= off;
                    } else if (yjs_struct_slice(&s, off) != QUIRE_OK) {
                        free(order);
                        return QUIRE_ERR_INTERNAL;
                    }
                }
                first = false;
                yjs_struct_write(&s, b);
            }
        }
    }
    quire_err_t err = write_doc_ds(d, order, b);
    free(order);
    return err;
}

/* The pending deletes as an update without structs. */
static quire_err_t pds_update(const ydoc_t *d, uint8_t **ret, size_t *ret_len)
{
    yjs_buf_t b = {0};
    yjs_ds_t ds = {(yjs_ds_range_t *)d->pds, d->npds, d->npds};
    yjs_buf_u8(&b, 0);
    yjs_ds_write(&ds, &b);
    if (yjs_buf_err(&b) != QUIRE_OK) {
        yjs_buf_deinit(&b);
        return QUIRE_ERR_NOMEM;
    }
    *ret = yjs_buf_steal(&b, ret_len);
    return QUIRE_OK;
}

quire_err_t ydoc_encode_state(const ydoc_t *doc, const uint8_t *sv, size_t sv_len,
                              uint8_t **ret_update, size_t *ret_len, yjs_error_t *ret_error)
{
    if (!doc || !ret_update || !ret_len || (!sv && sv_len))
        return yd_set_err(ret_error, QUIRE_ERR_INVALID, NULL, "invalid argument");
    static const uint8_t empty_sv[1] = {0};
    if (!sv || !sv_len) {
        sv = empty_sv;
        sv_len = 1;
    }
    yjs_sv_t vec = {0};
    quire_err_t err = yjs_sv_decode(sv, sv_len, doc->limits.decode.max_clients, &vec);
    if (err != QUIRE_OK)
        return yd_set_err(ret_error, err == QUIRE_ERR_NOMEM ? err : QUIRE_ERR_MALFORMED, NULL,
                          "malformed state vector");
    yjs_buf_t b = {0};
    err = write_state(doc, &vec, &b);
    yjs_sv_deinit(&vec);
    if (err == QUIRE_OK)
        err = yjs_buf_err(&b);
    if (err != QUIRE_OK) {
        yjs_buf_deinit(&b);
        return yd_set_err(ret_error, err, NULL, quire_err_str(err));
    }
    size_t out_len;
    uint8_t *out = yjs_buf_steal(&b, &out_len);
    if (doc->npds || doc->pend) {
        const uint8_t *ins[3];
        size_t lens[3];
        uint8_t *pd = NULL, *ps = NULL;
        size_t pd_len = 0, ps_len = 0, n = 0;
        ins[n] = out;
        lens[n++] = out_len;
        if (doc->npds) {
            err = pds_update(doc, &pd, &pd_len);
            ins[n] = pd;
            lens[n++] = pd_len;
        }
        if (err == QUIRE_OK && doc->pend) {
            err = yjs_update_diff(doc->pend, doc->pend_len, sv, sv_len, &yd_internal_limits,
                                  YJS_DECODE_SKIM, &ps, &ps_len, NULL);
            ins[n] = ps;
            lens[n++] = ps_len;
        }
        uint8_t *merged = NULL;
        size_t merged_len = 0;
        if (err == QUIRE_OK)
            err = yjs_update_merge(ins, lens, n, &yd_internal_limits, YJS_DECODE_SKIM, &merged,
                                   &merged_len, NULL);
        free(pd);
        free(ps);
        free(out);
        if (err != QUIRE_OK)
            return yd_set_err(ret_error, err, NULL, quire_err_str(err));
        out = merged;
        out_len = merged_len;
    }
    *ret_update = out;
    *ret_len = out_len;
    return QUIRE_OK;
}

quire_err_t ydoc_pending_update(const ydoc_t *doc, uint8_t **ret_update, size_t *ret_len)
{
    if (!doc || !ret_update || !ret_len)
        return QUIRE_ERR_INVALID;
    if (!doc->pend && !doc->npds) {
        *ret_update = NULL;
        *ret_len = 0;
        return QUIRE_OK;
    }
    uint8_t *pd = NULL;
    size_t pd_len = 0;
    quire_err_t err = QUIRE_OK;
    if (doc->npds && (err = pds_update(doc, &pd, &pd_len)) != QUIRE_OK)
        return err;
    const uint8_t *ins[2];
    size_t lens[2], n = 0;
    if (doc->pend) {
        ins[n] = doc->pend;
        lens[n++] = doc->pend_len;
    }
    if (pd) {
        ins[n] = pd;
        lens[n++] = pd_len;
    }
    err = yjs_update_merge(ins, lens, n, &yd_internal_limits, YJS_DECODE_SKIM, ret_update, ret_len,
                           NULL);
    free(pd);
    return err;
}

quire_err_t ydoc_state_vector(const ydoc_t *doc, uint8_t **ret_sv, size_t *ret_len)
{
    if (!doc || !ret_sv || !ret_len)
        return QUIRE_ERR_INVALID;
    uint32_t *order = clients_desc(doc);
    if (!order)
        return QUIRE_ERR_NOMEM;
    yjs_buf_t b = {0};
    yjs_buf_varuint(&b, doc->ncl);
    for (uint32_t k = 0; k < doc->ncl; k++) {
        yjs_buf_varuint(&b, doc->cl[order[k]].id);
        yjs_buf_varuint(&b, doc->cl[order[k]].state);
    }
    free(order);
    if (yjs_buf_err(&b) != QUIRE_OK) {
        yjs_buf_deinit(&b);
        return QUIRE_ERR_NOMEM;
    }
    *ret_sv = yjs_buf_steal(&b, ret_len);
    return QUIRE_OK;
}

/* ========================================================================================== */
/* memory */

size_t ydoc_memory(const ydoc_t *doc)
{
    if (!doc)
        return 0;
    size_t m = sizeof *doc;
    m += (size_t)doc->itcap * sizeof *doc->it;
    m += (size_t)doc->clcap * sizeof *doc->cl + hm_mem(&doc->clmap);
    m += doc->cmem; /* per-client blocks, directories and content buffers */
    m += (size_t)doc->tycap * sizeof *doc->ty + (size_t)doc->sqcap * sizeof *doc->sq;
    m += hm_mem(&doc->seqmap) + hm_mem(&doc->rootmap) + (size_t)doc->rootcap * 4;
    m += doc->keys.cap + (size_t)doc->keys.kcap * 8 + (size_t)doc->keys.scap * 4;
    m += doc->pend_len + doc->missingcap * sizeof(yjs_id_t) + doc->pdscap * sizeof(yjs_ds_range_t);
    for (int i = 0; i < YS_NSLOTS; i++)
        m += doc->scratch_cap[i];
    m += (size_t)(doc->set_before.cap + doc->set_conflicting.cap) * 2 * sizeof(uint32_t);
    return m;
}

void ydoc_stats(const ydoc_t *doc, ydoc_stats_t *ret_stats)
{
    memset(ret_stats, 0, sizeof *ret_stats);
    if (!doc)
        return;
    ret_stats->clients = doc->ncl;
    for (uint32_t i = 0; i < doc->ncl; i++) {
        const yclient_t *c = &doc->cl[i];
        for (uint32_t b = 0; b < c->nblk; b++)
            for (uint32_t o = 0; o < c->blk[b]->n; o++) {
                const yitem_t *X = &doc->it[c->blk[b]->idx[o]];
                ret_stats->structs++;
                if (X->ref == YREF_GC)
                    ret_stats->gc_structs++;
                else if (X->flags & YF_DELETED)
                    ret_stats->items_deleted++;
            }
        ret_stats->content_bytes += c->clen - c->cgarbage;
        ret_stats->content_garbage += c->cgarbage;
    }
    ret_stats->roots = doc->nroots;
    ret_stats->pending_structs = doc->pend_structs;
    ret_stats->pending_bytes =
        doc->pend_len + (doc->npds ? yjs_ds_size(&(yjs_ds_t){doc->pds, doc->npds, doc->npds}) : 0);
    ret_stats->memory = ydoc_memory(doc);
}

quire_err_t ydoc_trim(ydoc_t *doc)
{
    if (!doc)
        return QUIRE_ERR_INVALID;
    for (uint32_t i = 0; i < doc->ncl; i++)
        if (doc->cl[i].cgarbage && !cbuf_compact(doc, i))
            return QUIRE_ERR_NOMEM;
    /* scratch arrays come back on the next apply */
    for (int i = 0; i < YS_NSLOTS; i++) {
        free(doc->scratch[i]);
        doc->scratch[i] = NULL;
        doc->scratch_cap[i] = 0;
    }
    /* give back the slack of the item array above the last used slot */
    uint32_t cap = doc->nit + 16;
    if (cap < doc->itcap) {
        yitem_t *p = realloc(doc->it, (size_t)cap * sizeof *p);
        if (p) {
            doc->it = p;
            doc->itcap = cap;
        }
    }
    return QUIRE_OK;
}
