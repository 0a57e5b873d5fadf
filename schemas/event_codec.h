/*
 * event_codec — the DocEvent envelope of quire.doc-updates (DESIGN §3) as a plain C struct, to
 * and from the Confluent wire format: 0x00, the 4-byte big-endian schema id, the Avro body.
 *
 * Encode writes the codec's writer schema (default: the latest DocEvent, id 2). Decode accepts
 * every DocEvent schema id this binary knows (1, 2) and resolves it into the reader schema
 * (default: the latest): a field the writer lacks decodes as absent, a field the reader lacks is
 * dropped. Unknown ids are QUIRE_ERR_NOT_FOUND (a newer writer: upgrade the reader), anything
 * else wrong is QUIRE_ERR_MALFORMED (poison: quarantine it), oversize is QUIRE_ERR_TOO_LARGE.
 * Untrusted bytes are validated by a bounded prescan before Avro-C 1.11.1 sees them (AVRO-4344,
 * AVRO-4293): no input makes decode crash, loop, or allocate more than a small multiple of it.
 *
 * Event id: 16 bytes (Avro fixed "EventId"), random, chosen once by ingest (UUID version 4
 * layout, so it prints and stores as a UUID) and kept when the event is resent after a producer
 * rebuild; consumers deduplicate on (doc_id, event_id). Bytes rather than a UUID string: a fixed
 * size that needs no parsing or canonicalisation (case, hyphens) before it can be compared, and
 * 17 bytes fewer per event. All-zero is refused, so a forgotten id cannot collide.
 *
 * Both directions enforce the same rules, so whatever encodes also decodes:
 *   doc_id           1-128 bytes of [A-Za-z0-9._~-]
 *   actor, origin    1-256 bytes of UTF-8 without NUL
 *   server_time_ms   >= 0
 *   update           UPDATE: 1..max_update_bytes; CREATE, DELETE: empty
 *   idempotency_key  absent, or 1-255 bytes of printable ASCII (0x20-0x7E)
 *
 * Thread safety: a codec is used by one thread at a time; separate codecs may run concurrently.
 */
#ifndef EVENT_CODEC_H
#define EVENT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"

#define EVENT_CODEC_EVENT_ID_LEN        16
#define EVENT_CODEC_DOC_ID_MAX          128
#define EVENT_CODEC_ACTOR_MAX           256
#define EVENT_CODEC_ORIGIN_MAX          256
#define EVENT_CODEC_IDEMPOTENCY_KEY_MAX 255
#define EVENT_CODEC_DEFAULT_MAX_UPDATE  (1024 * 1024)
/* Bytes an event takes beyond its update at most: the header plus every other field at its cap. */
#define EVENT_CODEC_ENVELOPE_MAX     1024
#define EVENT_CODEC_EVENT_ID_STR_LEN 37 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */

/* The kinds of DocEvent. Values are the Avro enum's symbol indexes; symbols are only appended. */
typedef enum event_codec_kind_e {
    EVENT_CODEC_KIND_UPDATE = 0, /* carries a Yjs update */
    EVENT_CODEC_KIND_CREATE = 1, /* lifecycle: document created (update empty) */
    EVENT_CODEC_KIND_DELETE = 2, /* lifecycle: document deleted (update empty) */
} event_codec_kind_t;
#define EVENT_CODEC_KIND_COUNT 3

/*
 * One event. Strings are byte spans with explicit lengths.
 * - Encode: every pointer is borrowed for the duration of the call only; strings need no NUL.
 * - Decode: every pointer points into memory owned by the codec, valid until the next
 *   event_codec_decode() on the same codec or event_codec_destroy(); copy what must live longer.
 *   Decoded strings are NUL-terminated (str[len] == '\0') and contain no NUL; update is not.
 */
typedef struct event_codec_event_s {
    uint32_t schema_id; /* decode: the writer's schema id; ignored by encode */
    const char *doc_id;
    size_t doc_id_len;
    uint8_t event_id[EVENT_CODEC_EVENT_ID_LEN];
    event_codec_kind_t kind;
    const char *actor; /* the authenticated user id */
    size_t actor_len;
    int64_t server_time_ms; /* ingest's clock, ms since the Unix epoch */
    const char *origin;     /* the producing gateway/api process */
    size_t origin_len;
    const uint8_t *update; /* Yjs update v1; NULL allowed when update_len == 0 */
    size_t update_len;
    const char *idempotency_key; /* since schema 2; NULL = absent (and always NULL from v1) */
    size_t idempotency_key_len;
} event_codec_event_t;

