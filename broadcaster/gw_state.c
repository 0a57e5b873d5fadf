/* gw_state — see the header. */
#include "gw_state.h"

#include <stdlib.h>
#include <string.h>

#include "yjs_decode.h"
#include "yjs_sv.h"

void gw_state_limits(ydoc_limits_t *ret, size_t max_doc_bytes)
{
    ydoc_limits_t l = YDOC_LIMITS_DEFAULT;
    /* the in-memory document may be several times its encoded size */
    l.max_doc_bytes = max_doc_bytes ? max_doc_bytes * 8 : 0;
    *ret = l;
}

quire_err_t gw_state_init(gw_state_t *s, ydoc_t *doc)
{
    memset(s, 0, sizeof *s);
    if (doc) {
        s->doc = doc;
        return QUIRE_OK;
    }
    return ydoc_new(NULL, &s->doc);
}

void gw_state_deinit(gw_state_t *s)
{
    ydoc_destroy(s->doc);
    free(s->sv);
    memset(s, 0, sizeof *s);
}

quire_err_t gw_state_apply(gw_state_t *s, const uint8_t *update, size_t len)
{
    ydoc_apply_t res;
    yjs_error_t err;
    quire_err_t e = ydoc_apply(s->doc, update, len, 0, &res, &err);
    if (e)
        return e;
    if (res.status) {
        free(s->sv);
        s->sv = NULL;
    }
    return QUIRE_OK;
}

quire_err_t gw_state_sv(gw_state_t *s, const uint8_t **ret_sv, size_t *ret_len)
{
    if (!s->sv) {
        quire_err_t e = ydoc_state_vector(s->doc, &s->sv, &s->sv_len);
        if (e)
            return e;
    }
    *ret_sv = s->sv;
    *ret_len = s->sv_len;
    return QUIRE_OK;
}

quire_err_t gw_state_diff(gw_state_t *s, const uint8_t *sv, size_t sv_len, uint8_t **ret,
                          size_t *ret_len)
{
    yjs_error_t err;
    return ydoc_encode_state(s->doc, sv, sv_len, ret, ret_len, &err);
}

quire_err_t gw_state_novel(gw_state_t *s, const uint8_t *update, size_t len, uint8_t **ret,
                           size_t *ret_len)
{
    yjs_error_t err;
    return ydoc_novel(s->doc, update, len, 0, ret, ret_len, &err);
}

size_t gw_state_size(const gw_state_t *s)
{
    ydoc_stats_t st;
    ydoc_stats(s->doc, &st);
    return st.content_bytes + (size_t)st.structs * 8 + st.pending_bytes;
}

size_t gw_state_memory(const gw_state_t *s)
{
    return ydoc_memory(s->doc);
}

/* Per client: how far content is available (the state's clock, extended by the update's own
 * structs when they connect to it without a gap). */
typedef struct avail_s {
    uint64_t client, end;
    bool gap;
} avail_t;

static avail_t *avail_find(avail_t *a, size_t n, uint64_t client)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].client == client)
            return &a[i];
    return NULL;
}

/* The state's clock for client, extended by in-flight ranges that connect to it. */
static uint64_t base_end(const yjs_sv_t *sv, const yjs_client_range_t *inflight, size_t n,
                         uint64_t client)
{
    uint64_t end = yjs_sv_get(sv, client);
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            if (inflight[i].client == client && inflight[i].clock <= end && inflight[i].end > end) {
                end = inflight[i].end;
                grew = true;
            }
        }
    }
    return end;
}

static bool available(avail_t *a, size_t n, const yjs_sv_t *sv, const yjs_client_range_t *inflight,
                      size_t ninflight, yjs_id_t id)
{
    avail_t *e = avail_find(a, n, id.client);
    uint64_t end = e ? e->end : base_end(sv, inflight, ninflight, id.client);
    return id.clock < end;
}

quire_err_t gw_state_missing_deps(gw_state_t *s, const uint8_t *update, size_t len,
                                  const yjs_client_range_t *inflight, size_t ninflight,
                                  bool *ret_missing)
{
    const uint8_t *svb;
    size_t svl;
    quire_err_t err = gw_state_sv(s, &svb, &svl);
    if (err)
        return err;
    yjs_sv_t sv = {0};
    err = yjs_sv_decode(svb, svl, SIZE_MAX, &sv);
    if (err)
        return err;
    /* pass 1: per client, extend the available range with the update's contiguous structs */
    size_t cap = 16, n = 0;
    avail_t *a = malloc(cap * sizeof *a);
    yjs_decoder_t d;
    yjs_struct_t st;
    bool missing = false;
    int r = 0;
    if (!a) {
        yjs_sv_deinit(&sv);
        return QUIRE_ERR_NOMEM;
    }
    err = yjs_decode_init(&d, update, len, NULL, YJS_DECODE_SKIM);
    while (!err && (r = yjs_decode_next_struct(&d, &st)) == 1) {
        if (st.kind == YJS_KIND_SKIP)
            continue;
        avail_t *e = avail_find(a, n, st.id.client);
        if (!e) {
            if (n == cap) {
                avail_t *na = realloc(a, (cap *= 2) * sizeof *na);
                if (!na) {
                    err = QUIRE_ERR_NOMEM;
                    break;
                }
                a = na;
            }
            e = &a[n++];
            e->client = st.id.client;
            e->end = base_end(&sv, inflight, ninflight, st.id.client);
            e->gap = false;
        }
        if (st.id.clock > e->end)
            e->gap = true; /* structs after a gap are never integrable */
        else if (!e->gap && st.id.clock + st.len > e->end)
            e->end = st.id.clock + st.len;
    }
    if (!err && r < 0)
        err = (quire_err_t)r;
    for (size_t i = 0; !err && i < n; i++)
        missing |= a[i].gap;
    /* pass 2: every reference must point at available content */
    if (!err && !missing) {
        err = yjs_decode_init(&d, update, len, NULL, YJS_DECODE_SKIM);
        while (!err && !missing && (r = yjs_decode_next_struct(&d, &st)) == 1) {
            if (st.kind != YJS_KIND_ITEM)
                continue;
            if ((st.info & YJS_INFO_ORIGIN) &&
                !available(a, n, &sv, inflight, ninflight, st.origin))
                missing = true;
            if ((st.info & YJS_INFO_RIGHT_ORIGIN) &&
                !available(a, n, &sv, inflight, ninflight, st.right_origin))
                missing = true;
            if (!(st.info & (YJS_INFO_ORIGIN | YJS_INFO_RIGHT_ORIGIN)) && !st.parent_is_root &&
                !available(a, n, &sv, inflight, ninflight, st.parent_id))
                missing = true;
        }
        if (!err && r < 0)
            err = (quire_err_t)r;
        uint64_t client, clock, dlen;
        while (!err && !missing && (r = yjs_decode_next_delete(&d, &client, &clock, &dlen)) == 1) {
            if (dlen &&
                !available(a, n, &sv, inflight, ninflight, (yjs_id_t){client, clock + dlen - 1}))
                missing = true;
        }
        if (!err && r < 0)
            err = (quire_err_t)r;
    }
    free(a);
    yjs_sv_deinit(&sv);
    if (!err)
        *ret_missing = missing;
    return err;
}
