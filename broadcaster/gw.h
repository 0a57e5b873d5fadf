/*
 * gw — the gateway's shared internals (broadcaster/README.md has the design).
 *
 * Threads and ownership:
 *   - the event loop thread (libwebsockets) owns every gw_doc_t, gw_conn_t and the partition
 *     table, and is the only one that touches sockets;
 *   - the Kafka thread (gw_kafka) consumes doc-updates, presence and control partitions and posts
 *     decoded events to the inbox;
 *   - join workers (gw_join) read a document's state from PostgreSQL and post it to the inbox;
 *   - ingest's producer thread reports writes; its callback posts to the inbox.
 * The inbox is a mutex-protected FIFO; posting wakes the loop with lws_cancel_service, and the
 * loop drains it in LWS_CALLBACK_EVENT_WAIT_CANCELLED. FIFO order matters: the Kafka thread posts
 * SEEKED for a partition before any message fetched after that seek.
 */
#ifndef GW_H
#define GW_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_codec.h"
#include "gw_map.h"
#include "gw_proto.h"
#include "gw_state.h"
#include "ingest.h"
#include "quire_metrics.h"
#include "quire_token.h"

struct lws;
struct lws_context;
struct ev_loop;
typedef struct gw_s gw_t;
typedef struct gw_doc_s gw_doc_t;
typedef struct gw_conn_s gw_conn_t;

/* ---- configuration --------------------------------------------------------------------- */

typedef struct gw_conf_s {
    const char *brokers, *topic_prefix, *pg;
    const char *listen;
    const char *gateway_id;
    const char *allowed_origins; /* comma-separated exact origins; empty = none (bearer only) */
    int64_t max_message_bytes;   /* a client frame (reassembled) */
    int64_t max_doc_bytes;
    int64_t max_event_bytes;
    int64_t send_queue_bytes; /* per connection: a slow reader beyond this is disconnected */
    int64_t rate_per_s;       /* messages per connection per second (burst 4x) */
    int64_t max_conns_per_user;
    int64_t ping_ms, hangup_ms; /* WebSocket ping after idle, hang up without pong */
    int64_t unload_grace_ms;    /* keep a document without sockets this long */
    int64_t sync_frame_bytes;   /* split initial states into frames of at most this */
    int64_t produce_timeout_ms;
    int64_t join_timeout_ms;    /* give up on a join (1013) after this */
    int64_t presence_flush_ms;  /* coalescing window of the presence producer */
    int64_t presence_expire_ms; /* remote presence of a silent gateway expires after this */
    int64_t join_workers;
    bool create_on_write; /* a socket on an unknown document claims it for its user */
    bool epoll;           /* libwebsockets' libev plugin, falling back to poll() */
} gw_conf_t;

/* A decoded presence record (gw_presence.c); pointers borrow the record bytes. */
typedef struct gw_presence_rec_s {
    char gateway[64];
    uint64_t epoch;
    int kind; /* 0 awareness update, 1 heartbeat */
    const uint8_t *update;
    size_t len;
    const char *users[GW_AWARENESS_MAX_ENTRIES]; /* not NUL-terminated: user_lens */
    size_t user_lens[GW_AWARENESS_MAX_ENTRIES];
    size_t nusers;
} gw_presence_rec_t;

/* ---- inbox ------------------------------------------------------------------------------ */

typedef enum gw_ev_type_e {
    GW_EV_DOC_EVENT,  /* an event of doc-updates */
    GW_EV_PART_EOF,   /* reached the end of a partition: progress = offset */
    GW_EV_SEEKED,     /* the Kafka thread applied a watch: later events carry this epoch */
    GW_EV_PRESENCE,   /* a presence record of another gateway */
    GW_EV_CONTROL,    /* a revocation on quire.control */
    GW_EV_JOIN_DONE,  /* a document's state read from PostgreSQL */
    GW_EV_WRITE_DONE, /* ingest reported a write */
} gw_ev_type_t;

