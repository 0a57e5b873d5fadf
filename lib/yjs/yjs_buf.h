/*
 * yjs_buf — a growable output buffer with lib0's writers (varUint, varString, raw bytes).
 *
 * The buffer owns its memory (free with yjs_buf_deinit). Writers never fail individually: an
 * allocation failure or growth past `cap_limit` sets a sticky error that yjs_buf_err() returns,
 * so encoders write a whole message and check once. A zeroed yjs_buf_t is a valid empty buffer
 * without a size cap.
 */
#ifndef YJS_BUF_H
#define YJS_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quire_err.h"

typedef struct yjs_buf_s {
    uint8_t *data;    /* owned; NULL while empty */
    size_t len;       /* bytes written */
    size_t cap;       /* bytes allocated */
    size_t cap_limit; /* 0 = no limit; otherwise growth past it fails with QUIRE_ERR_TOO_LARGE */
    quire_err_t err;  /* sticky: first failure */
} yjs_buf_t;

/* Makes room for n more bytes; false (and the sticky error) on failure. */
bool yjs_buf_reserve(yjs_buf_t *b, size_t n);

/* Frees the memory and resets to empty (keeps cap_limit). Accepts NULL. */
void yjs_buf_deinit(yjs_buf_t *b);

/* Hands the bytes to the caller (free() them) and resets the buffer; NULL when empty. */
uint8_t *yjs_buf_steal(yjs_buf_t *b, size_t *ret_len);

static inline quire_err_t yjs_buf_err(const yjs_buf_t *b)
{
    return b->err;
}

static inline void yjs_buf_u8(yjs_buf_t *b, uint8_t v)
{
    if (b->len < b->cap || yjs_buf_reserve(b, 1))
        b->data[b->len++] = v;
}

static inline void yjs_buf_bytes(yjs_buf_t *b, const void *p, size_t n)
{
    if (n && (b->cap - b->len >= n || yjs_buf_reserve(b, n))) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

static inline void yjs_buf_varuint(yjs_buf_t *b, uint64_t v)
{
    if (b->cap - b->len < 10 && !yjs_buf_reserve(b, 10))
        return;
    uint8_t *p = b->data + b->len;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->len = (size_t)(p - b->data);
}

/* varUint(n) ‖ bytes */
static inline void yjs_buf_varbuf(yjs_buf_t *b, const void *p, size_t n)
{
    yjs_buf_varuint(b, n);
    yjs_buf_bytes(b, p, n);
}

#endif
