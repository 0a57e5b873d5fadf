/* Unit tests of quire_kafka: murmur2 and partition placement match Java's default partitioner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "quire_kafka.h"

/* Vectors from Apache Kafka's UtilsTest.testMurmur2. */
static void test_murmur2_kafka_vectors(void **state)
{
    static const struct {
        const char *key;
        int32_t hash;
    } v[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_int_equal((int32_t)quire_murmur2(v[i].key, strlen(v[i].key)), v[i].hash);
}

static void test_partition_for(void **state)
{
    /* toPositive(-790332482) = 1357151166; % 50 = 16 */
    assert_int_equal(quire_kafka_partition_for("foobar", 6, 50), 16);
    assert_int_equal(quire_kafka_partition_for("foobar", 6, 0), -1);
    for (int n = 1; n < 64; n++) {
        int32_t p = quire_kafka_partition_for("doc-1", 5, n);
        assert_true(p >= 0 && p < n);
    }
}

static void test_topic_names(void **state)
{
    char buf[64];
    assert_string_equal(quire_kafka_topic("quire", QUIRE_TOPIC_DOC_UPDATES, buf, sizeof buf),
                        "quire.doc-updates");
    assert_null(quire_kafka_topic("a-very-long-prefix", "doc-updates", buf, 10));
}

static void test_producer_conf_is_durable(void **state)
{
    char err[256];
    rd_kafka_conf_t *conf = quire_kafka_producer_conf("127.0.0.1:1", "1", err, sizeof err);
    assert_non_null(conf);
    char val[64];
    size_t len = sizeof val;
    assert_int_equal(rd_kafka_conf_get(conf, "enable.idempotence", val, &len), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "true");
    len = sizeof val;
    assert_int_equal(rd_kafka_conf_get(conf, "partitioner", val, &len), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "murmur2_random");
    len = sizeof val;
    assert_int_equal(rd_kafka_conf_get(conf, "acks", val, &len), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "-1");
    rd_kafka_conf_destroy(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_murmur2_kafka_vectors),
        cmocka_unit_test(test_partition_for),
        cmocka_unit_test(test_topic_names),
        cmocka_unit_test(test_producer_conf_is_durable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
