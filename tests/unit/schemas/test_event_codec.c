/* Unit tests of event_codec (and the schema_codec engine under it): round trips of every field
 * and kind, schema evolution both ways through Avro-C resolution, exact wire bytes, agreement
 * with plain Avro-C, and clean errors with bounded allocation for hostile bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <avro.h>
#include <pthread.h>

#include "bytes_builder.h"
#include "event_codec.h"
#include "schema_codec.h"
#include "schema_registry.h"

/* ---- Avro-C allocation accounting (installed in main before any Avro-C call) ---------------- */

typedef struct alloc_stats_s {
    size_t live, peak;
} alloc_stats_t;

static alloc_stats_t avro_mem; /* test-only accounting, under avro_mem_lock */
static pthread_mutex_t avro_mem_lock = PTHREAD_MUTEX_INITIALIZER;

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    size_t *p = ptr ? (size_t *)ptr - 2 : NULL;
    size_t old = p ? p[0] : 0;
    size_t *q = NULL;
    if (nsize == 0) {
        free(p);
    } else if (!(q = realloc(p, nsize + 2 * sizeof(size_t)))) {
        return NULL;
    } else {
        q[0] = nsize;
    }
    pthread_mutex_lock(&avro_mem_lock);
    avro_mem.live = avro_mem.live - old + nsize;
    if (avro_mem.live > avro_mem.peak)
        avro_mem.peak = avro_mem.live;
    pthread_mutex_unlock(&avro_mem_lock);
    return q ? q + 2 : NULL;
}

/* ---- helpers ----------------------------------------------------------------------------------
 */

static const uint8_t ID[16] = {0x1b, 0x4e, 0x28, 0xba, 0x2f, 0xa1, 0x41, 0xd2,
                               0x88, 0x3f, 0x00, 0x05, 0xe7, 0x3a, 0xde, 0xff};
static const uint8_t UPD[] = {0x01, 0x01, 0xb9, 0xe4, 0xa2, 0x07, 0x00, 0x04, 0x01,
                              0x04, 0x74, 0x65, 0x78, 0x74, 0x01, 0x61, 0x00};

static event_codec_event_t sample(event_codec_kind_t kind, const char *key)
{
    event_codec_event_t ev = {
        .doc_id = "doc-42.notes_v1~x",
        .kind = kind,
        .actor = "user-7f3a",
        .server_time_ms = 1760000000123,
        .origin = "gw-host1-4711",
        .update = kind == EVENT_CODEC_KIND_UPDATE ? UPD : NULL,
        .update_len = kind == EVENT_CODEC_KIND_UPDATE ? sizeof UPD : 0,
        .idempotency_key = key,
        .idempotency_key_len = key ? strlen(key) : 0,
    };
    ev.doc_id_len = strlen(ev.doc_id);
    ev.actor_len = strlen(ev.actor);
    ev.origin_len = strlen(ev.origin);
    memcpy(ev.event_id, ID, sizeof ID);
    return ev;
}

static event_codec_t *codec(uint32_t writer, uint32_t reader, size_t max_update)
{
    event_codec_opts_t o = {
        .writer_schema_id = writer, .reader_schema_id = reader, .max_update_bytes = max_update};
    event_codec_t *c = NULL;
    char err[256];
    quire_err_t rc = event_codec_new(&o, &c, err, sizeof err);
    if (rc)
        fail_msg("event_codec_new: %s: %s", quire_err_name(rc), err);
    return c;
}

static void assert_span(const char *got, size_t got_len, const char *want, size_t want_len)
{
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    assert_int_equal(got[got_len], '\0'); /* decoded strings are NUL-terminated */
}

static void assert_same(const event_codec_event_t *got, const event_codec_event_t *want,
                        bool want_key)
{
    assert_span(got->doc_id, got->doc_id_len, want->doc_id, want->doc_id_len);
    assert_memory_equal(got->event_id, want->event_id, 16);
    assert_int_equal(got->kind, want->kind);
    assert_span(got->actor, got->actor_len, want->actor, want->actor_len);
    assert_int_equal(got->server_time_ms, want->server_time_ms);
    assert_span(got->origin, got->origin_len, want->origin, want->origin_len);
    assert_int_equal(got->update_len, want->update_len);
    if (want->update_len)
        assert_memory_equal(got->update, want->update, want->update_len);
    if (want_key && want->idempotency_key) {
        assert_non_null(got->idempotency_key);
        assert_span(got->idempotency_key, got->idempotency_key_len, want->idempotency_key,
                    want->idempotency_key_len);
    } else {
        assert_null(got->idempotency_key);
        assert_int_equal(got->idempotency_key_len, 0);
    }
}

/* The v1 body of sample(), written by hand from doc_event.v1.avsc. */
static void v1_body(bb_t *bb, const event_codec_event_t *ev)
{
    bb_bytes(bb, ev->doc_id, ev->doc_id_len);
    bb_raw(bb, ev->event_id, 16);
    bb_long(bb, ev->kind);
    bb_bytes(bb, ev->actor, ev->actor_len);
    bb_long(bb, ev->server_time_ms);
    bb_bytes(bb, ev->origin, ev->origin_len);
    bb_bytes(bb, ev->update, ev->update_len);
}

static quire_err_t decode_bb(event_codec_t *c, const bb_t *bb, event_codec_event_t *ev)
{
    return event_codec_decode(c, bb->b, bb->n, ev);
}

