/*
 * yjs_decode — a strict, streaming decoder for Yjs update v1.
 *
 *   update      = varUint(#groups) ‖ group* ‖ delete set
 *   group       = varUint(#structs) ‖ varUint(client) ‖ varUint(first clock) ‖ struct*
 *   delete set  = varUint(#clients) ‖ (varUint(client) ‖ varUint(#ranges) ‖ (clock, len)*)*
 *
 * The decoder yields one struct at a time (yjs_decode_next_struct), then one delete-set range at
 * a time (yjs_decode_next_delete). It allocates nothing; every struct borrows the input, which
 * must outlive the decoder and the structs. Every length is checked against the bytes that remain
 * before use, every loop consumes input, and nesting is capped, so any input costs time linear in
 * its size and constant memory. Malformed input returns an error with a static message and the
 * byte offset (yjs_decode_error); the decoder then stays failed.
 *
 * Beyond Yjs's own checks (which yjs's decoder mostly leaves to exceptions deep in integration),
 * the decoder refuses what no Yjs writer produces and what would make later stages misbehave:
 * non-minimal or > 2^53 − 1 varints, invalid UTF-8, invalid JSON, zero-length structs, clocks
 * overflowing 2^53 − 1, references to the struct itself or later clocks of its own client, unknown
 * content or type refs, parent info other than 0/1, trailing bytes, and counts above the limits.
 * The full list with the reasoning is in lib/yjs/README.md.
 */
#ifndef YJS_DECODE_H
#define YJS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "yjs_struct.h"
#include "yjs_wire.h"

/* Caps applied while decoding. Exceeding one returns QUIRE_ERR_TOO_LARGE (bytes) or
 * QUIRE_ERR_LIMIT (counts, nesting). */
typedef struct yjs_limits_s {
    size_t max_update_bytes;    /* whole update */
    uint64_t max_structs;       /* structs in one update (Skips included) */
    uint64_t max_clients;       /* client groups, and delete-set clients, in one update */
    uint64_t max_delete_ranges; /* delete-set ranges in one update */
    unsigned max_depth;         /* nesting of `any` values and JSON texts */
} yjs_limits_t;

/* 256 MiB, 2^24 structs, 2^20 clients, 2^24 delete ranges, depth 64. */
#define YJS_LIMITS_DEFAULT                                                                         \
    {                                                                                              \
        .max_update_bytes = (size_t)256 << 20, .max_structs = UINT64_C(1) << 24,                   \
        .max_clients = UINT64_C(1) << 20, .max_delete_ranges = UINT64_C(1) << 24, .max_depth = 64  \
    }

/* Decoder flags. */
enum {
    /* Check structure and bounds only: skip UTF-8 and JSON validation. For updates validated
     * earlier (everything in the log was, at ingest). Still never reads out of bounds. */
    YJS_DECODE_SKIM = 1 << 0,
};

typedef struct yjs_decoder_s {
    yjs_wire_t w;
    const uint8_t *start;
    const yjs_limits_t *limits; /* borrowed */
    uint64_t groups_left;       /* struct groups not yet started */
    uint64_t structs_left;      /* structs left in the current group */
    uint64_t client;            /* current group's client */
    uint64_t clock;             /* clock of the next struct of the group */
    uint64_t nstructs;          /* structs read so far */
    uint64_t ds_clients_left;   /* delete set: clients not yet started */
    uint64_t ds_ranges_left;    /* delete set: ranges left for ds_client */
    uint64_t ds_client;
    uint64_t nranges; /* delete ranges read so far */
    const char *err_msg;
    size_t err_offset;
    quire_err_t err; /* first failure, sticky */
    uint8_t state;   /* internal */
    uint8_t flags;
} yjs_decoder_t;

/*
 * Starts decoding update[0..len) (borrowed). limits may be NULL for YJS_LIMITS_DEFAULT (the
 * decoder then uses a static copy). Fails with QUIRE_ERR_EMPTY on len 0, QUIRE_ERR_TOO_LARGE
 * above max_update_bytes, QUIRE_ERR_MALFORMED / QUIRE_ERR_LIMIT on a bad header.
 */
quire_err_t yjs_decode_init(yjs_decoder_t *d, const uint8_t *update, size_t len,
                            const yjs_limits_t *limits, unsigned flags);

/*
 * Decodes the next struct into *ret_struct. Returns 1 when a struct was decoded, 0 at the end of
 * the struct section (the delete set follows), or a negative quire_err_t.
 */
int yjs_decode_next_struct(yjs_decoder_t *d, yjs_struct_t *ret_struct);

/* The id, clock length and kind of a struct, without its fields (see yjs_decode_next_extent). */
typedef struct yjs_extent_s {
    yjs_id_t id;
    uint64_t len;
    uint8_t kind; /* yjs_kind_t */
} yjs_extent_t;

/*
 * Like yjs_decode_next_struct, but yields only where each struct is. With YJS_DECODE_SKIM it is
 * the fastest way through a struct section (state vectors, counting): a dedicated skimmer checks
 * the structure and every bound but neither UTF-8, JSON nor self-references. Without the flag it
 * validates fully, like next_struct. Returns 1, 0 at the end of the structs, or < 0.
 */
int yjs_decode_next_extent(yjs_decoder_t *d, yjs_extent_t *ret_extent);

/* Where one client group's structs are (see yjs_decode_next_group). */
typedef struct yjs_group_extent_s {
    uint64_t client;
    uint64_t clock;      /* first clock of the group */
    uint64_t end;        /* clock after its last struct */
    uint64_t skip_clock; /* clock of its first Skip, or `end` when it has none */
    uint64_t first_end;  /* clock after its first struct */
    uint64_t nstructs;   /* structs in the group (Skips included; may be 0) */
    bool first_is_skip;  /* the group's first struct is a Skip */
} yjs_group_extent_t;

/*
 * Reads the rest of the current client group (or the next group) in one call: the fastest walk
 * when only clock ranges matter (state vectors). Validates like next_extent (SKIM: structure and
 * bounds only). Returns 1, 0 at the end of the structs, or < 0. Do not mix with next_struct /
 * next_extent inside one group.
 */
int yjs_decode_next_group(yjs_decoder_t *d, yjs_group_extent_t *ret_group);

/*
 * After the struct section: decodes the next delete-set range (client, clock, len) into
 * *ret_client, *ret_clock, *ret_len. Returns 1 per range, 0 at the end of the update (having
 * checked that no bytes follow), or a negative quire_err_t. Calling it before the struct section
 * is exhausted skims the remaining structs first.
 */
int yjs_decode_next_delete(yjs_decoder_t *d, uint64_t *ret_client, uint64_t *ret_clock,
                           uint64_t *ret_len);

/*
 * Re-decodes one struct from its own bytes raw[0..len) (e.g. a yjs_struct_t.raw kept earlier),
 * given the client and clock it had in its update. The bytes must hold exactly that struct.
 */
quire_err_t yjs_decode_struct(const uint8_t *raw, size_t len, uint64_t client, uint64_t clock,
                              const yjs_limits_t *limits, unsigned flags, yjs_struct_t *ret_struct);

/* Where and why decoding failed: a static message ("" when none) and the byte offset. */
const char *yjs_decode_error(const yjs_decoder_t *d, size_t *ret_offset);

/* Decodes a whole update, discarding the content: QUIRE_OK when it is well formed and within the
 * limits. The cheapest full validation. */
quire_err_t yjs_decode_check(const uint8_t *update, size_t len, const yjs_limits_t *limits,
                             unsigned flags);

#endif
