/*
 * Unit tests of the quarantine rule: it depends on the message alone. Valid events pass; bytes
 * that are not a DocEvent, a key that is not the document id, a document in the wrong partition
 * and a Yjs update the engine refuses are poison, with a reason; lifecycle events carry no update
 * and pass; the same message is judged the same way every time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quarantine.h"
#include "quire_kafka.h"

#define NPARTS 12

/* A Yjs update inserting "hi" into root "t" as client 1000. */
static const uint8_t good_update[] = {1, 1, 0xe8, 0x07, 0, 0x04, 1, 1, 't', 2, 'h', 'i', 0};

static uint8_t *encode(const char *doc, event_codec_kind_t kind, const uint8_t *u, size_t ulen,
                       size_t *ret_len)
{
    event_codec_t *c;
    assert_int_equal(event_codec_new(NULL, &c, NULL, 0), QUIRE_OK);
    event_codec_event_t ev = {
        .doc_id = doc,
        .doc_id_len = strlen(doc),
        .kind = kind,
        .actor = "alice",
        .actor_len = 5,
        .server_time_ms = 1,
        .origin = "api",
        .origin_len = 3,
        .update = u,
        .update_len = ulen,
    };
    memset(ev.event_id, 7, sizeof ev.event_id);
    uint8_t *buf;
    assert_int_equal(event_codec_encode_alloc(c, &ev, &buf, ret_len), QUIRE_OK);
    event_codec_destroy(c);
    return buf;
}

static int32_t part_of(const char *doc)
{
    return quire_kafka_partition_for(doc, strlen(doc), NPARTS);
}

static void test_valid_update_passes(void **state)
{
    quarantine_checker_t *q = quarantine_checker_new(NULL, 0);
    assert_non_null(q);
    size_t n;
    uint8_t *m = encode("doc-1", EVENT_CODEC_KIND_UPDATE, good_update, sizeof good_update, &n);
    event_codec_event_t ev;
    char why[200] = "";
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            quarantine_check(q, "doc-1", 5, part_of("doc-1"), NPARTS, m, n, &ev, why, sizeof why),
            QUIRE_OK);
        assert_int_equal(ev.doc_id_len, 5);
        assert_memory_equal(ev.update, good_update, sizeof good_update);
    }
    free(m);
    quarantine_checker_destroy(q);
}

static void test_lifecycle_passes(void **state)
{
    quarantine_checker_t *q = quarantine_checker_new(NULL, 0);
    size_t n;
    uint8_t *m = encode("doc-2", EVENT_CODEC_KIND_DELETE, NULL, 0, &n);
    event_codec_event_t ev;
    char why[200];
    assert_int_equal(
        quarantine_check(q, "doc-2", 5, part_of("doc-2"), NPARTS, m, n, &ev, why, sizeof why),
        QUIRE_OK);
    assert_int_equal(ev.kind, EVENT_CODEC_KIND_DELETE);
    free(m);
    quarantine_checker_destroy(q);
}

static void test_poison(void **state)
{
    quarantine_checker_t *q = quarantine_checker_new(NULL, 0);
    event_codec_event_t ev;
    char why[200];
    /* not a DocEvent */
    static const char junk[] = "definitely not a DocEvent";
    assert_int_equal(
        quarantine_check(q, "d", 1, part_of("d"), NPARTS, junk, sizeof junk, &ev, why, sizeof why),
        QUIRE_ERR_MALFORMED);
    assert_non_null(strstr(why, "undecodable"));
    assert_int_equal(quarantine_check(q, "d", 1, part_of("d"), NPARTS, "", 0, &ev, why, sizeof why),
                     QUIRE_ERR_MALFORMED);
    /* the key is not the document id */
    size_t n;
    uint8_t *m = encode("doc-3", EVENT_CODEC_KIND_UPDATE, good_update, sizeof good_update, &n);
    assert_int_equal(
        quarantine_check(q, "doc-X", 5, part_of("doc-3"), NPARTS, m, n, &ev, why, sizeof why),
        QUIRE_ERR_MALFORMED);
    assert_non_null(strstr(why, "key"));
    assert_int_equal(
        quarantine_check(q, NULL, 0, part_of("doc-3"), NPARTS, m, n, &ev, why, sizeof why),
        QUIRE_ERR_MALFORMED);
    /* the wrong partition */
    int32_t wrong = (part_of("doc-3") + 1) % NPARTS;
    assert_int_equal(quarantine_check(q, "doc-3", 5, wrong, NPARTS, m, n, &ev, why, sizeof why),
                     QUIRE_ERR_MALFORMED);
    assert_non_null(strstr(why, "partition"));
    free(m);
    /* a Yjs update the engine refuses: invalid UTF-8 in the string, then a truncated one */
    uint8_t bad[sizeof good_update];
    memcpy(bad, good_update, sizeof bad);
    bad[10] = 0xff;
    m = encode("doc-4", EVENT_CODEC_KIND_UPDATE, bad, sizeof bad, &n);
    assert_int_equal(
        quarantine_check(q, "doc-4", 5, part_of("doc-4"), NPARTS, m, n, &ev, why, sizeof why),
        QUIRE_ERR_MALFORMED);
    assert_non_null(strstr(why, "yjs update refused"));
    free(m);
    m = encode("doc-4", EVENT_CODEC_KIND_UPDATE, good_update, 6, &n);
    assert_int_equal(
        quarantine_check(q, "doc-4", 5, part_of("doc-4"), NPARTS, m, n, &ev, why, sizeof why),
        QUIRE_ERR_MALFORMED);
    free(m);
    quarantine_checker_destroy(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_update_passes),
        cmocka_unit_test(test_lifecycle_passes),
        cmocka_unit_test(test_poison),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