/* ---- tests ------------------------------------------------------------------------------------
 */

static void test_header_bytes(void **state)
{
    uint8_t h[5];
    schema_codec_frame_header(1337, h);
    static const uint8_t want[5] = {0x00, 0x00, 0x00, 0x05, 0x39};
    assert_memory_equal(h, want, 5);
    uint32_t id = 0;
    assert_int_equal(schema_codec_frame_parse(h, 5, &id), QUIRE_OK);
    assert_int_equal(id, 1337);
    schema_codec_frame_header(0xA1B2C3D4u, h);
    assert_int_equal(h[1], 0xA1);
    assert_int_equal(h[4], 0xD4);
    assert_int_equal(schema_codec_frame_parse(h, 0, &id), QUIRE_ERR_EMPTY);
    assert_int_equal(schema_codec_frame_parse(h, 4, &id), QUIRE_ERR_MALFORMED);
    h[0] = 1;
    assert_int_equal(schema_codec_frame_parse(h, 5, &id), QUIRE_ERR_MALFORMED);

    event_codec_t *c = codec(0, 0, 0);
    event_codec_event_t ev = sample(EVENT_CODEC_KIND_UPDATE, NULL);
    uint8_t buf[512];
    size_t n = 0;
    assert_int_equal(event_codec_encode(c, &ev, buf, sizeof buf, &n), QUIRE_OK);
    static const uint8_t v2hdr[5] = {0x00, 0x00, 0x00, 0x00, 0x02};
    assert_memory_equal(buf, v2hdr, 5);
    event_codec_destroy(c);
}

/* The exact bytes of a small event, computed by hand: pins the wire layout of schema 2. */
static void test_golden_bytes(void **state)
{
    event_codec_t *c = codec(0, 0, 0);
    event_codec_event_t ev = {.doc_id = "d",
                              .doc_id_len = 1,
                              .kind = EVENT_CODEC_KIND_DELETE,
                              .actor = "u",
                              .actor_len = 1,
                              .server_time_ms = 1,
                              .origin = "g",
                              .origin_len = 1,
                              .idempotency_key = "k",
                              .idempotency_key_len = 1};
    for (int i = 0; i < 16; i++)
        ev.event_id[i] = (uint8_t)(i + 1);
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x00, 0x02,               /* magic, id 2 */
        0x02, 'd',                                  /* doc_id */
        1,    2,    3,    4,    5,    6,  7,  8, 9, /* event_id */
        10,   11,   12,   13,   14,   15, 16,       /* event_id, continued */
        0x04,                                       /* kind DELETE = 2 */
        0x02, 'u',                                  /* actor */
        0x02,                                       /* server_time_ms 1 */
        0x02, 'g',                                  /* origin */
        0x00,                                       /* update: empty */
        0x02, 0x02, 'k',                            /* idempotency_key: branch 1, "k" */
    };
    uint8_t buf[128];
    size_t n = 0;
    assert_int_equal(event_codec_encode(c, &ev, buf, sizeof buf, &n), QUIRE_OK);
    assert_int_equal(n, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    size_t size = 0;
    assert_int_equal(event_codec_encoded_size(c, &ev, &size), QUIRE_OK);
    assert_int_equal(size, sizeof want);
    event_codec_destroy(c);
}

static void test_round_trip_every_kind(void **state)
{
    event_codec_t *c = codec(0, 0, 0);
    const char *keys[] = {NULL, "0b7e1c2d-retry key ~!"};
    for (int kind = 0; kind < EVENT_CODEC_KIND_COUNT; kind++) {
        for (int k = 0; k < 2; k++) {
            event_codec_event_t ev = sample((event_codec_kind_t)kind, keys[k]);
            uint8_t *buf = NULL;
            size_t n = 0, n2 = 0, size = 0;
            assert_int_equal(event_codec_encode_alloc(c, &ev, &buf, &n), QUIRE_OK);
            uint8_t fixed[1024];
            assert_int_equal(event_codec_encode(c, &ev, fixed, sizeof fixed, &n2), QUIRE_OK);
            assert_int_equal(event_codec_encoded_size(c, &ev, &size), QUIRE_OK);
            assert_int_equal(n, n2);
            assert_int_equal(n, size);
            assert_memory_equal(buf, fixed, n);
            event_codec_event_t got;
            assert_int_equal(event_codec_decode(c, buf, n, &got), QUIRE_OK);
            free(buf); /* decoded spans live in the codec, not in the input */
            assert_int_equal(got.schema_id, SCHEMA_ID_DOC_EVENT_V2);
            assert_same(&got, &ev, true);
            assert_string_equal(event_codec_kind_name(got.kind), event_codec_kind_name(ev.kind));
        }
    }
    assert_string_equal(event_codec_kind_name(EVENT_CODEC_KIND_UPDATE), "UPDATE");
    assert_string_equal(event_codec_kind_name(EVENT_CODEC_KIND_DELETE), "DELETE");
    assert_string_equal(event_codec_kind_name((event_codec_kind_t)9), "UNKNOWN");
    event_codec_destroy(c);
}

