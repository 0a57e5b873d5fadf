/* Unit tests of yjs_sv: decoding (later duplicates win, as Yjs's Map.set), lookup, encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "yjs_sv.h"

static void test_decode_lookup(void **state)
{
    const uint8_t sv[] = {4, 3, 10, 200, 1, 5, 3, 11, 7, 1};
    yjs_sv_t v = {0};
    assert_int_equal(yjs_sv_decode(sv, sizeof sv, 100, &v), QUIRE_OK);
    assert_int_equal(v.n, 3);
    assert_int_equal(yjs_sv_get(&v, 3), 11); /* the later entry wins */
    assert_int_equal(yjs_sv_get(&v, 200), 5);
    assert_int_equal(yjs_sv_get(&v, 7), 1);
    assert_int_equal(yjs_sv_get(&v, 8), 0);
    assert_int_equal(v.e[0].client, 200); /* sorted descending */
    yjs_sv_deinit(&v);
}

static void test_refusals(void **state)
{
    yjs_sv_t v = {0};
    assert_int_equal(yjs_sv_decode((const uint8_t *)"", 0, 10, &v), QUIRE_ERR_EMPTY);
    const uint8_t trailing[] = {1, 1, 1, 0};
    assert_int_equal(yjs_sv_decode(trailing, 4, 10, &v), QUIRE_ERR_MALFORMED);
    const uint8_t truncated[] = {2, 1, 1, 2};
    assert_int_equal(yjs_sv_decode(truncated, 4, 10, &v), QUIRE_ERR_MALFORMED);
    const uint8_t huge[] = {0xff, 0xff, 0x03, 1, 1};
    assert_int_equal(yjs_sv_decode(huge, 5, 10, &v), QUIRE_ERR_MALFORMED);
    const uint8_t many[] = {3, 1, 1, 2, 2, 3, 3};
    assert_int_equal(yjs_sv_decode(many, 7, 2, &v), QUIRE_ERR_LIMIT);
    const uint8_t empty[] = {0};
    assert_int_equal(yjs_sv_decode(empty, 1, 2, &v), QUIRE_OK);
    assert_int_equal(v.n, 0);
    yjs_sv_deinit(&v);
}

static void test_write(void **state)
{
    yjs_sv_t v = {0};
    yjs_sv_add(&v, 300, 2);
    yjs_sv_add(&v, 1, 0);
    yjs_buf_t out = {0};
    yjs_sv_write(&v, &out);
    const uint8_t want[] = {2, 0xac, 2, 2, 1, 0};
    assert_int_equal(out.len, sizeof want);
    assert_memory_equal(out.data, want, sizeof want);
    yjs_buf_deinit(&out);
    yjs_sv_deinit(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_lookup),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
