/*
 * Unit tests of api_server over real loopback sockets: routing (404/405), authentication (401,
 * bearer), request smuggling defences (Content-Length + Transfer-Encoding, duplicate
 * Content-Length), body caps (413), bodies where none belong, asynchronous replies from another
 * thread, percent-decoding of queries only, encoded slashes in paths, admin endpoints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api_server.h"

#define KEYS "ka=QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE"

static api_next_t h_echo(api_req_t *req, void *ctx)
{
    size_t len;
    const uint8_t *body = api_req_body(req, &len);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", api_req_param(req, "id"));
    cJSON_AddNumberToObject(j, "len", (double)len);
    const quire_identity_t *who = api_req_identity(req);
    cJSON_AddStringToObject(j, "user", who ? who->user : "");
    const char *q = api_req_query(req, "q");
    cJSON_AddStringToObject(j, "q", q ? q : "");
    (void)body;
    api_reply_json(req, 200, j);
    return API_DONE;
}

static void *later(void *arg)
{
    api_req_t *req = arg;
    usleep(50000);
    api_add_header(req, "X-Async", "yes");
    api_reply(req, 201, "text/plain", "async\n", 6);
    api_resume(req);
    return NULL;
}

static api_next_t h_async(api_req_t *req, void *ctx)
{
    pthread_t t;
    pthread_create(&t, NULL, later, req);
    pthread_detach(t);
    return API_SUSPEND;
}

static api_next_t h_async_immediate(api_req_t *req, void *ctx)
{
    /* replies and resumes before returning SUSPEND: the race the server must handle */
    api_reply(req, 202, "text/plain", "fast\n", 5);
    api_resume(req);
    return API_SUSPEND;
}

static const api_route_t routes[] = {
    {"GET", "/v1/docs/{id}", h_echo, 0, 0},
    {"POST", "/v1/docs/{id}/updates", h_echo, API_ROUTE_BODY, 1000},
    {"GET", "/v1/public", h_echo, API_ROUTE_PUBLIC, 0},
    {"GET", "/v1/async", h_async, API_ROUTE_PUBLIC, 0},
    {"GET", "/v1/async-now", h_async_immediate, API_ROUTE_PUBLIC, 0},
};

static api_t *api;
static quire_tokens_t *tokens;
static quire_metrics_t *metrics;
static char token[2048];

static int setup(void **state)
{
    char err[256];
    tokens = quire_tokens_new(KEYS, "quire", "quire", err, sizeof err);
    metrics = quire_metrics_new();
    api_conf_t conf = {
        .listen = "127.0.0.1:0", .threads = 2, .max_body = 4096, .connection_timeout_s = 5};
    api = api_new(&conf, routes, sizeof routes / sizeof routes[0], NULL, tokens, NULL, metrics, err,
                  sizeof err);
    if (!api)
        return -1;
    char *t = NULL;
    quire_tokens_issue(tokens, "alice", NULL, (int64_t)time(NULL), 600, &t);
    snprintf(token, sizeof token, "%s", t);
    free(t);
    return 0;
}

static int teardown(void **state)
{
    api_destroy(api);
    quire_tokens_destroy(tokens);
    quire_metrics_destroy(metrics);
    return 0;
}

static void http(const char *req, size_t reqlen, char *buf, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)api_port(api))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(write(fd, req, reqlen), (ssize_t)reqlen);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < len && (n = read(fd, buf + got, len - got - 1)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fd);
}

static void get(const char *path, bool auth, char *buf, size_t len)
{
    char req[4096];
    int n =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s\r\n",
                 path, auth ? "Authorization: Bearer " : "", auth ? token : "", auth ? "\r\n" : "");
    http(req, (size_t)n, buf, len);
}