/* Field extremes: longest strings, non-ASCII UTF-8, negative-free long range, big update. */
static void test_round_trip_extremes(void **state)
{
    event_codec_t *c = codec(0, 0, 0);
    char doc[129], actor[257], key[256];
    memset(doc, 'Z', 128);
    doc[128] = 0;
    memset(actor, 0, sizeof actor);
    for (int i = 0; i < 64; i++)
        memcpy(actor + 4 * i, "\xf0\x9f\x98\x80", 4); /* U+1F600 x 64 = 256 bytes */
    memset(key, '~', 255);
    key[255] = 0;
    size_t big = EVENT_CODEC_DEFAULT_MAX_UPDATE;
    uint8_t *upd = malloc(big);
    assert_non_null(upd);
    for (size_t i = 0; i < big; i++)
        upd[i] = (uint8_t)(i * 31);
    event_codec_event_t ev = sample(EVENT_CODEC_KIND_UPDATE, key);
    ev.doc_id = doc;
    ev.doc_id_len = 128;
    ev.actor = actor;
    ev.actor_len = 256;
    ev.origin = "\xc3\xa9";
    ev.origin_len = 2;
    ev.server_time_ms = INT64_MAX;
    ev.update = upd;
    ev.update_len = big;
    uint8_t *buf = NULL;
    size_t n = 0;
    assert_int_equal(event_codec_encode_alloc(c, &ev, &buf, &n), QUIRE_OK);
    assert_true(n <= event_codec_max_message(c));
    event_codec_event_t got;
    assert_int_equal(event_codec_decode(c, buf, n, &got), QUIRE_OK);
    assert_same(&got, &ev, true);
    ev.server_time_ms = 0;
    free(buf);
    assert_int_equal(event_codec_encode_alloc(c, &ev, &buf, &n), QUIRE_OK);
    assert_int_equal(event_codec_decode(c, buf, n, &got), QUIRE_OK);
    assert_int_equal(got.server_time_ms, 0);
    free(buf);
    free(upd);
    event_codec_destroy(c);
}

/* A version-1 event reads with the version-2 reader; its idempotency_key is absent. */
static void test_v1_bytes_v2_reader(void **state)
{
    event_codec_t *w1 = codec(SCHEMA_ID_DOC_EVENT_V1, 0, 0);
    event_codec_t *r2 = codec(0, 0, 0);
    assert_int_equal(event_codec_writer_schema_id(w1), SCHEMA_ID_DOC_EVENT_V1);
    assert_int_equal(event_codec_writer_schema_id(r2), SCHEMA_ID_DOC_EVENT_V2);
    for (int kind = 0; kind < EVENT_CODEC_KIND_COUNT; kind++) {
        event_codec_event_t ev = sample((event_codec_kind_t)kind, "dropped by the v1 writer");
        uint8_t buf[1024];
        size_t n = 0;
        assert_int_equal(event_codec_encode(w1, &ev, buf, sizeof buf, &n), QUIRE_OK);
        static const uint8_t v1hdr[5] = {0, 0, 0, 0, 1};
        assert_memory_equal(buf, v1hdr, 5);

        /* the same bytes as written by hand from the v1 schema */
        bb_t bb = {.n = 0};
        bb_header(&bb, SCHEMA_ID_DOC_EVENT_V1);
        v1_body(&bb, &ev);
        assert_int_equal(bb.n, n);
        assert_memory_equal(bb.b, buf, n);

        event_codec_event_t got;
        assert_int_equal(event_codec_decode(r2, buf, n, &got), QUIRE_OK);
        assert_int_equal(got.schema_id, SCHEMA_ID_DOC_EVENT_V1);
        assert_same(&got, &ev, false);
        /* the v1 codec reads its own bytes too */
        assert_int_equal(event_codec_decode(w1, buf, n, &got), QUIRE_OK);
        assert_same(&got, &ev, false);
    }
    event_codec_destroy(w1);
    event_codec_destroy(r2);
}

/* A version-2 event reads with the version-1 reader; the new field is dropped. */
static void test_v2_bytes_v1_reader(void **state)
{
    event_codec_t *w2 = codec(0, 0, 0);
    event_codec_t *r1 = codec(SCHEMA_ID_DOC_EVENT_V1, SCHEMA_ID_DOC_EVENT_V1, 0);
    const char *keys[] = {NULL, "k-123"};
    for (int k = 0; k < 2; k++) {
        event_codec_event_t ev = sample(EVENT_CODEC_KIND_UPDATE, keys[k]);
        uint8_t buf[1024];
        size_t n = 0;
        assert_int_equal(event_codec_encode(w2, &ev, buf, sizeof buf, &n), QUIRE_OK);
        event_codec_event_t got;
        assert_int_equal(event_codec_decode(r1, buf, n, &got), QUIRE_OK);
        assert_int_equal(got.schema_id, SCHEMA_ID_DOC_EVENT_V2);
        assert_same(&got, &ev, false);
    }
    event_codec_destroy(w2);
    event_codec_destroy(r1);
}

/* Our bytes decode with plain Avro-C generic values of the .avsc, and Avro-C's bytes decode with
 * ours: the codec speaks standard Avro, not a private dialect. */
