/*
 * quire api — the REST role: writes through ingest, reads from the PostgreSQL read model,
 * authentication, and (later) the web app. Stateless but for Kafka and PostgreSQL; run any number.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_auth.h"
#include "api_ctx.h"
#include "api_notify.h"
#include "api_routes.h"
#include "api_static.h"
#include "doc_cache.h"
#include "quire_cmd.h"
#include "quire_kafka.h"
#include "quire_log.h"

typedef struct api_main_conf_s {
    quire_common_conf_t common;
    quire_token_conf_t token;
    quire_password_conf_t pw;
    char *listen;
    char *origin;
    int64_t threads;
    int64_t max_event_bytes;
    int64_t max_doc_bytes;
    int64_t produce_timeout_ms;
    int64_t pg_pool;
    int64_t connection_timeout_ms;
    bool create_on_write;
    int64_t min_version_wait_ms;
    int64_t cache_bytes;
    char *allowed_origins;
    int64_t access_ttl_ms;
    int64_t refresh_ttl_ms;
    int64_t session_max_age_ms;
    int64_t refresh_grace_ms;
    int64_t auth_cache_ttl_ms;
    int64_t login_concurrency;
    char *web_root;
    char *web_gateways;
} api_main_conf_t;

static const quire_cfg_opt_t api_opts[] = {
    QUIRE_CFG_COMMON_OPTS(api_main_conf_t),
    QUIRE_CFG_TOKEN_OPTS(api_main_conf_t, token),
    {"listen", QUIRE_CFG_STRING, "127.0.0.1:8080", 0, -1, offsetof(api_main_conf_t, listen), 0,
     "address to serve HTTP on (host:port)"},
    {"origin", QUIRE_CFG_STRING, "api", 0, -1, offsetof(api_main_conf_t, origin), 0,
     "name of this process recorded in every event it writes"},
    {"threads", QUIRE_CFG_INT, "4", 1, 256, offsetof(api_main_conf_t, threads), 0,
     "HTTP worker threads"},
    {"max-event-bytes", QUIRE_CFG_BYTES, "1MiB", 1024, 64LL << 20,
     offsetof(api_main_conf_t, max_event_bytes), 0,
     "largest Yjs update in one event; larger updates are split"},
    {"max-doc-bytes", QUIRE_CFG_BYTES, "32MiB", 1024, 1LL << 30,
     offsetof(api_main_conf_t, max_doc_bytes), 0, "largest document and largest single write"},
    {"produce-timeout", QUIRE_CFG_MS, "10s", 100, 3600000,
     offsetof(api_main_conf_t, produce_timeout_ms), 0,
     "answer 503 when Kafka has not confirmed a write within this"},
    {"pg-pool", QUIRE_CFG_INT, "8", 1, 256, offsetof(api_main_conf_t, pg_pool), 0,
     "PostgreSQL connections"},
    {"connection-timeout", QUIRE_CFG_MS, "30s", 1000, 3600000,
     offsetof(api_main_conf_t, connection_timeout_ms), 0, "idle HTTP connection timeout"},
    {"create-on-write", QUIRE_CFG_BOOL, "true", 0, -1, offsetof(api_main_conf_t, create_on_write),
     0, "the first authorised write to an unknown document creates it (its author is owner)"},
    {"min-version-wait", QUIRE_CFG_MS, "5s", 0, 60000,
     offsetof(api_main_conf_t, min_version_wait_ms), 0,
     "how long ?min_version= (and create/delete) wait for the read model"},
    {"cache-bytes", QUIRE_CFG_BYTES, "256MiB", 0, 64LL << 30,
     offsetof(api_main_conf_t, cache_bytes), 0, "rendered documents kept by version"},
    QUIRE_CFG_PASSWORD_OPTS(api_main_conf_t, pw),
    {"allowed-origins", QUIRE_CFG_STRING, "", 0, -1, offsetof(api_main_conf_t, allowed_origins), 0,
     "comma-separated Origins whose pages may log in and change things with cookies (exact)"},
    {"access-ttl", QUIRE_CFG_MS, "15m", 60000, 3600000, offsetof(api_main_conf_t, access_ttl_ms), 0,
     "lifetime of an access token (cookie)"},
    {"refresh-ttl", QUIRE_CFG_MS, "24h", 60000, 90LL * 24 * 3600 * 1000,
     offsetof(api_main_conf_t, refresh_ttl_ms), 0,
     "a refresh token unused this long expires (idle timeout)"},
    {"session-max-age", QUIRE_CFG_MS, "168h", 60000, 365LL * 24 * 3600 * 1000,
     offsetof(api_main_conf_t, session_max_age_ms), 0,
     "a login session ends this long after the login, whatever the refreshes"},
    {"refresh-grace", QUIRE_CFG_MS, "10s", 0, 60000, offsetof(api_main_conf_t, refresh_grace_ms), 0,
     "a rotated refresh token repeated this soon (its successor unused) gets the same successor"},
    {"auth-cache-ttl", QUIRE_CFG_MS, "5s", 0, 60000, offsetof(api_main_conf_t, auth_cache_ttl_ms),
     0, "roles and sessions are re-read from PostgreSQL at least this often"},
    {"login-concurrency", QUIRE_CFG_INT, "2", 1, 64, offsetof(api_main_conf_t, login_concurrency),
     0, "password verifications (Argon2id) at once"},
    {"web-root", QUIRE_CFG_STRING, "", 0, -1, offsetof(api_main_conf_t, web_root), 0,
     "directory of the built web app (web/dist) served at /; empty: no web app"},
    {"web-gateways", QUIRE_CFG_STRING, "", 0, -1, offsetof(api_main_conf_t, web_gateways), 0,
     "comma-separated ws://host:port of the gateways the web app connects to (\"\" = same origin)"},
};

static const api_route_t routes[] = {
    {"POST", "/v1/docs/{id}/updates", api_post_updates, API_ROUTE_BODY, 0},
    {"POST", "/v1/docs", api_post_docs, API_ROUTE_BODY, 4096},
    {"GET", "/v1/docs/{id}", api_get_doc, 0, 0},
    {"DELETE", "/v1/docs/{id}", api_delete_doc, 0, 0},
    {"GET", "/v1/docs/{id}/state", api_get_doc_state, 0, 0},
    {"GET", "/v1/docs/{id}/history", api_get_history, 0, 0},
    {"GET", "/v1/docs", api_get_docs, 0, 0},
    {"GET", "/v1/docs/{id}/members", api_get_members, 0, 0},
    {"PUT", "/v1/docs/{id}/members/{user}", api_put_member, API_ROUTE_BODY, 4096},
    {"DELETE", "/v1/docs/{id}/members/{user}", api_delete_member, 0, 0},
    {"POST", "/v1/auth/login", api_auth_login, API_ROUTE_PUBLIC | API_ROUTE_BODY, 4096},
    {"POST", "/v1/auth/refresh", api_auth_refresh, API_ROUTE_PUBLIC, 0},
    {"POST", "/v1/auth/logout", api_auth_logout, API_ROUTE_PUBLIC, 0},
    {"GET", "/v1/auth/me", api_auth_me, API_ROUTE_PUBLIC, 0},
    /* the web app (api_static.h); last, so API paths always win */
    {"GET", "/", api_get_static, API_ROUTE_PUBLIC, 0},
    {"GET", "/d/{id}", api_get_static, API_ROUTE_PUBLIC, 0},
    {"GET", "/assets/{file}", api_get_static, API_ROUTE_PUBLIC, 0},
    {"GET", "/{file}", api_get_static, API_ROUTE_PUBLIC, 0},
};

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig)
{
    stop_signal = sig;
}

