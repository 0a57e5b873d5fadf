/*
 * yjs_json — strict validation of the JSON texts Yjs stores (ContentJSON elements, ContentEmbed,
 * ContentFormat values).
 *
 * Yjs reads them with JSON.parse, which throws on anything RFC 8259 does not allow, so quire
 * refuses the same texts (plus nesting deeper than a cap, where JSON.parse would only run out of
 * stack). The text is kept verbatim, never re-serialised; see lib/yjs/README.md for where that
 * differs from Yjs, which re-serialises with JSON.stringify.
 */
#ifndef YJS_JSON_H
#define YJS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"

/* QUIRE_OK when s[0..len) is exactly one RFC 8259 JSON value (surrounding whitespace allowed);
 * QUIRE_ERR_LIMIT when it nests deeper than max_depth arrays/objects; else QUIRE_ERR_MALFORMED.
 * The text must already be valid UTF-8. */
quire_err_t yjs_json_validate(const uint8_t *s, size_t len, unsigned max_depth);

#endif
