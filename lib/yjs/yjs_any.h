/*
 * yjs_any — lib0's `any` encoding (ContentAny elements, ContentDoc options): validation and
 * skipping without building values.
 *
 * Tag byte then value (lib0 src/encoding.js writeAny): 127 undefined, 126 null, 125 integer
 * (varInt), 124 float32, 123 float64, 122 bigint64 (big-endian), 121 false, 120 true, 119 string
 * (varString), 118 object (varUint n, n × (varString key, any)), 117 array (varUint n, n × any),
 * 116 Uint8Array (varUint8Array). Any other tag is malformed (lib0 throws on it).
 */
#ifndef YJS_ANY_H
#define YJS_ANY_H

#include <stdbool.h>

#include "quire_err.h"
#include "yjs_wire.h"

/* Reads one `any` value at the cursor, nested at most max_depth objects/arrays deep. With
 * `validate`, strings must be valid UTF-8; without, only the structure and bounds are checked.
 * Returns QUIRE_OK, QUIRE_ERR_LIMIT (nested deeper) or QUIRE_ERR_MALFORMED; on failure the cursor
 * is left anywhere inside the value. */
quire_err_t yjs_any_skip(yjs_wire_t *w, unsigned max_depth, bool validate);

#endif
