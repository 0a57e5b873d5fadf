/*
 * api_docs_write — POST /v1/docs/{id}/updates: a binary Yjs update in, 201 with the durable
 * version out, only after Kafka confirmed it (DESIGN §3). Nothing is written in any error case.
 *
 * Idempotency-Key: the first answer to (actor, key) is stored; a retry returns it instead of
 * writing again. While the first attempt is still in flight, a retry writes events with the same
 * ids (ingest derives them from the key), which consumers deduplicate, and then returns the
 * stored first answer.
 */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_ctx.h"
#include "api_routes.h"
#include "quire_log.h"

typedef struct pending_s {
    api_req_t *req;
    api_ctx_t *ctx;
    char *actor, *key, *doc_id;
    uint8_t body_hash[32];
} pending_t;

static void free_pending(pending_t *p)
{
    free(p->actor);
    free(p->key);
    free(p->doc_id);
    free(p);
}

/* Looks up a stored answer. 1 = found (replied), 0 = none, -1 = error (replied). */
static int replay_stored(api_ctx_t *ctx, api_req_t *req, const char *actor, const char *key,
                         const char *doc_id, const uint8_t hash[32])
{
    char err[256];
    PGconn *pg = quire_pgpool_get(ctx->pool, ctx->pg_timeout_ms, err, sizeof err);
    if (!pg) {
        api_reply_error(req, 503, "database_unavailable", "could not check the Idempotency-Key");
        return -1;
    }
    const char *params[] = {actor, key};
    PGresult *r = PQexecParams(pg,
                               "SELECT doc_id, body_hash, status, response FROM idempotency_keys "
                               "WHERE actor = $1 AND key = $2",
                               2, NULL, params, NULL, NULL, 1);
    int found = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        api_reply_error(req, 503, "database_unavailable", "could not check the Idempotency-Key");
        found = -1;
    } else if (PQntuples(r) == 1) {
        bool same = strcmp(PQgetvalue(r, 0, 0), doc_id) == 0 && PQgetlength(r, 0, 1) == 32 &&
                    memcmp(PQgetvalue(r, 0, 1), hash, 32) == 0;
        if (!same) {
            api_reply_error(req, 422, "idempotency_key_reused",
                            "this Idempotency-Key was used for a different request");
        } else {
            uint32_t status_be;
            memcpy(&status_be, PQgetvalue(r, 0, 2), 4);
            api_add_header(req, "Idempotent-Replayed", "true");
            api_reply(req, ntohl(status_be), "application/json", PQgetvalue(r, 0, 3),
                      (size_t)PQgetlength(r, 0, 3));
        }
        found = 1;
    }
    bool broken = PQresultStatus(r) != PGRES_TUPLES_OK;
    PQclear(r);
    quire_pgpool_put(ctx->pool, pg, broken);
    return found;
}

/* Stores the first answer; if another attempt stored one first, replies with that instead. */
static void store_answer(pending_t *p, unsigned status, const char *body)
{
    char err[256], st[16];
    PGconn *pg = quire_pgpool_get(p->ctx->pool, p->ctx->pg_timeout_ms, err, sizeof err);
    if (!pg) {
        QLOG_WARN("could not store an idempotent answer", "err=\"%s\"", err);
        api_reply(p->req, status, "application/json", body, strlen(body));
        return;
    }
    snprintf(st, sizeof st, "%u", status);
    const char *params[] = {p->actor, p->key, p->doc_id, (const char *)p->body_hash, st, body};
    int lens[] = {0, 0, 0, 32, 0, 0};
    int fmts[] = {0, 0, 0, 1, 0, 0};
    PGresult *r = PQexecParams(
        pg,
        "WITH ins AS (INSERT INTO idempotency_keys(actor, key, doc_id, body_hash, status, "
        "response) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (actor, key) DO NOTHING "
        "RETURNING status, response) "
        "SELECT status, response FROM ins UNION ALL SELECT status, response FROM "
        "idempotency_keys WHERE actor = $1 AND key = $2 AND NOT EXISTS (SELECT 1 FROM ins)",
        6, NULL, params, lens, fmts, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        unsigned first = (unsigned)atoi(PQgetvalue(r, 0, 0));
        api_reply(p->req, first, "application/json", PQgetvalue(r, 0, 1),
                  (size_t)PQgetlength(r, 0, 1));
    } else {
        QLOG_WARN("could not store an idempotent answer", "err=\"%s\"", PQresultErrorMessage(r));
        api_reply(p->req, status, "application/json", body, strlen(body));
    }
    bool broken = PQresultStatus(r) != PGRES_TUPLES_OK;
    PQclear(r);
    quire_pgpool_put(p->ctx->pool, pg, broken);
}