typedef struct gw_ev_s {
    struct gw_ev_s *next;
    gw_ev_type_t type;
    int32_t partition;
    int64_t offset;
    uint64_t epoch;
    char doc_id[EVENT_CODEC_DOC_ID_MAX + 1];
    /* DOC_EVENT */
    event_codec_kind_t kind;
    uint8_t event_id[EVENT_CODEC_EVENT_ID_LEN];
    int64_t broker_ms;
    /* DOC_EVENT update, PRESENCE awareness update, JOIN_DONE state (owned, malloc'd) */
    uint8_t *data;
    size_t len;
    /* PRESENCE: data/len hold the whole record; rec points into it */
    gw_presence_rec_t rec;
    /* JOIN_DONE */
    ydoc_t *doc; /* the loaded document (owned until taken) */
    quire_err_t err;
    int64_t version, position, high; /* doc version, P, partition high watermark */
    bool deleted;
    /* WRITE_DONE */
    uint64_t conn_id, seq;
    quire_err_t write_err;
    /* CONTROL */
    char subject[257]; /* "session:<sid>", "user:<u>", "doc:<id>", "member:<doc>:<user>" */
} gw_ev_t;

void gw_post(gw_t *gw, gw_ev_t *ev); /* any thread; takes ownership */
gw_ev_t *gw_ev_new(gw_ev_type_t type);
void gw_ev_free(gw_ev_t *ev);

#define GW_PRESENCE_CACHE 4096

/* ---- partitions ------------------------------------------------------------------------- */

typedef struct gw_part_s {
    int watchers;   /* open documents in this partition */
    uint64_t epoch; /* latest SEEKED epoch seen */
    int64_t seen;   /* highest next offset the loop has seen in this partition (any epoch) */
    int presence_watchers;
} gw_part_t;

/* ---- connections ------------------------------------------------------------------------ */

typedef struct gw_write_s {
    struct gw_write_s *next;
    uint64_t seq;
    size_t remaining; /* events not yet seen coming back */
    uint8_t (*ids)[EVENT_CODEC_EVENT_ID_LEN];
    size_t nids;
    bool reported; /* ingest reported success (or nothing had to be written) */
    bool failed;
    bool deferred; /* an Update sent before the client's first SyncStep2 that builds on content
                    * the gateway lacks: held (upd) until that SyncStep2 arrives, then written
                    * merged with it; done when that write is done */
    uint8_t *upd;  /* the held update (its novel part), until merged */
    size_t upd_len;
} gw_write_t;

typedef struct gw_pending_msg_s { /* a client message held until the document is ready */
    struct gw_pending_msg_s *next;
    size_t len;
    uint8_t data[];
} gw_pending_msg_t;

struct gw_conn_s {
    uint64_t id;
    gw_t *gw;
    struct lws *wsi;
    gw_doc_t *doc;
    gw_conn_t *doc_prev, *doc_next;
    char doc_id[EVENT_CODEC_DOC_ID_MAX + 1];
    quire_identity_t who;
    bool ext, viewer, synced, established;
    bool step2_seen;       /* the client has sent a SyncStep2 */
    uint32_t ndeferred;    /* writes held for that SyncStep2 (see gw_write_t.deferred) */
    size_t deferred_bytes; /* and their bytes, until merged */
    gw_write_t *merged;    /* the SyncStep2's write that held writes were merged into */
    int64_t min_progress;  /* RESUME: answer SyncStep1 only once the partition got this far */
    /* receive */
    uint8_t *rx;
    size_t rx_len, rx_cap;
    bool rx_text;
    /* send queue (ring of frames) */
    gw_frame_t **sq;
    size_t sq_head, sq_count, sq_cap, sq_bytes;
    /* messages held until the document is ready */
    gw_pending_msg_t *held_head, *held_tail;
    size_t held_bytes;
    int64_t joined_us;
    /* writes */
    uint64_t next_seq, acked_seq;
    gw_write_t *writes, *writes_tail;
    /* awareness client ids this connection controls */
    uint64_t aw_clients[8];
    size_t n_aw;
    /* token bucket */
    double tokens;
    int64_t tokens_us;
    /* closing */
    int close_code;
    bool close_sent; /* our close frame is written: waiting for the peer's */
    char close_reason[96];
};

