/*
 * quire compactor — the consumer-group member that makes snapshots (compactor.h), with /healthz,
 * /readyz and /metrics on --admin-listen. Several may run: the group and per-partition advisory
 * locks share the partitions among them.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compactor.h"
#include "quire_admin.h"
#include "quire_cmd.h"
#include "quire_kafka.h"
#include "quire_log.h"

typedef struct compactor_main_conf_s {
    quire_common_conf_t common;
    char *admin_listen;
    char *group;
    int64_t session_timeout_ms;
    char *fraction;
    int64_t min_bytes;
    int64_t quiet_ms;
    char *max_amplification;
    int64_t max_pending_ms;
    int64_t max_state_bytes;
    int64_t retry_ms;
    bool until_idle;
} compactor_main_conf_t;

static const quire_cfg_opt_t compactor_opts[] = {
    QUIRE_CFG_COMMON_OPTS(compactor_main_conf_t),
    {"admin-listen", QUIRE_CFG_STRING, "127.0.0.1:0", 0, -1,
     offsetof(compactor_main_conf_t, admin_listen), 0,
     "address of /healthz, /readyz and /metrics (host:port; port 0 = any)"},
    {"group", QUIRE_CFG_STRING, "quire-compactor", 0, -1, offsetof(compactor_main_conf_t, group), 0,
     "Kafka consumer group of the compactors (its committed offsets are the coverage)"},
    {"session-timeout", QUIRE_CFG_MS, "10s", 6000, 300000,
     offsetof(compactor_main_conf_t, session_timeout_ms), 0,
     "consumer group session timeout (how soon a dead compactor's partitions move)"},
    {"snapshot-fraction", QUIRE_CFG_STRING, "1.0", 0, -1, offsetof(compactor_main_conf_t, fraction),
     0,
     "snapshot when the bytes of a document's events since its last snapshot reach this fraction "
     "of its state's size (0.05-100)"},
    {"min-snapshot-bytes", QUIRE_CFG_BYTES, "64KiB", 0, 1LL << 30,
     offsetof(compactor_main_conf_t, min_bytes), 0,
     "the bytes rule never fires for fewer event bytes than this"},
    {"quiet-period", QUIRE_CFG_MS, "30s", 100, 86400000, offsetof(compactor_main_conf_t, quiet_ms),
     0, "snapshot a document this long after its latest event (within --max-amplification)"},
    {"max-amplification", QUIRE_CFG_STRING, "1.5", 0, -1,
     offsetof(compactor_main_conf_t, max_amplification), 0,
     "quiet-period snapshots keep a document's snapshot bytes within this many times its event "
     "bytes (1-100)"},
    {"max-pending-age", QUIRE_CFG_MS, "1h", 0, 604800000,
     offsetof(compactor_main_conf_t, max_pending_ms), 0,
     "snapshot a document whose oldest unsnapshotted event is this old, whatever the budget "
     "(0 = never); bounds how far back restarts and bootstrap read"},
    {"max-state-bytes", QUIRE_CFG_BYTES, "63MiB", 1024, 64LL << 20,
     offsetof(compactor_main_conf_t, max_state_bytes), 0,
     "documents whose state is larger are not snapshotted (logged); the snapshot topic's "
     "max.message.bytes must exceed it"},
    {"retry", QUIRE_CFG_MS, "200ms", 10, 60000, offsetof(compactor_main_conf_t, retry_ms), 0,
     "wait before trying a document again (projector behind, failure)"},
    {"until-idle", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(compactor_main_conf_t, until_idle), 0,
     "stop once every partition is read to its end and nothing is due within 5 s (tools, "
     "benchmarks)"},
};

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig)
{
    stop_signal = sig;
}

static bool parse_ratio(const char *s, double lo, double hi, double *ret)
{
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *ret = v;
    return true;
}

static int compactor_cmd_run(void *confp, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    compactor_main_conf_t *conf = confp;
    compactor_conf_t cc = {.policy = COMPACTOR_POLICY_DEFAULT};
    if (!parse_ratio(conf->fraction, 0.05, 100, &cc.policy.fraction) ||
        !parse_ratio(conf->max_amplification, 1, 100, &cc.policy.max_amplification)) {
        fprintf(stderr, "quire compactor: --snapshot-fraction must be 0.05-100 and "
                        "--max-amplification 1-100\n");
        return 2;
    }
    char err[512] = "", updates[256], snapshots[256];
    quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_DOC_UPDATES, updates, sizeof updates);
    quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_DOC_SNAPSHOTS, snapshots,
                      sizeof snapshots);
    cc.policy.min_bytes = conf->min_bytes;
    cc.policy.quiet_ms = conf->quiet_ms;
    cc.policy.max_pending_ms = conf->max_pending_ms;
    cc.brokers = conf->common.kafka_brokers;
    cc.topic_updates = updates;
    cc.topic_snapshots = snapshots;
    cc.pg = conf->common.pg;
    cc.group_id = conf->group;
    cc.session_timeout_ms = (int)conf->session_timeout_ms;
    cc.max_state_bytes = (size_t)conf->max_state_bytes;
    cc.retry_ms = conf->retry_ms;
    cc.until_idle = conf->until_idle;
    quire_metrics_t *metrics = quire_metrics_new();
    cc.metrics = metrics;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    compactor_t *c = compactor_new(&cc, err, sizeof err);
    if (!c) {
        QLOG_ERROR("cannot start the compactor", "err=\"%s\"", err);
        quire_metrics_destroy(metrics);
        return 1;
    }
    quire_admin_t *admin =
        quire_admin_new(conf->admin_listen, metrics, compactor_ready, c, err, sizeof err);
    if (!admin) {
        QLOG_ERROR("cannot serve the admin endpoints", "listen=%s err=\"%s\"", conf->admin_listen,
                   err);
        compactor_destroy(c);
        quire_metrics_destroy(metrics);
        return 1;
    }
    QLOG_INFO("compactor started",
              "topic=%s snapshots=%s group=%s admin_port=%d fraction=%.2f min_bytes=%lld "
              "quiet_ms=%lld",
              updates, snapshots, conf->group, quire_admin_port(admin), cc.policy.fraction,
              (long long)cc.policy.min_bytes, (long long)cc.policy.quiet_ms);
    quire_err_t rc = compactor_run(c, &stop_signal);
    compactor_stats_t st;
    compactor_stats(c, &st);
    QLOG_INFO("compactor stopping",
              "signal=%d status=\"%s\" events=%lld event_bytes=%lld snapshots=%lld "
              "snapshot_bytes=%lld published=%lld bytes_rule=%lld quiet_rule=%lld age_rule=%lld "
              "deferred=%lld republished=%lld",
              (int)stop_signal, quire_err_str(rc), (long long)st.events, (long long)st.event_bytes,
              (long long)st.snapshots, (long long)st.snapshot_bytes, (long long)st.published,
              (long long)st.by_reason[COMPACTOR_BYTES], (long long)st.by_reason[COMPACTOR_QUIET],
              (long long)st.by_reason[COMPACTOR_AGE], (long long)st.deferred,
              (long long)st.republished);
    quire_admin_destroy(admin);
    compactor_destroy(c);
    quire_metrics_destroy(metrics);
    return rc == QUIRE_OK ? 0 : 1;
}

const quire_cmd_t quire_cmd_compactor = {
    .name = "compactor",
    .summary = "make document snapshots (history table + compacted topic; consumer-group member)",
    .synopsis = "",
    .opts = compactor_opts,
    .nopts = QUIRE_NOPTS(compactor_opts),
    .conf_size = sizeof(compactor_main_conf_t),
    .run = compactor_cmd_run,
};
