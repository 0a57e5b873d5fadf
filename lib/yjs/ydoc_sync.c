/*
 * ydoc_sync — what an incoming update adds to a document (ydoc_novel). Placeholder until the
 * implementation lands in the next commit.
 */
#include "ydoc.h"

quire_err_t ydoc_novel(const ydoc_t *doc, const uint8_t *update, size_t len, unsigned flags,
                       uint8_t **ret_update, size_t *ret_len, yjs_error_t *ret_error)
{
    return QUIRE_ERR_INTERNAL;
}
