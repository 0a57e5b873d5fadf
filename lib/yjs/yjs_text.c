/*
 * yjs_text — strict UTF-8 validation with UTF-16 counting, and UTF-16 → byte offsets.
 *
 * The common case (ASCII, one key stroke) must cost a few nanoseconds: runs of ASCII are checked
 * eight bytes at a time, everything else by the RFC 3629 table of well-formed sequences.
 */
#include "yjs_text.h"

#include <string.h>

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

bool yjs_text_validate(const uint8_t *s, size_t len, uint64_t *ret_units, bool *ret_ascii)
{
    size_t i = 0;
    uint64_t units = 0;
    bool ascii = true;
    while (i < len) {
        while (i + 8 <= len && (load64(s + i) & UINT64_C(0x8080808080808080)) == 0) {
            i += 8;
            units += 8;
        }
        if (i >= len)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            units++;
            continue;
        }
        ascii = false;
        if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= len || (s[i + 1] & 0xC0) != 0x80)
                return false;
            i += 2;
            units++;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= len)
                return false;
            uint8_t c1 = s[i + 1];
            uint8_t lo = c == 0xE0 ? 0xA0 : 0x80;
            uint8_t hi = c == 0xED ? 0x9F : 0xBF; /* ED A0..BF would be a surrogate */
            if (c1 < lo || c1 > hi || (s[i + 2] & 0xC0) != 0x80)
                return false;
            i += 3;
            units++;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 3 >= len)
                return false;
            uint8_t c1 = s[i + 1];
            uint8_t lo = c == 0xF0 ? 0x90 : 0x80;
            uint8_t hi = c == 0xF4 ? 0x8F : 0xBF;
            if (c1 < lo || c1 > hi || (s[i + 2] & 0xC0) != 0x80 || (s[i + 3] & 0xC0) != 0x80)
                return false;
            i += 4;
            units += 2;
        } else {
            return false;
        }
    }
    if (ret_units)
        *ret_units = units;
    if (ret_ascii)
        *ret_ascii = ascii;
    return true;
}

uint64_t yjs_text_utf16_len(const uint8_t *s, size_t len)
{
    uint64_t units = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = load64(s + i);
        if ((w & UINT64_C(0x8080808080808080)) == 0) {
            units += 8;
            continue;
        }
        for (size_t k = 0; k < 8; k++) {
            uint8_t c = s[i + k];
            units += (c & 0xC0) != 0x80;
            units += c >= 0xF0;
        }
    }
    for (; i < len; i++) {
        uint8_t c = s[i];
        units += (c & 0xC0) != 0x80;
        units += c >= 0xF0;
    }
    return units;
}

void yjs_text_offset(const uint8_t *s, size_t len, uint64_t units, size_t *ret_byte,
                     bool *ret_split_pair)
{
    size_t i = 0;
    uint64_t u = 0;
    while (i < len && u < units) {
        uint8_t c = s[i];
        size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        uint64_t cu = n == 4 ? 2 : 1;
        if (u + cu > units) { /* units = u + 1 inside a pair */
            *ret_byte = i;
            *ret_split_pair = true;
            return;
        }
        u += cu;
        i += n;
    }
    *ret_byte = i < len ? i : len;
    *ret_split_pair = false;
}
