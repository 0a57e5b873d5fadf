/*
 * ydoc — the integrated Yjs document (see ydoc.h). This first version only fixes the interface
 * so callers can build against it: documents are created and destroyed, and every operation
 * reports QUIRE_ERR_INTERNAL ("not implemented yet") until the engine lands.
 */
#include "ydoc.h"

#include <stdlib.h>
#include <string.h>

struct ydoc_s {
    ydoc_limits_t limits;
};

quire_err_t ydoc_new(const ydoc_limits_t *limits, ydoc_t **ret_doc)
{
    static const ydoc_limits_t defaults = YDOC_LIMITS_DEFAULT;
    if (!ret_doc)
        return QUIRE_ERR_INVALID;
    ydoc_t *d = calloc(1, sizeof *d);
    if (!d)
        return QUIRE_ERR_NOMEM;
    d->limits = limits ? *limits : defaults;
    *ret_doc = d;
    return QUIRE_OK;
}

void ydoc_destroy(ydoc_t *doc)
{
    free(doc);
}

quire_err_t ydoc_apply(ydoc_t *doc, const uint8_t *update, size_t len, unsigned flags,
                       ydoc_apply_t *ret_result, yjs_error_t *ret_error)
{
    return QUIRE_ERR_INTERNAL;
}

bool ydoc_has_pending(const ydoc_t *doc)
{
    return false;
}

size_t ydoc_missing(const ydoc_t *doc, yjs_id_t *ret_ids, size_t cap)
{
    return 0;
}

quire_err_t ydoc_pending_update(const ydoc_t *doc, uint8_t **ret_update, size_t *ret_len)
{
    return QUIRE_ERR_INTERNAL;
}

quire_err_t ydoc_state_vector(const ydoc_t *doc, uint8_t **ret_sv, size_t *ret_len)
{
    return QUIRE_ERR_INTERNAL;
}

quire_err_t ydoc_encode_state(const ydoc_t *doc, const uint8_t *sv, size_t sv_len,
                              uint8_t **ret_update, size_t *ret_len, yjs_error_t *ret_error)
{
    return QUIRE_ERR_INTERNAL;
}

quire_err_t ydoc_novel(const ydoc_t *doc, const uint8_t *update, size_t len, unsigned flags,
                       uint8_t **ret_update, size_t *ret_len, yjs_error_t *ret_error)
{
    return QUIRE_ERR_INTERNAL;
}

quire_err_t ydoc_content_json(const ydoc_t *doc, unsigned flags, char **ret_json, size_t *ret_len)
{
    return QUIRE_ERR_INTERNAL;
}

quire_err_t ydoc_render(const ydoc_t *doc, const char *name, size_t name_len, ydoc_type_t type,
                        ydoc_format_t format, unsigned flags, char **ret, size_t *ret_len)
{
    return QUIRE_ERR_INTERNAL;
}

ydoc_type_t ydoc_root_type(const ydoc_t *doc, const char *name, size_t name_len)
{
    return YDOC_TYPE_AUTO;
}

size_t ydoc_root_count(const ydoc_t *doc)
{
    return 0;
}

const char *ydoc_root_name(const ydoc_t *doc, size_t i, size_t *ret_len, ydoc_type_t *ret_type)
{
    return NULL;
}

uint64_t ydoc_root_length(const ydoc_t *doc, const char *name, size_t name_len)
{
    return 0;
}

size_t ydoc_memory(const ydoc_t *doc)
{
    return doc ? sizeof *doc : 0;
}

void ydoc_stats(const ydoc_t *doc, ydoc_stats_t *ret_stats)
{
    memset(ret_stats, 0, sizeof *ret_stats);
    ret_stats->memory = ydoc_memory(doc);
}

quire_err_t ydoc_trim(ydoc_t *doc)
{
    return QUIRE_OK;
}
