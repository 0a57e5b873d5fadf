/*
 * api_history — GET /v1/docs/{id}/history: who changed the document, when (broker time, I6) and
 * how much, from the per-document event index, oldest first, paged by offset:
 * ?after=<offset> (exclusive) &limit=<1..1000, default 100>; the answer's next_after is the
 * cursor of the next page (null at the end).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_docs.h"
#include "api_routes.h"
#include "event_codec.h"
#include "pgval.h"

api_next_t api_get_history(api_req_t *req, void *ctxp)
{
    api_ctx_t *ctx = ctxp;
    const char *doc_id = api_req_param(req, "id");
    if (!api_docs_admit(ctx, req, doc_id, API_READ))
        return API_DONE;
    int64_t after = -1, limit = 100;
    const char *a = api_req_query(req, "after");
    const char *l = api_req_query(req, "limit");
    if (a && api_docs_parse_offset(a, &after) != QUIRE_OK) {
        api_reply_error(req, 400, "bad_after", "after must be an offset (a non-negative integer)");
        return API_DONE;
    }
    if (l && (api_docs_parse_offset(l, &limit) != QUIRE_OK || limit < 1 || limit > 1000)) {
        api_reply_error(req, 400, "bad_limit", "limit must be an integer from 1 to 1000");
        return API_DONE;
    }
    int64_t version;
    readmodel_lifecycle_t lc;
    quire_err_t err = api_docs_lookup(ctx, doc_id, &version, &lc);
    if (!err && lc == READMODEL_DELETED)
        err = QUIRE_ERR_NOT_FOUND;
    if (err) {
        api_reply_quire_err(req, err,
                            err == QUIRE_ERR_UNAVAILABLE ? "read model unavailable" : NULL);
        return API_DONE;
    }
    char errbuf[256], abuf[24], lbuf[24];
    PGconn *pg = quire_pgpool_get(ctx->pool, ctx->pg_timeout_ms, errbuf, sizeof errbuf);
    if (!pg) {
        api_reply_quire_err(req, QUIRE_ERR_UNAVAILABLE, "read model unavailable");
        return API_DONE;
    }
    snprintf(abuf, sizeof abuf, "%lld", (long long)after);
    snprintf(lbuf, sizeof lbuf, "%lld", (long long)limit + 1);
    const char *params[] = {doc_id, abuf, lbuf};
    PGresult *r = PQexecParams(
        pg,
        "SELECT \"offset\", partition, event_id, kind, (extract(epoch FROM broker_time) * "
        "1000)::int8, actor, origin, size::int8 FROM doc_events WHERE doc_id = $1 AND \"offset\" "
        "> $2::int8 ORDER BY \"offset\" LIMIT $3::int8",
        3, NULL, params, NULL, NULL, 1);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    quire_pgpool_put(ctx->pool, pg, !ok);
    if (!ok) {
        PQclear(r);
        api_reply_quire_err(req, QUIRE_ERR_UNAVAILABLE, "read model unavailable");
        return API_DONE;
    }
    int n = PQntuples(r);
    bool more = n > limit;
    if (more)
        n = (int)limit;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", doc_id);
    cJSON_AddNumberToObject(j, "version", (double)version);
    cJSON *evs = cJSON_AddArrayToObject(j, "events");
    int64_t last = after;
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        last = pgval_i64(r, i, 0);
        cJSON_AddNumberToObject(e, "offset", (double)last);
        cJSON_AddNumberToObject(e, "partition", pgval_i32(r, i, 1));
        char id[EVENT_CODEC_EVENT_ID_STR_LEN] = "";
        if (PQgetlength(r, i, 2) == EVENT_CODEC_EVENT_ID_LEN)
            event_codec_event_id_format((const uint8_t *)PQgetvalue(r, i, 2), id);
        cJSON_AddStringToObject(e, "event_id", id);
        cJSON_AddStringToObject(e, "kind", event_codec_kind_name(pgval_i16(r, i, 3)));
        char t[96];
        api_docs_time(pgval_i64(r, i, 4), t, sizeof t);
        cJSON_AddStringToObject(e, "broker_time", t);
        cJSON_AddStringToObject(e, "actor", PQgetvalue(r, i, 5));
        if (PQgetisnull(r, i, 6))
            cJSON_AddNullToObject(e, "origin");
        else
            cJSON_AddStringToObject(e, "origin", PQgetvalue(r, i, 6));
        cJSON_AddNumberToObject(e, "size", (double)pgval_i64(r, i, 7));
        cJSON_AddItemToArray(evs, e);
    }
    if (more)
        cJSON_AddNumberToObject(j, "next_after", (double)last);
    else
        cJSON_AddNullToObject(j, "next_after");
    PQclear(r);
    api_docs_cache_headers(req, version);
    api_reply_json(req, 200, j);
    return API_DONE;
}
