/*
 * quire_control — publishing revocations on <prefix>.control (DESIGN §7, docs/auth.md).
 *
 * A message is a plain UTF-8 subject — "session:<sid>", "user:<user>", "doc:<id>" or
 * "member:<doc>:<user>" — written to partition 0 (gateways consume exactly that partition from
 * its end), keyed by the subject. The producer is acks=all without idempotence: a revocation
 * published twice is harmless, and it keeps librdkafka 2.0.2's fatal idempotence error out of
 * the picture. Publishing is a notification, not the record: the revocation itself is already in
 * PostgreSQL when it is published, so a lost message delays closing sockets (until their access
 * token is re-validated), it never undoes a revocation.
 *
 * Threads: quire_control_publish may be called from any thread; it blocks until the broker
 * acknowledged the message or timeout_ms passed. A background thread serves delivery reports.
 */
#ifndef QUIRE_CONTROL_H
#define QUIRE_CONTROL_H

#include <stddef.h>

#include "quire_err.h"

typedef struct quire_control_s quire_control_t;

#define QUIRE_CONTROL_SUBJECT_MAX 256

/* brokers and topic ("<prefix>.control") are copied. NULL + errbuf when librdkafka refuses the
 * configuration. No connection is needed to start. */
quire_control_t *quire_control_new(const char *brokers, const char *topic, char *errbuf,
                                   size_t errlen);
/* Waits up to 2 s for messages in flight. Accepts NULL. */
void quire_control_destroy(quire_control_t *c);

/* Publishes subject and waits for the acknowledgement. QUIRE_OK when the broker has it;
 * QUIRE_ERR_TIMEOUT, QUIRE_ERR_KAFKA or QUIRE_ERR_INVALID (empty or longer than
 * QUIRE_CONTROL_SUBJECT_MAX) otherwise. */
quire_err_t quire_control_publish(quire_control_t *c, const char *subject, int timeout_ms);

/* Publishes subject without waiting (for threads that must not block, e.g. a producer's delivery
 * callback); a failure is only logged. */
quire_err_t quire_control_publish_async(quire_control_t *c, const char *subject);

/* Formats "<kind>:<a>" or, with b, "<kind>:<a>:<b>" into buf; QUIRE_ERR_INVALID when it does not
 * fit. */
quire_err_t quire_control_subject(char *buf, size_t len, const char *kind, const char *a,
                                  const char *b);

#endif
