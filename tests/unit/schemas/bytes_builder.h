/* A tiny Avro binary writer for the schemas tests: builds valid and hostile messages byte by byte,
 * independently of the codec under test. */
#ifndef BYTES_BUILDER_H
#define BYTES_BUILDER_H

#include <stdint.h>
#include <string.h>

typedef struct bb_s {
    uint8_t b[8192];
    size_t n;
} bb_t;

static inline void bb_raw(bb_t *bb, const void *p, size_t n)
{
    if (n)
        memcpy(bb->b + bb->n, p, n);
    bb->n += n;
}

static inline void bb_byte(bb_t *bb, uint8_t v)
{
    bb->b[bb->n++] = v;
}

static inline void bb_long(bb_t *bb, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z & ~(uint64_t)0x7F) {
        bb_byte(bb, (uint8_t)((z & 0x7F) | 0x80));
        z >>= 7;
    }
    bb_byte(bb, (uint8_t)z);
}

static inline void bb_bytes(bb_t *bb, const void *p, size_t n)
{
    bb_long(bb, (int64_t)n);
    bb_raw(bb, p, n);
}

static inline void bb_str(bb_t *bb, const char *s)
{
    bb_bytes(bb, s, strlen(s));
}

static inline void bb_header(bb_t *bb, uint32_t id)
{
    bb_byte(bb, 0);
    bb_byte(bb, (uint8_t)(id >> 24));
    bb_byte(bb, (uint8_t)(id >> 16));
    bb_byte(bb, (uint8_t)(id >> 8));
    bb_byte(bb, (uint8_t)id);
}

#endif
