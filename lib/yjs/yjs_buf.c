/* yjs_buf — growth policy of the output buffer: doubling, capped by cap_limit. */
#include "yjs_buf.h"

#include <stdlib.h>

bool yjs_buf_reserve(yjs_buf_t *b, size_t n)
{
    if (b->err != QUIRE_OK)
        return false;
    if (b->cap - b->len >= n)
        return true;
    if (n > SIZE_MAX / 2 - b->len) {
        b->err = QUIRE_ERR_TOO_LARGE;
        return false;
    }
    size_t need = b->len + n;
    if (b->cap_limit && need > b->cap_limit + 16) {
        /* 16 bytes of slack: varuint writers reserve 10 bytes ahead of what they use */
        b->err = QUIRE_ERR_TOO_LARGE;
        return false;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if (b->cap_limit && cap > b->cap_limit + 16)
        cap = b->cap_limit + 16;
    uint8_t *d = realloc(b->data, cap);
    if (!d) {
        b->err = QUIRE_ERR_NOMEM;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void yjs_buf_deinit(yjs_buf_t *b)
{
    if (!b)
        return;
    free(b->data);
    size_t limit = b->cap_limit;
    memset(b, 0, sizeof *b);
    b->cap_limit = limit;
}

uint8_t *yjs_buf_steal(yjs_buf_t *b, size_t *ret_len)
{
    uint8_t *d = b->data;
    *ret_len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
