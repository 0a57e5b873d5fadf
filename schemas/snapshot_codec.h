/*
 * snapshot_codec — the DocSnapshot envelope of the compacted quire.doc-snapshots topic and of the
 * snapshot history table (DESIGN §6), as a plain C struct, to and from the Confluent wire format
 * (0x00, 4-byte big-endian schema id, Avro body) — framed exactly like DocEvent.
 *
 * A snapshot is a document's merged Yjs state covering its partition up to position P: every
 * event of that partition below offset P is included. state_blake2b is the unkeyed BLAKE2b-256
 * (libsodium crypto_generichash, 32 bytes) of the state bytes: encode computes it, decode
 * verifies it, so a corrupted snapshot is refused rather than loaded.
 *
 * Both directions enforce: doc_id 1-128 bytes of [A-Za-z0-9._~-]; partition >= 0; position >= 0;
 * state 1..max_state_bytes; created_time_ms >= 0. A zero-length message is a compaction
 * tombstone: decode returns QUIRE_ERR_EMPTY for it. Errors otherwise as event_codec.h.
 *
 * Thread safety: a codec is used by one thread at a time; separate codecs may run concurrently.
 */
#ifndef SNAPSHOT_CODEC_H
#define SNAPSHOT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"

#define SNAPSHOT_CODEC_HASH_LEN          32
#define SNAPSHOT_CODEC_DEFAULT_MAX_STATE (64u * 1024 * 1024)
/* Bytes a snapshot takes beyond its state at most (header and the other fields at their caps). */
#define SNAPSHOT_CODEC_ENVELOPE_MAX 512

/*
 * One snapshot.
 * - Encode: pointers are borrowed for the duration of the call; state_blake2b is ignored (encode
 *   computes it).
 * - Decode: pointers point into memory owned by the codec, valid until the next
 *   snapshot_codec_decode() on it or snapshot_codec_destroy(); doc_id is NUL-terminated.
 */
typedef struct snapshot_codec_snapshot_s {
    uint32_t schema_id; /* decode: the writer's schema id; ignored by encode */
    const char *doc_id;
    size_t doc_id_len;
    int32_t partition;    /* of quire.doc-updates */
    int64_t position;     /* P: the next offset of the partition not covered by state */
    const uint8_t *state; /* merged Yjs state as one Yjs update (v1) */
    size_t state_len;
    uint8_t state_blake2b[SNAPSHOT_CODEC_HASH_LEN]; /* decode: verified hash of state */
    int64_t created_time_ms;
} snapshot_codec_snapshot_t;

typedef struct snapshot_codec_opts_s {
    uint32_t writer_schema_id; /* 0 = latest DocSnapshot */
    uint32_t reader_schema_id; /* 0 = latest DocSnapshot */
    size_t max_state_bytes;    /* 0 = SNAPSHOT_CODEC_DEFAULT_MAX_STATE */
} snapshot_codec_opts_t;

typedef struct snapshot_codec_s snapshot_codec_t;

/* Builds a codec into *ret_codec (free with snapshot_codec_destroy()); opts may be NULL.
 * Errors as event_codec_new(). */
quire_err_t snapshot_codec_new(const snapshot_codec_opts_t *opts, snapshot_codec_t **ret_codec,
                               char *errbuf, size_t errlen);

/* Frees a codec; NULL is fine. */
void snapshot_codec_destroy(snapshot_codec_t *codec);

/* The schema id encode writes, and an upper bound of any message this codec encodes or accepts. */
uint32_t snapshot_codec_writer_schema_id(const snapshot_codec_t *codec);
size_t snapshot_codec_max_message(const snapshot_codec_t *codec);

/* Encodes *snap (borrowed for the call) into buf[0..cap); *ret_len = the message length.
 * QUIRE_ERR_INVALID for a rule broken or a short buffer, QUIRE_ERR_TOO_LARGE for state above the
 * cap. */
quire_err_t snapshot_codec_encode(snapshot_codec_t *codec, const snapshot_codec_snapshot_t *snap,
                                  uint8_t *buf, size_t cap, size_t *ret_len);

/* As snapshot_codec_encode, into a malloc'd buffer of *ret_len bytes the caller frees. */
quire_err_t snapshot_codec_encode_alloc(snapshot_codec_t *codec,
                                        const snapshot_codec_snapshot_t *snap, uint8_t **ret_buf,
                                        size_t *ret_len);

/* Decodes buf[0..len) (borrowed for the call) into *ret_snap, verifying the hash
 * (QUIRE_ERR_MALFORMED on mismatch). */
quire_err_t snapshot_codec_decode(snapshot_codec_t *codec, const uint8_t *buf, size_t len,
                                  snapshot_codec_snapshot_t *ret_snap);

/* Frees the memory held for the last decoded snapshot (up to the size of its state); pointers of
 * that snapshot become invalid. Optional: the next decode releases it anyway. */
void snapshot_codec_release(snapshot_codec_t *codec);

/* A message about the last failed call ("" if none); owned by the codec, valid until its next
 * call. */
const char *snapshot_codec_last_error(const snapshot_codec_t *codec);

/* The content hash of a state, as stored in state_blake2b (for the history table). */
void snapshot_codec_hash(const uint8_t *state, size_t state_len,
                         uint8_t out[SNAPSHOT_CODEC_HASH_LEN]);

#endif
