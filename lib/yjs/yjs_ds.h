/*
 * yjs_ds — delete sets: collecting ranges, normalising them as Yjs does, and encoding.
 *
 * A delete set is a list of (client, clock, len) ranges. Yjs encodes it grouped by client,
 * clients in descending order (src/utils/DeleteSet.js writeDeleteSet). Two normal forms exist:
 *   - yjs_ds_sort_merge: per client sorted by clock, overlapping or touching ranges united
 *     (sortAndMergeDeleteSet / mergeDeleteSets — what mergeUpdates writes);
 *   - yjs_ds_group: ranges only grouped by client, each client's ranges in the order they were
 *     added (readDeleteSet then writeDeleteSet — what diffUpdate writes).
 */
#ifndef YJS_DS_H
#define YJS_DS_H

#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "yjs_buf.h"

typedef struct yjs_ds_range_s {
    uint64_t client;
    uint64_t clock;
    uint64_t len;
} yjs_ds_range_t;

typedef struct yjs_ds_s {
    yjs_ds_range_t *r; /* owned */
    size_t n;
    size_t cap;
} yjs_ds_t;

/* Appends a range. QUIRE_ERR_NOMEM on allocation failure. */
quire_err_t yjs_ds_add(yjs_ds_t *ds, uint64_t client, uint64_t clock, uint64_t len);

/* Sorts by client descending then clock ascending, and unites overlapping or touching ranges of
 * a client (Yjs sortAndMergeDeleteSet). Zero-length ranges are kept unless absorbed, as in Yjs.
 * Needs scratch memory: QUIRE_ERR_NOMEM on failure (ds unchanged). */
quire_err_t yjs_ds_sort_merge(yjs_ds_t *ds);

/* Stable sort by client descending only. QUIRE_ERR_NOMEM on failure (ds unchanged). */
quire_err_t yjs_ds_group(yjs_ds_t *ds);

/* Encodes ranges that are already grouped by client (after sort_merge or group). */
void yjs_ds_write(const yjs_ds_t *ds, yjs_buf_t *out);

/* Size in bytes of yjs_ds_write's output. */
size_t yjs_ds_size(const yjs_ds_t *ds);

/* Frees the ranges. Accepts NULL. */
void yjs_ds_deinit(yjs_ds_t *ds);

#endif
