/* gw_state — see the header. */
#include "gw_state.h"

#include <stdlib.h>
#include <string.h>

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