typedef struct event_codec_opts_s {
    uint32_t writer_schema_id; /* 0 = latest DocEvent; pin an older id while readers upgrade */
    uint32_t reader_schema_id; /* 0 = latest DocEvent */
    size_t max_update_bytes;   /* 0 = EVENT_CODEC_DEFAULT_MAX_UPDATE */
} event_codec_opts_t;

typedef struct event_codec_s event_codec_t;

/* Builds a codec (parses and resolves the embedded schemas: about 0.1 ms, so once per thread) into
 * *ret_codec; free it with event_codec_destroy(). opts may be NULL for defaults.
 * QUIRE_ERR_INVALID for an id that is not a DocEvent schema, QUIRE_ERR_INTERNAL if the embedded
 * schemas break the evolution rules, QUIRE_ERR_NOMEM; a message goes to errbuf (may be NULL). */
quire_err_t event_codec_new(const event_codec_opts_t *opts, event_codec_t **ret_codec, char *errbuf,
                            size_t errlen);

/* Frees a codec; NULL is fine. Decoded events of this codec become invalid. */
void event_codec_destroy(event_codec_t *codec);

/* The schema id encode writes. */
uint32_t event_codec_writer_schema_id(const event_codec_t *codec);

/* An upper bound of any message this codec encodes or accepts (header included). */
size_t event_codec_max_message(const event_codec_t *codec);

/* Encodes *ev (borrowed for the call) into buf[0..cap); *ret_len = the message length.
 * QUIRE_ERR_INVALID when a field breaks the rules above or cap is too small,
 * QUIRE_ERR_TOO_LARGE when the update exceeds max_update_bytes. A buffer of
 * event_codec_max_message() bytes is always large enough. idempotency_key is dropped when the
 * writer schema is 1. */
quire_err_t event_codec_encode(event_codec_t *codec, const event_codec_event_t *ev, uint8_t *buf,
                               size_t cap, size_t *ret_len);

/* As event_codec_encode, into a new malloc'd buffer of exactly *ret_len bytes that the caller
 * owns and frees with free() (or hands to librdkafka with RD_KAFKA_MSG_F_FREE). */
quire_err_t event_codec_encode_alloc(event_codec_t *codec, const event_codec_event_t *ev,
                                     uint8_t **ret_buf, size_t *ret_len);

/* The exact length event_codec_encode would produce into *ret_size. */
quire_err_t event_codec_encoded_size(event_codec_t *codec, const event_codec_event_t *ev,
                                     size_t *ret_size);

/* Decodes buf[0..len) (borrowed for the call; nothing points into it afterwards) into
 * *ret_event (see the struct for how long its pointers live). Errors: QUIRE_ERR_EMPTY (len 0),
 * QUIRE_ERR_TOO_LARGE, QUIRE_ERR_MALFORMED, QUIRE_ERR_NOT_FOUND (unknown schema id or kind);
 * event_codec_last_error() says more. */
quire_err_t event_codec_decode(event_codec_t *codec, const uint8_t *buf, size_t len,
                               event_codec_event_t *ret_event);

/* Frees the memory held for the last decoded event (up to the size of its update); pointers of
 * that event become invalid. Optional: the next decode releases it anyway. */
void event_codec_release(event_codec_t *codec);

/* A message about the last failed call on this codec ("" if none). Owned by the codec, valid
 * until its next call. */
const char *event_codec_last_error(const event_codec_t *codec);

/* "UPDATE", "CREATE", "DELETE", or "UNKNOWN". Static. */
const char *event_codec_kind_name(event_codec_kind_t kind);

/* Formats an event id as a lowercase UUID string into out (37 bytes with the NUL). */
void event_codec_event_id_format(const uint8_t id[EVENT_CODEC_EVENT_ID_LEN],
                                 char out[EVENT_CODEC_EVENT_ID_STR_LEN]);

#endif
