/* Unit tests of quire_admin: the three endpoints over a real loopback socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "quire_admin.h"

static atomic_bool ready_flag;

static bool ready(void *opaque, char *buf, size_t len)
{
    if (!atomic_load(&ready_flag)) {
        snprintf(buf, len, "kafka not reachable");
        return false;
    }
    return true;
}

/* Sends a raw request, returns the whole response in buf. */
static void http(int port, const char *req, char *buf, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    size_t got = 0;
    ssize_t n;
    while (got + 1 < len && (n = read(fd, buf + got, len - got - 1)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fd);
}

static void test_endpoints(void **state)
{
    quire_metrics_t *m = quire_metrics_new();
    quire_metric_add(quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_test_total", NULL, "t"), 7);
    char err[256];
    quire_admin_t *a = quire_admin_new("127.0.0.1:0", m, ready, NULL, err, sizeof err);
    assert_non_null(a);
    int port = quire_admin_port(a);
    assert_true(port > 0);
    char buf[8192];

    http(port, "GET /healthz HTTP/1.0\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, " 200 "));
    assert_non_null(strstr(buf, "\r\n\r\nok\n"));

    atomic_store(&ready_flag, false);
    http(port, "GET /readyz HTTP/1.0\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, " 503 "));
    assert_non_null(strstr(buf, "kafka not reachable"));
    atomic_store(&ready_flag, true);
    http(port, "GET /readyz HTTP/1.0\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, " 200 "));

    http(port, "GET /metrics HTTP/1.0\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "text/plain; version=0.0.4"));
    assert_non_null(strstr(buf, "quire_test_total 7\n"));

    http(port, "GET /nope HTTP/1.0\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, " 404 "));
    http(port, "POST /healthz HTTP/1.0\r\nContent-Length: 0\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, " 405 "));

    quire_admin_destroy(a);
    quire_metrics_destroy(m);
}

static void test_bad_listen(void **state)
{
    char err[256];
    assert_null(quire_admin_new("nonsense", NULL, NULL, NULL, err, sizeof err));
    assert_non_null(strstr(err, "invalid listen address"));
    char host[64];
    int port;
    assert_int_equal(quire_admin_parse_listen("[::1]:80", host, sizeof host, &port), QUIRE_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 80);
    assert_int_equal(quire_admin_parse_listen(":99999", host, sizeof host, &port),
                     QUIRE_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_endpoints),
                                       cmocka_unit_test(test_bad_listen)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
