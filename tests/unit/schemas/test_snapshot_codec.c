/* Unit tests of snapshot_codec: round trip, the content hash, tombstones, and clean errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sodium.h>

#include "bytes_builder.h"
#include "event_codec.h"
#include "schema_codec.h"
#include "schema_registry.h"
#include "snapshot_codec.h"

static const uint8_t STATE[] = {0x01, 0x02, 0xb9, 0xe4, 0xa2, 0x07, 0x00, 0x04, 0x01, 0x04,
                                0x74, 0x65, 0x78, 0x74, 0x02, 0x68, 0x69, 0x00, 0x00};

static snapshot_codec_snapshot_t sample(void)
{
    return (snapshot_codec_snapshot_t){.doc_id = "doc-9",
                                       .doc_id_len = 5,
                                       .partition = 17,
                                       .position = 123456789012,
                                       .state = STATE,
                                       .state_len = sizeof STATE,
                                       .created_time_ms = 1760000000999};
}

static snapshot_codec_t *codec(size_t max_state)
{
    snapshot_codec_opts_t o = {.max_state_bytes = max_state};
    snapshot_codec_t *c = NULL;
    char err[256];
    if (snapshot_codec_new(&o, &c, err, sizeof err))
        fail_msg("snapshot_codec_new: %s", err);
    return c;
}

static void test_round_trip(void **state)
{
    snapshot_codec_t *c = codec(0);
    assert_int_equal(snapshot_codec_writer_schema_id(c), SCHEMA_ID_DOC_SNAPSHOT_V1);
    snapshot_codec_snapshot_t s = sample();
    memset(s.state_blake2b, 0xAA, sizeof s.state_blake2b); /* ignored by encode */
    uint8_t *buf = NULL;
    size_t n = 0;
    assert_int_equal(snapshot_codec_encode_alloc(c, &s, &buf, &n), QUIRE_OK);
    static const uint8_t hdr[5] = {0, 0, 0, 0, 3};
    assert_memory_equal(buf, hdr, 5);
    uint8_t fixed[512];
    size_t n2 = 0;
    assert_int_equal(snapshot_codec_encode(c, &s, fixed, sizeof fixed, &n2), QUIRE_OK);
    assert_int_equal(n, n2);
    assert_memory_equal(buf, fixed, n);
    snapshot_codec_snapshot_t got;
    assert_int_equal(snapshot_codec_decode(c, buf, n, &got), QUIRE_OK);
    free(buf);
    assert_int_equal(got.schema_id, SCHEMA_ID_DOC_SNAPSHOT_V1);
    assert_int_equal(got.doc_id_len, 5);
    assert_string_equal(got.doc_id, "doc-9");
    assert_int_equal(got.partition, 17);
    assert_int_equal(got.position, 123456789012);
    assert_int_equal(got.state_len, sizeof STATE);
    assert_memory_equal(got.state, STATE, sizeof STATE);
    assert_int_equal(got.created_time_ms, 1760000000999);
    uint8_t want[32];
    crypto_generichash(want, sizeof want, STATE, sizeof STATE, NULL, 0);
    assert_memory_equal(got.state_blake2b, want, 32);
    uint8_t h[32];
    snapshot_codec_hash(STATE, sizeof STATE, h);
    assert_memory_equal(h, want, 32);
    /* the exact layout: doc_id, partition, position, state, hash, created */
    bb_t bb = {.n = 0};
    bb_header(&bb, SCHEMA_ID_DOC_SNAPSHOT_V1);
    bb_str(&bb, "doc-9");
    bb_long(&bb, 17);
    bb_long(&bb, 123456789012);
    bb_bytes(&bb, STATE, sizeof STATE);
    bb_raw(&bb, want, 32);
    bb_long(&bb, 1760000000999);
    assert_int_equal(bb.n, n2);
    assert_memory_equal(bb.b, fixed, n2);
    snapshot_codec_destroy(c);
}

