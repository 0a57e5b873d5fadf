/*
 * Unit tests of yjs_update on hand-made updates: merge (n = 0, 1, overlaps and slicing, errors
 * naming the input), diff, the state-vector quirk, validation ranges, split. The differential
 * tests (tests/yjs) hold the same functions to yjs on random documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "yjs_test_util.h"
#include "yjs_update.h"

static void one_string(tb_t *b, uint64_t client, const char *text)
{
    *b = (tb_t){0};
    tb_group(b, 1, client, 0);
    tb_root_string(b, "t", text);
    tb_u(b, 0);
}

static void test_merge_trivial(void **state)
{
    uint8_t *out;
    size_t n;
    yjs_error_t e;
    assert_int_equal(yjs_update_merge(NULL, NULL, 0, NULL, 0, &out, &n, &e), QUIRE_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "\0\0", 2);
    free(out);
    tb_t b;
    one_string(&b, 5, "x");
    const uint8_t *in[] = {b.d};
    size_t lens[] = {b.n};
    assert_int_equal(yjs_update_merge(in, lens, 1, NULL, 0, &out, &n, &e), QUIRE_OK);
    assert_int_equal(n, b.n);
    assert_memory_equal(out, b.d, n);
    free(out);
}

static void test_merge_overlap_slices(void **state)
{
    /* u1 = "abc" at (7,0); u2 = "abcdef" at (7,0): Yjs writes u1's item, then u2's sliced */
    tb_t u1, u2;
    one_string(&u1, 7, "abc");
    one_string(&u2, 7, "abcdef");
    const uint8_t *in[] = {u1.d, u2.d};
    size_t lens[] = {u1.n, u2.n};
    uint8_t *out;
    size_t n;
    yjs_error_t e;
    assert_int_equal(yjs_update_merge(in, lens, 2, NULL, 0, &out, &n, &e), QUIRE_OK);
    const uint8_t want[] = {1,   2,   7,    0, 0x04, 1, 1,   't', 3,   'a',
                            'b', 'c', 0x84, 7, 2,    3, 'd', 'e', 'f', 0};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);
    free(out);

    /* disjoint ranges of one client leave a Skip; delete sets unite */
    tb_t a = {0}, c = {0};
    tb_group(&a, 1, 7, 0);
    tb_byte(&a, 0);
    tb_u(&a, 2);
    tb_u(&a, 1);
    tb_u(&a, 7);
    tb_u(&a, 1);
    tb_u(&a, 0);
    tb_u(&a, 1);
    tb_group(&c, 1, 7, 5);
    tb_byte(&c, 0);
    tb_u(&c, 1);
    tb_u(&c, 1);
    tb_u(&c, 7);
    tb_u(&c, 1);
    tb_u(&c, 1);
    tb_u(&c, 1);
    const uint8_t *in2[] = {c.d, a.d};
    size_t lens2[] = {c.n, a.n};
    assert_int_equal(yjs_update_merge(in2, lens2, 2, NULL, 0, &out, &n, &e), QUIRE_OK);
    const uint8_t want2[] = {1, 3, 7, 0, 0, 2, 10, 3, 0, 1, 1, 7, 1, 0, 2};
    assert_int_equal(n, sizeof want2);
    assert_memory_equal(out, want2, sizeof want2);
    free(out);
}

static void test_merge_error_names_input(void **state)
{
    tb_t good, bad;
    one_string(&good, 1, "a");
    one_string(&bad, 2, "b");
    bad.n -= 2; /* truncated */
    const uint8_t *in[] = {good.d, bad.d};
    size_t lens[] = {good.n, bad.n};
    uint8_t *out = (uint8_t *)"untouched";
    size_t n = 42;
    yjs_error_t e;
    assert_int_equal(yjs_update_merge(in, lens, 2, NULL, 0, &out, &n, &e), QUIRE_ERR_MALFORMED);
    assert_int_equal(e.input, 1);
    assert_true(strlen(e.message) > 0);
    assert_int_equal(n, 42); /* outputs untouched on failure */
}

