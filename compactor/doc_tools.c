/*
 * quire audit, quire doc get — the history tools of DESIGN §6, read straight from the read model.
 *
 *   quire audit <doc> [--from <offset|time>] [--to <offset|time>] [--json]
 *       the document's events: offset, broker time (I6: server time only), actor, kind, bytes,
 *       origin — one per line, oldest first, then a summary line.
 *   quire doc get <doc> [--at <offset|time>]
 *       the document as JSON (id, version, lifecycle, owner, counts, content per root) now or as
 *       it was at the point; "load" says what was read: the base (a snapshot, the row, or
 *       nothing) and the tail of events merged on top (compactor_policy.h bounds it).
 * A time is anything PostgreSQL reads as timestamptz (RFC 3339). Exit status 0, 1 when the
 * document (or point) does not exist, 2 on a usage or connection error.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc_content.h"
#include "quire_cmd.h"
#include "quire_kafka.h"
#include "quire_pg.h"
#include "readmodel.h"

typedef struct tools_conf_s {
    quire_common_conf_t common;
    char *from, *to, *at;
    bool json;
} tools_conf_t;

static const quire_cfg_opt_t audit_opts[] = {
    QUIRE_CFG_COMMON_OPTS(tools_conf_t),
    {"from", QUIRE_CFG_STRING, "", 0, -1, offsetof(tools_conf_t, from), 0,
     "first event: an offset or a time (RFC 3339); empty = the first"},
    {"to", QUIRE_CFG_STRING, "", 0, -1, offsetof(tools_conf_t, to), 0,
     "last event: an offset or a time (RFC 3339); empty = the latest"},
    {"json", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(tools_conf_t, json), 0,
     "one JSON object per event instead of columns"},
};

static const quire_cfg_opt_t get_opts[] = {
    QUIRE_CFG_COMMON_OPTS(tools_conf_t),
    {"at", QUIRE_CFG_STRING, "", 0, -1, offsetof(tools_conf_t, at), 0,
     "a past version: an offset or a time (RFC 3339); empty = now"},
};

static bool is_offset(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* A time as milliseconds since the epoch, read by PostgreSQL. */
static bool parse_time(PGconn *pg, const char *s, int64_t *ret_ms)
{
    const char *p[] = {s};
    PGresult *r = PQexecParams(pg, "SELECT (extract(epoch FROM $1::timestamptz) * 1000)::int8", 1,
                               NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok)
        *ret_ms = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return ok;
}

static bool valid_doc(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)id[i]) && !strchr("._~-", id[i]))
            return false;
    return true;
}

