/*
 * quire gateway — the WebSocket role (DESIGN §4, docs/protocol.md): stock y-websocket clients on
 * any gateway, updates pushed by offset from Kafka, writes through ingest, durable acks,
 * presence across gateways, limits. Stateless but for Kafka and PostgreSQL.
 *
 * Shutdown (SIGTERM/SIGINT): refuse new sockets, wait up to --drain for pending writes to be
 * acknowledged, close every socket with 1001 ("going away") so clients reconnect elsewhere.
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "gw.h"
#include "quire_access.h"
#include "quire_admin.h"
#include "quire_cmd.h"
#include "quire_kafka.h"
#include "quire_log.h"

typedef struct gw_main_conf_s {
    quire_common_conf_t common;
    quire_token_conf_t token;
    char *listen, *admin_listen, *gateway_id, *allowed_origins;
    bool create_on_write, epoll;
    int64_t auth_cache_ttl_ms, pg_pool;
    int64_t max_message_bytes, max_doc_bytes, max_event_bytes, send_queue_bytes, rate_per_s,
        max_conns_per_user, ping_ms, hangup_ms, unload_grace_ms, sync_frame_bytes,
        produce_timeout_ms, join_timeout_ms, presence_flush_ms, presence_expire_ms, join_workers,
        drain_ms;
} gw_main_conf_t;

#define O(f) offsetof(gw_main_conf_t, f)
static const quire_cfg_opt_t gw_opts[] = {
    QUIRE_CFG_COMMON_OPTS(gw_main_conf_t),
    QUIRE_CFG_TOKEN_OPTS(gw_main_conf_t, token),
    {"listen", QUIRE_CFG_STRING, "127.0.0.1:8081", 0, -1, O(listen), 0,
     "address for WebSocket clients (host:port)"},
    {"admin-listen", QUIRE_CFG_STRING, "127.0.0.1:0", 0, -1, O(admin_listen), 0,
     "address of /healthz, /readyz, /metrics"},
    {"gateway-id", QUIRE_CFG_STRING, NULL, 0, -1, O(gateway_id), 0,
     "this gateway's name (default: derived from --listen)"},
    {"allowed-origins", QUIRE_CFG_STRING, "", 0, -1, O(allowed_origins), 0,
     "comma-separated Origins browsers may connect from (exact match)"},
    {"max-message-bytes", QUIRE_CFG_BYTES, "32MiB", 1024, 1LL << 30, O(max_message_bytes), 0,
     "largest client message"},
    {"max-doc-bytes", QUIRE_CFG_BYTES, "32MiB", 1024, 1LL << 30, O(max_doc_bytes), 0,
     "largest document"},
    {"max-event-bytes", QUIRE_CFG_BYTES, "1MiB", 1024, 64LL << 20, O(max_event_bytes), 0,
     "largest event; larger writes are split"},
    {"send-queue-bytes", QUIRE_CFG_BYTES, "64MiB", 65536, 1LL << 32, O(send_queue_bytes), 0,
     "per-socket send queue; a slower reader is disconnected (4408)"},
    {"rate", QUIRE_CFG_INT, "200", 1, 1000000, O(rate_per_s), 0,
     "messages per second per socket (bursts of 4x); above it the socket closes (4429)"},
    {"max-conns-per-user", QUIRE_CFG_INT, "10000", 1, 10000000, O(max_conns_per_user), 0,
     "sockets one user may hold on this gateway"},
    {"ping", QUIRE_CFG_MS, "20s", 1000, 3600000, O(ping_ms), 0, "ping an idle socket after"},
    {"hangup", QUIRE_CFG_MS, "40s", 2000, 3600000, O(hangup_ms), 0,
     "close a socket silent this long"},
    {"unload-grace", QUIRE_CFG_MS, "30s", 0, 86400000, O(unload_grace_ms), 0,
     "keep a document without sockets in memory this long"},
    {"sync-frame-bytes", QUIRE_CFG_BYTES, "512KiB", 4096, 64LL << 20, O(sync_frame_bytes), 0,
     "split initial states into frames of at most this"},
    {"produce-timeout", QUIRE_CFG_MS, "10s", 100, 3600000, O(produce_timeout_ms), 0,
     "a write not confirmed by Kafka within this is refused (NACK, 1013)"},
    {"join-timeout", QUIRE_CFG_MS, "20s", 100, 3600000, O(join_timeout_ms), 0,
     "give up loading a document after this (1013)"},
    {"presence-flush", QUIRE_CFG_MS, "30ms", 1, 10000, O(presence_flush_ms), 0,
     "coalescing window of presence relayed to other gateways"},
    {"presence-expire", QUIRE_CFG_MS, "15s", 1000, 600000, O(presence_expire_ms), 0,
     "presence of a gateway not heard from this long disappears"},
    {"join-workers", QUIRE_CFG_INT, "4", 1, 64, O(join_workers), 0,
     "threads reading joining documents from PostgreSQL"},
    {"epoll", QUIRE_CFG_BOOL, "true", 0, -1, O(epoll), 0,
     "serve sockets through libwebsockets' libev plugin (epoll) instead of poll()"},
    {"create-on-write", QUIRE_CFG_BOOL, "true", 0, -1, O(create_on_write), 0,
     "a socket opened on an unknown document id makes its user the owner (as the api's first "
     "write does); otherwise unknown documents answer 404"},
    {"auth-cache-ttl", QUIRE_CFG_MS, "5s", 0, 60000, O(auth_cache_ttl_ms), 0,
     "roles and sessions are re-read from PostgreSQL at least this often (control messages "
     "apply at once)"},
    {"pg-pool", QUIRE_CFG_INT, "2", 1, 64, O(pg_pool), 0,
     "PostgreSQL connections for access checks (roles, sessions, client-id bindings)"},
    {"drain", QUIRE_CFG_MS, "5s", 0, 600000, O(drain_ms), 0,
     "on shutdown, wait this long for pending acknowledgements"},
};
#undef O

static volatile sig_atomic_t stop_signal;
static struct lws_context *signal_ctx;
static void on_signal(int sig)
{
    stop_signal = sig;
    if (signal_ctx)
        lws_cancel_service(signal_ctx);
}

static bool ready(void *opaque, char *buf, size_t len)
{
    gw_t *gw = opaque;
    if (gw->stopping) {
        snprintf(buf, len, "shutting down");
        return false;
    }
    return true;
}

static char **split_list(const char *s, size_t *ret_n)
{
    size_t n = 0, cap = 4;
    char **v = calloc(cap, sizeof *v);
    const char *p = s;
    while (v && p && *p) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        while (l && *p == ' ') {
            p++;
            l--;
        }
        if (l) {
            if (n == cap) {
                char **nv = realloc(v, (cap *= 2) * sizeof *nv);
                if (!nv)
                    break;
                v = nv;
            }
            v[n++] = strndup(p, l);
        }
        p = c ? c + 1 : NULL;
    }
    *ret_n = n;
    return v;
}

static int gw_run(void *confp, int argc, char **argv)
{
    gw_main_conf_t *mc = confp;
    char err[512], idbuf[96];
    int status = 1;
    gw_t *gw = calloc(1, sizeof *gw);
    quire_admin_t *admin = NULL;
    if (!gw)
        return 1;
    pthread_mutex_init(&gw->inbox_lock, NULL);
    if (!mc->gateway_id) {
        snprintf(idbuf, sizeof idbuf, "gw-%s", mc->listen);
        mc->gateway_id = strdup(idbuf);
    }
    gw->conf = (gw_conf_t){
        .brokers = mc->common.kafka_brokers,
        .topic_prefix = mc->common.topic_prefix,
        .pg = mc->common.pg,
        .listen = mc->listen,
        .gateway_id = mc->gateway_id,
        .allowed_origins = mc->allowed_origins,
        .max_message_bytes = mc->max_message_bytes,
        .max_doc_bytes = mc->max_doc_bytes,
        .max_event_bytes = mc->max_event_bytes,
        .send_queue_bytes = mc->send_queue_bytes,
        .rate_per_s = mc->rate_per_s,
        .max_conns_per_user = mc->max_conns_per_user,
        .ping_ms = mc->ping_ms,
        .hangup_ms = mc->hangup_ms,
        .unload_grace_ms = mc->unload_grace_ms,
        .sync_frame_bytes = mc->sync_frame_bytes,
        .produce_timeout_ms = mc->produce_timeout_ms,
        .join_timeout_ms = mc->join_timeout_ms,
        .presence_flush_ms = mc->presence_flush_ms,
        .presence_expire_ms = mc->presence_expire_ms,
        .join_workers = mc->join_workers,
        .create_on_write = mc->create_on_write,
        .epoll = mc->epoll,
    };
    struct timeval tv;
    gettimeofday(&tv, NULL);
    gw->epoch = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
    quire_kafka_topic(mc->common.topic_prefix, QUIRE_TOPIC_DOC_UPDATES, gw->topic_updates,
                      sizeof gw->topic_updates);
    quire_kafka_topic(mc->common.topic_prefix, QUIRE_TOPIC_PRESENCE, gw->topic_presence,
                      sizeof gw->topic_presence);
    quire_kafka_topic(mc->common.topic_prefix, QUIRE_TOPIC_CONTROL, gw->topic_control,
                      sizeof gw->topic_control);
    gw->origins = split_list(mc->allowed_origins, &gw->norigins);
    gw->docs = gw_map_new();
    gw->conns = gw_map_new();
    gw->users = gw_map_new();
    gw->metrics = quire_metrics_new();
    quire_metrics_t *m = gw->metrics;
    gw->m_conns = quire_metrics_add(m, QUIRE_METRIC_GAUGE, "quire_gateway_sockets", NULL,
                                    "open WebSocket connections");
    gw->m_docs = quire_metrics_add(m, QUIRE_METRIC_GAUGE, "quire_gateway_documents", NULL,
                                   "documents in memory");
    gw->m_delivered = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_gateway_delivered_total",
                                        NULL, "updates pushed to sockets");
    gw->m_events = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_gateway_events_total", NULL,
                                     "events applied from the log");
    gw->m_writes = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_gateway_writes_total", NULL,
                                     "writes received from sockets");
    gw->m_noop_writes =
        quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_gateway_noop_writes_total", NULL,
                          "writes the log already held (nothing produced)");
    gw->m_acks = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_gateway_acks_total", NULL,
                                   "acknowledgements sent");
    gw->m_refused = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_gateway_refused_total", NULL,
                                      "refused upgrades and messages");
    gw->m_slow = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_gateway_slow_readers_total",
                                   NULL, "sockets closed for a full send queue");
    gw->m_joins = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_gateway_joins_total", NULL,
                                    "documents loaded");
    gw->m_deliver_lat =
        quire_metrics_add(m, QUIRE_METRIC_HISTOGRAM, "quire_gateway_event_age_seconds", NULL,
                          "broker append to push, per event");
    gw->tokens =
        quire_tokens_new(mc->token.keys, mc->token.issuer, mc->token.audience, err, sizeof err);
    if (!gw->tokens || !gw->docs || !gw->conns || !gw->users) {
        QLOG_ERROR("cannot start without a strong token key", "err=\"%s\"", err);
        goto out;
    }
    {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max; /* many sockets: use what the system allows */
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    gw->pool = quire_pgpool_new(mc->common.pg, "quire-gateway-access", (size_t)mc->pg_pool);
    quire_access_conf_t acc = {
        .pool = gw->pool,
        .pg_timeout_ms = 2000,
        .cache_ttl_ms = mc->auth_cache_ttl_ms,
    };
    gw->access = gw->pool ? quire_access_new(&acc) : NULL;
    if (!gw->access) {
        QLOG_ERROR("could not start access control", "err=\"out of memory\"");
        goto out;
    }
    ingest_conf_t ic = {
        .brokers = mc->common.kafka_brokers,
        .check_clients = quire_access_check_clients, /* Yjs client ids bound to users */
        .check_opaque = gw->access,
        .topic = gw->topic_updates,
        .origin = mc->gateway_id,
        .max_event_bytes = (size_t)mc->max_event_bytes,
        .max_doc_bytes = (size_t)mc->max_doc_bytes,
        .delivery_timeout_ms = mc->produce_timeout_ms,
        .linger_ms = "0",
        .metrics = m,
    };
    gw->ingest = ingest_new(&ic, err, sizeof err);
    if (!gw->ingest) {
        QLOG_ERROR("could not start the write path", "err=\"%s\"", err);
        goto out;
    }
    gw->kafka = gw_kafka_new(gw, err, sizeof err);
    if (!gw->kafka) {
        QLOG_ERROR("could not start consuming", "err=\"%s\"", err);
        goto out;
    }
    gw->parts = calloc((size_t)gw->npartitions, sizeof *gw->parts);
    gw->join = gw_join_new(gw, (int)mc->join_workers, err, sizeof err);
    gw->presence = gw_presence_new(gw, err, sizeof err);
    if (!gw->parts || !gw->join || !gw->presence) {
        QLOG_ERROR("could not start", "err=\"%s\"", err);
        goto out;
    }
    if (!gw_server_start(gw, err, sizeof err)) {
        QLOG_ERROR("could not start the WebSocket server", "err=\"%s\"", err);
        goto out;
    }
    admin = quire_admin_new(mc->admin_listen, m, ready, gw, err, sizeof err);
    if (!admin) {
        QLOG_ERROR("could not start the admin endpoints", "err=\"%s\"", err);
        goto out;
    }
    signal_ctx = gw->ctx;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    QLOG_INFO("gateway listening", "listen=%s admin_port=%d gateway=%s partitions=%d", mc->listen,
              quire_admin_port(admin), mc->gateway_id, gw->npartitions);
    while (!stop_signal)
        gw_server_service(gw);

    QLOG_INFO("gateway draining", "signal=%d pending_writes=%zu", (int)stop_signal,
              gw_pending_writes(gw));
    gw->stopping = 1;
    int64_t deadline = gw_now_us() + mc->drain_ms * 1000;
    while (gw_pending_writes(gw) && gw_now_us() < deadline)
        gw_server_service(gw);
    gw_doc_shutdown(gw);
    deadline = gw_now_us() + 1000000;
    while (gw_map_size(gw->conns) && gw_now_us() < deadline)
        gw_server_service(gw);
    status = 0;