/* ---- documents -------------------------------------------------------------------------- */

typedef enum gw_doc_phase_e {
    GW_DOC_LOADING, /* reading PostgreSQL */
    GW_DOC_SEEKING, /* state loaded at P; waiting for the Kafka thread's SEEKED */
    GW_DOC_CATCHUP, /* applying events from P until the partition reaches `high` */
    GW_DOC_READY,
    GW_DOC_GONE, /* deleted or failed: sockets closing */
} gw_doc_phase_t;

typedef struct gw_aw_s { /* one awareness client known to this gateway */
    uint64_t client, clock;
    char *state; /* JSON (state_len bytes, NUL-terminated), or NULL for removed */
    size_t state_len;
    bool dirty;                    /* changed locally since the last presence flush */
    uint64_t conn_id;              /* local owner, 0 for remote */
    char user[QUIRE_USER_MAX + 1]; /* the user whose connection set it */
    char gateway[64];
    int64_t seen_us;
} gw_aw_t;

struct gw_doc_s {
    char id[EVENT_CODEC_DOC_ID_MAX + 1];
    int32_t partition;
    gw_doc_phase_t phase;
    gw_state_t st;
    int64_t version; /* offset of the latest applied event, -1 for none */
    int64_t next;    /* apply events at offsets >= next */
    int64_t high;    /* catch up until the partition reaches this */
    uint64_t epoch;  /* only events of this seek epoch or later count */
    uint64_t token;  /* the watch whose SEEKED this document waits for */
    int64_t scan;    /* catch-up: next offset of the partition seen since that SEEKED */
    gw_conn_t *conns;
    size_t nconns;
    int64_t empty_since_us; /* when the last socket left (grace timer) */
    int64_t join_started_us;
    gw_frame_t **full_sync; /* the answer to an empty state vector at full_sync_version: */
    size_t nfull_sync;      /* frames of Updates, the last one a SyncStep2; shared by joiners */
    int64_t full_sync_version;
    gw_aw_t *aw;
    size_t naw, aw_cap;
    /* client clock ranges of writes produced but not yet back from the log: later writes that
     * build on them are not "missing dependencies" */
    yjs_client_range_t *inflight;
    size_t ninflight, inflight_cap;
    bool presence_dirty;
    int64_t presence_beat_us; /* last heartbeat published */
};

/* ---- the gateway ------------------------------------------------------------------------ */

struct gw_s {
    gw_conf_t conf;
    struct lws_context *ctx;
    struct ev_loop *evloop; /* with --epoll: the libev loop libwebsockets serves from */
    quire_tokens_t *tokens;
    struct quire_access_s *access; /* roles, sessions, client-id bindings (lib/auth) */
    struct quire_pgpool_s *pool;   /* its connections */
    quire_metrics_t *metrics;
    ingest_t *ingest;
    char topic_updates[160], topic_presence[160], topic_control[160];
    int32_t npartitions;
    gw_part_t *parts;
    gw_map_t *docs;  /* id → gw_doc_t */
    gw_map_t *conns; /* id → gw_conn_t */
    gw_map_t *users; /* user → connection count (intptr) */
    uint64_t next_conn_id;
    uint64_t next_token;
    size_t catching_up; /* documents in SEEKING or CATCHUP */
    int64_t access_checked_us;
    /* recent presence records of documents not open here, replayed when one opens on a partition
     * already watched (no Kafka re-read per join): a ring of events with their arrival times */
    gw_ev_t **presence_cache;
    int64_t *presence_cache_us;
    size_t presence_cache_next;
    uint64_t epoch; /* this process's presence epoch */
    char **origins;
    size_t norigins;
    volatile int stopping;
    int64_t stop_deadline_us;

