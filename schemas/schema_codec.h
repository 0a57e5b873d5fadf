/*
 * schema_codec — the engine under event_codec and snapshot_codec: Confluent wire framing, the
 * bounded prescan, and Avro-C encoding and schema resolution of one subject's flat records, field
 * by field. Callers describe the fields C knows (name, type, optional) in a static table and move
 * values in and out as an array of schema_val_t, one per table entry.
 *
 * Wire format (kafka.md §12): byte 0 = 0x00, bytes 1..4 = schema id (big-endian), then the Avro
 * binary body with no container header.
 *
 * Decoding: every schema id of the subject is a known writer. For each, the codec builds at
 * construction (and caches) the writer's prescan program and an Avro-C resolved-writer iface from
 * the writer schema to the reader schema. Avro-C 1.11.1 cannot resolve a reader field that the
 * writer lacks — it refuses even when the field has a default (resolved-writer.c: "Reader field
 * %s doesn't appear in writer", defaults are a TODO) — so the iface targets the reader schema
 * minus such fields, and those fields decode as absent. That is the default quire's evolution
 * rule allows: a field added later is ["null", T] with default null (checked here at
 * construction). Enums: Avro-C maps enum values by index, not by symbol, so construction also
 * checks that symbols are append-only across versions; a symbol the reader does not know decodes
 * as QUIRE_ERR_NOT_FOUND.
 *
 * Encoding: Avro-C generic values of the writer schema (the subject's latest unless asked
 * otherwise), borrowing the caller's bytes without copying them.
 *
 * Thread safety: one codec per thread; different codecs may be used concurrently. Debian's
 * libavro 1.11.1 is built without THREADSAFE, so its error buffer is a process global:
 * construction, where Avro-C reports failures while resolving, holds a process-wide lock; encode
 * and decode only call Avro-C on values and bytes already validated, where it does not fail.
 */
#ifndef SCHEMA_CODEC_H
#define SCHEMA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"

#define SCHEMA_CODEC_HEADER_LEN 5
#define SCHEMA_CODEC_MAGIC      0x00

typedef enum schema_field_type_e {
    SCHEMA_FIELD_STRING, /* Avro string: UTF-8 without NUL */
    SCHEMA_FIELD_BYTES,
    SCHEMA_FIELD_INT,
    SCHEMA_FIELD_LONG,
    SCHEMA_FIELD_FIXED,
    SCHEMA_FIELD_ENUM,
} schema_field_type_t;

/* A field C knows. Tables of these are static and outlive every codec built from them. */
typedef struct schema_field_s {
    const char *name;
    schema_field_type_t type;
    bool optional;              /* ["null", T] with default null wherever present */
    uint32_t fixed_size;        /* SCHEMA_FIELD_FIXED */
    const char *const *symbols; /* SCHEMA_FIELD_ENUM: the symbols C knows, in schema order */
    uint32_t nsymbols;
} schema_field_t;

/* One field's value. ptr/len for STRING, BYTES and FIXED (strings are not NUL-terminated on
 * input; on output ptr[len] == '\0' for strings); num for INT, LONG and ENUM (the symbol index).
 * present is false for a null optional field, or one the writer or reader schema does not have. */
typedef struct schema_val_s {
    bool present;
    const uint8_t *ptr;
    size_t len;
    int64_t num;
} schema_val_t;

typedef struct schema_codec_opts_s {
    const char *subject;          /* e.g. SCHEMA_SUBJECT_DOC_EVENT; borrowed for the codec's life */
    const schema_field_t *fields; /* borrowed for the codec's life (a static table) */
    size_t nfields;
    uint32_t writer_id; /* schema used by encode; 0 = the subject's latest */
    uint32_t reader_id; /* schema decode resolves into; 0 = the subject's latest */
    size_t max_message; /* cap on a framed message, header included; > header length */
} schema_codec_opts_t;

typedef struct schema_codec_s schema_codec_t;

