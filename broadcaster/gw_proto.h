/*
 * gw_proto — the y-websocket wire protocol as the gateway reads and writes it (docs/protocol.md,
 * ../shared/reference/yjs-protocol.md): message envelopes, sync messages, awareness updates, and
 * quire's extension messages (types ≥ 100). Pure functions over bytes: no sockets, no state.
 *
 * Parsing is strict and bounded: varUints are lib0's (≤ 8 bytes, ≤ 2^53 − 1, minimal), every
 * length is checked against what remains, trailing bytes after a message are refused (stock
 * clients send one message per frame), awareness states must be valid JSON within a size cap.
 * Encoders produce frames with LWS_PRE bytes of headroom so libwebsockets can write them as is;
 * frames are refcounted so one encoded update is shared by every socket it goes to.
 */
#ifndef GW_PROTO_H
#define GW_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"

#define GW_MSG_SYNC               0
#define GW_MSG_AWARENESS          1
#define GW_MSG_AUTH               2
#define GW_MSG_QUERY_AWARENESS    3
#define GW_SYNC_STEP1             0
#define GW_SYNC_STEP2             1
#define GW_SYNC_UPDATE            2
#define GW_AUTH_PERMISSION_DENIED 0
/* quire's extension (docs/protocol.md) */
#define GW_MSG_ACK     100
#define GW_MSG_NACK    101
#define GW_MSG_VERSION 102
#define GW_MSG_RESUME  103

#define GW_AWARENESS_MAX_ENTRIES 64
#define GW_AWARENESS_MAX_STATE   (16 * 1024) /* bytes of one client's JSON state */

/* One parsed message; pointers borrow the frame. */
typedef struct gw_msg_s {
    uint64_t type;          /* GW_MSG_* (any value for unknown types) */
    uint64_t subtype;       /* sync subtype */
    const uint8_t *payload; /* sync: the state vector or update; awareness: the update */
    size_t payload_len;
    uint64_t version; /* RESUME */
} gw_msg_t;

/* Parses one frame. QUIRE_ERR_EMPTY for an empty frame, QUIRE_ERR_MALFORMED for truncation,
 * trailing bytes, an unknown sync subtype, or a message type the server never accepts from
 * clients (auth and quire's server-to-client types); unknown types ≥ 104 are returned as is (the
 * caller ignores them, as the reference server does). */
quire_err_t gw_msg_parse(const uint8_t *frame, size_t len, gw_msg_t *ret_msg);

/* One awareness entry (lib0: clientID, clock, JSON state or "null"). */
typedef struct gw_aw_entry_s {
    uint64_t client;
    uint64_t clock;
    const char *state; /* borrowed, not NUL-terminated */
    size_t state_len;
    bool removed; /* state is "null" */
} gw_aw_entry_t;

/* Parses an awareness update into at most max entries. QUIRE_ERR_LIMIT above max entries or
 * GW_AWARENESS_MAX_STATE bytes of state, QUIRE_ERR_MALFORMED for bad framing, invalid UTF-8 or
 * invalid JSON. */
quire_err_t gw_awareness_parse(const uint8_t *buf, size_t len, gw_aw_entry_t *ret_entries,
                               size_t max, size_t *ret_n);

/* The awareness update (without the message type and length) of entries: its size, and writing
 * it into out (which must have that size). */
size_t gw_awareness_size(const gw_aw_entry_t *entries, size_t n);
void gw_awareness_write(const gw_aw_entry_t *entries, size_t n, uint8_t *out);

/* A refcounted frame ready for lws_write: data[GW_FRAME_PRE .. GW_FRAME_PRE + len). */
#define GW_FRAME_PRE 16 /* == LWS_PRE on this platform; checked at compile time in gw_server.c */
typedef struct gw_frame_s {
    int refs;
    size_t len;
    uint8_t data[];
} gw_frame_t;

gw_frame_t *gw_frame_alloc(size_t len);
void gw_frame_ref(gw_frame_t *f);
void gw_frame_unref(gw_frame_t *f);
static inline uint8_t *gw_frame_body(gw_frame_t *f)
{
    return f->data + GW_FRAME_PRE;
}

/* Frame builders. Return NULL when out of memory. */
gw_frame_t *gw_frame_sync(uint64_t subtype, const uint8_t *payload, size_t len);
gw_frame_t *gw_frame_awareness(const gw_aw_entry_t *entries, size_t n);
gw_frame_t *gw_frame_permission_denied(const char *reason);
gw_frame_t *gw_frame_ack(uint64_t seq, uint64_t version);
gw_frame_t *gw_frame_nack(uint64_t seq, uint64_t code, const char *reason);
gw_frame_t *gw_frame_version(uint64_t version);

/* Writes lib0 varUint / varUint8Array into out (must have room: ≤ 8 bytes for a varUint);
 * returns bytes written. */
size_t gw_put_varuint(uint8_t *out, uint64_t v);
size_t gw_varuint_len(uint64_t v);

#endif