/* Appends a JSON string literal of s to out. */
static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static int audit_run(void *confp, int argc, char **argv)
{
    tools_conf_t *conf = confp;
    if (argc != 1 || !valid_doc(argv[0])) {
        fprintf(stderr, "quire audit: expected one document id\n");
        return 2;
    }
    char err[512];
    PGconn *pg = quire_pg_connect(conf->common.pg, "quire-audit", err, sizeof err);
    if (!pg) {
        fprintf(stderr, "quire audit: %s\n", err);
        return 2;
    }
    /* Bounds: offsets as they are, times turned into an offset bound by the query. */
    char lo[24] = "0", hi[24] = "9223372036854775807", lot[24] = "", hit[24] = "";
    const char *bounds[2][2] = {{conf->from, "from"}, {conf->to, "to"}};
    for (int i = 0; i < 2; i++) {
        const char *v = bounds[i][0];
        if (!v || !*v)
            continue;
        int64_t ms;
        if (is_offset(v)) {
            snprintf(i ? hi : lo, 24, "%s", v);
        } else if (parse_time(pg, v, &ms)) {
            snprintf(i ? hit : lot, 24, "%lld", (long long)ms);
        } else {
            fprintf(stderr, "quire audit: --%s must be an offset or a time\n", bounds[i][1]);
            PQfinish(pg);
            return 2;
        }
    }
    const char *p[] = {argv[0], lo, hi, *lot ? lot : NULL, *hit ? hit : NULL};
    PGresult *r = PQexecParams(
        pg,
        "SELECT \"offset\", to_char(broker_time AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), actor, kind, size, COALESCE(origin, ''), "
        "encode(event_id, 'hex'), partition FROM doc_events WHERE doc_id = $1 AND \"offset\" >= "
        "$2::int8 AND \"offset\" <= $3::int8 AND ($4::int8 IS NULL OR broker_time >= timestamptz "
        "'epoch' + $4::int8 * interval '1 ms') AND ($5::int8 IS NULL OR broker_time <= "
        "timestamptz 'epoch' + $5::int8 * interval '1 ms') ORDER BY \"offset\"",
        5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "quire audit: %s", PQerrorMessage(pg));
        PQclear(r);
        PQfinish(pg);
        return 2;
    }
    static const char *const kinds[] = {"update", "create", "delete"};
    int n = PQntuples(r);
    long long bytes = 0;
    if (!conf->json && n)
        printf("%-12s %-24s %-24s %-7s %10s  %s\n", "offset", "time", "actor", "kind", "bytes",
               "origin");
    for (int i = 0; i < n; i++) {
        int kind = atoi(PQgetvalue(r, i, 3));
        const char *kname = kind >= 0 && kind < 3 ? kinds[kind] : "?";
        bytes += atoll(PQgetvalue(r, i, 4));
        if (conf->json) {
            printf("{\"offset\":%s,\"partition\":%s,\"time\":\"%s\",\"actor\":",
                   PQgetvalue(r, i, 0), PQgetvalue(r, i, 7), PQgetvalue(r, i, 1));
            json_str(stdout, PQgetvalue(r, i, 2));
            printf(",\"kind\":\"%s\",\"bytes\":%s,\"origin\":", kname, PQgetvalue(r, i, 4));
            json_str(stdout, PQgetvalue(r, i, 5));
            printf(",\"event_id\":\"%s\"}\n", PQgetvalue(r, i, 6));
        } else {
            printf("%-12s %-24s %-24s %-7s %10s  %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                   PQgetvalue(r, i, 2), kname, PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
        }
    }
    PQclear(r);
    /* A read model bootstrapped from snapshots indexes events from a floor on. */
    const char *fp[] = {argv[0]};
    r = PQexecParams(pg,
                     "SELECT max(floor) FROM index_floors WHERE partition = (SELECT partition FROM "
                     "doc_events WHERE doc_id = $1 LIMIT 1)",
                     1, NULL, fp, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        fprintf(stderr,
                "quire audit: note: this read model was bootstrapped from snapshots; events "
                "below offset %s of the partition are in the log but not listed\n",
                PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(pg);
    if (!conf->json)
        fprintf(stderr, "%d events, %lld bytes\n", n, bytes);
    return 0;
}

static const char *base_name(int kind)
{
    return kind == READMODEL_BASE_SNAPSHOT ? "snapshot"
           : kind == READMODEL_BASE_ROW    ? "row"
                                           : "none";
}

static int get_run(void *confp, int argc, char **argv)
{
    tools_conf_t *conf = confp;
    if (argc != 1 || !valid_doc(argv[0])) {
        fprintf(stderr, "quire doc get: expected one document id\n");
        return 2;
    }
    char err[512], topic[256];
    quire_kafka_topic(conf->common.topic_prefix, QUIRE_TOPIC_DOC_UPDATES, topic, sizeof topic);
    PGconn *pg = quire_pg_connect(conf->common.pg, "quire-doc-get", err, sizeof err);
    if (!pg) {
        fprintf(stderr, "quire doc get: %s\n", err);
        return 2;
    }
    readmodel_doc_t d = {0};
    quire_err_t e;
    bool past = conf->at && *conf->at;
    if (past) {
        readmodel_point_t pt = {0};
        if (is_offset(conf->at)) {
            pt.offset = atoll(conf->at);
        } else if (parse_time(pg, conf->at, &pt.time_ms)) {
            pt.by_time = true;
        } else {
            fprintf(stderr, "quire doc get: --at must be an offset or a time\n");
            PQfinish(pg);
            return 2;
        }
        e = readmodel_load_at(pg, argv[0], &pt, &d, NULL);
    } else {
        e = readmodel_load(pg, topic, argv[0], &d);
    }
    PQfinish(pg);
    if (e) {
        fprintf(stderr, "quire doc get: %s: %s\n", argv[0],
                e == QUIRE_ERR_NOT_FOUND     ? "no such document (at that point)"
                : e == QUIRE_ERR_UNAVAILABLE ? "that point is below the event index's floor (a "
                                               "bootstrapped read model) and no snapshot covers it"
                                             : quire_err_str(e));
        readmodel_doc_deinit(&d);
        return e == QUIRE_ERR_NOT_FOUND || e == QUIRE_ERR_UNAVAILABLE ? 1 : 2;
    }
    char *content = NULL;
    size_t clen = 0;
    if (d.content) {
        content = d.content;
        d.content = NULL;
    } else if ((e = doc_content_render(d.state, d.state_len, &content, &clen))) {
        fprintf(stderr, "quire doc get: cannot render the content: %s\n", quire_err_str(e));
        readmodel_doc_deinit(&d);
        return 2;
    }
    printf(
        "{\"id\":\"%s\",\"version\":%lld,\"partition\":%d,\"position\":%lld,\"lifecycle\":\"%s\","
        "\"owner\":",
        argv[0], (long long)d.version, d.partition, (long long)d.next_offset,
        d.lifecycle == READMODEL_DELETED ? "deleted" : "active");
    if (d.owner)
        json_str(stdout, d.owner);
    else
        printf("null");
    printf(",\"event_count\":%lld,\"event_bytes\":%lld,\"state_bytes\":%zu,\"content\":%s,"
           "\"load\":{\"base\":\"%s\",\"base_position\":%lld,\"base_bytes\":%zu,"
           "\"tail_events\":%lld,\"tail_bytes\":%lld}}\n",
           (long long)d.event_count, (long long)d.event_bytes, d.state_len, content,
           base_name(d.base_kind), (long long)d.base_position, d.base_len, (long long)d.tail_events,
           (long long)d.tail_bytes);
    free(content);
    readmodel_doc_deinit(&d);
    return 0;
}

const quire_cmd_t quire_cmd_audit = {
    .name = "audit",
    .summary = "list a document's events: offset, server time, actor, kind, size",
    .synopsis = "<doc-id>",
    .opts = audit_opts,
    .nopts = QUIRE_NOPTS(audit_opts),
    .conf_size = sizeof(tools_conf_t),
    .run = audit_run,
};

const quire_cmd_t quire_cmd_doc_get = {
    .name = "doc get",
    .summary = "print a document (now, or --at a past offset or time) as JSON",
    .synopsis = "<doc-id>",
    .opts = get_opts,
    .nopts = QUIRE_NOPTS(get_opts),
    .conf_size = sizeof(tools_conf_t),
    .run = get_run,
};
