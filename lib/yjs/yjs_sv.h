/*
 * yjs_sv — state vectors: for each client, the next clock expected from it.
 *
 *   state vector = varUint(n) ‖ n × (varUint(client) ‖ varUint(clock))
 *
 * Yjs writes entries by client descending; its reader (decodeStateVector) accepts any order and
 * lets a later duplicate win. yjs_sv_decode does the same, then keeps the entries sorted by
 * client descending with duplicates resolved, so lookups are binary searches.
 */
#ifndef YJS_SV_H
#define YJS_SV_H

#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "yjs_buf.h"

typedef struct yjs_sv_entry_s {
    uint64_t client;
    uint64_t clock;
} yjs_sv_entry_t;

typedef struct yjs_sv_s {
    yjs_sv_entry_t *e; /* owned; sorted by client descending after decode / sort */
    size_t n;
    size_t cap;
} yjs_sv_t;

/* Decodes sv[0..len) into *ret (zeroed or deinit'ed before). Strict: minimal varints ≤ 2^53 − 1,
 * no trailing bytes, at most max_entries entries. QUIRE_ERR_EMPTY on len 0. */
quire_err_t yjs_sv_decode(const uint8_t *sv, size_t len, size_t max_entries, yjs_sv_t *ret);

/* Appends an entry (no sorting). */
quire_err_t yjs_sv_add(yjs_sv_t *sv, uint64_t client, uint64_t clock);

/* The clock for client, 0 when absent (the vector must be sorted). */
uint64_t yjs_sv_get(const yjs_sv_t *sv, uint64_t client);

/* Encodes the entries in their current order. */
void yjs_sv_write(const yjs_sv_t *sv, yjs_buf_t *out);

void yjs_sv_deinit(yjs_sv_t *sv);

#endif
