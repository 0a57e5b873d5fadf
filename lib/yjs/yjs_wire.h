/*
 * yjs_wire — lib0 primitives of the Yjs v1 format: a bounds-checked input cursor and the size of
 * an encoded varUint.
 *
 * Every read checks the bytes that remain before touching them and fails instead of reading past
 * the end; a failed read leaves the cursor where it was. Numbers follow lib0 (dmonad/lib0
 * src/decoding.js) with two deliberate tightenings, both of which only refuse encodings no known
 * writer produces:
 *   - values above 2^53 − 1 (JavaScript's MAX_SAFE_INTEGER) are refused, as lib0 does;
 *   - non-minimal varints (a trailing 0x00 group, e.g. 80 00 for 0) are refused, so that every
 *     accepted number re-encodes to the bytes it was read from.
 *
 * Header-only: these run per byte on the hot paths of decode, merge and state vectors.
 */
#ifndef YJS_WIRE_H
#define YJS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Largest integer lib0 can represent (2^53 − 1); clocks, clients and lengths stay at or below. */
#define YJS_MAX_SAFE ((UINT64_C(1) << 53) - 1)

/* A read position inside a borrowed buffer [pos, end). */
typedef struct yjs_wire_s {
    const uint8_t *pos;
    const uint8_t *end;
} yjs_wire_t;

static inline size_t yjs_wire_left(const yjs_wire_t *w)
{
    return (size_t)(w->end - w->pos);
}

/* Reads an unsigned LEB128 varUint (at most 8 bytes, ≤ 2^53 − 1, minimal). false on error.
 * (A branch-free 8-byte gather was tried and measured slower: real updates repeat the same few
 * client ids, whose lengths the byte loop's branches predict perfectly.) */
static inline bool yjs_wire_varuint(yjs_wire_t *w, uint64_t *ret)
{
    const uint8_t *p = w->pos;
    if (p < w->end && p[0] < 0x80) {
        *ret = p[0];
        w->pos = p + 1;
        return true;
    }
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        if (p >= w->end || shift > 49)
            return false;
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (b < 0x80) {
            if (b == 0 && shift > 7)
                return false; /* non-minimal */
            if (v > YJS_MAX_SAFE)
                return false;
            break;
        }
    }
    w->pos = p;
    *ret = v;
    return true;
}

/*
 * Reads a lib0 varInt: first byte 0x80 continue, 0x40 sign, 6 value bits; then 7-bit groups.
 * The magnitude goes to *ret_abs and the sign to *ret_neg (negative zero is representable).
 */
static inline bool yjs_wire_varint(yjs_wire_t *w, uint64_t *ret_abs, bool *ret_neg)
{
    const uint8_t *p = w->pos;
    if (p >= w->end)
        return false;
    uint8_t b = *p++;
    uint64_t v = b & 0x3f;
    bool neg = (b & 0x40) != 0;
    unsigned shift = 6;
    while (b & 0x80) {
        if (p >= w->end || shift > 48)
            return false;
        b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (b == 0)
            return false; /* non-minimal */
    }
    if (v > YJS_MAX_SAFE)
        return false;
    w->pos = p;
    *ret_abs = v;
    *ret_neg = neg;
    return true;
}

static inline bool yjs_wire_u8(yjs_wire_t *w, uint8_t *ret)
{
    if (w->pos >= w->end)
        return false;
    *ret = *w->pos++;
    return true;
}

/* Borrows n bytes. */
static inline bool yjs_wire_bytes(yjs_wire_t *w, uint64_t n, const uint8_t **ret)
{
    if (n > yjs_wire_left(w))
        return false;
    *ret = w->pos;
    w->pos += n;
    return true;
}

/* Borrows a varUint8Array: varUint(length) ‖ bytes. The cursor is unchanged on failure. */
static inline bool yjs_wire_buf(yjs_wire_t *w, const uint8_t **ret, size_t *ret_len)
{
    yjs_wire_t save = *w;
    uint64_t n;
    if (!yjs_wire_varuint(w, &n) || n > yjs_wire_left(w)) {
        *w = save;
        return false;
    }
    *ret = w->pos;
    *ret_len = (size_t)n;
    w->pos += n;
    return true;
}

/* Number of bytes writeVarUint uses for v (v ≤ 2^53 − 1 gives 1..8). */
static inline size_t yjs_wire_varuint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

#endif
