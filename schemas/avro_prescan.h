/*
 * avro_prescan — a bounded validator of Avro binary data against a known writer schema, run on
 * untrusted bytes before Avro-C sees them.
 *
 * Why: Avro-C 1.11.1 trusts its input. An out-of-range enum index becomes a wild pointer
 * (AVRO-4344) and declared string/bytes lengths are allocated before they are checked against the
 * input (AVRO-4293); its varint reader also shifts bits into the sign of an int64. So every byte
 * sequence goes through avro_prescan_check() first, and Avro-C only ever decodes data that is
 * well-formed for the writer schema.
 *
 * What must stay true:
 * - avro_prescan_check() reads only inside [buf, buf + len), allocates nothing, and does work
 *   linear in len (every step consumes at least one byte, or is bounded by the schema's size);
 *   recursion depth is bounded by the schema (compile refuses deeper than AVRO_PRESCAN_MAX_DEPTH).
 * - A buffer accepted by the check is exactly one datum of the schema: varints are at most 10
 *   bytes and fit their type, every length is >= 0 and fits in what remains, enum and union
 *   indexes are in range, booleans are 0 or 1, strings are UTF-8 without NUL bytes, and no byte
 *   trails the datum. So Avro-C allocates at most the input's size (plus per-field overhead).
 * - Supported types: null, boolean, int, long, float, double, bytes, string, fixed, enum, record
 *   and union. Arrays, maps and recursive schemas are refused at compile time (quire's schemas
 *   have none; supporting them needs per-block count caps, see schemas/README.md).
 */
#ifndef AVRO_PRESCAN_H
#define AVRO_PRESCAN_H

#include <avro.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"

#define AVRO_PRESCAN_MAX_DEPTH 16  /* nesting of records and unions */
#define AVRO_PRESCAN_MAX_OPS   512 /* schema nodes */

/* A compiled, immutable validation program for one writer schema. Safe to use from several
 * threads at once once compiled. */
typedef struct avro_prescan_s avro_prescan_t;

/* Compiles schema (borrowed; not retained) into *ret_prog, which the caller frees with
 * avro_prescan_free(). QUIRE_ERR_INVALID for an unsupported schema and QUIRE_ERR_NOMEM, with a
 * message in errbuf (may be NULL). Calls no Avro-C function that can fail. */
quire_err_t avro_prescan_compile(avro_schema_t schema, avro_prescan_t **ret_prog, char *errbuf,
                                 size_t errlen);

/* Frees a program; NULL is fine. */
void avro_prescan_free(avro_prescan_t *prog);

/* Validates that buf[0..len) is exactly one datum of the program's schema (rules above).
 * QUIRE_OK, or QUIRE_ERR_MALFORMED with a message naming the problem and its byte offset in
 * errbuf (may be NULL). buf may be NULL when len is 0. */
quire_err_t avro_prescan_check(const avro_prescan_t *prog, const uint8_t *buf, size_t len,
                               char *errbuf, size_t errlen);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF) and has no
 * NUL byte — the rule for every Avro string quire reads or writes. */
bool avro_prescan_utf8_ok(const uint8_t *s, size_t len);

#endif
