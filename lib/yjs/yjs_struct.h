/*
 * yjs_struct — one decoded struct of a Yjs v1 update (Item, GC or Skip), its slicing at a clock
 * offset, and its encoding.
 *
 * A yjs_struct_t is zero-copy: every span borrows the update it was decoded from, which must
 * outlive it. It carries everything needed to re-encode the struct and to integrate it into a
 * document (part 2): id, clock length, origins, parent, and the content with its lengths already
 * computed (UTF-16 units of strings, element counts of JSON/Any arrays).
 *
 * Invariants of a struct produced by yjs_decode or yjs_struct_slice:
 *   - len ≥ 1 and id.clock + len ≤ 2^53 − 1;
 *   - `info` is the info byte Yjs would write for it: content ref in the low 5 bits, 0x80 iff
 *     it has an origin, 0x40 iff a right origin, 0x20 iff its parentSub is known. Yjs reads a
 *     parentSub only when the struct has no origin (so a decoded struct with an origin drops the
 *     bit), writes the bit whenever it knows one, and writes the string only without origins
 *     (so a struct sliced after decoding keeps the bit but no longer carries the string);
 *   - for an Item without origins, the parent is either a root name (parent_is_root) or an id;
 *   - no origin, right origin or parent id names the struct itself or a later clock of its own
 *     client.
 */
#ifndef YJS_STRUCT_H
#define YJS_STRUCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "yjs_buf.h"

/* A struct id: (client, clock). Both ≤ 2^53 − 1. */
typedef struct yjs_id_s {
    uint64_t client;
    uint64_t clock;
} yjs_id_t;

/* Borrowed bytes inside an update (ptr may be NULL when len is 0). */
typedef struct yjs_span_s {
    const uint8_t *ptr;
    size_t len;
} yjs_span_t;

typedef enum yjs_kind_e {
    YJS_KIND_GC = 0,
    YJS_KIND_ITEM = 1,
    YJS_KIND_SKIP = 10,
} yjs_kind_t;

/* Content refs: the low 5 bits of an Item's info byte. */
typedef enum yjs_content_ref_e {
    YJS_CONTENT_DELETED = 1, /* count = deleted length */
    YJS_CONTENT_JSON = 2,    /* count = number of JSON texts; body = the count varStrings */
    YJS_CONTENT_BINARY = 3,  /* body = the bytes */
    YJS_CONTENT_STRING = 4,  /* count = UTF-16 units; body = UTF-8 (see str_flags) */
    YJS_CONTENT_EMBED = 5,   /* body = JSON text */
    YJS_CONTENT_FORMAT = 6,  /* key = attribute name; body = JSON text of the value */
    YJS_CONTENT_TYPE = 7,    /* type_ref; body = node name (XmlElement) or hook name (XmlHook) */
    YJS_CONTENT_ANY = 8,     /* count = number of values; body = the count encoded values */
    YJS_CONTENT_DOC = 9,     /* body = guid; key = the encoded `any` options object */
} yjs_content_ref_t;

/* ContentType type refs (yjs src/structs/ContentType.js, typeRefs). */
typedef enum yjs_type_ref_e {
    YJS_TYPE_ARRAY = 0,
    YJS_TYPE_MAP = 1,
    YJS_TYPE_TEXT = 2,
    YJS_TYPE_XML_ELEMENT = 3,
    YJS_TYPE_XML_FRAGMENT = 4,
    YJS_TYPE_XML_HOOK = 5,
    YJS_TYPE_XML_TEXT = 6,
} yjs_type_ref_t;

/* String content flags. A slice inside a surrogate pair turns each half into U+FFFD; those
 * characters are not in the input, so they are flags around the borrowed body. */
enum {
    YJS_STR_ASCII = 1 << 0,      /* body is all ASCII: UTF-16 offsets = byte offsets */
    YJS_STR_LEAD_FFFD = 1 << 1,  /* a U+FFFD precedes body */
    YJS_STR_TRAIL_FFFD = 1 << 2, /* a U+FFFD follows body */
};

/* Info-byte flags of an Item. */
enum {
    YJS_INFO_ORIGIN = 0x80,
    YJS_INFO_RIGHT_ORIGIN = 0x40,
    YJS_INFO_PARENT_SUB = 0x20,
    YJS_INFO_REF_MASK = 0x1f,
};

typedef struct yjs_content_s {
    uint8_t ref;       /* yjs_content_ref_t */
    uint8_t type_ref;  /* YJS_CONTENT_TYPE only */
    uint8_t str_flags; /* YJS_CONTENT_STRING only */
    uint64_t count;    /* clock length of the content (see yjs_content_ref_t) */
    yjs_span_t body;
    yjs_span_t key;
} yjs_content_t;

typedef struct yjs_struct_s {
    yjs_id_t id;
    uint64_t len;          /* clock length, ≥ 1 */
    uint8_t kind;          /* yjs_kind_t */
    uint8_t info;          /* canonical info byte (Items); 0 for GC, 10 for Skip */
    bool parent_is_root;   /* Item without origins: parent is root `parent_key`, else `parent_id` */
    yjs_id_t origin;       /* valid when info & YJS_INFO_ORIGIN */
    yjs_id_t right_origin; /* valid when info & YJS_INFO_RIGHT_ORIGIN */
    yjs_id_t parent_id;
    yjs_span_t parent_key; /* root type name */
    yjs_span_t parent_sub; /* map key; valid when info & YJS_INFO_PARENT_SUB */
    yjs_content_t content; /* Items only */
    yjs_span_t raw;        /* the struct's own bytes in the update; empty once sliced */
} yjs_struct_t;

static inline uint64_t yjs_struct_end(const yjs_struct_t *s)
{
    return s->id.clock + s->len;
}

/*
 * Drops the first `offset` clock units of *s in place (0 < offset < s->len), as Yjs's
 * sliceStruct / Item.write(encoder, offset) do: an Item's origin becomes (client,
 * clock + offset − 1) and its content loses its first `offset` units; a string cut inside a
 * surrogate pair starts with U+FFFD. Content of length 1 (binary, embed, format, type, doc) cannot
 * be sliced: QUIRE_ERR_INVALID. *s keeps borrowing the same update.
 */
quire_err_t yjs_struct_slice(yjs_struct_t *s, uint64_t offset);

/*
 * Keeps only the first `len` clock units of *s in place (0 < len < s->len): the left part of a
 * split. A string cut inside a surrogate pair ends with U+FFFD. Same restrictions as slice.
 */
quire_err_t yjs_struct_truncate(yjs_struct_t *s, uint64_t len);

/* Appends the v1 encoding of *s to out (errors are sticky in out). */
void yjs_struct_write(const yjs_struct_t *s, yjs_buf_t *out);

/* The number of bytes yjs_struct_write appends for *s. */
size_t yjs_struct_size(const yjs_struct_t *s);

#endif
