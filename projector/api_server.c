/*
 * api_server — see the header for the contract.
 *
 * Life of a request in libmicrohttpd's access handler:
 *   1st call (headers only): create the request, match the route, check framing and size
 *     headers, authenticate. Any refusal is answered right away (the body is then discarded).
 *   upload calls: append to the body up to the cap.
 *   final call: run the handler. API_DONE → queue the reply. API_SUSPEND → suspend the
 *     connection unless the reply already arrived (a mutex and a small state machine close the
 *     race between the handler's return and another thread's api_resume()).
 *   after resume: queue the stored reply.
 * The request is freed in the completion callback, which libmicrohttpd calls once per request.
 */
#include "api_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "quire_admin.h"
#include "quire_log.h"

#define MAX_PARAMS  4
#define MAX_HEADERS 12

typedef enum {
    ST_NEW,       /* headers being checked */
    ST_BODY,      /* receiving the body */
    ST_RUNNING,   /* handler running */
    ST_SUSPENDED, /* waiting for api_resume */
    ST_READY,     /* reply set by another thread before the handler returned */
    ST_SENT,
} req_state_t;

struct api_req_s {
    api_t *api;
    struct MHD_Connection *conn;
    const api_route_t *route;
    char *method, *path;
    char *param_names[MAX_PARAMS], *param_values[MAX_PARAMS];
    int nparams;
    uint8_t *body;
    size_t body_len, body_cap, body_max;
    bool body_too_large;
    quire_identity_t identity;
    bool has_identity;
    int64_t start_us;

    pthread_mutex_t lock;
    req_state_t state;
    unsigned status;
    char *resp_type;
    uint8_t *resp_body;
    size_t resp_len;
    char *hdr_names[MAX_HEADERS], *hdr_values[MAX_HEADERS];
    int nhdrs;
    char *query_names[MAX_PARAMS], *query_values[MAX_PARAMS];
    int nqueries;
    bool replied;
};

struct api_s {
    struct MHD_Daemon *daemon;
    const api_route_t *routes;
    size_t nroutes;
    void *ctx;
    quire_tokens_t *tokens;
    api_authn_fn authn;
    quire_metrics_t *metrics;
    size_t max_body;
    int port;
    quire_metric_t *m_requests[6]; /* by status class 1xx..5xx, index 0 unused */
    quire_metric_t *m_latency;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool api_doc_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '~' || c == '-'))
            return false;
    }
    return true;
}

/* Matches path against pattern; fills params on success. */
static bool match(const char *pattern, const char *path, api_req_t *req)
{
    int np = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            if (!se)
                se = s + strlen(s);
            if (!pe || se == s || np == MAX_PARAMS)
                return false;
            if (req) {
                req->param_names[np] = strndup(p + 1, (size_t)(pe - p - 1));
                req->param_values[np] = strndup(s, (size_t)(se - s));
            }
            np++;
            p = pe + 1;
            s = se;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    if (*p || *s)
        return false;
    if (req)
        req->nparams = np;
    return true;
}

static void free_req(api_req_t *req)
{
    if (!req)
        return;
    for (int i = 0; i < req->nparams; i++) {
        free(req->param_names[i]);
        free(req->param_values[i]);
    }
    for (int i = 0; i < req->nhdrs; i++) {
        free(req->hdr_names[i]);
        free(req->hdr_values[i]);
    }
    for (int i = 0; i < req->nqueries; i++) {
        free(req->query_names[i]);
        free(req->query_values[i]);
    }
    free(req->method);
    free(req->path);
    free(req->body);
    free(req->resp_type);
    free(req->resp_body);
    pthread_mutex_destroy(&req->lock);
    free(req);
}

