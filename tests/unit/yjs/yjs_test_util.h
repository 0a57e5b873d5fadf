/*
 * yjs_test_util — a tiny byte builder for hand-made Yjs updates in the lib/yjs unit tests.
 *
 *   tb_t b = {0};
 *   tb_u(&b, 1); tb_u(&b, 1); tb_u(&b, client); tb_u(&b, 0);   // one group, one struct
 *   tb_byte(&b, 0x04); ...                                      // an Item with string content
 *
 * Fixed capacity (asserts on overflow — test code only).
 */
#ifndef YJS_TEST_UTIL_H
#define YJS_TEST_UTIL_H

#include <stdint.h>
#include <string.h>

#include "quire_err.h"

typedef struct tb_s {
    uint8_t d[16384];
    size_t n;
} tb_t;

static inline void tb_byte(tb_t *b, uint8_t v)
{
    QUIRE_ASSERT(b->n < sizeof b->d);
    b->d[b->n++] = v;
}

static inline void tb_u(tb_t *b, uint64_t v)
{
    while (v >= 0x80) {
        tb_byte(b, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    tb_byte(b, (uint8_t)v);
}

static inline void tb_raw(tb_t *b, const void *p, size_t n)
{
    QUIRE_ASSERT(b->n + n <= sizeof b->d);
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static inline void tb_str(tb_t *b, const char *s)
{
    tb_u(b, strlen(s));
    tb_raw(b, s, strlen(s));
}

/* Header of an update with one group of `structs` structs of `client` starting at `clock`. */
static inline void tb_group(tb_t *b, uint64_t structs, uint64_t client, uint64_t clock)
{
    tb_u(b, 1);
    tb_u(b, structs);
    tb_u(b, client);
    tb_u(b, clock);
}

/* An Item with string content parented to root `root` (no origins). */
static inline void tb_root_string(tb_t *b, const char *root, const char *text)
{
    tb_byte(b, 0x04);
    tb_byte(b, 1);
    tb_str(b, root);
    tb_str(b, text);
}

#endif
