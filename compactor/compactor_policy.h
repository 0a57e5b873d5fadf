/*
 * compactor_policy — when a document deserves a new snapshot (DESIGN §6). Pure functions over
 * numbers, no I/O, so the rule is unit-tested alone (tests/unit/compactor/).
 *
 * Three rules, checked in this order:
 *   BYTES  the bytes of the document's events since its last snapshot reach
 *          max(fraction × S, min_bytes), S being that snapshot's state size. This bounds every
 *          load's tail: a load reads a snapshot plus less than max(fraction × S, min_bytes) plus
 *          one event of updates.
 *   QUIET  nothing new for `quiet_ms` (times are the caller's clock: compactor.c uses the log's
 *          broker times) and something since the last snapshot, within the write
 *          amplification budget: snapshot bytes so far + this state ≤ max_amplification × event
 *          bytes so far (a document's first snapshot is always allowed: its state is no larger
 *          than its events). Idle documents then load with no tail at all.
 *   AGE    the oldest event not in a snapshot is older than max_pending_ms (0 = never): bounds
 *          how far back a restarting compactor and `quire bootstrap` read, whatever the budget.
 *
 * Write amplification (snapshot bytes / event bytes): a BYTES snapshot writes a state about the
 * size of the previous one, after at least fraction × that many event bytes — about 1/fraction
 * per event byte — and QUIET snapshots only spend what the budget leaves; so at fraction 1.0 the
 * total stays near or below max_amplification (1.5), AGE snapshots aside (at most one per
 * document per max_pending_ms).
 */
#ifndef COMPACTOR_POLICY_H
#define COMPACTOR_POLICY_H

#include <stdbool.h>
#include <stdint.h>

typedef struct compactor_policy_s {
    double fraction;          /* BYTES: of the state's size (default 1.0) */
    int64_t min_bytes;        /* BYTES: never for fewer event bytes than this (default 64 KiB) */
    int64_t quiet_ms;         /* QUIET: after this long without events (default 30 s) */
    double max_amplification; /* QUIET: budget of snapshot bytes per event byte (default 1.5) */
    int64_t max_pending_ms;   /* AGE: 0 = off (default 1 h) */
} compactor_policy_t;

#define COMPACTOR_POLICY_DEFAULT                                                                   \
    {                                                                                              \
        .fraction = 1.0, .min_bytes = 64 * 1024, .quiet_ms = 30000, .max_amplification = 1.5,      \
        .max_pending_ms = 3600000                                                                  \
    }

/* What the compactor knows of one document. */
typedef struct compactor_doc_stats_s {
    int64_t bytes_since;      /* event bytes since the last snapshot */
    int64_t events_since;     /* events since the last snapshot (0: nothing to do) */
    int64_t state_bytes;      /* size of the last snapshot's state (0 when none) */
    int64_t snapshot_bytes;   /* all snapshots of the document so far, in bytes */
    int64_t event_bytes;      /* all events of the document so far, in bytes */
    int64_t last_event_ms;    /* monotonic time the latest event was seen */
    int64_t first_pending_ms; /* monotonic time the oldest event not in a snapshot was seen */
    bool has_snapshot;
} compactor_doc_stats_t;

typedef enum compactor_reason_e {
    COMPACTOR_NOT_YET = 0,
    COMPACTOR_BYTES = 1,
    COMPACTOR_QUIET = 2,
    COMPACTOR_AGE = 3,
} compactor_reason_t;

/* The BYTES threshold for a document whose last snapshot holds state_bytes. */
int64_t compactor_policy_threshold(const compactor_policy_t *p, int64_t state_bytes);

/*
 * Whether the document is due at monotonic time now_ms, and why. When not due,
 * *ret_next_check_ms (may be NULL) is when a time rule could make it due (INT64_MAX: only a new
 * event can); when due it is now_ms.
 */
compactor_reason_t compactor_policy_decide(const compactor_policy_t *p,
                                           const compactor_doc_stats_t *s, int64_t now_ms,
                                           int64_t *ret_next_check_ms);

/* "bytes", "quiet", "age", "not yet". */
const char *compactor_reason_str(compactor_reason_t r);

#endif