const char *api_req_method(const api_req_t *req)
{
    return req->method;
}
const char *api_req_path(const api_req_t *req)
{
    return req->path;
}
const char *api_req_param(const api_req_t *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (req->param_names[i] && strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    return NULL;
}
static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

const char *api_req_query(const api_req_t *req_const, const char *name)
{
    api_req_t *req = (api_req_t *)req_const; /* the decoded cache is logically const */
    for (int i = 0; i < req->nqueries; i++)
        if (strcmp(req->query_names[i], name) == 0)
            return req->query_values[i];
    const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!raw || req->nqueries == MAX_PARAMS)
        return NULL;
    char *out = malloc(strlen(raw) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (const char *s = raw; *s; s++) {
        if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            out[o++] = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
    if (strlen(out) != o) { /* an encoded NUL: refuse the value */
        free(out);
        return NULL;
    }
    req->query_names[req->nqueries] = strdup(name);
    req->query_values[req->nqueries] = out;
    req->nqueries++;
    return out;
}
const char *api_req_header(const api_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}
const char *api_req_cookie(const api_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}
const uint8_t *api_req_body(const api_req_t *req, size_t *ret_len)
{
    *ret_len = req->body_len;
    return req->body;
}
const quire_identity_t *api_req_identity(const api_req_t *req)
{
    return req->has_identity ? &req->identity : NULL;
}
quire_tokens_t *api_req_tokens(const api_req_t *req)
{
    return req->api->tokens;
}
int64_t api_req_start_us(const api_req_t *req)
{
    return req->start_us;
}

void api_add_header(api_req_t *req, const char *name, const char *value)
{
    pthread_mutex_lock(&req->lock);
    if (req->nhdrs < MAX_HEADERS) {
        req->hdr_names[req->nhdrs] = strdup(name);
        req->hdr_values[req->nhdrs] = strdup(value);
        req->nhdrs++;
    }
    pthread_mutex_unlock(&req->lock);
}

void api_reply(api_req_t *req, unsigned status, const char *content_type, const void *body,
               size_t len)
{
    pthread_mutex_lock(&req->lock);
    QUIRE_ASSERT(!req->replied);
    req->replied = true;
    req->status = status;
    req->resp_type = strdup(content_type ? content_type : "application/octet-stream");
    req->resp_body = malloc(len ? len : 1);
    if (req->resp_body && len)
        memcpy(req->resp_body, body, len);
    req->resp_len = req->resp_body ? len : 0;
    pthread_mutex_unlock(&req->lock);
}

void api_reply_json(api_req_t *req, unsigned status, cJSON *json)
{
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!text) {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        api_reply(req, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    api_reply(req, status, "application/json", text, strlen(text));
    free(text);
}

void api_reply_error(api_req_t *req, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "code", code);
    cJSON_AddStringToObject(err, "message", msg);
    api_reply_json(req, status, root);
}

/* Queues the stored reply on the connection. */
static enum MHD_Result send_reply(api_req_t *req)
{
    api_t *api = req->api;
    pthread_mutex_lock(&req->lock);
    if (!req->replied) {
        pthread_mutex_unlock(&req->lock);
        api_reply_error(req, 500, "internal", "the handler produced no answer");
        pthread_mutex_lock(&req->lock);
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(req->resp_len, req->resp_body, MHD_RESPMEM_MUST_FREE);
    if (r)
        req->resp_body = NULL; /* owned by the response now */
    bool cache_set = false;
    for (int i = 0; r && i < req->nhdrs; i++) {
        if (req->hdr_names[i] && req->hdr_values[i]) {
            MHD_add_response_header(r, req->hdr_names[i], req->hdr_values[i]);
            cache_set |= strcasecmp(req->hdr_names[i], "Cache-Control") == 0;
        }
    }
    unsigned status = req->status;
    req->state = ST_SENT;
    pthread_mutex_unlock(&req->lock);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", req->resp_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (!cache_set)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(req->conn, status, r);
    MHD_destroy_response(r);
    unsigned cls = status / 100;
    if (cls >= 1 && cls <= 5)
        quire_metric_add(api->m_requests[cls], 1);
    quire_metric_observe(api->m_latency, (double)(now_us() - req->start_us) / 1e6);
    return ret;
}

void api_resume(api_req_t *req)
{
    pthread_mutex_lock(&req->lock);
    if (req->state == ST_SUSPENDED) {
        req->state = ST_READY;
        MHD_resume_connection(req->conn);
    } else {
        req->state = ST_READY; /* the handler has not returned yet; it will send */
    }
    pthread_mutex_unlock(&req->lock);
}

typedef struct {
    int content_length, transfer_encoding;
} framing_t;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    framing_t *f = cls;
    if (strcasecmp(key, "Content-Length") == 0)
        f->content_length++;
    else if (strcasecmp(key, "Transfer-Encoding") == 0)
        f->transfer_encoding++;
    return MHD_YES;
}

static quire_err_t default_authn(api_req_t *req, void *ctx, quire_identity_t *ret_identity)
{
    const char *h = api_req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return QUIRE_ERR_UNAUTHENTICATED;
    char why[128];
    quire_err_t err = quire_tokens_verify(req->api->tokens, h + 7, (int64_t)time(NULL),
                                          ret_identity, why, sizeof why);
    if (err)
        QLOG_DEBUG("request not authenticated", "path=%s reason=\"%s\"", req->path, why);
    return err;
}

/* First call: everything that can be decided from the request line and headers. */
static void check_headers(api_req_t *req)
{
    api_t *api = req->api;
    const api_route_t *found = NULL;
    bool path_known = false;
    for (size_t i = 0; i < api->nroutes; i++) {
        if (!match(api->routes[i].pattern, req->path, NULL))
            continue;
        path_known = true;
        if (strcmp(api->routes[i].method, req->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(api->routes[i].method, "GET") == 0)) {
            found = &api->routes[i];
            break;
        }
    }
    if (!found) {
        if (path_known)
            api_reply_error(req, 405, "method_not_allowed", "%s is not allowed here", req->method);
        else
            api_reply_error(req, 404, "not_found", "no such resource");
        return;
    }
    req->route = found;
    match(found->pattern, req->path, req);

    framing_t f = {0, 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_framing, &f);
    if (f.content_length > 1 || (f.content_length && f.transfer_encoding)) {
        api_reply_error(req, 400, "bad_framing",
                        "a request may carry one Content-Length or Transfer-Encoding, not both");
        return;
    }
    const char *te = api_req_header(req, "Transfer-Encoding");
    if (te && strcasecmp(te, "chunked") != 0) {
        api_reply_error(req, 501, "unsupported_encoding", "only chunked transfer is supported");
        return;
    }
    req->body_max =
        (found->flags & API_ROUTE_BODY) ? (found->max_body ? found->max_body : api->max_body) : 0;
    const char *cl = api_req_header(req, "Content-Length");
    if (cl) {
        char *end = NULL;
        unsigned long long n = strtoull(cl, &end, 10);
        if (!end || *end || cl[0] == '-' || cl[0] == '\0') {
            api_reply_error(req, 400, "bad_framing", "invalid Content-Length");
            return;
        }
        if (n > req->body_max) {
            if (req->body_max == 0)
                api_reply_error(req, 400, "unexpected_body", "this request takes no body");
            else
                api_reply_error(req, 413, "too_large", "body exceeds %zu bytes", req->body_max);
            return;
        }
    }
    if (!(found->flags & API_ROUTE_PUBLIC)) {
        api_authn_fn authn = api->authn ? api->authn : default_authn;
        if (authn(req, api->ctx, &req->identity) != QUIRE_OK) {
            if (!req->replied) {
                api_add_header(req, "WWW-Authenticate", "Bearer");
                api_reply_error(req, 401, "unauthenticated", "authentication required");
            }
            return;
        }
        req->has_identity = true;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    api_t *api = cls;
    api_req_t *req = *con_cls;
    if (!req) {
        int result = MHD_NO;
        if (strcmp(method, "GET") == 0 &&
            quire_admin_handle(api->metrics, NULL, NULL, conn, url, &result))
            return (enum MHD_Result)result;
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        pthread_mutex_init(&req->lock, NULL);
        req->api = api;
        req->conn = conn;
        req->start_us = now_us();
        req->method = strdup(method);
        req->path = strdup(url);
        *con_cls = req;
        if (!req->method || !req->path)
            return MHD_NO;
        check_headers(req);
        if (req->replied) /* refused on its headers: answer now, the body is never read */
            return send_reply(req);
        req->state = ST_BODY;
        return MHD_YES;
    }
    if (*upload_size) {
        if (req->state == ST_BODY) {
            size_t n = *upload_size;
            if (req->body_len + n > req->body_max) {
                req->body_too_large = true;
            } else {
                if (req->body_len + n > req->body_cap) {
                    size_t cap = req->body_cap ? req->body_cap * 2 : 4096;
                    while (cap < req->body_len + n)
                        cap *= 2;
                    if (cap > req->body_max)
                        cap = req->body_max;
                    uint8_t *nb = realloc(req->body, cap);
                    if (!nb)
                        return MHD_NO;
                    req->body = nb;
                    req->body_cap = cap;
                }
                memcpy(req->body + req->body_len, upload_data, n);
                req->body_len += n;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    switch (req->state) {
    case ST_READY:
        return send_reply(req);
    case ST_BODY:
        break;
    default:
        return MHD_YES; /* suspended or sent: nothing to do */
    }
    if (req->body_too_large) {
        api_reply_error(req, 413, "too_large", "body exceeds %zu bytes", req->body_max);
        return send_reply(req);
    }
    pthread_mutex_lock(&req->lock);
    req->state = ST_RUNNING;
    pthread_mutex_unlock(&req->lock);
    api_next_t next = req->route->handler(req, api->ctx);
    if (next == API_DONE)
        return send_reply(req);
    pthread_mutex_lock(&req->lock);
    if (req->state == ST_READY) { /* answered before we got here */
        pthread_mutex_unlock(&req->lock);
        return send_reply(req);
    }
    req->state = ST_SUSPENDED;
    MHD_suspend_connection(conn);
    pthread_mutex_unlock(&req->lock);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    api_req_t *req = *con_cls;
    free_req(req);
    *con_cls = NULL;
}

/* Identity unescaping: paths and queries are used as sent (see the header). Query values are
 * percent-decoded by quire where they need it. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    QLOG_DEBUG("libmicrohttpd", "detail=\"%s\"", buf);
}

api_t *api_new(const api_conf_t *conf, const api_route_t *routes, size_t nroutes, void *ctx,
               quire_tokens_t *tokens, api_authn_fn authn, quire_metrics_t *metrics, char *errbuf,
               size_t errlen)
{
    char host[128];
    int port = 0;
    if (quire_admin_parse_listen(conf->listen, host, sizeof host, &port) != QUIRE_OK) {
        snprintf(errbuf, errlen, "invalid listen address \"%s\"", conf->listen);
        return NULL;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (!host[0])
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(errbuf, errlen, "invalid listen host \"%s\"", host);
        return NULL;
    }
    api_t *api = calloc(1, sizeof *api);
    if (!api) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    api->routes = routes;
    api->nroutes = nroutes;
    api->ctx = ctx;
    api->tokens = tokens;
    api->authn = authn;
    api->metrics = metrics;
    api->max_body = conf->max_body ? conf->max_body : (1u << 20);
    static const char *const classes[] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 1; i <= 5; i++) {
        char labels[32];
        snprintf(labels, sizeof labels, "class=\"%s\"", classes[i]);
        api->m_requests[i] =
            quire_metrics_add(metrics, QUIRE_METRIC_COUNTER, "quire_api_responses_total", labels,
                              "HTTP responses by status class");
    }
    api->m_latency = quire_metrics_add(metrics, QUIRE_METRIC_HISTOGRAM, "quire_api_request_seconds",
                                       NULL, "time from request to response");
    unsigned threads = conf->threads ? conf->threads : 2;
    api->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, api, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_THREAD_POOL_SIZE,
        threads, MHD_OPTION_CONNECTION_TIMEOUT,
        conf->connection_timeout_s ? conf->connection_timeout_s : 30u, MHD_OPTION_CONNECTION_LIMIT,
        conf->max_connections ? conf->max_connections : 1000u, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        conf->max_connections_per_ip ? conf->max_connections_per_ip : 0u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_STRICT_FOR_CLIENT, 1,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, api, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, api,
        MHD_OPTION_END);
    if (!api->daemon) {
        snprintf(errbuf, errlen, "could not listen on %s", conf->listen);
        free(api);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
    api->port = info ? info->port : port;
    return api;
}

void api_destroy(api_t *api)
{
    if (!api)
        return;
    if (api->daemon)
        MHD_stop_daemon(api->daemon);
    free(api);
}

int api_port(const api_t *api)
{
    return api->port;
}
