/*
 * gw_state — the gateway's copy of one document's Yjs state, behind a small interface so the
 * representation can change without touching the gateway's logic.
 *
 * What the gateway needs: apply an update from the log; the state vector; the state diffed
 * against a client's state vector (SyncStep2); what a client's update adds that the state lacks
 * (so resends produce nothing); the size.
 *
 * Representation: the merged update of everything applied (lib/yjs part 1, document-free). The
 * state vector is cached per version. Memory is the merged update's size.
 */
#ifndef GW_STATE_H
#define GW_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"

typedef struct gw_state_s {
    uint8_t *update; /* merged state (owned) */
    size_t len;
    uint8_t *sv; /* cached encoded state vector, NULL when stale */
    size_t sv_len;
} gw_state_t;

/* Takes ownership of update (malloc'd) — or starts empty when update is NULL. */
void gw_state_init(gw_state_t *s, uint8_t *update, size_t len);
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
size_t gw_state_size(const gw_state_t *s);

#endif
