/*
 * yjs_text — UTF-8 as Yjs stores it and UTF-16 as Yjs counts it.
 *
 * On the wire every string is UTF-8; Y.Text lengths, positions and clocks count UTF-16 code units
 * (a JavaScript string's .length). These functions validate UTF-8 strictly (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF) while counting UTF-16 units in the same pass, and
 * map a UTF-16 offset back to a byte offset for slicing. A UTF-16 offset that falls between the
 * two halves of a surrogate pair (a 4-byte UTF-8 sequence) is reported as such: Yjs then replaces
 * both halves with U+FFFD (ContentString.splice, yjs/yjs#248), and yjs_struct does the same.
 */
#ifndef YJS_TEXT_H
#define YJS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
#define YJS_TEXT_FFFD     "\xEF\xBF\xBD"
#define YJS_TEXT_FFFD_LEN 3

/*
 * Validates s[0..len) as UTF-8 and counts its UTF-16 code units. Returns false on invalid UTF-8
 * (then *ret_units and *ret_ascii are untouched). *ret_ascii tells whether every byte is ASCII
 * (UTF-16 offsets then equal byte offsets). Either output may be NULL.
 */
bool yjs_text_validate(const uint8_t *s, size_t len, uint64_t *ret_units, bool *ret_ascii);

/* Counts UTF-16 code units of s[0..len) without validating (for already-validated text, and for
 * bounds-safe skimming of untrusted text: any byte string gives some count, never a crash). */
uint64_t yjs_text_utf16_len(const uint8_t *s, size_t len);

/*
 * Finds the byte offset of UTF-16 offset `units` in valid UTF-8 s[0..len) (units ≤ its length).
 * When the offset falls inside a surrogate pair, *ret_split_pair is set and *ret_byte is the
 * offset of the 4-byte sequence that holds the pair; otherwise *ret_byte is the exact boundary.
 */
void yjs_text_offset(const uint8_t *s, size_t len, uint64_t units, size_t *ret_byte,
                     bool *ret_split_pair);

#endif
