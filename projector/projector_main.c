/*
 * quire projector — the consumer-group member that keeps the read model (projector.h), with
 * /healthz, /readyz and /metrics on --admin-listen.
 * quire replay — rebuilds the read model from the log: empties it, then projects every partition
 * from offset 0 to the end of the log as of start, with a progress bar and rate on stderr.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "projector.h"
#include "quire_admin.h"
#include "quire_cmd.h"
#include "quire_kafka.h"
#include "quire_log.h"
#include "quire_pg.h"
#include "readmodel.h"

typedef struct projector_main_conf_s {
    quire_common_conf_t common;
    char *admin_listen;
    char *group;
    int64_t flush_interval_ms;
    int64_t max_batch;
    int64_t max_cached_docs;
    int64_t session_timeout_ms;
    bool synchronous_commit;
    bool yes;
} projector_main_conf_t;

#define FLUSH_OPT(def, help)                                                                       \
    {                                                                                              \
        "flush-interval", QUIRE_CFG_MS, def, 0, 600000,                                            \
            offsetof(projector_main_conf_t, flush_interval_ms), 0, help                            \
    }
#define PROJECTOR_TUNING_OPTS                                                                      \
    {"synchronous-commit",                                                                         \
     QUIRE_CFG_BOOL,                                                                               \
     "false",                                                                                      \
     0,                                                                                            \
     -1,                                                                                           \
     offsetof(projector_main_conf_t, synchronous_commit),                                          \
     0,                                                                                            \
     "wait for PostgreSQL's WAL flush at every commit (off: a PostgreSQL crash may forget the "    \
     "last commits, which are projected again from the log; exactly-once holds either way)"},      \
        {"max-batch", QUIRE_CFG_INT,                                                               \
         "20000",     1,                                                                           \
         1000000,     offsetof(projector_main_conf_t, max_batch),                                  \
         0,           "events per transaction at most"},                                           \
    {                                                                                              \
        "max-cached-docs", QUIRE_CFG_INT, "10000", 16, 10000000,                                   \
            offsetof(projector_main_conf_t, max_cached_docs), 0,                                   \
            "documents kept in memory between batches"                                             \
    }

static const quire_cfg_opt_t projector_opts[] = {
    QUIRE_CFG_COMMON_OPTS(projector_main_conf_t),
    {"admin-listen", QUIRE_CFG_STRING, "127.0.0.1:0", 0, -1,
     offsetof(projector_main_conf_t, admin_listen), 0,
     "address of /healthz, /readyz and /metrics (host:port; port 0 = any)"},
    {"group", QUIRE_CFG_STRING, "quire-projector", 0, -1, offsetof(projector_main_conf_t, group), 0,
     "Kafka consumer group of the projectors"},
    {"session-timeout", QUIRE_CFG_MS, "10s", 6000, 300000,
     offsetof(projector_main_conf_t, session_timeout_ms), 0,
     "consumer group session timeout (how soon a dead projector's partitions move)"},
    FLUSH_OPT("250ms", "a hot document's full state is rewritten at most this often (its events "
                       "are indexed at once)"),
    PROJECTOR_TUNING_OPTS,
};

static const quire_cfg_opt_t replay_opts[] = {
    QUIRE_CFG_COMMON_OPTS(projector_main_conf_t),
    {"yes", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(projector_main_conf_t, yes), 0,
     "really empty the read model first (documents, event index, quarantine, offsets)"},
    FLUSH_OPT("10s", "a document's full state is rewritten at most this often during the replay "
                     "(and at its end); its events are indexed at once"),
    PROJECTOR_TUNING_OPTS,
};

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig)
{
    stop_signal = sig;
}

static void conf_from(const projector_main_conf_t *c, const char *topic, projector_conf_t *pc)
{
    memset(pc, 0, sizeof *pc);
    pc->brokers = c->common.kafka_brokers;
    pc->topic = topic;
    pc->pg = c->common.pg;
    pc->flush_interval_ms = c->flush_interval_ms;
    pc->max_batch_events = (size_t)c->max_batch;
    pc->max_cached_docs = (size_t)c->max_cached_docs;
    pc->session_timeout_ms = (int)c->session_timeout_ms;
    pc->synchronous_commit = c->synchronous_commit;
}

static int projector_cmd_run(void *confp, int argc, char **argv)
{
    projector_main_conf_t *conf = confp;
    char err[512] = "", topic[256];
    quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_DOC_UPDATES, topic, sizeof topic);
    quire_metrics_t *metrics = quire_metrics_new();
    projector_conf_t pc;
    conf_from(conf, topic, &pc);
    pc.group_id = conf->group;
    pc.metrics = metrics;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    projector_t *p = projector_new(&pc, err, sizeof err);
    if (!p) {
        QLOG_ERROR("cannot start the projector", "err=\"%s\"", err);
        quire_metrics_destroy(metrics);
        return 1;
    }
    quire_admin_t *admin =
        quire_admin_new(conf->admin_listen, metrics, projector_ready, p, err, sizeof err);
    if (!admin) {
        QLOG_ERROR("cannot serve the admin endpoints", "listen=%s err=\"%s\"", conf->admin_listen,
                   err);
        projector_destroy(p);
        quire_metrics_destroy(metrics);
        return 1;
    }
    QLOG_INFO("projector started", "topic=%s group=%s admin_port=%d engine=%s", topic, conf->group,
              quire_admin_port(admin), readmodel_engine_version());
    quire_err_t rc = projector_run(p, &stop_signal);
    QLOG_INFO("projector stopping", "signal=%d status=\"%s\"", (int)stop_signal, quire_err_str(rc));
    quire_admin_destroy(admin);
    projector_destroy(p);
    quire_metrics_destroy(metrics);
    return rc == QUIRE_OK || rc == QUIRE_ERR_SHUTDOWN ? 0 : 1;
}

typedef struct progress_s {
    struct timespec start;
    bool tty;
} progress_t;

static void print_progress(void *opaque, int64_t done, int64_t total)
{
    progress_t *pr = opaque;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double secs =
        (double)(now.tv_sec - pr->start.tv_sec) + (double)(now.tv_nsec - pr->start.tv_nsec) / 1e9;
    double rate = secs > 0 ? (double)done / secs : 0;
    int width = 30, fill = total > 0 ? (int)((double)width * (double)done / (double)total) : width;
    if (fill > width)
        fill = width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "%sreplay [%s] %lld/%lld events  %.0f events/s  %.1fs%s", pr->tty ? "\r" : "",
            bar, (long long)done, (long long)total, rate, secs, pr->tty ? "" : "\n");
    fflush(stderr);
}

static int replay_cmd_run(void *confp, int argc, char **argv)
{
    projector_main_conf_t *conf = confp;
    char err[512] = "", topic[256];
    if (!conf->yes) {
        fprintf(stderr, "quire replay: this empties the read model and rebuilds it from the log; "
                        "stop the projectors and pass --yes\n");
        return 2;
    }
    quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_DOC_UPDATES, topic, sizeof topic);
    PGconn *pg = quire_pg_connect(conf->common.pg, "quire-replay", err, sizeof err);
    if (!pg) {
        fprintf(stderr, "quire replay: %s\n", err);
        return 1;
    }
    const char *params[] = {topic};
    PGresult *r = PQexec(pg, "BEGIN");
    PQclear(r);
    r = PQexec(pg, "TRUNCATE documents, doc_events");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    r = PQexecParams(pg, "DELETE FROM quarantine WHERE topic = $1", 1, NULL, params, NULL, NULL, 0);
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    r = PQexecParams(pg, "DELETE FROM projector_offsets WHERE topic = $1", 1, NULL, params, NULL,
                     NULL, 0);
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    r = PQexec(pg, ok ? "COMMIT" : "ROLLBACK");
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "quire replay: could not empty the read model: %s\n", PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
    if (!ok)
        return 1;
    progress_t pr = {.tty = isatty(2)};
    clock_gettime(CLOCK_MONOTONIC, &pr.start);
    projector_conf_t pc;
    conf_from(conf, topic, &pc);
    pc.until_end = true;
    pc.progress = print_progress;
    pc.progress_opaque = &pr;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    projector_t *p = projector_new(&pc, err, sizeof err);
    if (!p) {
        fprintf(stderr, "quire replay: %s\n", err);
        return 1;
    }
    quire_err_t rc = projector_run(p, &stop_signal);
    projector_stats_t st;
    projector_stats(p, &st);
    projector_destroy(p);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double secs =
        (double)(now.tv_sec - pr.start.tv_sec) + (double)(now.tv_nsec - pr.start.tv_nsec) / 1e9;
    fprintf(stderr,
            "%sreplay %s: %lld events applied, %lld duplicates, %lld quarantined, %lld skipped, "
            "%lld transactions in %.2fs (%.0f events/s)\n",
            pr.tty ? "\n" : "", rc == QUIRE_OK && !stop_signal ? "done" : "stopped",
            (long long)st.events, (long long)st.duplicates, (long long)st.quarantined,
            (long long)st.skipped, (long long)st.batches, secs,
            secs > 0 ? (double)(st.events + st.duplicates + st.quarantined + st.skipped) / secs
                     : 0.0);
    return rc == QUIRE_OK && !stop_signal ? 0 : 1;
}

const quire_cmd_t quire_cmd_projector = {
    .name = "projector",
    .summary = "project the log into the PostgreSQL read model (consumer-group member)",
    .synopsis = "",
    .opts = projector_opts,
    .nopts = QUIRE_NOPTS(projector_opts),
    .conf_size = sizeof(projector_main_conf_t),
    .run = projector_cmd_run,
};

const quire_cmd_t quire_cmd_replay = {
    .name = "replay",
    .summary = "rebuild the read model from the log (empties it first; needs --yes)",
    .synopsis = "--yes",
    .opts = replay_opts,
    .nopts = QUIRE_NOPTS(replay_opts),
    .conf_size = sizeof(projector_main_conf_t),
    .run = replay_cmd_run,
};