static void test_agrees_with_plain_avro_c(void **state)
{
    schema_registry_entry_t e;
    assert_int_equal(schema_registry_find(SCHEMA_ID_DOC_EVENT_V2, &e), QUIRE_OK);
    avro_schema_t s;
    assert_int_equal(avro_schema_from_json_length(e.json, e.json_len, &s), 0);
    avro_value_iface_t *cls = avro_generic_class_from_schema(s);
    avro_value_t v, f, b;
    assert_int_equal(avro_generic_value_new(cls, &v), 0);

    event_codec_t *c = codec(0, 0, 0);
    event_codec_event_t ev = sample(EVENT_CODEC_KIND_UPDATE, "key-1");
    uint8_t buf[1024];
    size_t n = 0;
    assert_int_equal(event_codec_encode(c, &ev, buf, sizeof buf, &n), QUIRE_OK);
    avro_reader_t r = avro_reader_memory((const char *)buf + 5, (int64_t)(n - 5));
    assert_int_equal(avro_value_read(r, &v), 0);
    avro_reader_free(r);
    const char *str;
    const void *p;
    size_t sz;
    int kind;
    int64_t ts;
    assert_int_equal(avro_value_get_by_name(&v, "doc_id", &f, NULL), 0);
    assert_int_equal(avro_value_get_string(&f, &str, &sz), 0);
    assert_string_equal(str, ev.doc_id);
    assert_int_equal(avro_value_get_by_name(&v, "event_id", &f, NULL), 0);
    assert_int_equal(avro_value_get_fixed(&f, &p, &sz), 0);
    assert_memory_equal(p, ID, 16);
    assert_int_equal(avro_value_get_by_name(&v, "kind", &f, NULL), 0);
    assert_int_equal(avro_value_get_enum(&f, &kind), 0);
    assert_int_equal(kind, EVENT_CODEC_KIND_UPDATE);
    assert_int_equal(avro_value_get_by_name(&v, "server_time_ms", &f, NULL), 0);
    assert_int_equal(avro_value_get_long(&f, &ts), 0);
    assert_int_equal(ts, ev.server_time_ms);
    assert_int_equal(avro_value_get_by_name(&v, "update", &f, NULL), 0);
    assert_int_equal(avro_value_get_bytes(&f, &p, &sz), 0);
    assert_int_equal(sz, sizeof UPD);
    assert_int_equal(avro_value_get_by_name(&v, "idempotency_key", &f, NULL), 0);
    assert_int_equal(avro_value_get_current_branch(&f, &b), 0);
    assert_int_equal(avro_value_get_string(&b, &str, &sz), 0);
    assert_string_equal(str, "key-1");

    /* and back: Avro-C writes, we read */
    avro_value_get_by_name(&v, "actor", &f, NULL);
    avro_value_set_string(&f, "someone-else");
    avro_value_get_by_name(&v, "idempotency_key", &f, NULL);
    avro_value_set_branch(&f, 0, &b);
    avro_value_set_null(&b);
    uint8_t out[1024];
    schema_codec_frame_header(SCHEMA_ID_DOC_EVENT_V2, out);
    avro_writer_t w = avro_writer_memory((const char *)out + 5, sizeof out - 5);
    assert_int_equal(avro_value_write(w, &v), 0);
    size_t m = 5 + (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    event_codec_event_t got;
    assert_int_equal(event_codec_decode(c, out, m, &got), QUIRE_OK);
    assert_string_equal(got.actor, "someone-else");
    assert_null(got.idempotency_key);
    assert_int_equal(got.update_len, sizeof UPD);

    event_codec_destroy(c);
    avro_value_decref(&v);
    avro_value_iface_decref(cls);
    avro_schema_decref(s);
}

static void test_truncated_at_every_length(void **state)
{
    event_codec_t *w1 = codec(SCHEMA_ID_DOC_EVENT_V1, 0, 0);
    event_codec_t *c = codec(0, 0, 0);
    event_codec_t *r1 = codec(SCHEMA_ID_DOC_EVENT_V1, SCHEMA_ID_DOC_EVENT_V1, 0);
    event_codec_t *writers[2] = {w1, c};
    for (int w = 0; w < 2; w++) {
        event_codec_event_t ev = sample(EVENT_CODEC_KIND_UPDATE, "abc");
        uint8_t buf[1024];
        size_t n = 0;
        assert_int_equal(event_codec_encode(writers[w], &ev, buf, sizeof buf, &n), QUIRE_OK);
        event_codec_event_t got;
        for (size_t len = 0; len < n; len++) {
            uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees any overread */
            memcpy(copy, buf, len);
            quire_err_t want = len == 0 ? QUIRE_ERR_EMPTY : QUIRE_ERR_MALFORMED;
            assert_int_equal(event_codec_decode(c, copy, len, &got), want);
            assert_int_equal(event_codec_decode(r1, copy, len, &got), want);
            assert_true(strlen(event_codec_last_error(c)) > 0);
            free(copy);
        }
        buf[n] = 0; /* one trailing byte */
        assert_int_equal(event_codec_decode(c, buf, n + 1, &got), QUIRE_ERR_MALFORMED);
        assert_non_null(strstr(event_codec_last_error(c), "trail"));
        assert_int_equal(event_codec_decode(c, buf, n, &got), QUIRE_OK);
        assert_string_equal(event_codec_last_error(c), "");
    }
    event_codec_destroy(w1);
    event_codec_destroy(c);
    event_codec_destroy(r1);
}

static void test_bad_magic_and_ids(void **state)
{
    event_codec_t *c = codec(0, 0, 0);
    event_codec_event_t ev = sample(EVENT_CODEC_KIND_CREATE, NULL);
    uint8_t buf[1024];
    size_t n = 0;
    event_codec_event_t got;
    assert_int_equal(event_codec_encode(c, &ev, buf, sizeof buf, &n), QUIRE_OK);
    buf[0] = 0x01;
    assert_int_equal(event_codec_decode(c, buf, n, &got), QUIRE_ERR_MALFORMED);
    assert_non_null(strstr(event_codec_last_error(c), "magic"));
    buf[0] = 0xC3; /* Avro single-object encoding marker: not ours */
    assert_int_equal(event_codec_decode(c, buf, n, &got), QUIRE_ERR_MALFORMED);
    buf[0] = 0;
    const uint32_t unknown[] = {0, 4, 99, 1337, 0xFFFFFFFFu, 0x01000002u};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        schema_codec_frame_header(unknown[i], buf);
        assert_int_equal(event_codec_decode(c, buf, n, &got), QUIRE_ERR_NOT_FOUND);
        assert_non_null(strstr(event_codec_last_error(c), "unknown schema id"));
    }
    schema_codec_frame_header(SCHEMA_ID_DOC_SNAPSHOT_V1, buf);
    assert_int_equal(event_codec_decode(c, buf, n, &got), QUIRE_ERR_MALFORMED);
    assert_non_null(strstr(event_codec_last_error(c), "quire.DocSnapshot"));
    /* v2 bytes under a v1 header: the union byte trails the v1 datum */
    schema_codec_frame_header(SCHEMA_ID_DOC_EVENT_V1, buf);
    assert_int_equal(event_codec_decode(c, buf, n, &got), QUIRE_ERR_MALFORMED);
    event_codec_destroy(c);
}