out:
    signal_ctx = NULL;
    quire_admin_destroy(admin);
    gw_server_stop(gw); /* closes sockets: CLOSED callbacks free connections */
    gw_join_destroy(gw->join);
    gw_kafka_destroy(gw->kafka);
    gw_presence_destroy(gw->presence);
    ingest_destroy(gw->ingest, 2000);
    quire_access_destroy(gw->access);
    quire_pgpool_destroy(gw->pool);
    for (gw_ev_t *ev = gw->inbox_head, *n; ev; ev = n) {
        n = ev->next;
        gw_ev_free(ev);
    }
    size_t it = 0;
    gw_doc_t *d;
    while ((d = gw_map_next(gw->docs, &it)))
        gw_doc_free(d);
    it = 0;
    void *u;
    while ((u = gw_map_next(gw->users, &it)))
        free(u);
    gw_map_destroy(gw->docs);
    gw_map_destroy(gw->conns);
    gw_map_destroy(gw->users);
    for (size_t i = 0; i < gw->norigins; i++)
        free(gw->origins[i]);
    free(gw->origins);
    free(gw->parts);
    free(gw->timer);
    for (size_t i = 0; gw->presence_cache && i < GW_PRESENCE_CACHE; i++)
        gw_ev_free(gw->presence_cache[i]);
    free(gw->presence_cache);
    free(gw->presence_cache_us);
    quire_tokens_destroy(gw->tokens);
    quire_metrics_destroy(gw->metrics);
    pthread_mutex_destroy(&gw->inbox_lock);
    free(gw);
    return status;
}

const quire_cmd_t quire_cmd_gateway = {
    .name = "gateway",
    .summary = "serve stock y-websocket clients: sync, fan-out by offset, acks, presence",
    .synopsis = "",
    .opts = gw_opts,
    .nopts = QUIRE_NOPTS(gw_opts),
    .conf_size = sizeof(gw_main_conf_t),
    .run = gw_run,
};