static void on_durable(void *opaque, const ingest_result_t *res)
{
    pending_t *p = opaque;
    if (res->err) {
        api_add_header(p->req, "Retry-After", "1");
        api_reply_error(p->req, 503, "kafka_unavailable", "%s; nothing was saved", res->message);
    } else {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"doc_id\":\"%s\",\"partition\":%d,\"offset\":%lld,\"version\":%lld,"
                 "\"first_offset\":%lld,\"events\":%zu,\"broker_time_ms\":%lld}",
                 p->doc_id, res->partition, (long long)res->offset, (long long)res->offset,
                 (long long)res->first_offset, res->nevents, (long long)res->broker_time_ms);
        if (p->key)
            store_answer(p, 201, body);
        else
            api_reply(p->req, 201, "application/json", body, strlen(body));
    }
    api_resume(p->req);
    free_pending(p);
}

api_next_t api_post_updates(api_req_t *req, void *ctxp)
{
    api_ctx_t *ctx = ctxp;
    const char *doc_id = api_req_param(req, "id");
    if (!api_doc_id_valid(doc_id)) {
        api_reply_error(req, 404, "not_found",
                        "no such document (document ids are 1-128 of "
                        "[A-Za-z0-9._~-])");
        return API_DONE;
    }
    const quire_identity_t *who = api_req_identity(req);
    quire_err_t aerr = api_authorize(ctx, who, doc_id, API_WRITE);
    if (!aerr)
        aerr = api_docs_writable(ctx, doc_id);
    if (aerr) {
        api_reply_quire_err(req, aerr, NULL);
        return API_DONE;
    }
    const char *ctype = api_req_header(req, "Content-Type");
    if (ctype && strncmp(ctype, "application/octet-stream", 24) != 0) {
        api_reply_error(req, 415, "unsupported_media_type",
                        "send the Yjs update as application/octet-stream");
        return API_DONE;
    }
    size_t len;
    const uint8_t *body = api_req_body(req, &len);
    const char *key = api_req_header(req, "Idempotency-Key");
    uint8_t hash[32];
    crypto_generichash(hash, sizeof hash, body, len, NULL, 0);
    if (key) {
        size_t kl = strlen(key);
        bool ok = kl >= 1 && kl <= 255;
        for (size_t i = 0; ok && i < kl; i++)
            ok = key[i] >= 0x20 && key[i] <= 0x7e;
        if (!ok) {
            api_reply_error(req, 400, "bad_idempotency_key",
                            "Idempotency-Key must be 1-255 printable ASCII characters");
            return API_DONE;
        }
        if (replay_stored(ctx, req, who->user, key, doc_id, hash) != 0)
            return API_DONE;
    }
    pending_t *p = calloc(1, sizeof *p);
    if (!p) {
        api_reply_error(req, 500, "internal", "out of memory");
        return API_DONE;
    }
    p->req = req;
    p->ctx = ctx;
    p->actor = strdup(who->user);
    p->doc_id = strdup(doc_id);
    p->key = key ? strdup(key) : NULL;
    memcpy(p->body_hash, hash, 32);
    ingest_write_t w = {
        .doc_id = doc_id,
        .actor = who->user,
        .kind = EVENT_CODEC_KIND_UPDATE,
        .update = body,
        .len = len,
        .idempotency_key = key,
        .doc_bytes = -1,
    };
    char errbuf[512];
    quire_err_t err = ingest_submit(ctx->ingest, &w, on_durable, p, NULL, errbuf, sizeof errbuf);
    if (err) {
        free_pending(p);
        api_reply_quire_err(req, err, errbuf);
        return API_DONE;
    }
    return API_SUSPEND;
}