/* Declared lengths far beyond the input never reach Avro-C's allocator. */
static void test_huge_declared_lengths(void **state)
{
    event_codec_t *c = codec(0, 0, 0);
    event_codec_event_t ev = sample(EVENT_CODEC_KIND_UPDATE, NULL);
    const int64_t lens[] = {INT64_MAX, INT64_MIN, (int64_t)1 << 62, (int64_t)1 << 32, 1 << 20, -1,
                            -1000,     1000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int field = 0; field < 4; field++) {
            bb_t bb = {.n = 0};
            bb_header(&bb, SCHEMA_ID_DOC_EVENT_V2);
            if (field == 0) { /* doc_id */
                bb_long(&bb, lens[i]);
                bb_raw(&bb, "abc", 3);
            } else {
                bb_bytes(&bb, ev.doc_id, ev.doc_id_len);
                bb_raw(&bb, ID, 16);
                bb_long(&bb, 0);
                if (field == 1) { /* actor */
                    bb_long(&bb, lens[i]);
                } else {
                    bb_str(&bb, "u");
                    bb_long(&bb, 5);
                    bb_str(&bb, "g");
                    if (field == 2) { /* update */
                        bb_long(&bb, lens[i]);
                    } else { /* idempotency_key */
                        bb_bytes(&bb, UPD, sizeof UPD);
                        bb_long(&bb, 1);
                        bb_long(&bb, lens[i]);
                    }
                }
                bb_raw(&bb, "xyz", 3);
            }
            event_codec_event_t got;
            avro_mem.peak = avro_mem.live;
            size_t before = avro_mem.live;
            assert_int_equal(decode_bb(c, &bb, &got), QUIRE_ERR_MALFORMED);
            assert_true(avro_mem.peak - before < 4096);
        }
    }
    event_codec_destroy(c);
}

static void test_enum_and_union_out_of_range(void **state)
{
    event_codec_t *c = codec(0, 0, 0);
    event_codec_event_t ev = sample(EVENT_CODEC_KIND_CREATE, NULL);
    const int64_t kinds[] = {3, 4, 100, -1, INT32_MAX, (int64_t)INT32_MAX + 1, INT64_MIN};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        bb_t bb = {.n = 0};
        bb_header(&bb, SCHEMA_ID_DOC_EVENT_V2);
        bb_bytes(&bb, ev.doc_id, ev.doc_id_len);
        bb_raw(&bb, ID, 16);
        bb_long(&bb, kinds[i]);
        bb_str(&bb, "u");
        bb_long(&bb, 5);
        bb_str(&bb, "g");
        bb_long(&bb, 0);
        bb_long(&bb, 0);
        event_codec_event_t got;
        assert_int_equal(decode_bb(c, &bb, &got), QUIRE_ERR_MALFORMED);
        assert_non_null(strstr(event_codec_last_error(c), "enum index"));
    }
    const int64_t branches[] = {2, 3, -1, -2, INT64_MAX};
    for (size_t i = 0; i < sizeof branches / sizeof branches[0]; i++) {
        bb_t bb = {.n = 0};
        bb_header(&bb, SCHEMA_ID_DOC_EVENT_V2);
        bb_bytes(&bb, ev.doc_id, ev.doc_id_len);
        bb_raw(&bb, ID, 16);
        bb_long(&bb, EVENT_CODEC_KIND_CREATE);
        bb_str(&bb, "u");
        bb_long(&bb, 5);
        bb_str(&bb, "g");
        bb_long(&bb, 0);
        bb_long(&bb, branches[i]);
        bb_str(&bb, "k");
        event_codec_event_t got;
        assert_int_equal(decode_bb(c, &bb, &got), QUIRE_ERR_MALFORMED);
        assert_non_null(strstr(event_codec_last_error(c), "union branch"));
    }
    event_codec_destroy(c);
}

