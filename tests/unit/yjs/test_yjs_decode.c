/*
 * Unit tests of yjs_decode: every content type, and the refusals — including the inputs known to
 * hang or crash yjs and yrs (zero length, truncated varints, huge declared lengths,
 * self-referencing origins).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "yjs_decode.h"
#include "yjs_test_util.h"

static quire_err_t check(const tb_t *b)
{
    return yjs_decode_check(b->d, b->n, NULL, 0);
}

static void test_empty_update(void **state)
{
    const uint8_t empty[] = {0, 0};
    assert_int_equal(yjs_decode_check(empty, 2, NULL, 0), QUIRE_OK);
    assert_int_equal(yjs_decode_check(empty, 0, NULL, 0), QUIRE_ERR_EMPTY);
    const uint8_t one[] = {0};
    assert_int_equal(yjs_decode_check(one, 1, NULL, 0), QUIRE_ERR_MALFORMED);
    const uint8_t trailing[] = {0, 0, 0};
    assert_int_equal(yjs_decode_check(trailing, 3, NULL, 0), QUIRE_ERR_MALFORMED);
}

static void test_every_content(void **state)
{
    tb_t b = {0};
    tb_group(&b, 11, 7, 0);
    tb_root_string(&b, "t", "h\xc3\xa9\xf0\x9f\x98\x80"); /* 0: "hé😀" = 4 units */
    tb_byte(&b, 0x81);                                    /* 4: deleted, origin (7,3) */
    tb_u(&b, 7);
    tb_u(&b, 3);
    tb_u(&b, 2);
    tb_byte(&b, 0x82); /* 6: JSON ["[1]", undefined] */
    tb_u(&b, 7);
    tb_u(&b, 5);
    tb_u(&b, 2);
    tb_str(&b, "[1]");
    tb_str(&b, "undefined");
    tb_byte(&b, 0x23); /* 8: binary in map "m" key "k" */
    tb_byte(&b, 1);
    tb_str(&b, "m");
    tb_str(&b, "k");
    tb_u(&b, 2);
    tb_byte(&b, 0xaa);
    tb_byte(&b, 0xbb);
    tb_byte(&b, 0x45); /* 9: embed, right origin (7,0) */
    tb_u(&b, 7);
    tb_u(&b, 0);
    tb_str(&b, "{\"image\":\"x\"}");
    tb_byte(&b, 0x86); /* 10: format */
    tb_u(&b, 7);
    tb_u(&b, 9);
    tb_str(&b, "bold");
    tb_str(&b, "true");
    tb_byte(&b, 0x07); /* 11: type XmlElement "p" under root "x" */
    tb_byte(&b, 1);
    tb_str(&b, "x");
    tb_byte(&b, 3);
    tb_str(&b, "p");
    tb_byte(&b, 0x08); /* 12: any [null, "s"] parent id (7,11) */
    tb_byte(&b, 0);
    tb_u(&b, 7);
    tb_u(&b, 11);
    tb_u(&b, 2);
    tb_byte(&b, 126);
    tb_byte(&b, 119);
    tb_str(&b, "s");
    tb_byte(&b, 0x29); /* 14: doc in map "m" key "d" */
    tb_byte(&b, 1);
    tb_str(&b, "m");
    tb_str(&b, "d");
    tb_str(&b, "guid");
    tb_byte(&b, 118);
    tb_u(&b, 0);
    tb_byte(&b, 0); /* 15: GC len 3 */
    tb_u(&b, 3);
    tb_byte(&b, 10); /* 18: skip len 2 */
    tb_u(&b, 2);
    tb_u(&b, 1); /* delete set: client 7: (0,1) */
    tb_u(&b, 7);
    tb_u(&b, 1);
    tb_u(&b, 0);
    tb_u(&b, 1);

    yjs_decoder_t d;
    assert_int_equal(yjs_decode_init(&d, b.d, b.n, NULL, 0), QUIRE_OK);
    yjs_struct_t s;
    static const struct {
        uint64_t clock, len;
        uint8_t kind, ref;
    } want[] = {{0, 4, YJS_KIND_ITEM, YJS_CONTENT_STRING},
                {4, 2, YJS_KIND_ITEM, YJS_CONTENT_DELETED},
                {6, 2, YJS_KIND_ITEM, YJS_CONTENT_JSON},
                {8, 1, YJS_KIND_ITEM, YJS_CONTENT_BINARY},
                {9, 1, YJS_KIND_ITEM, YJS_CONTENT_EMBED},
                {10, 1, YJS_KIND_ITEM, YJS_CONTENT_FORMAT},
                {11, 1, YJS_KIND_ITEM, YJS_CONTENT_TYPE},
                {12, 2, YJS_KIND_ITEM, YJS_CONTENT_ANY},
                {14, 1, YJS_KIND_ITEM, YJS_CONTENT_DOC},
                {15, 3, YJS_KIND_GC, 0},
                {18, 2, YJS_KIND_SKIP, 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(yjs_decode_next_struct(&d, &s), 1);
        assert_int_equal(s.id.client, 7);
        assert_int_equal(s.id.clock, want[i].clock);
        assert_int_equal(s.len, want[i].len);
        assert_int_equal(s.kind, want[i].kind);
        if (s.kind == YJS_KIND_ITEM)
            assert_int_equal(s.content.ref, want[i].ref);
        if (i == 0) {
            assert_true(s.parent_is_root);
            assert_memory_equal(s.parent_key.ptr, "t", 1);
            assert_int_equal(s.content.body.len, 7);
            assert_false(s.content.str_flags & YJS_STR_ASCII);
        }
        if (i == 3)
            assert_memory_equal(s.parent_sub.ptr, "k", 1);
        if (i == 6) {
            assert_int_equal(s.content.type_ref, YJS_TYPE_XML_ELEMENT);
            assert_memory_equal(s.content.body.ptr, "p", 1);
        }
        if (i == 7) {
            assert_false(s.parent_is_root);
            assert_int_equal(s.parent_id.clock, 11);
        }
    }
    assert_int_equal(yjs_decode_next_struct(&d, &s), 0);
    uint64_t c, k, l;
    assert_int_equal(yjs_decode_next_delete(&d, &c, &k, &l), 1);
    assert_true(c == 7 && k == 0 && l == 1);
    assert_int_equal(yjs_decode_next_delete(&d, &c, &k, &l), 0);
}

