/*
 * gw_state — the gateway's copy of one document's Yjs state, behind a small interface.
 *
 * What the gateway needs: apply an update from the log; the state vector; the state diffed
 * against a client's state vector (SyncStep2); what a client's update adds that the state lacks
 * (so resends produce nothing); an estimate of the encoded size (for the document limit).
 *
 * Representation: an integrated, garbage-collected Yjs document (lib/yjs ydoc), so memory stays
 * proportional to the document's garbage-collected size however long its history. The encoded
 * state vector is cached per version.
 */
#ifndef GW_STATE_H
#define GW_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "ydoc.h"
#include "yjs_update.h"

typedef struct gw_state_s {
    ydoc_t *doc; /* owned */
    uint8_t *sv; /* cached encoded state vector, NULL when stale */
    size_t sv_len;
} gw_state_t;

/* Takes ownership of doc, or creates an empty one when doc is NULL. */
quire_err_t gw_state_init(gw_state_t *s, ydoc_t *doc);
void gw_state_deinit(gw_state_t *s);

quire_err_t gw_state_apply(gw_state_t *s, const uint8_t *update, size_t len);
/* Borrowed; valid until the next apply. */
quire_err_t gw_state_sv(gw_state_t *s, const uint8_t **ret_sv, size_t *ret_len);
/* The state diffed against sv (malloc'd, caller frees). */
quire_err_t gw_state_diff(gw_state_t *s, const uint8_t *sv, size_t sv_len, uint8_t **ret,
                          size_t *ret_len);
/* What update adds to the state: *ret = NULL when nothing (malloc'd otherwise). */
quire_err_t gw_state_novel(gw_state_t *s, const uint8_t *update, size_t len, uint8_t **ret,
                           size_t *ret_len);
/* True when update (already validated) depends on content neither the state, the writes in
 * flight (`inflight`: produced, not yet back from the log) nor the update itself holds: a gap
 * before a client's first struct, an origin, right origin or parent beyond what is available, or a
 * delete range over content nobody has. Such an update could only be held as pending forever: the
 * gateway refuses it (I7). QUIRE_ERR_* on a decoding failure. */
quire_err_t gw_state_missing_deps(gw_state_t *s, const uint8_t *update, size_t len,
                                  const yjs_client_range_t *inflight, size_t ninflight,
                                  bool *ret_missing);

/* An estimate of the encoded state's size in bytes. */
size_t gw_state_size(const gw_state_t *s);
/* Heap bytes held. */
size_t gw_state_memory(const gw_state_t *s);

/* The limits gateways give their documents (pending structs bounded, GC on). */
void gw_state_limits(ydoc_limits_t *ret, size_t max_doc_bytes);

#endif