static void test_bad_varints(void **state)
{
    event_codec_t *c = codec(0, 0, 0);
    event_codec_event_t got;
    /* an 11-byte varint for the doc_id length */
    bb_t bb = {.n = 0};
    bb_header(&bb, SCHEMA_ID_DOC_EVENT_V2);
    for (int i = 0; i < 10; i++)
        bb_byte(&bb, 0x80);
    bb_byte(&bb, 0x00);
    assert_int_equal(decode_bb(c, &bb, &got), QUIRE_ERR_MALFORMED);
    /* a 10-byte varint whose last byte sets bits past 64 */
    bb.n = 5;
    for (int i = 0; i < 9; i++)
        bb_byte(&bb, 0xFF);
    bb_byte(&bb, 0x02);
    assert_int_equal(decode_bb(c, &bb, &got), QUIRE_ERR_MALFORMED);
    assert_non_null(strstr(event_codec_last_error(c), "overflows"));
    /* a varint that never ends */
    bb.n = 5;
    for (int i = 0; i < 100; i++)
        bb_byte(&bb, 0xFF);
    assert_int_equal(decode_bb(c, &bb, &got), QUIRE_ERR_MALFORMED);
    /* an overlong but valid varint (0 as 80 00) is accepted as Avro allows */
    event_codec_event_t ev = sample(EVENT_CODEC_KIND_DELETE, NULL);
    bb.n = 0;
    bb_header(&bb, SCHEMA_ID_DOC_EVENT_V1);
    bb_bytes(&bb, ev.doc_id, ev.doc_id_len);
    bb_raw(&bb, ID, 16);
    bb_byte(&bb, 0x84);
    bb_byte(&bb, 0x00); /* kind 2 in two bytes */
    bb_str(&bb, "u");
    bb_long(&bb, 5);
    bb_str(&bb, "g");
    bb_byte(&bb, 0x80);
    bb_byte(&bb, 0x00); /* empty update */
    assert_int_equal(decode_bb(c, &bb, &got), QUIRE_OK);
    assert_int_equal(got.kind, EVENT_CODEC_KIND_DELETE);
    event_codec_destroy(c);
}