static void test_parent_sub_bit_with_origin(void **state)
{
    /* Yjs writes 0x20 with an origin but neither writes nor reads the string then */
    tb_t b = {0};
    tb_group(&b, 2, 5, 0);
    tb_byte(&b, 0x28);
    tb_byte(&b, 1);
    tb_str(&b, "m");
    tb_str(&b, "k");
    tb_u(&b, 1);
    tb_byte(&b, 120);
    tb_byte(&b, 0xa8); /* origin + parentSub bit, any */
    tb_u(&b, 5);
    tb_u(&b, 0);
    tb_u(&b, 1);
    tb_byte(&b, 121);
    tb_u(&b, 0);
    yjs_decoder_t d;
    yjs_struct_t s;
    assert_int_equal(yjs_decode_init(&d, b.d, b.n, NULL, 0), QUIRE_OK);
    assert_int_equal(yjs_decode_next_struct(&d, &s), 1);
    assert_int_equal(s.info, 0x28);
    assert_int_equal(yjs_decode_next_struct(&d, &s), 1);
    assert_int_equal(s.info, 0x88); /* bit dropped, as Yjs re-encodes it */
    assert_int_equal(yjs_decode_next_struct(&d, &s), 0);
}

static void test_known_hostile_inputs(void **state)
{
    tb_t b;
    /* truncated varints at every position of a valid update */
    b = (tb_t){0};
    tb_group(&b, 1, 300, 0);
    tb_root_string(&b, "t", "abc");
    tb_u(&b, 0);
    for (size_t n = 1; n < b.n; n++)
        assert_int_not_equal(yjs_decode_check(b.d, n, NULL, 0), QUIRE_OK);
    assert_int_equal(check(&b), QUIRE_OK);

    /* huge declared group count, struct count, string length, element count */
    const uint8_t groups[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0};
    assert_int_equal(yjs_decode_check(groups, sizeof groups, NULL, 0), QUIRE_ERR_LIMIT);
    b = (tb_t){0};
    tb_group(&b, 1u << 30, 1, 0);
    tb_u(&b, 0);
    assert_int_equal(check(&b), QUIRE_ERR_MALFORMED);
    b = (tb_t){0};
    tb_group(&b, 1, 1, 0);
    tb_byte(&b, 0x04);
    tb_byte(&b, 1);
    tb_str(&b, "t");
    tb_u(&b, UINT64_C(1) << 50); /* string of 2^50 bytes */
    tb_raw(&b, "abc", 3);
    assert_int_equal(check(&b), QUIRE_ERR_MALFORMED);
    b = (tb_t){0};
    tb_group(&b, 1, 1, 0);
    tb_byte(&b, 0x08);
    tb_byte(&b, 1);
    tb_str(&b, "a");
    tb_u(&b, UINT64_C(1) << 40); /* 2^40 any values */
    tb_byte(&b, 126);
    tb_u(&b, 0);
    assert_int_equal(check(&b), QUIRE_ERR_MALFORMED);

    /* self-referencing origin, right origin, parent; and a later clock of its own client */
    for (int which = 0; which < 3; which++) {
        b = (tb_t){0};
        tb_group(&b, 1, 9, 4);
        tb_byte(&b, which == 0 ? 0x84 : which == 1 ? 0x44 : 0x04);
        if (which == 2)
            tb_byte(&b, 0);
        tb_u(&b, 9);
        tb_u(&b, 4 + (uint64_t)which); /* itself, or later */
        tb_str(&b, "x");
        tb_u(&b, 0);
        assert_int_equal(check(&b), QUIRE_ERR_MALFORMED);
    }
    /* an origin at an earlier clock of its own client is fine */
    b = (tb_t){0};
    tb_group(&b, 1, 9, 4);
    tb_byte(&b, 0x84);
    tb_u(&b, 9);
    tb_u(&b, 3);
    tb_str(&b, "x");
    tb_u(&b, 0);
    assert_int_equal(check(&b), QUIRE_OK);
}

