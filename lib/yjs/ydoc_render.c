/*
 * ydoc_render — materialised content (placeholder; full version follows).
 */
#include <stdlib.h>
#include <string.h>

#include "ydoc_int.h"

ydoc_type_t yd_infer(const ydoc_t *d, uint32_t type)
{
    return YDOC_TYPE_TEXT;
}

size_t ydoc_root_count(const ydoc_t *doc)
{
    return doc->nroots;
}

const char *ydoc_root_name(const ydoc_t *doc, size_t i, size_t *ret_len, ydoc_type_t *ret_type)
{
    if (i >= doc->nroots)
        return NULL;
    uint32_t t = doc->roots[i];
    if (ret_type)
        *ret_type = yd_infer(doc, t);
    return (const char *)yd_key(doc, doc->ty[t].name, ret_len);
}

ydoc_type_t ydoc_root_type(const ydoc_t *doc, const char *name, size_t name_len)
{
    return YDOC_TYPE_AUTO;
}

uint64_t ydoc_root_length(const ydoc_t *doc, const char *name, size_t name_len)
{
    uint32_t k = yd_key_find(doc, (const uint8_t *)name, name_len);
    for (uint32_t i = 0; k && i < doc->nroots; i++)
        if (doc->ty[doc->roots[i]].name == k)
            return doc->ty[doc->roots[i]].length;
    return 0;
}

quire_err_t ydoc_content_json(const ydoc_t *doc, unsigned flags, char **ret_json, size_t *ret_len)
{
    return QUIRE_ERR_INTERNAL;
}

quire_err_t ydoc_render(const ydoc_t *doc, const char *name, size_t name_len, ydoc_type_t type,
                        ydoc_format_t format, unsigned flags, char **ret, size_t *ret_len)
{
    uint32_t k = yd_key_find(doc, (const uint8_t *)name, name_len);
    uint32_t t = 0;
    for (uint32_t i = 0; k && i < doc->nroots; i++)
        if (doc->ty[doc->roots[i]].name == k)
            t = doc->roots[i];
    if (!t)
        return QUIRE_ERR_NOT_FOUND;
    yjs_buf_t b = {0};
    for (uint32_t x = doc->sq[doc->ty[t].list].first; x; x = doc->it[x].right) {
        const yitem_t *X = &doc->it[x];
        if ((X->flags & YF_DELETED) || X->ref != YJS_CONTENT_STRING)
            continue;
        if (X->flags & YF_LEAD_FFFD)
            yjs_buf_bytes(&b, "\xEF\xBF\xBD", 3);
        yjs_buf_bytes(&b, yd_content(doc, X), X->cbytes);
        if (X->flags & YF_TRAIL_FFFD)
            yjs_buf_bytes(&b, "\xEF\xBF\xBD", 3);
    }
    yjs_buf_u8(&b, 0);
    if (yjs_buf_err(&b)) {
        yjs_buf_deinit(&b);
        return QUIRE_ERR_NOMEM;
    }
    *ret = (char *)yjs_buf_steal(&b, ret_len);
    (*ret_len)--;
    return QUIRE_OK;
}
