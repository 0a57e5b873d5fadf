/*
 * quarantine — the deterministic rule that decides whether an event of quire.doc-updates is
 * poison (DESIGN §5, I7). Poison is recorded in the quarantine table with the engine version and
 * skipped; its partition moves on.
 *
 * The rule looks only at the message itself — never at timing, retries or the database — so every
 * consumer (projector, replay, verify, later the gateway and the compactor) and every replay
 * quarantines exactly the same events for a given engine version:
 *   - the value does not decode as a DocEvent (unknown schema id, malformed Avro, oversize);
 *   - the message key is not the event's document id, or the message sits in another partition
 *     than murmur2(document id) (a document must live in exactly one partition, or positions lie);
 *   - an UPDATE whose Yjs update the engine refuses (strict validation).
 * What depends on state — a duplicate event id, an update to a deleted document — is not poison:
 * it is skipped by the caller and never indexed.
 */
#ifndef QUARANTINE_H
#define QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_codec.h"
#include "quire_err.h"
#include "yjs_update.h"

typedef struct quarantine_checker_s quarantine_checker_t;

/* NULL when out of memory or the codec cannot be built (errbuf says why). */
quarantine_checker_t *quarantine_checker_new(char *errbuf, size_t errlen);
void quarantine_checker_destroy(quarantine_checker_t *q);

/*
 * Judges one message. QUIRE_OK: *ret_event holds the decoded event (valid until the next call on
 * this checker). QUIRE_ERR_MALFORMED: poison; reason[] says why. Other errors (QUIRE_ERR_NOMEM)
 * are the caller's trouble, not the event's: never quarantine on them.
 */
quire_err_t quarantine_check(quarantine_checker_t *q, const void *key, size_t key_len,
                             int32_t partition, int32_t partition_count, const void *value,
                             size_t value_len, event_codec_event_t *ret_event, char *reason,
                             size_t reason_len);

#endif