static void test_refusals(void **state)
{
    tb_t b;
    struct {
        uint8_t info;
        const char *why;
    } const bad_info[] = {{0x0b, "ref 11"}, {0x1f, "ref 31"}, {0x8a, "skip with flags"}};
    for (size_t i = 0; i < 3; i++) {
        b = (tb_t){0};
        tb_group(&b, 1, 1, 0);
        tb_byte(&b, bad_info[i].info);
        tb_u(&b, 1);
        tb_u(&b, 1);
        tb_u(&b, 1);
        tb_u(&b, 0);
        assert_int_not_equal(check(&b), QUIRE_OK);
    }
    /* zero-length GC, Skip, deleted, string, any */
    const uint8_t zero_gc[] = {1, 1, 1, 0, 0, 0, 0};
    assert_int_equal(yjs_decode_check(zero_gc, sizeof zero_gc, NULL, 0), QUIRE_ERR_MALFORMED);
    const uint8_t zero_skip[] = {1, 1, 1, 0, 10, 0, 0};
    assert_int_equal(yjs_decode_check(zero_skip, sizeof zero_skip, NULL, 0), QUIRE_ERR_MALFORMED);
    b = (tb_t){0};
    tb_group(&b, 1, 1, 0);
    tb_root_string(&b, "t", "");
    tb_u(&b, 0);
    assert_int_equal(check(&b), QUIRE_ERR_MALFORMED);
    /* GC with flag bits: Yjs reads a GC */
    const uint8_t gc_flags[] = {1, 1, 1, 0, 0xe0, 2, 0};
    assert_int_equal(yjs_decode_check(gc_flags, sizeof gc_flags, NULL, 0), QUIRE_OK);
    /* clock overflow */
    b = (tb_t){0};
    tb_group(&b, 1, 1, YJS_MAX_SAFE - 1);
    tb_byte(&b, 0);
    tb_u(&b, 2);
    tb_u(&b, 0);
    assert_int_equal(check(&b), QUIRE_ERR_MALFORMED);
    /* parent info 2, unknown type ref, invalid UTF-8, invalid JSON, non-object doc options */
    b = (tb_t){0};
    tb_group(&b, 1, 1, 0);
    tb_byte(&b, 0x04);
    tb_byte(&b, 2);
    tb_str(&b, "t");
    tb_str(&b, "a");
    tb_u(&b, 0);
    assert_int_equal(check(&b), QUIRE_ERR_MALFORMED);
    b = (tb_t){0};
    tb_group(&b, 1, 1, 0);
    tb_byte(&b, 0x07);
    tb_byte(&b, 1);
    tb_str(&b, "t");
    tb_byte(&b, 7);
    tb_u(&b, 0);
    assert_int_equal(check(&b), QUIRE_ERR_MALFORMED);
    b = (tb_t){0};
    tb_group(&b, 1, 1, 0);
    tb_root_string(&b, "t", "\xed\xa0\x80");
    tb_u(&b, 0);
    assert_int_equal(check(&b), QUIRE_ERR_MALFORMED);
    assert_int_equal(yjs_decode_check(b.d, b.n, NULL, YJS_DECODE_SKIM), QUIRE_OK);
    b = (tb_t){0};
    tb_group(&b, 1, 1, 0);
    tb_byte(&b, 0x05);
    tb_byte(&b, 1);
    tb_str(&b, "t");
    tb_str(&b, "{nope}");
    tb_u(&b, 0);
    assert_int_equal(check(&b), QUIRE_ERR_MALFORMED);
    b = (tb_t){0};
    tb_group(&b, 1, 1, 0);
    tb_byte(&b, 0x09);
    tb_byte(&b, 1);
    tb_str(&b, "m");
    tb_str(&b, "g");
    tb_byte(&b, 126);
    tb_u(&b, 0);
    assert_int_equal(check(&b), QUIRE_ERR_MALFORMED);
}