    pthread_mutex_t inbox_lock;
    gw_ev_t *inbox_head, *inbox_tail;

    struct gw_kafka_s *kafka;
    struct gw_join_s *join;
    struct gw_presence_s *presence;
    void *timer; /* the event loop's periodic timer (gw_server.c), freed at exit */

    quire_metric_t *m_conns, *m_docs, *m_delivered, *m_events, *m_writes, *m_noop_writes, *m_acks,
        *m_refused, *m_slow, *m_deliver_lat, *m_joins;
};

int64_t gw_now_us(void);

/* gw_doc.c — document logic on the loop thread. */
void gw_doc_attach(gw_t *gw, gw_conn_t *c); /* a socket opened on c->doc_id */
void gw_doc_free(gw_doc_t *d);              /* its memory only: the shutdown path */
void gw_doc_detach(gw_t *gw, gw_conn_t *c); /* a socket closed */
void gw_doc_on_message(gw_t *gw, gw_conn_t *c, const uint8_t *msg, size_t len);
void gw_doc_on_event(gw_t *gw, gw_ev_t *ev); /* every inbox event */
void gw_doc_tick(gw_t *gw);                  /* timers: unload, presence, expiry, join timeouts */
void gw_doc_shutdown(gw_t *gw);              /* close every socket with 1001 */
size_t gw_pending_writes(gw_t *gw);

/* gw_server.c — sockets. */
struct lws_context *gw_server_start(gw_t *gw, char *errbuf, size_t errlen);
void gw_server_service(gw_t *gw); /* one round of the event loop (at most ~50 ms: the tick) */
void gw_server_stop(gw_t *gw);    /* closes every socket and the context */
void gw_conn_send(gw_conn_t *c, gw_frame_t *f); /* takes a reference */
void gw_conn_close(gw_conn_t *c, int code, const char *reason);

/* gw_kafka.c — the consumer thread. */
typedef struct gw_kafka_s gw_kafka_t;
gw_kafka_t *gw_kafka_new(gw_t *gw, char *errbuf, size_t errlen);
void gw_kafka_destroy(gw_kafka_t *k);
/* Watch `partition` from `from_offset` (seeking back if needed); the SEEKED event that answers
 * carries `token` in its seq field. */
void gw_kafka_watch(gw_kafka_t *k, int32_t partition, int64_t from_offset, uint64_t token);
void gw_kafka_unwatch(gw_kafka_t *k, int32_t partition);
void gw_kafka_watch_presence(gw_kafka_t *k, int32_t partition);
void gw_kafka_unwatch_presence(gw_kafka_t *k, int32_t partition);
int64_t gw_kafka_high_watermark(gw_kafka_t *k, int32_t partition); /* any thread; -1 on error */

/* gw_join.c — PostgreSQL readers. */
typedef struct gw_join_s gw_join_t;
gw_join_t *gw_join_new(gw_t *gw, int workers, char *errbuf, size_t errlen);
void gw_join_destroy(gw_join_t *j);
void gw_join_request(gw_join_t *j, const char *doc_id, int32_t partition);

/* gw_presence.c — the presence relay (acks=1 producer, coalescing). */
typedef struct gw_presence_s gw_presence_t;
gw_presence_t *gw_presence_new(gw_t *gw, char *errbuf, size_t errlen);
void gw_presence_destroy(gw_presence_t *p);
/* Publishes an awareness update for doc, with the user owning each of its entries (users[i]
 * for entry i) — as a heartbeat when `heartbeat`: then the update holds the gateway's live local
 * entries (possibly none). Loop thread. */
void gw_presence_publish(gw_presence_t *p, const char *doc_id, const uint8_t *update, size_t len,
                         const char *const *users, size_t nusers, bool heartbeat);
/* Parses a presence record (Kafka value) into *ret (pointers borrow buf). 0 on success. */
int gw_presence_decode(const uint8_t *buf, size_t len, gw_presence_rec_t *ret);

#endif
