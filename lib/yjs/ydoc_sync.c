/*
 * ydoc_sync — what an incoming update adds to a document (ydoc_novel), for the gateway: a
 * reconnecting client's SyncStep2 or offline resend carries mostly what the log already holds,
 * and only the rest may be produced again.
 *
 * DESIGN
 * The update is read as ydoc_apply reads it (validated completely; a later group of a client
 * replaces an earlier one, as in Yjs). Per struct, the part at or beyond the document's state
 * for its client is new: the struct cut there (Yjs's slicing: the piece's origin becomes the
 * clock before it; a cut inside a surrogate pair gives U+FFFD exactly as integrating the update
 * with an offset does). Skips inside a group stay Skips. Delete ranges drop the parts below the
 * state that cover only items already deleted (applying those is a no-op in Yjs); everything
 * else is kept in the update's order, grouped by client — including parts beyond the state,
 * because whether and how held delete ranges merge changes where Yjs cuts items.
 *
 * Structs the document holds as pending are not subtracted: two copies of one struct can differ
 * (one cut inside a surrogate pair by another peer, one not), and which copy integrates is
 * decided by what Yjs receives first. Keeping them makes applying the result exactly equivalent
 * to applying the update.
 *
 * Cost: O(update) plus O(log n) per item visited for the delete ranges. The document is not
 * changed.
 */
#include <stdlib.h>
#include <string.h>

#include "ydoc_int.h"
#include "yjs_ds.h"

typedef struct piece_s {
    uint64_t client;
    yjs_struct_t s; /* already cut */
} piece_t;

typedef struct novel_s {
    piece_t *p;
    size_t n, cap;
    yjs_ds_t ds;
} novel_t;

static bool push_piece(novel_t *nv, const yjs_struct_t *s, uint64_t a, uint64_t b)
{
    if (nv->n == nv->cap) {
        size_t cap = nv->cap ? nv->cap * 2 : 16;
        piece_t *p = realloc(nv->p, cap * sizeof *p);
        if (!p)
            return false;
        nv->p = p;
        nv->cap = cap;
    }
    yjs_struct_t c = *s;
    if (a > c.id.clock && yjs_struct_slice(&c, a - c.id.clock) != QUIRE_OK)
        return false;
    if (b < yjs_struct_end(&c) && yjs_struct_truncate(&c, b - a) != QUIRE_OK)
        return false;
    nv->p[nv->n++] = (piece_t){s->id.client, c};
    return true;
}

/* The part of s at or beyond the client's state. */
static bool new_parts(novel_t *nv, const yjs_struct_t *s, uint64_t state)
{
    uint64_t a = s->id.clock, b = yjs_struct_end(s);
    if (a < state)
        a = state;
    return a >= b || push_piece(nv, s, a, b);
}

/* Adds a delete range minus its parts below the state that cover only deleted items. A
 * zero-length range is kept when it falls inside an item that is not deleted (Yjs cuts the item
 * there). */
static quire_err_t new_deletes(const ydoc_t *d, novel_t *nv, uint64_t client, uint64_t clock,
                               uint64_t len)
{
    uint64_t end = clock + len;
    uint32_t ci = yd_client_index(d, client);
    uint64_t state = ci == YNONE ? 0 : d->cl[ci].state;
    if (len == 0) {
        if (clock < state) {
            const yitem_t *X = &d->it[yd_find(d, ci, (uint32_t)clock)];
            if (X->ref == YREF_GC || (X->flags & YF_DELETED) || X->clock == clock)
                return QUIRE_OK;
        }
        return yjs_ds_add(&nv->ds, client, clock, 0);
    }
    uint64_t k = clock;
    while (k < end && k < state) {
        uint32_t x = yd_find(d, ci, (uint32_t)k);
        const yitem_t *X = &d->it[x];
        uint64_t xe = (uint64_t)X->clock + X->len;
        uint64_t e = xe < end ? xe : end;
        if (X->ref != YREF_GC && !(X->flags & YF_DELETED)) {
            /* extend a range that continues the previous one */
            yjs_ds_range_t *last = nv->ds.n ? &nv->ds.r[nv->ds.n - 1] : NULL;
            if (last && last->client == client && last->clock + last->len == k)
                last->len += e - k;
            else if (yjs_ds_add(&nv->ds, client, k, e - k) != QUIRE_OK)
                return QUIRE_ERR_NOMEM;
        }
        k = e;
    }
    if (k < end) {
        yjs_ds_range_t *last = nv->ds.n ? &nv->ds.r[nv->ds.n - 1] : NULL;
        if (last && last->client == client && last->clock + last->len == k && k > clock)
            last->len += end - k;
        else if (yjs_ds_add(&nv->ds, client, k, end - k) != QUIRE_OK)
            return QUIRE_ERR_NOMEM;
    }
    return QUIRE_OK;
}