static void test_limits_and_errors(void **state)
{
    tb_t b = {0};
    tb_group(&b, 3, 1, 0);
    for (int i = 0; i < 3; i++) {
        tb_byte(&b, 0);
        tb_u(&b, 1);
    }
    tb_u(&b, 1);
    tb_u(&b, 1);
    tb_u(&b, 2);
    tb_u(&b, 0);
    tb_u(&b, 1);
    tb_u(&b, 5);
    tb_u(&b, 1);
    yjs_limits_t lim = YJS_LIMITS_DEFAULT;
    assert_int_equal(yjs_decode_check(b.d, b.n, &lim, 0), QUIRE_OK);
    lim.max_structs = 2;
    assert_int_equal(yjs_decode_check(b.d, b.n, &lim, 0), QUIRE_ERR_LIMIT);
    lim = (yjs_limits_t)YJS_LIMITS_DEFAULT;
    lim.max_delete_ranges = 1;
    assert_int_equal(yjs_decode_check(b.d, b.n, &lim, 0), QUIRE_ERR_LIMIT);
    lim = (yjs_limits_t)YJS_LIMITS_DEFAULT;
    lim.max_update_bytes = b.n - 1;
    assert_int_equal(yjs_decode_check(b.d, b.n, &lim, 0), QUIRE_ERR_TOO_LARGE);

    /* the error names the place */
    const uint8_t bad[] = {1, 1, 1, 0, 0x04, 1, 1, 't', 5, 'a'};
    yjs_decoder_t d;
    yjs_struct_t s;
    assert_int_equal(yjs_decode_init(&d, bad, sizeof bad, NULL, 0), QUIRE_OK);
    assert_int_equal(yjs_decode_next_struct(&d, &s), QUIRE_ERR_MALFORMED);
    size_t off;
    assert_string_equal(yjs_decode_error(&d, &off), "string runs past the end");
    assert_int_equal(off, 4);
    assert_int_equal(yjs_decode_next_struct(&d, &s), QUIRE_ERR_MALFORMED); /* sticky */
}