static void test_diff(void **state)
{
    tb_t u;
    one_string(&u, 7, "abcdef");
    const uint8_t sv[] = {1, 7, 4};
    uint8_t *out;
    size_t n;
    yjs_error_t e;
    assert_int_equal(yjs_update_diff(u.d, u.n, sv, sizeof sv, NULL, 0, &out, &n, &e), QUIRE_OK);
    const uint8_t want[] = {1, 1, 7, 4, 0x84, 7, 3, 2, 'e', 'f', 0};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);
    free(out);
    const uint8_t all[] = {1, 7, 6};
    assert_int_equal(yjs_update_diff(u.d, u.n, all, sizeof all, NULL, 0, &out, &n, &e), QUIRE_OK);
    assert_int_equal(n, 2);
    free(out);
    assert_int_equal(yjs_update_diff(u.d, u.n, all, 0, NULL, 0, &out, &n, &e), QUIRE_ERR_EMPTY);
}

static void test_state_vector(void **state)
{
    uint8_t *out;
    size_t n;
    yjs_error_t e;
    /* group of client 9 from 0: GC 2, skip 3, GC 1 → clock 2; group of client 4 from 5 → absent */
    tb_t b = {0};
    tb_u(&b, 2);
    tb_u(&b, 3);
    tb_u(&b, 9);
    tb_u(&b, 0);
    tb_byte(&b, 0);
    tb_u(&b, 2);
    tb_byte(&b, 10);
    tb_u(&b, 3);
    tb_byte(&b, 0);
    tb_u(&b, 1);
    tb_u(&b, 1);
    tb_u(&b, 4);
    tb_u(&b, 5);
    tb_byte(&b, 0);
    tb_u(&b, 1);
    tb_u(&b, 0);
    assert_int_equal(yjs_update_state_vector(b.d, b.n, NULL, 0, &out, &n, &e), QUIRE_OK);
    const uint8_t want[] = {1, 9, 2};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);
    free(out);
    /* Yjs quirk: a Skip that is the very first struct, at clock 0, counts */
    const uint8_t skip_first[] = {1, 1, 9, 0, 10, 4, 0};
    assert_int_equal(yjs_update_state_vector(skip_first, sizeof skip_first, NULL, 0, &out, &n, &e),
                     QUIRE_OK);
    const uint8_t want2[] = {1, 9, 4};
    assert_memory_equal(out, want2, sizeof want2);
    free(out);
}

static void test_validate(void **state)
{
    tb_t b = {0};
    tb_u(&b, 2);
    tb_u(&b, 2);
    tb_u(&b, 9);
    tb_u(&b, 3);
    tb_root_string(&b, "t", "ab");
    tb_byte(&b, 0);
    tb_u(&b, 4);
    tb_u(&b, 1);
    tb_u(&b, 4);
    tb_u(&b, 0);
    tb_byte(&b, 0);
    tb_u(&b, 1);
    tb_u(&b, 1);
    tb_u(&b, 100);
    tb_u(&b, 1);
    tb_u(&b, 0);
    tb_u(&b, 5);
    yjs_validation_t v = {0};
    assert_int_equal(yjs_update_validate(b.d, b.n, NULL, 0, &v), QUIRE_OK);
    assert_int_equal(v.nranges, 2);
    assert_true(v.ranges[0].client == 9 && v.ranges[0].clock == 3 && v.ranges[0].end == 9);
    assert_true(v.ranges[1].client == 4 && v.ranges[1].clock == 0 && v.ranges[1].end == 1);
    assert_int_equal(v.nstructs, 3);
    assert_int_equal(v.ndelete_ranges, 1);
    /* reuse for a failure */
    const uint8_t bad[] = {1, 1, 9, 0, 0x04, 1, 1, 't', 2, 0xc0, 0x80, 0};
    assert_int_equal(yjs_update_validate(bad, sizeof bad, NULL, 0, &v), QUIRE_ERR_MALFORMED);
    assert_int_equal(v.err, QUIRE_ERR_MALFORMED);
    assert_string_equal(v.error.message, "string is not valid UTF-8");
    assert_int_equal(v.error.offset, 4);
    assert_int_equal(v.nranges, 0);
    yjs_validation_deinit(&v);
}

