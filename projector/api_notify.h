/*
 * api_notify — how far the read model has got, pushed, not polled (DESIGN §4, I4).
 *
 * The projector commits every batch with pg_notify('quire_readmodel', '<partition>:<next>'),
 * delivered on commit and in commit order. This module holds one PostgreSQL connection that
 * LISTENs, keeps the latest next offset of every partition, and wakes requests waiting for a
 * partition to pass an offset (?min_version=, and creates/deletes that answer once projected).
 * After (re)connecting it LISTENs first and then reads projector_offsets once, so no commit is
 * missed; while disconnected it reports itself unhealthy (callers then ask PostgreSQL directly)
 * and retries with back-off. An idle system costs no query.
 *
 * Threads: one background thread. Wait callbacks run on it, one at a time: they may query
 * PostgreSQL through the pool but must not wait on this module.
 */
#ifndef API_NOTIFY_H
#define API_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "quire_err.h"

typedef struct api_notify_s api_notify_t;

/* Called once per wait: reached = the partition's next offset passed the target; false on
 * timeout or shutdown. */
typedef void (*api_notify_fn)(void *opaque, bool reached);

/* Starts the thread. conninfo and topic are copied. NULL when out of memory. */
api_notify_t *api_notify_new(const char *conninfo, const char *topic, int32_t partitions);
/* Stops the thread; pending waits are called with reached = false. Accepts NULL. */
void api_notify_destroy(api_notify_t *n);

/* The latest next offset known for a partition, or -1 (unknown or not connected). */
int64_t api_notify_position(api_notify_t *n, int32_t partition);

/* True while connected and listening (positions are current). */
bool api_notify_healthy(api_notify_t *n);

/*
 * Calls fn(opaque, true) once the partition's next offset is > offset — at once, on the calling
 * thread, if it already is (then returns QUIRE_OK too) — or fn(opaque, false) after timeout_ms.
 * QUIRE_ERR_NOMEM: fn will not be called.
 */
quire_err_t api_notify_wait(api_notify_t *n, int32_t partition, int64_t offset, int timeout_ms,
                            api_notify_fn fn, void *opaque);

#endif