static void test_any_depth_limit(void **state)
{
    tb_t b = {0};
    tb_group(&b, 1, 1, 0);
    tb_byte(&b, 0x08);
    tb_byte(&b, 1);
    tb_str(&b, "a");
    tb_u(&b, 1);
    for (int i = 0; i < 1000; i++) {
        tb_byte(&b, 117);
        tb_u(&b, 1);
    }
    tb_byte(&b, 126);
    tb_u(&b, 0);
    assert_int_equal(check(&b), QUIRE_ERR_LIMIT);
}

/* The skim group walk (with its fast path for typed text) covers exactly what the strict
 * struct walk covers: mixed one-char items with and without right origins, a multi-byte char, a
 * Skip, a GC, large client ids. */
static void test_group_walk_matches_struct_walk(void **state)
{
    tb_t *b = calloc(1, sizeof *b);
    const uint64_t client = 3953806337u, other = 9007199254740991u;
    tb_u(b, 2);
    tb_u(b, 300);
    tb_u(b, client);
    tb_u(b, 0);
    tb_root_string(b, "t", "a");
    for (uint64_t i = 1; i < 300; i++) {
        if (i == 150) { /* a Skip in the middle */
            tb_byte(b, 10);
            tb_u(b, 3);
            continue;
        }
        if (i == 200) {
            tb_byte(b, 0);
            tb_u(b, 2);
            continue;
        }
        uint64_t clock = i < 150 ? i : i < 200 ? i + 2 : i + 3;
        bool right = (i * 7) % 3 == 0;
        tb_byte(b, right ? 0xc4 : 0x84);
        tb_u(b, client);
        tb_u(b, clock - 1);
        if (right) {
            tb_u(b, other);
            tb_u(b, 5);
        }
        tb_str(b, i % 37 == 0 ? "\xf0\x9f\x98\x80" : "x");
    }
    tb_u(b, 1);
    tb_u(b, other);
    tb_u(b, 0);
    tb_root_string(b, "t", "z");
    tb_u(b, 0);
    assert_int_equal(yjs_decode_check(b->d, b->n, NULL, 0), QUIRE_OK);
    for (int skim = 0; skim < 2; skim++) {
        yjs_decoder_t d1, d2;
        yjs_decode_init(&d1, b->d, b->n, NULL, 0);
        yjs_decode_init(&d2, b->d, b->n, NULL, skim ? YJS_DECODE_SKIM : 0);
        yjs_group_extent_t g;
        yjs_struct_t st;
        int groups = 0;
        while (yjs_decode_next_group(&d2, &g) > 0) {
            uint64_t end = g.clock, skip = UINT64_MAX;
            for (uint64_t i = 0; i < g.nstructs; i++) {
                assert_int_equal(yjs_decode_next_struct(&d1, &st), 1);
                assert_int_equal(st.id.clock, end);
                if (st.kind == YJS_KIND_SKIP && skip == UINT64_MAX)
                    skip = end;
                end += st.len;
            }
            assert_int_equal(end, g.end);
            assert_int_equal(skip == UINT64_MAX ? end : skip, g.skip_clock);
            groups++;
        }
        assert_int_equal(groups, 2);
        assert_int_equal(yjs_decode_next_struct(&d1, &st), 0);
    }
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_update),
        cmocka_unit_test(test_every_content),
        cmocka_unit_test(test_parent_sub_bit_with_origin),
        cmocka_unit_test(test_known_hostile_inputs),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_limits_and_errors),
        cmocka_unit_test(test_any_depth_limit),
        cmocka_unit_test(test_group_walk_matches_struct_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
