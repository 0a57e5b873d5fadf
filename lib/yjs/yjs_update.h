/*
 * yjs_update — document-free operations on Yjs v1 updates: the entry points ingest, the gateway
 * and the compactor call.
 *
 *   yjs_update_validate      well formed? within limits? which (client, clock range)s?
 *   yjs_update_merge         Y.mergeUpdates
 *   yjs_update_diff          Y.diffUpdate
 *   yjs_update_state_vector  Y.encodeStateVectorFromUpdate
 *   yjs_update_split         several valid updates, each at most `cap` bytes
 *
 * Every function validates its inputs completely (strictly: see yjs_decode.h) before trusting
 * them, never aborts, and uses memory bounded by a small multiple of its input. With
 * YJS_DECODE_SKIM in `flags` the UTF-8 and JSON checks are skipped (for updates that were
 * validated before, e.g. everything read back from the log); bounds are always checked.
 *
 * Output buffers are allocated with malloc; the caller frees them with free(). Outputs are
 * written only on success. `ret_error`, when not NULL, receives a message on failure.
 *
 * Yjs equivalence (tested differentially against the yjs npm package, see tests/yjs/): for
 * updates whose contents Yjs itself would re-encode unchanged — every update a Yjs client or Yjs
 * itself produces — merge, diff and state vector are byte-identical to Yjs 13.6, including its
 * order-dependent choices when inputs overlap. Content is copied, never re-serialised, so for
 * foreign encodings (JSON with whitespace, `any` floats that fit an integer, ...) the output
 * keeps the input's bytes where Yjs would normalise them. lib/yjs/README.md has the details.
 */
#ifndef YJS_UPDATE_H
#define YJS_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "yjs_decode.h"

/* Where an operation failed: which input (for merge), at which byte, and why. */
typedef struct yjs_error_s {
    char message[200];
    size_t input;  /* index of the failing input (merge), else 0 */
    size_t offset; /* byte offset inside that input */
} yjs_error_t;

/* One clock range [clock, end) of one client that an update carries structs for. */
typedef struct yjs_client_range_s {
    uint64_t client;
    uint64_t clock;
    uint64_t end;
} yjs_client_range_t;

/*
 * The result of yjs_update_validate. Caller-owned, zero-initialise it before first use; it can be
 * reused across calls (the range array is kept and grown), and yjs_validation_deinit frees it.
 */
typedef struct yjs_validation_s {
    quire_err_t err;   /* the return value of the last call */
    yjs_error_t error; /* message when err != QUIRE_OK, else "" */
    /* Clock ranges of the structs (Skips excluded), in update order, adjacent ranges of one
     * client united: the content the update would create. A client's ids are bound to the user
     * who writes them; ingest checks every client here. */
    yjs_client_range_t *ranges; /* owned */
    size_t nranges;
    size_t ranges_cap;
    uint64_t nstructs; /* Items + GCs */
    uint64_t nskips;
    uint64_t ndelete_ranges;
} yjs_validation_t;

/*
 * Validates update[0..len) against limits (NULL = YJS_LIMITS_DEFAULT) and lists the client clock
 * ranges it carries. Returns QUIRE_OK, or QUIRE_ERR_EMPTY / _MALFORMED / _TOO_LARGE / _LIMIT /
 * _NOMEM with ret->error describing it. ret->err mirrors the return value.
 */
quire_err_t yjs_update_validate(const uint8_t *update, size_t len, const yjs_limits_t *limits,
                                unsigned flags, yjs_validation_t *ret);

/* Frees the range array of a validation result. Accepts NULL. */
void yjs_validation_deinit(yjs_validation_t *v);

/*
 * Merges n updates (updates[i] of lens[i] bytes) into one, with the semantics and output of
 * Y.mergeUpdates: structs of all inputs united per client (higher clients first), overlaps taken
 * from the earlier-chosen input, gaps marked by Skip structs, delete sets united. n = 1 returns a
 * copy of the (validated) input, as Yjs returns it unchanged; n = 0 returns the empty update.
 * Cost is O(total size + structs · log inputs).
 */
quire_err_t yjs_update_merge(const uint8_t *const *updates, const size_t *lens, size_t n,
                             const yjs_limits_t *limits, unsigned flags, uint8_t **ret_update,
                             size_t *ret_len, yjs_error_t *ret_error);

/*
 * What update holds that a peer with state vector sv does not, with the semantics and output of
 * Y.diffUpdate: structs at or beyond sv[client] (the first one sliced at the boundary), and the
 * whole delete set.
 */
quire_err_t yjs_update_diff(const uint8_t *update, size_t len, const uint8_t *sv, size_t sv_len,
                            const yjs_limits_t *limits, unsigned flags, uint8_t **ret_update,
                            size_t *ret_len, yjs_error_t *ret_error);

/*
 * The state vector of an update, as Y.encodeStateVectorFromUpdate computes it: per client group
 * that starts at clock 0, the clock after its last struct before the first Skip.
 */
quire_err_t yjs_update_state_vector(const uint8_t *update, size_t len, const yjs_limits_t *limits,
                                    unsigned flags, uint8_t **ret_sv, size_t *ret_len,
                                    yjs_error_t *ret_error);

/* Several updates stored back to back: part i is data[offsets[i] .. offsets[i + 1]). */
typedef struct yjs_parts_s {
    uint8_t *data;   /* owned */
    size_t *offsets; /* owned, n + 1 entries */
    size_t n;
    uint64_t nsliced; /* structs that had to be cut because one alone exceeded the cap */
} yjs_parts_t;

/*
 * Splits an update into consecutive valid updates of at most `cap` bytes each (cap ≥ 64), so that
 * a large offline sync fits a message limit. Applying all parts, in any order, gives the same
 * document as applying the update; merging them gives the update back (byte-identical for Yjs
 * updates, except that GC structs meeting at a part boundary come back united and a struct cut
 * because it alone exceeded the cap comes back as its pieces). A struct that cannot be cut
 * (binary, embed, format, type, doc content, or a header) and alone exceeds the cap fails with
 * QUIRE_ERR_TOO_LARGE. An update that already fits comes back as one part, re-encoded.
 */
quire_err_t yjs_update_split(const uint8_t *update, size_t len, size_t cap,
                             const yjs_limits_t *limits, unsigned flags, yjs_parts_t *ret_parts,
                             yjs_error_t *ret_error);

/* Part i of a split (borrowed from parts). */
static inline const uint8_t *yjs_parts_get(const yjs_parts_t *parts, size_t i, size_t *ret_len)
{
    *ret_len = parts->offsets[i + 1] - parts->offsets[i];
    return parts->data + parts->offsets[i];
}

/* Frees a split result. Accepts NULL and zeroed structs. */
void yjs_parts_deinit(yjs_parts_t *parts);

#endif