static int cmp_piece(const void *a, const void *b)
{
    const piece_t *x = a, *y = b;
    if (x->client != y->client)
        return x->client > y->client ? -1 : 1;
    return x->s.id.clock < y->s.id.clock ? -1 : x->s.id.clock > y->s.id.clock;
}

/* Writes the pieces (grouped by client, descending, gaps as Skips) and the delete set. */
static quire_err_t write_novel(novel_t *nv, uint8_t **ret, size_t *ret_len)
{
    if (nv->n > 1)
        qsort(nv->p, nv->n, sizeof *nv->p, cmp_piece);
    quire_err_t err = nv->ds.n ? yjs_ds_group(&nv->ds) : QUIRE_OK;
    if (err != QUIRE_OK)
        return err;
    yjs_buf_t b = {0};
    size_t ngroups = 0;
    for (size_t i = 0; i < nv->n; i++)
        if (i == 0 || nv->p[i].client != nv->p[i - 1].client)
            ngroups++;
    yjs_buf_varuint(&b, ngroups);
    for (size_t i = 0; i < nv->n;) {
        size_t j = i;
        uint64_t count = 0, clock = nv->p[i].s.id.clock;
        for (; j < nv->n && nv->p[j].client == nv->p[i].client; j++) {
            count++;
            if (j > i && nv->p[j].s.id.clock > clock)
                count++; /* a Skip */
            clock = yjs_struct_end(&nv->p[j].s);
        }
        yjs_buf_varuint(&b, count);
        yjs_buf_varuint(&b, nv->p[i].client);
        yjs_buf_varuint(&b, nv->p[i].s.id.clock);
        clock = nv->p[i].s.id.clock;
        for (size_t k = i; k < j; k++) {
            if (nv->p[k].s.id.clock > clock) {
                yjs_buf_u8(&b, YJS_KIND_SKIP);
                yjs_buf_varuint(&b, nv->p[k].s.id.clock - clock);
            }
            yjs_struct_write(&nv->p[k].s, &b);
            clock = yjs_struct_end(&nv->p[k].s);
        }
        i = j;
    }
    yjs_ds_write(&nv->ds, &b);
    if (yjs_buf_err(&b) != QUIRE_OK) {
        err = yjs_buf_err(&b);
        yjs_buf_deinit(&b);
        return err;
    }
    *ret = yjs_buf_steal(&b, ret_len);
    return QUIRE_OK;
}

quire_err_t ydoc_novel(const ydoc_t *doc, const uint8_t *update, size_t len, unsigned flags,
                       uint8_t **ret_update, size_t *ret_len, yjs_error_t *ret_error)
{
    if (!doc || (!update && len) || !ret_update || !ret_len)
        return yd_set_err(ret_error, QUIRE_ERR_INVALID, NULL, "invalid argument");
    yupd_t u;
    quire_err_t err = yd_upd_read(NULL, 0, update, len, &doc->limits.decode, 0, &u, ret_error);
    if (err == QUIRE_OK)
        err = yd_upd_dedup(&u);
    if (err != QUIRE_OK) {
        yd_upd_free(&u);
        return err;
    }
    novel_t nv = {0};
    for (size_t g = 0; g < u.ng; g++) {
        yjs_decoder_t dec = u.g[g].dec;
        uint32_t ci = yd_client_index(doc, u.g[g].client);
        uint64_t state = ci == YNONE ? 0 : doc->cl[ci].state;
        yjs_struct_t s;
        for (uint64_t k = 0; k < u.g[g].n; k++) {
            if (yjs_decode_next_struct(&dec, &s) != 1) {
                err = QUIRE_ERR_INTERNAL;
                goto out;
            }
            if (s.kind == YJS_KIND_SKIP || yjs_struct_end(&s) <= state)
                continue;
            if (!new_parts(&nv, &s, state)) {
                err = QUIRE_ERR_NOMEM;
                goto out;
            }
        }
    }
    {
        yjs_decoder_t dec = u.ds;
        uint64_t c, k, l;
        int r;
        while ((r = yjs_decode_next_delete(&dec, &c, &k, &l)) > 0) {
            if ((err = new_deletes(doc, &nv, c, k, l)) != QUIRE_OK)
                goto out;
        }
        if (r < 0) {
            err = QUIRE_ERR_INTERNAL;
            goto out;
        }
    }
    if (nv.n == 0 && nv.ds.n == 0) {
        *ret_update = NULL;
        *ret_len = 0;
        err = QUIRE_OK;
        goto out;
    }
    err = write_novel(&nv, ret_update, ret_len);
out:
    if (err != QUIRE_OK)
        yd_set_err(ret_error, err, NULL, quire_err_str(err));
    free(nv.p);
    yjs_ds_deinit(&nv.ds);
    yd_upd_free(&u);
    return err;
}
