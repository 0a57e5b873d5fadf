/* Unit tests of quire_metrics: Prometheus text, histograms, concurrent updates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quire_metrics.h"

static double forty_two(void *opaque)
{
    return 42.5;
}

static void test_render(void **state)
{
    quire_metrics_t *m = quire_metrics_new();
    quire_metric_t *c = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_events_total",
                                          "partition=\"1\"", "events seen");
    quire_metric_t *c2 = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_events_total",
                                           "partition=\"2\"", "events seen");
    assert_ptr_equal(c, quire_metrics_add(m, QUIRE_METRIC_COUNTER, "quire_events_total",
                                          "partition=\"1\"", "events seen"));
    quire_metric_t *h =
        quire_metrics_add(m, QUIRE_METRIC_HISTOGRAM, "quire_ack_seconds", NULL, "ack latency");
    quire_metrics_add_fn(m, "quire_lag", NULL, "lag", forty_two, NULL);
    quire_metric_add(c, 3);
    quire_metric_add(c2, 1);
    quire_metric_observe(h, 0.0003);
    quire_metric_observe(h, 20);
    quire_metric_add(NULL, 1); /* ignored */

    char *text;
    size_t len;
    assert_int_equal(quire_metrics_render(m, &text, &len), QUIRE_OK);
    assert_int_equal(strlen(text), len);
    assert_non_null(strstr(text, "# TYPE quire_events_total counter\n"));
    assert_non_null(strstr(text, "quire_events_total{partition=\"1\"} 3\n"));
    assert_non_null(strstr(text, "quire_events_total{partition=\"2\"} 1\n"));
    /* HELP/TYPE once per name */
    char *first = strstr(text, "# HELP quire_events_total");
    assert_null(strstr(first + 1, "# HELP quire_events_total"));
    assert_non_null(strstr(text, "quire_ack_seconds_bucket{le=\"0.00025\"} 0\n"));
    assert_non_null(strstr(text, "quire_ack_seconds_bucket{le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(text, "quire_ack_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(text, "quire_ack_seconds_count 2\n"));
    assert_non_null(strstr(text, "quire_lag 42.5\n"));
    free(text);
    quire_metrics_destroy(m);
}

static void *bump(void *arg)
{
    for (int i = 0; i < 100000; i++)
        quire_metric_add(arg, 1);
    return NULL;
}

static void test_concurrent(void **state)
{
    quire_metrics_t *m = quire_metrics_new();
    quire_metric_t *c = quire_metrics_add(m, QUIRE_METRIC_COUNTER, "n", NULL, "n");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, bump, c);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(quire_metric_value(c), 400000);
    quire_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_render),
                                       cmocka_unit_test(test_concurrent)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
