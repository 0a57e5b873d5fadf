/*
 * api_docs_read — GET /v1/docs/{id} (JSON: content per root and version; ?min_version= waits,
 * within --min-version-wait, until the read model has reached a version the caller saw — read
 * your writes; ?at= an offset or an RFC 3339 broker time gives a past version) and
 * GET /v1/docs/{id}/state (the merged Yjs update; ?sv= a base64 state vector gives the diff).
 *
 * Current versions come from doc_cache: an entry is served without a query while api_notify
 * reports the same partition position the entry is known current at, else revalidated with one
 * cheap version query, else rebuilt with readmodel_load (one REPEATABLE READ snapshot) and
 * doc_content. Past versions come from readmodel_load_at. Deleted and unknown documents are 404.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_docs.h"
#include "api_notify.h"
#include "api_routes.h"
#include "doc_cache.h"
#include "doc_content.h"
#include "quire_kafka.h"
#include "quire_log.h"
#include "yjs_update.h"

/* ---------------------------------------------------------------- shared helpers */

void api_docs_time(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

quire_err_t api_docs_parse_time(const char *s, int64_t *ret_ms)
{
    /* YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM) */
    size_t n = strlen(s);
    if (n < 20 || n > 40 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2) ||
        s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
        return QUIRE_ERR_INVALID;
    struct tm tm = {0};
    tm.tm_year = num(s, 4) - 1900;
    tm.tm_mon = num(s + 5, 2) - 1;
    tm.tm_mday = num(s + 8, 2);
    tm.tm_hour = num(s + 11, 2);
    tm.tm_min = num(s + 14, 2);
    tm.tm_sec = num(s + 17, 2);
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return QUIRE_ERR_INVALID;
    const char *p = s + 19;
    int64_t frac_ms = 0;
    if (*p == '.') {
        p++;
        int k = 0;
        while (isdigit((unsigned char)*p)) {
            if (k < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            k++;
            p++;
        }
        if (k == 0)
            return QUIRE_ERR_INVALID;
        for (; k < 3; k++)
            frac_ms *= 10;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2)) {
        offset_s = (int64_t)(num(p + 1, 2) * 3600 + num(p + 4, 2) * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return QUIRE_ERR_INVALID;
    }
    if (*p)
        return QUIRE_ERR_INVALID;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return QUIRE_ERR_INVALID;
    *ret_ms = ((int64_t)t - offset_s) * 1000 + frac_ms;
    return QUIRE_OK;
}

quire_err_t api_docs_parse_offset(const char *s, int64_t *ret)
{
    size_t n = strlen(s);
    if (n == 0 || n > 16 || !digits(s, (int)n) || (n > 1 && s[0] == '0'))
        return QUIRE_ERR_INVALID;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    if (v >= (INT64_C(1) << 53))
        return QUIRE_ERR_INVALID;
    *ret = v;
    return QUIRE_OK;
}

void api_docs_cache_headers(api_req_t *req, int64_t version)
{
    char etag[32];
    snprintf(etag, sizeof etag, "\"%lld\"", (long long)version);
    api_add_header(req, "ETag", etag);
    api_add_header(req, "Cache-Control", "private, no-cache");
    api_add_header(req, "Vary", "Authorization, Cookie");
}

bool api_docs_not_modified(api_req_t *req, int64_t version)
{
    const char *h = api_req_header(req, "If-None-Match");
    if (!h)
        return false;
    char want[32];
    int wl = snprintf(want, sizeof want, "\"%lld\"", (long long)version);
    for (const char *p = h; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p == '*')
            return true;
        if (strncmp(p, want, (size_t)wl) == 0 && (p[wl] == '\0' || p[wl] == ',' || p[wl] == ' '))
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

int32_t api_docs_partition(api_ctx_t *ctx, const char *doc_id)
{
    return ingest_partition_of(ctx->ingest, doc_id);
}

bool api_docs_admit(api_ctx_t *ctx, api_req_t *req, const char *doc_id, api_action_t action)
{
    if (!api_doc_id_valid(doc_id)) {
        api_reply_error(req, 404, "not_found",
                        "no such document (document ids are 1-128 of [A-Za-z0-9._~-])");
        return false;
    }
    quire_err_t err = api_authorize(ctx, api_req_identity(req), doc_id, action);
    if (err) {
        api_reply_quire_err(req, err, NULL);
        return false;
    }
    return true;
}

quire_err_t api_docs_lookup(api_ctx_t *ctx, const char *doc_id, int64_t *ret_version,
                            readmodel_lifecycle_t *ret_lifecycle)
{
    int32_t part = api_docs_partition(ctx, doc_id);
    int64_t known = api_notify_position(ctx->notify, part);
    doc_cache_entry_t *e = doc_cache_get(ctx->cache, doc_id);
    if (e && known >= 0 && atomic_load(&e->cover) == known) {
        *ret_version = e->version;
        *ret_lifecycle = READMODEL_ACTIVE;
        doc_cache_release(e);
        return QUIRE_OK;
    }
    doc_cache_release(e);
    char err[256];
    PGconn *pg = quire_pgpool_get(ctx->pool, ctx->pg_timeout_ms, err, sizeof err);
    if (!pg)
        return QUIRE_ERR_UNAVAILABLE;
    quire_err_t rc = readmodel_version(pg, doc_id, ret_version, ret_lifecycle);
    quire_pgpool_put(ctx->pool, pg, rc == QUIRE_ERR_PG);
    return rc == QUIRE_ERR_PG ? QUIRE_ERR_UNAVAILABLE : rc;
}

/* ---------------------------------------------------------------- rendering */

static char *render_json(const char *doc_id, const readmodel_doc_t *d, const char *content,
                         size_t *ret_len, const char *at)
{
    cJSON *j = cJSON_CreateObject();
    char t[96];
    cJSON_AddStringToObject(j, "id", doc_id);
    cJSON_AddNumberToObject(j, "version", (double)d->version);
    cJSON_AddNumberToObject(j, "partition", d->partition);
    cJSON_AddNumberToObject(j, "position", (double)d->next_offset);
    if (at)
        cJSON_AddStringToObject(j, "at", at);
    cJSON_AddStringToObject(j, "lifecycle",
                            d->lifecycle == READMODEL_DELETED ? "deleted" : "active");
    if (d->owner)
        cJSON_AddStringToObject(j, "owner", d->owner);
    else
        cJSON_AddNullToObject(j, "owner");
    api_docs_time(d->created_ms, t, sizeof t);
    cJSON_AddStringToObject(j, "created_at", t);
    api_docs_time(d->updated_ms, t, sizeof t);
    cJSON_AddStringToObject(j, "updated_at", t);
    cJSON_AddRawToObject(j, "content", content);
    cJSON *c = cJSON_AddObjectToObject(j, "counts");
    cJSON_AddNumberToObject(c, "events", (double)d->event_count);
    cJSON_AddNumberToObject(c, "update_bytes", (double)d->event_bytes);
    cJSON_AddNumberToObject(c, "state_bytes", (double)d->state_len);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (s)
        *ret_len = strlen(s);
    return s;
}

/* The current entry of a document: cached, revalidated, or rebuilt. */
static quire_err_t current_entry(api_ctx_t *ctx, const char *doc_id, doc_cache_entry_t **ret)
{
    int32_t part = api_docs_partition(ctx, doc_id);
    int64_t known = api_notify_position(ctx->notify, part);
    doc_cache_entry_t *e = doc_cache_get(ctx->cache, doc_id);
    if (e && known >= 0 && atomic_load(&e->cover) == known) {
        *ret = e;
        return QUIRE_OK;
    }
    char errbuf[256];
    PGconn *pg = quire_pgpool_get(ctx->pool, ctx->pg_timeout_ms, errbuf, sizeof errbuf);
    if (!pg) {
        doc_cache_release(e);
        return QUIRE_ERR_UNAVAILABLE;
    }
    quire_err_t err;
    if (e) {
        int64_t v;
        readmodel_lifecycle_t lc;
        err = readmodel_version(pg, doc_id, &v, &lc);
        if (err == QUIRE_OK && v == e->version && lc == READMODEL_ACTIVE) {
            if (known > atomic_load(&e->cover))
                atomic_store(&e->cover, known);
            quire_pgpool_put(ctx->pool, pg, false);
            *ret = e;
            return QUIRE_OK;
        }
        doc_cache_release(e);
        e = NULL;
        if (err || lc == READMODEL_DELETED) {
            doc_cache_remove(ctx->cache, doc_id);
            quire_pgpool_put(ctx->pool, pg, err == QUIRE_ERR_PG);
            return err == QUIRE_ERR_PG ? QUIRE_ERR_UNAVAILABLE : err ? err : QUIRE_ERR_NOT_FOUND;
        }
    }
    readmodel_doc_t d = {0};
    err = readmodel_load(pg, ctx->topic, doc_id, &d);
    quire_pgpool_put(ctx->pool, pg, err == QUIRE_ERR_PG);
    if (err)
        return err == QUIRE_ERR_PG ? QUIRE_ERR_UNAVAILABLE : err;
    if (d.lifecycle == READMODEL_DELETED) {
        readmodel_doc_deinit(&d);
        doc_cache_remove(ctx->cache, doc_id);
        return QUIRE_ERR_NOT_FOUND;
    }
    char *content = d.content;
    size_t clen = d.content_len;
    d.content = NULL;
    if (!content) {
        err = doc_content_render(d.state, d.state_len, &content, &clen);
        if (err) {
            QLOG_ERROR("cannot render a stored document", "doc=%s err=\"%s\"", doc_id,
                       quire_err_str(err));
            readmodel_doc_deinit(&d);
            return QUIRE_ERR_INTERNAL;
        }
    }
    size_t jlen = 0;
    char *json = render_json(doc_id, &d, content, &jlen, NULL);
    free(content);
    uint8_t *state = d.state;
    d.state = NULL;
    e = doc_cache_entry_new(strdup(doc_id), d.version, d.partition, d.next_offset, json, jlen,
                            state, d.state_len);
    readmodel_doc_deinit(&d);
    if (!e || !json)
        return QUIRE_ERR_NOMEM;
    doc_cache_put(ctx->cache, e);
    *ret = e;
    return QUIRE_OK;
}

/* ---------------------------------------------------------------- handlers */

typedef enum { AS_JSON, AS_STATE } doc_format_t;

/* Answers a current-version read (after any wait). */
static void serve_current(api_ctx_t *ctx, api_req_t *req, const char *doc_id, doc_format_t fmt)
{
    doc_cache_entry_t *e = NULL;
    quire_err_t err = current_entry(ctx, doc_id, &e);
    if (err) {
        api_reply_quire_err(req, err,
                            err == QUIRE_ERR_UNAVAILABLE ? "read model unavailable" : NULL);
        return;
    }
    api_docs_cache_headers(req, e->version);
    char pos[24];
    snprintf(pos, sizeof pos, "%lld", (long long)atomic_load(&e->cover));
    api_add_header(req, "X-Quire-Position", pos);
    const char *sv64 = fmt == AS_STATE ? api_req_query(req, "sv") : NULL;
    if (!sv64 && api_docs_not_modified(req, e->version)) {
        api_reply(req, 304, "application/json", "", 0);
    } else if (fmt == AS_JSON) {
        api_reply(req, 200, "application/json", e->json, e->json_len);
    } else if (!sv64) {
        api_reply(req, 200, "application/octet-stream", e->state, e->state_len);
    } else {
        size_t n = strlen(sv64);
        uint8_t *sv = malloc(n + 1);
        size_t svlen = 0;
        char *fixed = strdup(sv64);
        if (fixed) /* a '+' that arrived unencoded in a query string reads as a space */
            for (char *c = fixed; *c; c++)
                if (*c == ' ')
                    *c = '+';
        bool ok = sv && fixed &&
                  (sodium_base642bin(sv, n + 1, fixed, n, NULL, &svlen, NULL,
                                     sodium_base64_VARIANT_ORIGINAL) == 0 ||
                   sodium_base642bin(sv, n + 1, fixed, n, NULL, &svlen, NULL,
                                     sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 ||
                   sodium_base642bin(sv, n + 1, fixed, n, NULL, &svlen, NULL,
                                     sodium_base64_VARIANT_URLSAFE) == 0 ||
                   sodium_base642bin(sv, n + 1, fixed, n, NULL, &svlen, NULL,
                                     sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0);
        uint8_t *diff = NULL;
        size_t dlen = 0;
        yjs_error_t ye;
        if (!ok) {
            api_reply_error(req, 400, "bad_state_vector", "sv must be a base64 Yjs state vector");
        } else if (yjs_update_diff(e->state, e->state_len, sv, svlen, NULL, YJS_DECODE_SKIM, &diff,
                                   &dlen, &ye) != QUIRE_OK) {
            api_reply_error(req, 400, "bad_state_vector", "sv is not a valid state vector: %s",
                            ye.message);
        } else {
            api_reply(req, 200, "application/octet-stream", diff, dlen);
        }
        free(diff);
        free(sv);
        free(fixed);
    }
    doc_cache_release(e);
}

static void serve_at(api_ctx_t *ctx, api_req_t *req, const char *doc_id, const char *at,
                     doc_format_t fmt)
{
    readmodel_point_t pt = {0};
    if (api_docs_parse_offset(at, &pt.offset) != QUIRE_OK) {
        pt.by_time = true;
        if (api_docs_parse_time(at, &pt.time_ms) != QUIRE_OK) {
            api_reply_error(req, 400, "bad_at",
                            "at must be an offset (a non-negative integer) or an RFC 3339 time");
            return;
        }
    }
    char errbuf[256];
    PGconn *pg = quire_pgpool_get(ctx->pool, ctx->pg_timeout_ms, errbuf, sizeof errbuf);
    if (!pg) {
        api_reply_quire_err(req, QUIRE_ERR_UNAVAILABLE, "read model unavailable");
        return;
    }
    readmodel_doc_t d = {0};
    bool deleted_now = false;
    quire_err_t err = readmodel_load_at(pg, doc_id, &pt, &d, &deleted_now);
    quire_pgpool_put(ctx->pool, pg, err == QUIRE_ERR_PG);
    if (!err && (deleted_now || d.lifecycle == READMODEL_DELETED))
        err = QUIRE_ERR_NOT_FOUND;
    if (err) {
        readmodel_doc_deinit(&d);
        if (err == QUIRE_ERR_NOT_FOUND)
            api_reply_error(req, 404, "not_found", "no such document at that point");
        else
            api_reply_quire_err(req, err == QUIRE_ERR_PG ? QUIRE_ERR_UNAVAILABLE : err, NULL);
        return;
    }
    api_docs_cache_headers(req, d.version);
    if (api_docs_not_modified(req, d.version)) {
        api_reply(req, 304, "application/json", "", 0);
    } else if (fmt == AS_STATE) {
        api_reply(req, 200, "application/octet-stream", d.state, d.state_len);
    } else {
        char *content = NULL;
        size_t clen = 0, jlen = 0;
        err = doc_content_render(d.state, d.state_len, &content, &clen);
        char *json = err ? NULL : render_json(doc_id, &d, content, &jlen, at);
        if (!json)
            api_reply_error(req, 500, "internal", "could not render the document");
        else
            api_reply(req, 200, "application/json", json, jlen);
        free(json);
        free(content);
    }
    readmodel_doc_deinit(&d);
}

typedef struct waiting_s {
    api_ctx_t *ctx;
    api_req_t *req;
    char doc_id[EVENT_CODEC_DOC_ID_MAX + 1];
    doc_format_t fmt;
    int64_t min_version;
} waiting_t;

static void on_reached(void *opaque, bool reached)
{
    waiting_t *w = opaque;
    if (reached) {
        serve_current(w->ctx, w->req, w->doc_id, w->fmt);
    } else {
        api_add_header(w->req, "Retry-After", "1");
        api_reply_error(w->req, 503, "version_not_reached",
                        "the read model has not reached version %lld yet; retry",
                        (long long)w->min_version);
    }
    api_resume(w->req);
    free(w);
}

/* Has the read model passed `offset` in the document's partition? Asks PostgreSQL when the
 * progress listener is not connected. -1 when that fails. */
static int reached_now(api_ctx_t *ctx, int32_t part, int64_t offset)
{
    int64_t known = api_notify_position(ctx->notify, part);
    if (known >= 0)
        return known > offset;
    char errbuf[256], pbuf[16];
    PGconn *pg = quire_pgpool_get(ctx->pool, ctx->pg_timeout_ms, errbuf, sizeof errbuf);
    if (!pg)
        return -1;
    snprintf(pbuf, sizeof pbuf, "%d", part);
    const char *params[] = {ctx->topic, pbuf};
    PGresult *r = PQexecParams(pg,
                               "SELECT next_offset FROM projector_offsets WHERE topic = $1 AND "
                               "partition = $2::int4",
                               2, NULL, params, NULL, NULL, 0);
    int out = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        out = PQntuples(r) == 1 && atoll(PQgetvalue(r, 0, 0)) > offset;
    quire_pgpool_put(ctx->pool, pg, PQresultStatus(r) != PGRES_TUPLES_OK);
    PQclear(r);
    return out;
}

static api_next_t get_doc(api_req_t *req, api_ctx_t *ctx, doc_format_t fmt)
{
    const char *doc_id = api_req_param(req, "id");
    if (!api_docs_admit(ctx, req, doc_id, API_READ))
        return API_DONE;
    const char *at = api_req_query(req, "at");
    const char *minv = api_req_query(req, "min_version");
    if (at && minv) {
        api_reply_error(req, 400, "bad_request", "at and min_version cannot be combined");
        return API_DONE;
    }
    if (at) {
        serve_at(ctx, req, doc_id, at, fmt);
        return API_DONE;
    }
    if (minv) {
        int64_t v;
        if (api_docs_parse_offset(minv, &v) != QUIRE_OK) {
            api_reply_error(req, 400, "bad_min_version",
                            "min_version must be a version (a non-negative integer)");
            return API_DONE;
        }
        int32_t part = api_docs_partition(ctx, doc_id);
        int r = reached_now(ctx, part, v);
        if (r == 0 || (r < 0 && api_notify_healthy(ctx->notify) == false)) {
            waiting_t *w = calloc(1, sizeof *w);
            if (!w) {
                api_reply_error(req, 500, "internal", "out of memory");
                return API_DONE;
            }
            w->ctx = ctx;
            w->req = req;
            snprintf(w->doc_id, sizeof w->doc_id, "%s", doc_id);
            w->fmt = fmt;
            w->min_version = v;
            if (api_notify_wait(ctx->notify, part, v, ctx->min_version_wait_ms, on_reached, w) !=
                QUIRE_OK) {
                free(w);
                api_reply_error(req, 500, "internal", "out of memory");
                return API_DONE;
            }
            return API_SUSPEND;
        }
    }
    serve_current(ctx, req, doc_id, fmt);
    return API_DONE;
}

api_next_t api_get_doc(api_req_t *req, void *ctx)
{
    return get_doc(req, ctx, AS_JSON);
}

api_next_t api_get_doc_state(api_req_t *req, void *ctx)
{
    return get_doc(req, ctx, AS_STATE);
}