/* Builds a codec into *ret_codec (free with schema_codec_destroy()). Fails with
 * QUIRE_ERR_INVALID when an id is not of the subject, QUIRE_ERR_INTERNAL when a schema does not
 * parse, does not match the field table, or cannot be resolved, QUIRE_ERR_NOMEM; a message goes
 * to errbuf (may be NULL). */
quire_err_t schema_codec_new(const schema_codec_opts_t *opts, schema_codec_t **ret_codec,
                             char *errbuf, size_t errlen);

/* Frees a codec and everything it owns; NULL and half-built codecs are fine. */
void schema_codec_destroy(schema_codec_t *codec);

uint32_t schema_codec_writer_id(const schema_codec_t *codec);
uint32_t schema_codec_reader_id(const schema_codec_t *codec);

/* The message of the last failed call on this codec ("" if none). Owned by the codec; valid until
 * the next call on it. */
const char *schema_codec_last_error(const schema_codec_t *codec);

/* Encodes vals[0..nfields) (borrowed for the call) as a framed message with the writer schema
 * into buf[0..cap). On success *ret_len is the message length. A value for a field the writer
 * schema lacks is dropped. QUIRE_ERR_INVALID when cap is too small (see encoded_size), a required
 * field is absent, or an enum index has no symbol in the writer schema; QUIRE_ERR_TOO_LARGE above
 * max_message. Values are not otherwise checked here: callers validate their semantics. */
quire_err_t schema_codec_encode(schema_codec_t *codec, const schema_val_t *vals, uint8_t *buf,
                                size_t cap, size_t *ret_len);

/* As schema_codec_encode, into a malloc'd buffer of exactly the message's length, which the
 * caller owns and frees with free() (librdkafka's RD_KAFKA_MSG_F_FREE does). */
quire_err_t schema_codec_encode_alloc(schema_codec_t *codec, const schema_val_t *vals,
                                      uint8_t **ret_buf, size_t *ret_len);

/* The framed length encode would produce for vals into *ret_size. */
quire_err_t schema_codec_encoded_size(schema_codec_t *codec, const schema_val_t *vals,
                                      size_t *ret_size);

/* Decodes a framed message into ret_vals[0..nfields) and its writer schema id into
 * *ret_schema_id. Pointers in ret_vals point into memory owned by the codec and stay valid until
 * the next decode on this codec or its destroy. Errors: QUIRE_ERR_EMPTY for len 0 (a tombstone),
 * QUIRE_ERR_TOO_LARGE above max_message, QUIRE_ERR_MALFORMED (short header, bad magic, an id of
 * another subject, bytes that are not a datum of the writer schema), QUIRE_ERR_NOT_FOUND for a
 * schema id or enum symbol this binary does not know (written by a newer quire: upgrade, do not
 * quarantine). No input can make it read out of bounds, allocate more than a small multiple of
 * len, or loop. */
quire_err_t schema_codec_decode(schema_codec_t *codec, const uint8_t *buf, size_t len,
                                schema_val_t *ret_vals, uint32_t *ret_schema_id);

/* True when doc_id[0..len) is a valid document id (DESIGN §9): 1-128 bytes of [A-Za-z0-9._~-].
 * Shared by every quire record that names a document. */
bool schema_codec_doc_id_ok(const char *doc_id, size_t len);

/* Frees the memory held for the last decoded message (the next decode would reuse or free it);
 * pointers from that decode become invalid. Useful after decoding a large message. */
void schema_codec_release(schema_codec_t *codec);

/* Writes the 5-byte Confluent header for schema id into out. */
void schema_codec_frame_header(uint32_t schema_id, uint8_t out[SCHEMA_CODEC_HEADER_LEN]);

/* Parses the Confluent header of buf[0..len) into *ret_schema_id (the body starts at
 * buf + SCHEMA_CODEC_HEADER_LEN). QUIRE_ERR_EMPTY for len 0, QUIRE_ERR_MALFORMED for a short
 * buffer or a magic byte other than 0. */
quire_err_t schema_codec_frame_parse(const uint8_t *buf, size_t len, uint32_t *ret_schema_id);

#endif