static int api_run(void *confp, int argc, char **argv)
{
    api_main_conf_t *conf = confp;
    char err[512], topic[256], control_topic[256];
    int status = 1;
    api_ctx_t ctx = {.max_doc_bytes = conf->max_doc_bytes, .pg_timeout_ms = 5000};
    api_t *api = NULL;
    quire_account_t *account = NULL;
    quire_control_t *control = NULL;
    ctx.metrics = quire_metrics_new();
    ctx.tokens = quire_tokens_new(conf->token.keys, conf->token.issuer, conf->token.audience, err,
                                  sizeof err);
    if (!ctx.tokens) {
        QLOG_ERROR("cannot start without a strong token key", "err=\"%s\"", err);
        goto out;
    }
    ctx.pool = quire_pgpool_new(conf->common.pg, "quire-api", (size_t)conf->pg_pool);
    quire_access_conf_t acc = {
        .pool = ctx.pool,
        .pg_timeout_ms = ctx.pg_timeout_ms,
        .cache_ttl_ms = conf->auth_cache_ttl_ms,
    };
    ctx.access = ctx.pool ? quire_access_new(&acc) : NULL;
    if (!ctx.access) {
        QLOG_ERROR("could not start access control", "err=\"out of memory\"");
        goto out;
    }
    ingest_conf_t ic = {
        .brokers = conf->common.kafka_brokers,
        .topic = quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_DOC_UPDATES, topic,
                                   sizeof topic),
        .origin = conf->origin,
        .max_event_bytes = (size_t)conf->max_event_bytes,
        .max_doc_bytes = (size_t)conf->max_doc_bytes,
        .delivery_timeout_ms = conf->produce_timeout_ms,
        .linger_ms = "1",
        .metrics = ctx.metrics,
        .check_clients = quire_access_check_clients, /* Yjs client ids bound to users */
        .check_opaque = ctx.access,
    };
    ctx.ingest = ingest_new(&ic, err, sizeof err);
    if (!ctx.ingest || !ctx.pool) {
        QLOG_ERROR("could not start the write path", "err=\"%s\"", err);
        goto out;
    }
    ctx.topic = ic.topic;
    ctx.create_on_write = conf->create_on_write;
    ctx.min_version_wait_ms = (int)conf->min_version_wait_ms;
    ctx.cache = doc_cache_new((size_t)conf->cache_bytes);
    ctx.notify = api_notify_new(conf->common.pg, ic.topic, ingest_partition_count(ctx.ingest));
    if (!ctx.cache || !ctx.notify) {
        QLOG_ERROR("could not start the read path", "err=\"out of memory\"");
        goto out;
    }
    if (conf->web_root && conf->web_root[0]) {
        ctx.web = api_static_new(conf->web_root, conf->web_gateways, err, sizeof err);
        if (!ctx.web) {
            QLOG_ERROR("could not set up the web app", "err=\"%s\"", err);
            goto out;
        }
    }
    quire_account_conf_t accountc = {
        .pool = ctx.pool,
        .tokens = ctx.tokens,
        .pg_timeout_ms = ctx.pg_timeout_ms,
        .refresh_ttl_s = conf->refresh_ttl_ms / 1000,
        .session_max_age_s = conf->session_max_age_ms / 1000,
        .refresh_grace_s = conf->refresh_grace_ms / 1000,
        .password = {(uint64_t)conf->pw.ops, (uint64_t)conf->pw.mem_bytes},
        .max_hashing = (int)conf->login_concurrency,
    };
    account = quire_account_new(&accountc, err, sizeof err);
    control =
        account
            ? quire_control_new(conf->common.kafka_brokers,
                                quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_CONTROL,
                                                  control_topic, sizeof control_topic),
                                err, sizeof err)
            : NULL;
    api_auth_conf_t authc = {
        .tokens = ctx.tokens,
        .access = ctx.access,
        .account = account,
        .control = control,
        .allowed_origins = conf->allowed_origins,
        .access_ttl_s = conf->access_ttl_ms / 1000,
    };
    ctx.auth = control ? api_auth_new(&authc, err, sizeof err) : NULL;
    if (!ctx.auth) {
        QLOG_ERROR("could not start authentication", "err=\"%s\"", err);
        goto out;
    }
    api_conf_t ac = {
        .listen = conf->listen,
        .threads = (unsigned)conf->threads,
        .max_body = (size_t)conf->max_doc_bytes,
        .connection_timeout_s = (unsigned)(conf->connection_timeout_ms / 1000),
    };
    api = api_new(&ac, routes, sizeof routes / sizeof routes[0], &ctx, ctx.tokens,
                  api_auth_authenticate, ctx.metrics, err, sizeof err);
    if (!api) {
        QLOG_ERROR("could not start the HTTP server", "err=\"%s\"", err);
        goto out;
    }
    QLOG_INFO("api listening", "listen=%s port=%d", conf->listen, api_port(api));
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    while (!stop_signal)
        pause();
    QLOG_INFO("api stopping", "signal=%d", (int)stop_signal);
    status = 0;
out:
    api_destroy(api);
    api_static_destroy(ctx.web);
    api_notify_destroy(ctx.notify);
    doc_cache_destroy(ctx.cache);
    ingest_destroy(ctx.ingest, 5000);
    api_auth_destroy(ctx.auth);
    quire_control_destroy(control);
    quire_account_destroy(account);
    quire_access_destroy(ctx.access);
    quire_pgpool_destroy(ctx.pool);
    quire_tokens_destroy(ctx.tokens);
    quire_metrics_destroy(ctx.metrics);
    return status;
}

const quire_cmd_t quire_cmd_api = {
    .name = "api",
    .summary = "serve the REST API (writes, reads, history, auth) and the web app",
    .synopsis = "",
    .opts = api_opts,
    .nopts = QUIRE_NOPTS(api_opts),
    .conf_size = sizeof(api_main_conf_t),
    .run = api_run,
};