static void test_split(void **state)
{
    /* one 6,000-unit string item (with pairs) must be cut into parts of ≤ 500 bytes */
    char *text = malloc(6001 * 2);
    size_t tl = 0;
    for (int i = 0; i < 1500; i++) {
        memcpy(text + tl, "ab\xf0\x9f\x98\x80", 6); /* a b 😀 = 4 units */
        tl += 6;
    }
    text[tl] = '\0';
    tb_t *b = calloc(1, sizeof *b);
    tb_group(b, 1, 77, 0);
    tb_root_string(b, "t", text);
    tb_u(b, 1);
    tb_u(b, 77);
    tb_u(b, 1);
    tb_u(b, 3);
    tb_u(b, 5);
    yjs_parts_t parts = {0};
    yjs_error_t e;
    assert_int_equal(yjs_update_split(b->d, b->n, 500, NULL, 0, &parts, &e), QUIRE_OK);
    assert_true(parts.n > 18);
    assert_true(parts.nsliced > 0);
    const uint8_t **ins = calloc(parts.n, sizeof *ins);
    size_t *lens = calloc(parts.n, sizeof *lens);
    uint64_t total = 0;
    yjs_validation_t v = {0};
    for (size_t i = 0; i < parts.n; i++) {
        ins[i] = yjs_parts_get(&parts, i, &lens[i]);
        assert_true(lens[i] <= 500);
        assert_int_equal(yjs_update_validate(ins[i], lens[i], NULL, 0, &v), QUIRE_OK);
        for (size_t k = 0; k < v.nranges; k++)
            total += v.ranges[k].end - v.ranges[k].clock;
    }
    assert_int_equal(total, 6000);
    /* merged back: the same state vector, and every piece (no U+FFFD: no pair was cut) */
    uint8_t *m, *sv;
    size_t mn, svn;
    assert_int_equal(yjs_update_merge(ins, lens, parts.n, NULL, 0, &m, &mn, &e), QUIRE_OK);
    assert_int_equal(yjs_update_state_vector(m, mn, NULL, 0, &sv, &svn, &e), QUIRE_OK);
    const uint8_t want_sv[] = {1, 77, 0xf0, 0x2e}; /* 6000 */
    assert_int_equal(svn, sizeof want_sv);
    assert_memory_equal(sv, want_sv, sizeof want_sv);
    assert_null(memmem(m, mn, "\xef\xbf\xbd", 3));
    free(sv);
    free(m);
    free(ins);
    free(lens);
    yjs_validation_deinit(&v);
    yjs_parts_deinit(&parts);

    /* an uncuttable struct over the cap; a cap below 64 */
    tb_t u = {0};
    tb_group(&u, 1, 1, 0);
    tb_byte(&u, 0x23);
    tb_byte(&u, 1);
    tb_str(&u, "m");
    tb_str(&u, "k");
    tb_u(&u, 300);
    for (int i = 0; i < 300; i++)
        tb_byte(&u, (uint8_t)i);
    tb_u(&u, 0);
    assert_int_equal(yjs_update_split(u.d, u.n, 200, NULL, 0, &parts, &e), QUIRE_ERR_TOO_LARGE);
    assert_int_equal(yjs_update_split(u.d, u.n, 63, NULL, 0, &parts, &e), QUIRE_ERR_INVALID);
    assert_int_equal(yjs_update_split(u.d, u.n, 400, NULL, 0, &parts, &e), QUIRE_OK);
    assert_int_equal(parts.n, 1);
    yjs_parts_deinit(&parts);
    free(b);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_trivial),
        cmocka_unit_test(test_merge_overlap_slices),
        cmocka_unit_test(test_merge_error_names_input),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_state_vector),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
