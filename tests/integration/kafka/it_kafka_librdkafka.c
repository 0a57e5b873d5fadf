/*
 * Integration: librdkafka 2.0.2 against the real broker ./ops/test starts (QUIRE_KAFKA_BROKERS).
 * Proves what quire relies on: idempotent produce with DESIGN §3's settings lands each key on the
 * partition Java computes; consumer-group subscribe and commit; assign from an explicit offset;
 * watermark query; offsets-for-times on a LogAppendTime topic. Uses its own fresh topic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "quire_kafka.h"

#define NPART 6
#define NMSG  600

static char brokers[256];
static char topic[128];

typedef struct {
    int delivered, persisted, failed;
    int32_t partition_of[NMSG];
    int64_t offset_of[NMSG];
    int64_t ts_of[NMSG];
} dr_state_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    dr_state_t *st = opaque;
    int idx = (int)(intptr_t)m->_private;
    st->delivered++;
    if (m->err) {
        st->failed++;
        return;
    }
    if (rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_PERSISTED)
        st->persisted++;
    st->partition_of[idx] = m->partition;
    st->offset_of[idx] = m->offset;
    rd_kafka_timestamp_type_t tstype;
    st->ts_of[idx] = rd_kafka_message_timestamp(m, &tstype);
}

static int create_topic(void **state)
{
    const char *b = getenv("QUIRE_KAFKA_BROKERS");
    if (!b) {
        fprintf(stderr, "QUIRE_KAFKA_BROKERS is not set: run through ./ops/test\n");
        return -1;
    }
    snprintf(brokers, sizeof brokers, "%s", b);
    snprintf(topic, sizeof topic, "quire-it.kafka-%d-%ld", (int)getpid(), (long)time(NULL));

    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (quire_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) != QUIRE_OK)
        return -1;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
        return -1;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, NPART, 1, err, sizeof err);
    rd_kafka_NewTopic_set_config(nt, "message.timestamp.type", "LogAppendTime");
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = -1;
    if (ev && !rd_kafka_event_error(ev)) {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rc = (n == 1 && rd_kafka_topic_result_error(res[0]) == 0) ? 0 : -1;
        if (rc)
            fprintf(stderr, "create topic: %s\n", rd_kafka_topic_result_error_string(res[0]));
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    sleep(1); /* metadata propagation */
    return rc;
}

static dr_state_t produced;