/* Well-formed Avro that breaks quire's rules is refused as MALFORMED on decode. */
static void test_decode_rules(void **state)
{
    event_codec_t *c = codec(0, 0, 0);
    struct {
        const char *doc, *actor, *origin;
        int kind;
        int64_t ts;
        size_t upd;
        bool zero_id;
        const char *key;
    } cases[] = {
        {"a/b", "u", "g", 0, 1, 3, false, NULL},
        {"", "u", "g", 0, 1, 3, false, NULL},
        {"d", "", "g", 0, 1, 3, false, NULL},
        {"d", "u", "", 0, 1, 3, false, NULL},
        {"d", "u\xff", "g", 0, 1, 3, false, NULL},
        {"d", "u\xed\xa0\x80", "g", 0, 1, 3, false, NULL}, /* UTF-16 surrogate */
        {"d", "\xc0\xaf", "g", 0, 1, 3, false, NULL},      /* overlong '/' */
        {"d", "u", "g", 0, -1, 3, false, NULL},
        {"d", "u", "g", 0, 1, 0, false, NULL},
        {"d", "u", "g", 1, 1, 3, false, NULL},
        {"d", "u", "g", 2, 1, 3, false, NULL},
        {"d", "u", "g", 0, 1, 3, true, NULL},
        {"d", "u", "g", 0, 1, 3, false, ""},
        {"d", "u", "g", 0, 1, 3, false, "tab\there"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bb_t bb = {.n = 0};
        uint8_t zero[16] = {0};
        bb_header(&bb, SCHEMA_ID_DOC_EVENT_V2);
        bb_str(&bb, cases[i].doc);
        bb_raw(&bb, cases[i].zero_id ? zero : ID, 16);
        bb_long(&bb, cases[i].kind);
        bb_str(&bb, cases[i].actor);
        bb_long(&bb, cases[i].ts);
        bb_str(&bb, cases[i].origin);
        bb_bytes(&bb, UPD, cases[i].upd);
        if (cases[i].key) {
            bb_long(&bb, 1);
            bb_str(&bb, cases[i].key);
        } else {
            bb_long(&bb, 0);
        }
        event_codec_event_t got;
        quire_err_t rc = decode_bb(c, &bb, &got);
        if (rc != QUIRE_ERR_MALFORMED)
            fail_msg("case %zu: %s", i, quire_err_name(rc));
    }
    /* a NUL inside an Avro string */
    bb_t bb = {.n = 0};
    bb_header(&bb, SCHEMA_ID_DOC_EVENT_V1);
    bb_str(&bb, "d");
    bb_raw(&bb, ID, 16);
    bb_long(&bb, 1);
    bb_bytes(&bb, "u\0v", 3);
    bb_long(&bb, 1);
    bb_str(&bb, "g");
    bb_long(&bb, 0);
    event_codec_event_t got;
    assert_int_equal(decode_bb(c, &bb, &got), QUIRE_ERR_MALFORMED);
    assert_non_null(strstr(event_codec_last_error(c), "NUL"));
    event_codec_destroy(c);
}

static void test_encode_rules(void **state)
{
    event_codec_t *c = codec(0, 0, 64);
    uint8_t buf[2048];
    size_t n = 0;
    event_codec_event_t ev;
#define EXPECT(mutation, code)                                                                     \
    do {                                                                                           \
        ev = sample(EVENT_CODEC_KIND_UPDATE, NULL);                                                \
        mutation;                                                                                  \
        n = 12345;                                                                                 \
        assert_int_equal(event_codec_encode(c, &ev, buf, sizeof buf, &n), code);                   \
        assert_int_equal(n, 12345); /* ret_len untouched on failure */                             \
        assert_true(strlen(event_codec_last_error(c)) > 0);                                        \
    } while (0)
    EXPECT(ev.doc_id = "has space", QUIRE_ERR_INVALID);
    EXPECT(ev.doc_id_len = 0, QUIRE_ERR_INVALID);
    EXPECT(ev.doc_id_len = 129, QUIRE_ERR_INVALID);
    EXPECT(ev.doc_id = NULL, QUIRE_ERR_INVALID);
    EXPECT(memset(ev.event_id, 0, 16), QUIRE_ERR_INVALID);
    EXPECT(ev.kind = (event_codec_kind_t)3, QUIRE_ERR_INVALID);
    EXPECT(ev.kind = (event_codec_kind_t)-1, QUIRE_ERR_INVALID);
    EXPECT(ev.actor = NULL, QUIRE_ERR_INVALID);
    EXPECT(ev.actor_len = 257, QUIRE_ERR_INVALID);
    EXPECT((ev.actor = "a\xc3", ev.actor_len = 2), QUIRE_ERR_INVALID);
    EXPECT((ev.actor = "a\0b", ev.actor_len = 3), QUIRE_ERR_INVALID);
    EXPECT(ev.origin_len = 0, QUIRE_ERR_INVALID);
    EXPECT(ev.server_time_ms = -5, QUIRE_ERR_INVALID);
    EXPECT(ev.update_len = 0, QUIRE_ERR_INVALID);
    EXPECT(ev.update = NULL, QUIRE_ERR_INVALID);
    EXPECT(ev.kind = EVENT_CODEC_KIND_DELETE, QUIRE_ERR_INVALID);
    EXPECT(ev.kind = EVENT_CODEC_KIND_CREATE, QUIRE_ERR_INVALID);
    EXPECT((ev.idempotency_key = "", ev.idempotency_key_len = 0), QUIRE_ERR_INVALID);
    EXPECT((ev.idempotency_key = "a\nb", ev.idempotency_key_len = 3), QUIRE_ERR_INVALID);
    EXPECT((ev.idempotency_key = "abc", ev.idempotency_key_len = 256), QUIRE_ERR_INVALID);
    uint8_t big[65] = {1};
    EXPECT((ev.update = big, ev.update_len = 65), QUIRE_ERR_TOO_LARGE);
#undef EXPECT
    /* a buffer one byte short, then exactly right */
    ev = sample(EVENT_CODEC_KIND_UPDATE, NULL);
    size_t size = 0;
    assert_int_equal(event_codec_encoded_size(c, &ev, &size), QUIRE_OK);
    assert_int_equal(event_codec_encode(c, &ev, buf, size - 1, &n), QUIRE_ERR_INVALID);
    assert_int_equal(event_codec_encode(c, &ev, NULL, 0, &n), QUIRE_ERR_INVALID);
    assert_int_equal(event_codec_encode(c, &ev, buf, size, &n), QUIRE_OK);
    assert_int_equal(n, size);
    assert_int_equal(event_codec_encode(c, NULL, buf, sizeof buf, &n), QUIRE_ERR_INVALID);
    uint8_t *p = (uint8_t *)buf;
    assert_int_equal(event_codec_encode_alloc(c, NULL, &p, &n), QUIRE_ERR_INVALID);
    assert_ptr_equal(p, buf);
    event_codec_destroy(c);
}

static void test_size_caps_on_decode(void **state)
{
    event_codec_t *big = codec(0, 0, 0);
    event_codec_t *small = codec(0, 0, 64);
    assert_int_equal(event_codec_max_message(small), EVENT_CODEC_ENVELOPE_MAX + 64);
    event_codec_event_t ev = sample(EVENT_CODEC_KIND_UPDATE, NULL);
    uint8_t upd[200];
    memset(upd, 7, sizeof upd);
    ev.update = upd;
    ev.update_len = sizeof upd;
    uint8_t buf[1024];
    size_t n = 0;
    event_codec_event_t got;
    assert_int_equal(event_codec_encode(big, &ev, buf, sizeof buf, &n), QUIRE_OK);
    /* under the message cap, over the update cap */
    assert_int_equal(event_codec_decode(small, buf, n, &got), QUIRE_ERR_TOO_LARGE);
    /* over the message cap: refused before anything is parsed */
    uint8_t *huge = calloc(1, EVENT_CODEC_ENVELOPE_MAX + 65);
    assert_int_equal(event_codec_decode(small, huge, EVENT_CODEC_ENVELOPE_MAX + 65, &got),
                     QUIRE_ERR_TOO_LARGE);
    free(huge);
    assert_int_equal(event_codec_decode(big, buf, n, &got), QUIRE_OK);
    event_codec_destroy(big);
    event_codec_destroy(small);
}

static void test_options(void **state)
{
    event_codec_t *c = (event_codec_t *)0x1;
    char err[256];
    event_codec_opts_t o = {.writer_schema_id = SCHEMA_ID_DOC_SNAPSHOT_V1};
    assert_int_equal(event_codec_new(&o, &c, err, sizeof err), QUIRE_ERR_INVALID);
    assert_non_null(strstr(err, "not a quire.DocEvent"));
    o = (event_codec_opts_t){.reader_schema_id = 77};
    assert_int_equal(event_codec_new(&o, &c, err, sizeof err), QUIRE_ERR_INVALID);
    o = (event_codec_opts_t){.max_update_bytes = (size_t)1 << 40};
    assert_int_equal(event_codec_new(&o, &c, NULL, 0), QUIRE_ERR_INVALID);
    assert_ptr_equal(c, (event_codec_t *)0x1);
    assert_int_equal(event_codec_new(NULL, &c, NULL, 0), QUIRE_OK);
    assert_int_equal(event_codec_writer_schema_id(c), SCHEMA_ID_DOC_EVENT_V2);
    assert_int_equal(event_codec_max_message(c),
                     EVENT_CODEC_ENVELOPE_MAX + EVENT_CODEC_DEFAULT_MAX_UPDATE);
    event_codec_destroy(c);
    event_codec_destroy(NULL);
}

/* release() gives back a decoded event's memory at once. */
static void test_release(void **state)
{
    event_codec_t *c = codec(0, 0, 0);
    event_codec_event_t ev = sample(EVENT_CODEC_KIND_UPDATE, "k");
    size_t big = 512 * 1024;
    uint8_t *upd = calloc(1, big);
    ev.update = upd;
    ev.update_len = big;
    uint8_t *buf = NULL;
    size_t n = 0;
    assert_int_equal(event_codec_encode_alloc(c, &ev, &buf, &n), QUIRE_OK);
    size_t before = avro_mem.live;
    event_codec_event_t got;
    assert_int_equal(event_codec_decode(c, buf, n, &got), QUIRE_OK);
    assert_true(avro_mem.live >= before + big);
    event_codec_release(c);
    assert_true(avro_mem.live <= before);
    assert_int_equal(event_codec_decode(c, buf, n, &got), QUIRE_OK);
    assert_int_equal(got.update_len, big);
    free(buf);
    free(upd);
    event_codec_destroy(c);
}

static void test_event_id_format(void **state)
{
    char s[EVENT_CODEC_EVENT_ID_STR_LEN];
    event_codec_event_id_format(ID, s);
    assert_string_equal(s, "1b4e28ba-2fa1-41d2-883f-0005e73adeff");
}

/* The envelope's worst case fits EVENT_CODEC_ENVELOPE_MAX. */
static void test_envelope_bound(void **state)
{
    event_codec_t *c = codec(0, 0, 0);
    char doc[129], actor[257], origin[257], key[256];
    memset(doc, 'a', 128);
    memset(actor, 'b', 256);
    memset(origin, 'c', 256);
    memset(key, 'd', 255);
    uint8_t upd[1] = {0};
    event_codec_event_t ev = sample(EVENT_CODEC_KIND_UPDATE, NULL);
    ev.doc_id = doc, ev.doc_id_len = 128;
    ev.actor = actor, ev.actor_len = 256;
    ev.origin = origin, ev.origin_len = 256;
    ev.idempotency_key = key, ev.idempotency_key_len = 255;
    ev.server_time_ms = INT64_MAX;
    ev.update = upd, ev.update_len = 1;
    size_t size = 0;
    assert_int_equal(event_codec_encoded_size(c, &ev, &size), QUIRE_OK);
    /* the update length varint grows to 4 bytes at 1 MiB; 10 is the most any varint takes */
    assert_true(size - 1 + 9 <= EVENT_CODEC_ENVELOPE_MAX);
    event_codec_destroy(c);
}

/* Separate codecs in separate threads (run under the tsan preset too). */
static void *thread_main(void *arg)
{
    int *failures = arg;
    event_codec_t *c = NULL;
    if (event_codec_new(NULL, &c, NULL, 0)) {
        (*failures)++;
        return NULL;
    }
    for (int i = 0; i < 5000; i++) {
        event_codec_event_t ev = sample((event_codec_kind_t)(i % 3), i % 2 ? "k" : NULL);
        ev.server_time_ms = i;
        uint8_t buf[512];
        size_t n = 0;
        event_codec_event_t got;
        if (event_codec_encode(c, &ev, buf, sizeof buf, &n) ||
            event_codec_decode(c, buf, n, &got) || got.server_time_ms != i || got.kind != ev.kind ||
            (i % 2 ? !got.idempotency_key : !!got.idempotency_key))
            (*failures)++;
        buf[n / 2] ^= 0x55;
        (void)event_codec_decode(c, buf, n, &got);
    }
    event_codec_destroy(c);
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t t[4];
    int failures[4] = {0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, &failures[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(failures[i], 0);
    }
}

int main(void)
{
    avro_set_allocator(counting_alloc, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_bytes),
        cmocka_unit_test(test_golden_bytes),
        cmocka_unit_test(test_round_trip_every_kind),
        cmocka_unit_test(test_round_trip_extremes),
        cmocka_unit_test(test_v1_bytes_v2_reader),
        cmocka_unit_test(test_v2_bytes_v1_reader),
        cmocka_unit_test(test_agrees_with_plain_avro_c),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_bad_magic_and_ids),
        cmocka_unit_test(test_huge_declared_lengths),
        cmocka_unit_test(test_enum_and_union_out_of_range),
        cmocka_unit_test(test_bad_varints),
        cmocka_unit_test(test_decode_rules),
        cmocka_unit_test(test_encode_rules),
        cmocka_unit_test(test_size_caps_on_decode),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_event_id_format),
        cmocka_unit_test(test_envelope_bound),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