static void test_routing_and_auth(void **state)
{
    char buf[8192];
    get("/v1/nothing", true, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 404"));
    assert_non_null(strstr(buf, "\"code\":\"not_found\""));
    get("/v1/docs/abc", false, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 401"));
    assert_non_null(strstr(buf, "WWW-Authenticate: Bearer"));
    get("/v1/docs/abc", true, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "\"id\":\"abc\""));
    assert_non_null(strstr(buf, "\"user\":\"alice\""));
    assert_non_null(strstr(buf, "X-Content-Type-Options: nosniff"));
    assert_non_null(strstr(buf, "Cache-Control: no-store"));
    /* a forged token is refused */
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "GET /v1/docs/abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Authorization: Bearer %sx\r\n\r\n",
                     token);
    http(req, (size_t)n, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 401"));
    /* method not allowed on a known path */
    n = snprintf(req, sizeof req,
                 "DELETE /v1/public HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    http(req, (size_t)n, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 405"));
    /* query values are percent-decoded; paths are not */
    get("/v1/public?q=a%2Fb%20c", false, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"q\":\"a/b c\""));
    get("/v1/docs/a%2f..%2fb", true, buf, sizeof buf);
    assert_non_null(
        strstr(buf, "\"id\":\"a%2f..%2fb\"")); /* seen raw: the doc-id check refuses it */
    assert_false(api_doc_id_valid("a%2f..%2fb"));
    assert_true(api_doc_id_valid("Doc-1.x_y~z"));
    assert_false(api_doc_id_valid(""));
    char long_id[200];
    memset(long_id, 'a', 129);
    long_id[129] = '\0';
    assert_false(api_doc_id_valid(long_id));
    get("/healthz", false, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
}

static void test_framing(void **state)
{
    char buf[8192], req[8192];
    int n = snprintf(req, sizeof req,
                     "POST /v1/docs/abc/updates HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Authorization: Bearer %s\r\nContent-Length: 5\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                     token);
    http(req, (size_t)n, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 400"));
    assert_non_null(strstr(buf, "bad_framing"));
    n = snprintf(req, sizeof req,
                 "POST /v1/docs/abc/updates HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Authorization: Bearer %s\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
                 token);
    http(req, (size_t)n, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 400"));
    /* declared too large: refused before reading */
    n = snprintf(req, sizeof req,
                 "POST /v1/docs/abc/updates HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Authorization: Bearer %s\r\nContent-Length: 1001\r\n\r\n",
                 token);
    http(req, (size_t)n, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 413"));
    /* chunked beyond the cap */
    char body[3000];
    memset(body, 'x', sizeof body);
    n = snprintf(
        req, sizeof req,
        "POST /v1/docs/abc/updates HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Authorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%.*s\r\n0\r\n\r\n",
        token, 1500, 1500, body);
    http(req, (size_t)n, buf, sizeof buf);
    if (!strstr(buf, "HTTP/1.1 413"))
        fail_msg("chunked over cap: %s", buf);
    /* within the cap, chunked */
    n = snprintf(
        req, sizeof req,
        "POST /v1/docs/abc/updates HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Authorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%.*s\r\n0\r\n\r\n",
        token, 700, 700, body);
    http(req, (size_t)n, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "\"len\":700"));
    /* a body on a route that takes none */
    n = snprintf(req, sizeof req,
                 "GET /v1/docs/abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Authorization: Bearer %s\r\nContent-Length: 3\r\n\r\nabc",
                 token);
    http(req, (size_t)n, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 400"));
    /* negative content length */
    n = snprintf(req, sizeof req,
                 "POST /v1/docs/abc/updates HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Authorization: Bearer %s\r\nContent-Length: -1\r\n\r\n",
                 token);
    http(req, (size_t)n, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 400"));
}

static void test_async(void **state)
{
    char buf[8192];
    for (int i = 0; i < 20; i++) {
        get("/v1/async", false, buf, sizeof buf);
        assert_non_null(strstr(buf, "HTTP/1.1 201"));
        assert_non_null(strstr(buf, "X-Async: yes"));
        assert_non_null(strstr(buf, "\r\n\r\nasync\n"));
        get("/v1/async-now", false, buf, sizeof buf);
        assert_non_null(strstr(buf, "HTTP/1.1 202"));
        assert_non_null(strstr(buf, "\r\n\r\nfast\n"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing_and_auth),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_async),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