static void test_hash_mismatch_and_rules(void **state)
{
    snapshot_codec_t *c = codec(64);
    snapshot_codec_snapshot_t s = sample();
    uint8_t buf[512];
    size_t n = 0;
    assert_int_equal(snapshot_codec_encode(c, &s, buf, sizeof buf, &n), QUIRE_OK);
    snapshot_codec_snapshot_t got;
    /* flip one byte of the state (it starts after header 5 + doc 6 + partition 1 + position 5 +
     * length 1) */
    buf[5 + 6 + 1 + 5 + 1 + 3] ^= 1;
    assert_int_equal(snapshot_codec_decode(c, buf, n, &got), QUIRE_ERR_MALFORMED);
    assert_non_null(strstr(snapshot_codec_last_error(c), "state_blake2b"));

    struct {
        const char *doc;
        int32_t partition;
        int64_t position, created;
        size_t state_len;
    } bad[] = {
        {"a b", 0, 0, 0, 3}, {"d", -1, 0, 0, 3}, {"d", 0, -1, 0, 3},
        {"d", 0, 0, -1, 3},  {"d", 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t h[32];
        snapshot_codec_hash(STATE, bad[i].state_len, h);
        bb_t bb = {.n = 0};
        bb_header(&bb, SCHEMA_ID_DOC_SNAPSHOT_V1);
        bb_str(&bb, bad[i].doc);
        bb_long(&bb, bad[i].partition);
        bb_long(&bb, bad[i].position);
        bb_bytes(&bb, STATE, bad[i].state_len);
        bb_raw(&bb, h, 32);
        bb_long(&bb, bad[i].created);
        assert_int_equal(snapshot_codec_decode(c, bb.b, bb.n, &got), QUIRE_ERR_MALFORMED);
        snapshot_codec_snapshot_t e = sample();
        e.doc_id = bad[i].doc;
        e.doc_id_len = strlen(bad[i].doc);
        e.partition = bad[i].partition;
        e.position = bad[i].position;
        e.created_time_ms = bad[i].created;
        e.state_len = bad[i].state_len;
        assert_int_equal(snapshot_codec_encode(c, &e, buf, sizeof buf, &n), QUIRE_ERR_INVALID);
    }
    /* state over the cap */
    uint8_t big[65] = {0};
    s.state = big;
    s.state_len = sizeof big;
    assert_int_equal(snapshot_codec_encode(c, &s, buf, sizeof buf, &n), QUIRE_ERR_TOO_LARGE);
    snapshot_codec_t *roomy = codec(0);
    assert_int_equal(snapshot_codec_encode(roomy, &s, buf, sizeof buf, &n), QUIRE_OK);
    assert_int_equal(snapshot_codec_decode(c, buf, n, &got), QUIRE_ERR_TOO_LARGE);
    assert_int_equal(snapshot_codec_max_message(c), SNAPSHOT_CODEC_ENVELOPE_MAX + 64);
    snapshot_codec_destroy(roomy);
    snapshot_codec_destroy(c);
}

static void test_tombstone_truncation_and_ids(void **state)
{
    snapshot_codec_t *c = codec(0);
    snapshot_codec_snapshot_t s = sample(), got;
    uint8_t buf[512];
    size_t n = 0;
    assert_int_equal(snapshot_codec_encode(c, &s, buf, sizeof buf, &n), QUIRE_OK);
    assert_int_equal(snapshot_codec_decode(c, NULL, 0, &got), QUIRE_ERR_EMPTY);
    for (size_t len = 1; len < n; len++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, buf, len);
        assert_int_equal(snapshot_codec_decode(c, copy, len, &got), QUIRE_ERR_MALFORMED);
        free(copy);
    }
    buf[0] = 7;
    assert_int_equal(snapshot_codec_decode(c, buf, n, &got), QUIRE_ERR_MALFORMED);
    buf[0] = 0;
    schema_codec_frame_header(42, buf);
    assert_int_equal(snapshot_codec_decode(c, buf, n, &got), QUIRE_ERR_NOT_FOUND);
    /* an event is not a snapshot */
    event_codec_t *ec = NULL;
    assert_int_equal(event_codec_new(NULL, &ec, NULL, 0), QUIRE_OK);
    event_codec_event_t ev = {.doc_id = "d",
                              .doc_id_len = 1,
                              .event_id = {1},
                              .kind = EVENT_CODEC_KIND_DELETE,
                              .actor = "u",
                              .actor_len = 1,
                              .origin = "g",
                              .origin_len = 1};
    assert_int_equal(event_codec_encode(ec, &ev, buf, sizeof buf, &n), QUIRE_OK);
    assert_int_equal(snapshot_codec_decode(c, buf, n, &got), QUIRE_ERR_MALFORMED);
    assert_non_null(strstr(snapshot_codec_last_error(c), "quire.DocEvent"));
    event_codec_destroy(ec);

    snapshot_codec_opts_t o = {.writer_schema_id = SCHEMA_ID_DOC_EVENT_V2};
    snapshot_codec_t *x = NULL;
    assert_int_equal(snapshot_codec_new(&o, &x, NULL, 0), QUIRE_ERR_INVALID);
    assert_null(x);
    snapshot_codec_destroy(NULL);
    snapshot_codec_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_hash_mismatch_and_rules),
        cmocka_unit_test(test_tombstone_truncation_and_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
