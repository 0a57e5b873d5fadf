/*
 * quire_admin — a libmicrohttpd server on its own thread answering three GET paths. It must stay
 * cheap and must never block on the role's main work: readiness callbacks read state the role
 * publishes (atomics), they do not probe Kafka or PostgreSQL themselves.
 */
#include "quire_admin.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct quire_admin_s {
    struct MHD_Daemon *daemon;
    quire_metrics_t *metrics;
    quire_admin_ready_cb ready;
    void *opaque;
    int port;
};

quire_err_t quire_admin_parse_listen(const char *listen, char *host, size_t hostlen, int *ret_port)
{
    if (!listen)
        return QUIRE_ERR_INVALID;
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return QUIRE_ERR_INVALID;
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hostlen)
        return QUIRE_ERR_INVALID;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (!end || *end || end == colon + 1 || port < 0 || port > 65535)
        return QUIRE_ERR_INVALID;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *ret_port = (int)port;
    return QUIRE_OK;
}

static int queue_text(struct MHD_Connection *conn, unsigned status, const char *ctype, char *body,
                      size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    int ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

bool quire_admin_handle(quire_metrics_t *metrics, quire_admin_ready_cb ready, void *opaque,
                        struct MHD_Connection *conn, const char *url, int *ret_result)
{
    if (strcmp(url, "/healthz") == 0) {
        *ret_result = queue_text(conn, 200, "text/plain", "ok\n", 3, MHD_RESPMEM_PERSISTENT);
        return true;
    }
    if (strcmp(url, "/readyz") == 0) {
        char reason[256] = "ok";
        bool ok = ready ? ready(opaque, reason, sizeof reason) : true;
        char body[300];
        int n = snprintf(body, sizeof body, "%s\n", ok ? "ok" : reason);
        *ret_result = queue_text(conn, ok ? 200 : 503, "text/plain", body, n > 0 ? (size_t)n : 0,
                                 MHD_RESPMEM_MUST_COPY);
        return true;
    }
    if (strcmp(url, "/metrics") == 0) {
        char *text = NULL;
        size_t len = 0;
        if (!metrics || quire_metrics_render(metrics, &text, &len) != QUIRE_OK) {
            *ret_result = queue_text(conn, 500, "text/plain", "metrics unavailable\n", 20,
                                     MHD_RESPMEM_PERSISTENT);
            return true;
        }
        *ret_result =
            queue_text(conn, 200, "text/plain; version=0.0.4", text, len, MHD_RESPMEM_MUST_FREE);
        return true;
    }
    return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    quire_admin_t *a = cls;
    if (!*req_cls) { /* first call: headers only */
        *req_cls = a;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* discard bodies */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return queue_text(conn, 405, "text/plain", "method not allowed\n", 19,
                          MHD_RESPMEM_PERSISTENT);
    int result = MHD_NO;
    if (quire_admin_handle(a->metrics, a->ready, a->opaque, conn, url, &result))
        return (enum MHD_Result)result;
    return queue_text(conn, 404, "text/plain", "not found\n", 10, MHD_RESPMEM_PERSISTENT);
}

quire_admin_t *quire_admin_new(const char *listen, quire_metrics_t *metrics,
                               quire_admin_ready_cb ready, void *opaque, char *errbuf,
                               size_t errlen)
{
    char host[128];
    int port = 0;
    if (quire_admin_parse_listen(listen, host, sizeof host, &port) != QUIRE_OK) {
        snprintf(errbuf, errlen, "invalid listen address \"%s\" (expected host:port)", listen);
        return NULL;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (host[0] == '\0')
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(errbuf, errlen, "invalid listen host \"%s\" (expected an IPv4 address)", host);
        return NULL;
    }
    quire_admin_t *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    a->metrics = metrics;
    a->ready = ready;
    a->opaque = opaque;
    a->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                         on_request, a, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned)10, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_END);
    if (!a->daemon) {
        snprintf(errbuf, errlen, "could not listen on %s for the admin endpoints", listen);
        free(a);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info ? info->port : port;
    return a;
}

void quire_admin_destroy(quire_admin_t *a)
{
    if (!a)
        return;
    if (a->daemon)
        MHD_stop_daemon(a->daemon);
    free(a);
}

int quire_admin_port(const quire_admin_t *a)
{
    return a->port;
}
