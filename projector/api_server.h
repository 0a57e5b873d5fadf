/*
 * api_server — the HTTP server of `quire api` (libmicrohttpd): routing, strict request framing,
 * authentication, bounded bodies, asynchronous handlers, and JSON errors.
 *
 * A route is a row: method, path pattern ("/v1/docs/{id}/updates"; a {name} captures one
 * segment), flags and a handler. Before a handler runs, the server has: matched the route (404 /
 * 405 otherwise), refused requests carrying both Transfer-Encoding and Content-Length or several
 * Content-Length headers (400; libmicrohttpd 0.9.75 accepts them), refused bodies larger than the
 * route's cap (413) and bodies on routes that take none, and authenticated the caller (401 unless
 * the route is public). No path is percent-decoded: identifiers never contain '%', so an encoded
 * slash or dot segment fails validation instead of being reinterpreted.
 *
 * Handlers return API_DONE after calling one api_reply*(), or API_SUSPEND to answer later from
 * any thread with api_reply*() followed by api_resume() — used while waiting for Kafka's
 * acknowledgement or for the read model to reach a version. The request stays valid until
 * api_resume() returns; touch it no more after that.
 *
 * Every response carries `X-Content-Type-Options: nosniff` and, unless the handler set one,
 * `Cache-Control: no-store`.
 */
#ifndef API_SERVER_H
#define API_SERVER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "quire_metrics.h"
#include "quire_token.h"

typedef struct api_s api_t;
typedef struct api_req_s api_req_t;

typedef enum api_next_e {
    API_DONE = 0,
    API_SUSPEND = 1,
} api_next_t;

typedef api_next_t (*api_handler_fn)(api_req_t *req, void *ctx);

enum {
    API_ROUTE_PUBLIC = 1 << 0, /* no identity needed */
    API_ROUTE_BODY = 1 << 1,   /* accepts a request body (up to max_body) */
};

typedef struct api_route_s {
    const char *method;
    const char *pattern;
    api_handler_fn handler;
    unsigned flags;
    size_t max_body; /* for API_ROUTE_BODY; 0 = the server default */
} api_route_t;

/* Authenticates a request from its headers: fills *ret_identity and returns QUIRE_OK, or returns
 * an error. The server answers 401 unless the authenticator answered itself (api_reply_error
 * before returning: a 403 for a missing CSRF token, a 503 when sessions cannot be checked). The
 * default (NULL) accepts `Authorization: Bearer <token>` checked by quire_tokens_verify. */
typedef quire_err_t (*api_authn_fn)(api_req_t *req, void *ctx, quire_identity_t *ret_identity);

typedef struct api_conf_s {
    const char *listen; /* "host:port" */
    unsigned threads;   /* libmicrohttpd thread pool size */
    size_t max_body;    /* default body cap */
    unsigned connection_timeout_s;
    unsigned max_connections;
    unsigned max_connections_per_ip;
} api_conf_t;

/* Starts serving. routes (and the strings in them), ctx, tokens and metrics are borrowed and must
 * outlive the server. NULL + errbuf on failure. */
api_t *api_new(const api_conf_t *conf, const api_route_t *routes, size_t nroutes, void *ctx,
               quire_tokens_t *tokens, api_authn_fn authn, quire_metrics_t *metrics, char *errbuf,
               size_t errlen);
/* Stops accepting and waits for connections to finish. Accepts NULL. */
void api_destroy(api_t *api);
int api_port(const api_t *api);

/* Request accessors. Strings are owned by the request. */
const char *api_req_method(const api_req_t *req);
const char *api_req_path(const api_req_t *req);
const char *api_req_param(const api_req_t *req, const char *name); /* a {name} of the pattern */
const char *api_req_query(const api_req_t *req, const char *name); /* NULL when absent */
const char *api_req_header(const api_req_t *req, const char *name);
const char *api_req_cookie(const api_req_t *req, const char *name); /* NULL when absent */
const uint8_t *api_req_body(const api_req_t *req, size_t *ret_len);
const quire_identity_t *api_req_identity(const api_req_t *req); /* NULL on public routes */
quire_tokens_t *api_req_tokens(const api_req_t *req);
int64_t api_req_start_us(const api_req_t *req); /* monotonic time the request arrived */

/* Responses: exactly one per request. api_reply copies body; api_reply_json takes ownership of
 * json. Extra headers may be added before the reply call. */
void api_add_header(api_req_t *req, const char *name, const char *value);
void api_reply(api_req_t *req, unsigned status, const char *content_type, const void *body,
               size_t len);
void api_reply_json(api_req_t *req, unsigned status, cJSON *json);
/* {"error":{"code":code,"message":message}} */
void api_reply_error(api_req_t *req, unsigned status, const char *code, const char *fmt, ...)
    QUIRE_PRINTF(4, 5);
/* After API_SUSPEND: wakes the request up to send the reply already set. */
void api_resume(api_req_t *req);

/* Document ids: 1–128 of [A-Za-z0-9._~-] (DESIGN §9). */
bool api_doc_id_valid(const char *id);

#endif