static void test_idempotent_produce_partitions(void **state)
{
    char err[512];
    rd_kafka_conf_t *conf = quire_kafka_producer_conf(brokers, "1", err, sizeof err);
    assert_non_null(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, &produced);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(rk);
    for (int i = 0; i < NMSG; i++) {
        char key[32], val[64];
        snprintf(key, sizeof key, "doc-%d", i % 97);
        snprintf(val, sizeof val, "value-%d", i);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(val, strlen(val)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
        assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_poll(rk, 0);
    }
    assert_int_equal(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(produced.delivered, NMSG);
    assert_int_equal(produced.failed, 0);
    assert_int_equal(produced.persisted, NMSG);
    for (int i = 0; i < NMSG; i++) {
        char key[32];
        snprintf(key, sizeof key, "doc-%d", i % 97);
        /* the murmur2_random partitioner puts each key where Java's default partitioner does */
        assert_int_equal(produced.partition_of[i],
                         quire_kafka_partition_for(key, strlen(key), NPART));
        /* all events of one key are in one partition, in order */
        if (i >= 97)
            assert_true(produced.offset_of[i] > produced.offset_of[i - 97]);
    }
    assert_int_equal(quire_kafka_partition_count(rk, topic, 5000, err, sizeof err), NPART);
    rd_kafka_destroy(rk);
}

static void test_watermarks(void **state)
{
    char err[512];
    rd_kafka_conf_t *conf = quire_kafka_consumer_conf(brokers, "quire-it-wm", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(rk);
    int64_t total = 0;
    for (int p = 0; p < NPART; p++) {
        int64_t lo = -1, hi = -1;
        assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000), 0);
        assert_int_equal(lo, 0);
        int expect = 0;
        for (int i = 0; i < NMSG; i++)
            expect += produced.partition_of[i] == p;
        assert_int_equal(hi, expect);
        total += hi;
    }
    assert_int_equal(total, NMSG);
    rd_kafka_destroy(rk);
}

static void test_assign_from_offset(void **state)
{
    int32_t p = produced.partition_of[0];
    int64_t hi = 0;
    for (int i = 0; i < NMSG; i++)
        if (produced.partition_of[i] == p && produced.offset_of[i] + 1 > hi)
            hi = produced.offset_of[i] + 1;
    int64_t start = hi / 2;
    char err[512];
    rd_kafka_conf_t *conf = quire_kafka_consumer_conf(brokers, "quire-it-assign", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, topic, p)->offset = start;
    assert_int_equal(rd_kafka_assign(rk, tp), 0);
    rd_kafka_topic_partition_list_destroy(tp);
    int64_t expect = start;
    while (expect < hi) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10000);
        assert_non_null(m);
        assert_int_equal(m->err, 0);
        assert_int_equal(m->offset, expect);
        /* the value is the one produced at that offset */
        for (int i = 0; i < NMSG; i++) {
            if (produced.partition_of[i] == p && produced.offset_of[i] == m->offset) {
                char val[64];
                snprintf(val, sizeof val, "value-%d", i);
                assert_int_equal(m->len, strlen(val));
                assert_memory_equal(m->payload, val, m->len);
            }
        }
        expect++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void test_group_subscribe_and_commit(void **state)
{
    char err[512], group[160];
    snprintf(group, sizeof group, "quire-it-group-%d", (int)getpid());
    rd_kafka_conf_t *conf = quire_kafka_consumer_conf(brokers, group, err, sizeof err);
    assert_int_equal(quire_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err),
                     QUIRE_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(rk, sub), 0);
    rd_kafka_topic_partition_list_destroy(sub);
    int seen = 0;
    time_t deadline = time(NULL) + 60;
    while (seen < NMSG && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (!m)
            continue;
        if (!m->err) {
            seen++;
            rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(c, topic, m->partition)->offset = m->offset + 1;
            assert_int_equal(rd_kafka_commit(rk, c, 0), 0);
            rd_kafka_topic_partition_list_destroy(c);
        }
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(seen, NMSG);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(NPART);
    for (int p = 0; p < NPART; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p);
    assert_int_equal(rd_kafka_committed(rk, parts, 10000), 0);
    int64_t total = 0;
    for (int p = 0; p < NPART; p++)
        total += parts->elems[p].offset > 0 ? parts->elems[p].offset : 0;
    assert_int_equal(total, NMSG);
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void test_offsets_for_times(void **state)
{
    /* LogAppendTime: timestamps are the broker's; a message's own timestamp maps to the earliest
     * offset with that timestamp, which is at or before the message. */
    int32_t p = produced.partition_of[NMSG - 1];
    int idx = NMSG - 1;
    char err[512];
    rd_kafka_conf_t *conf = quire_kafka_consumer_conf(brokers, "quire-it-oft", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(tp, topic, p)->offset = produced.ts_of[idx];
    rd_kafka_topic_partition_list_add(tp, topic, (p + 1) % NPART)->offset =
        produced.ts_of[idx] + 3600 * 1000;
    assert_int_equal(rd_kafka_offsets_for_times(rk, tp, 10000), 0);
    assert_int_equal(tp->elems[0].err, 0);
    assert_true(tp->elems[0].offset >= 0 && tp->elems[0].offset <= produced.offset_of[idx]);
    for (int i = 0; i < NMSG; i++) /* nothing in the partition before it has that time or later */
        if (produced.partition_of[i] == p && produced.offset_of[i] < tp->elems[0].offset)
            assert_true(produced.ts_of[i] < produced.ts_of[idx]);
    assert_int_equal(tp->elems[1].offset, -1);          /* a time after everything: the end */
    assert_true(produced.ts_of[idx] > 1600000000000LL); /* broker time, milliseconds */
    rd_kafka_topic_partition_list_destroy(tp);
    rd_kafka_destroy(rk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idempotent_produce_partitions),
        cmocka_unit_test(test_watermarks),
        cmocka_unit_test(test_assign_from_offset),
        cmocka_unit_test(test_group_subscribe_and_commit),
        cmocka_unit_test(test_offsets_for_times),
    };
    return cmocka_run_group_tests(tests, create_topic, NULL);
}
