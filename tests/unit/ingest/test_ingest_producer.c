/*
 * Unit tests of ingest_producer on librdkafka's mock cluster (error handling only; durability is
 * proven against the real broker in tests/integration/ingest): every accepted message gets
 * exactly one report; a fatal error rebuilds the producer and re-sends what was in flight;
 * in-flight limits refuse with BUSY; request errors from the broker are retried; destroy reports
 * SHUTDOWN for what never got through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ingest_producer.h"

#define N 2000

typedef struct {
    pthread_mutex_t lock;
    int reports[N];
    int ok, failed, shutdown;
} track_t;

static void done(void *cb_opaque, void *msg_opaque, quire_err_t err, int32_t partition,
                 int64_t offset, int64_t ts_ms)
{
    track_t *t = cb_opaque;
    int i = (int)(intptr_t)msg_opaque;
    pthread_mutex_lock(&t->lock);
    t->reports[i]++;
    if (err == QUIRE_OK) {
        t->ok++;
        assert_true(partition >= 0 && offset >= 0);
    } else if (err == QUIRE_ERR_SHUTDOWN) {
        t->shutdown++;
    } else {
        t->failed++;
    }
    pthread_mutex_unlock(&t->lock);
}

typedef struct {
    rd_kafka_t *owner;
    rd_kafka_mock_cluster_t *mc;
    char brokers[256];
} mock_t;

static void mock_up(mock_t *m)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    m->owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(m->owner);
    m->mc = rd_kafka_mock_cluster_new(m->owner, 1);
    assert_non_null(m->mc);
    snprintf(m->brokers, sizeof m->brokers, "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
    assert_int_equal(rd_kafka_mock_topic_create(m->mc, "t", 4, 1), 0);
}

static void mock_down(mock_t *m)
{
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->owner);
}

static ingest_producer_conf_t conf_for(const char *brokers)
{
    ingest_producer_conf_t c = {.brokers = brokers,
                                .topic = "t",
                                .linger_ms = "1",
                                .delivery_timeout_ms = 0,
                                .max_inflight = 100000,
                                .max_inflight_bytes = 64u << 20,
                                .max_message_bytes = 1u << 20};
    return c;
}

static int wait_reports(track_t *t, int want, int secs)
{
    for (int i = 0; i < secs * 100; i++) {
        pthread_mutex_lock(&t->lock);
        int got = t->ok + t->failed + t->shutdown;
        pthread_mutex_unlock(&t->lock);
        if (got >= want)
            return got;
        usleep(10000);
    }
    return -1;
}

static void test_every_message_reported_once_across_a_fatal_rebuild(void **state)
{
    mock_t m;
    mock_up(&m);
    track_t t = {.lock = PTHREAD_MUTEX_INITIALIZER};
    ingest_producer_conf_t c = conf_for(m.brokers);
    char err[256];
    ingest_producer_t *p = ingest_producer_new(&c, done, &t, err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < N; i++) {
        char key[16], val[32];
        snprintf(key, sizeof key, "doc-%d", i % 17);
        snprintf(val, sizeof val, "event-%d", i);
        assert_int_equal(
            ingest_producer_send(p, key, strlen(key), val, strlen(val), (void *)(intptr_t)i),
            QUIRE_OK);
        if (i == N / 2)
            assert_int_equal(ingest_producer_inject_fatal(p), QUIRE_OK);
    }
    assert_int_equal(wait_reports(&t, N, 30), N);
    assert_int_equal(t.ok, N);
    assert_int_equal(t.failed, 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(t.reports[i], 1);
    assert_int_equal(ingest_producer_rebuilds(p), 1);
    assert_int_equal(ingest_producer_inflight(p), 0);
    ingest_producer_destroy(p, 1000);
    mock_down(&m);
}

static void test_broker_errors_are_retried(void **state)
{
    mock_t m;
    mock_up(&m);
    /* The next produce requests fail with retriable errors; the idempotent producer retries. */
    rd_kafka_mock_push_request_errors(
        m.mc, 0 /* ApiKey Produce */, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    track_t t = {.lock = PTHREAD_MUTEX_INITIALIZER};
    ingest_producer_conf_t c = conf_for(m.brokers);
    char err[256];
    ingest_producer_t *p = ingest_producer_new(&c, done, &t, err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < 100; i++)
        assert_int_equal(ingest_producer_send(p, "k", 1, "v", 1, (void *)(intptr_t)i), QUIRE_OK);
    assert_int_equal(wait_reports(&t, 100, 30), 100);
    assert_int_equal(t.ok, 100);
    ingest_producer_destroy(p, 1000);
    mock_down(&m);
}

static void test_limits_and_shutdown(void **state)
{
    /* No broker at all: nothing can be persisted, so nothing is reported as success. */
    track_t t = {.lock = PTHREAD_MUTEX_INITIALIZER};
    ingest_producer_conf_t c = conf_for("127.0.0.1:1");
    c.max_inflight = 10;
    c.max_message_bytes = 100;
    char err[256];
    ingest_producer_t *p = ingest_producer_new(&c, done, &t, err, sizeof err);
    assert_non_null(p);
    char big[200] = {0};
    assert_int_equal(ingest_producer_send(p, "k", 1, big, sizeof big, (void *)0),
                     QUIRE_ERR_TOO_LARGE);
    for (int i = 0; i < 10; i++)
        assert_int_equal(ingest_producer_send(p, "k", 1, "v", 1, (void *)(intptr_t)i), QUIRE_OK);
    assert_int_equal(ingest_producer_send(p, "k", 1, "v", 1, (void *)(intptr_t)10), QUIRE_ERR_BUSY);
    assert_int_equal(ingest_producer_inflight(p), 10);
    ingest_producer_destroy(p, 200);
    assert_int_equal(t.ok, 0);
    assert_int_equal(t.shutdown, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(t.reports[i], 1);
    assert_int_equal(t.reports[10], 0);
}

static void test_delivery_timeout_reports_failure(void **state)
{
    track_t t = {.lock = PTHREAD_MUTEX_INITIALIZER};
    ingest_producer_conf_t c = conf_for("127.0.0.1:1");
    c.delivery_timeout_ms = 300;
    char err[256];
    ingest_producer_t *p = ingest_producer_new(&c, done, &t, err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ingest_producer_send(p, "k", 1, "v", 1, (void *)(intptr_t)i), QUIRE_OK);
    assert_int_equal(wait_reports(&t, 5, 10), 5);
    assert_int_equal(t.failed, 5);
    assert_int_equal(t.ok, 0);
    ingest_producer_destroy(p, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_message_reported_once_across_a_fatal_rebuild),
        cmocka_unit_test(test_broker_errors_are_retried),
        cmocka_unit_test(test_limits_and_shutdown),
        cmocka_unit_test(test_delivery_timeout_reports_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
