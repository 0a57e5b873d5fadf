/* Unit tests of yjs_any: every lib0 `any` tag, bad tags, truncation, counts and depth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "yjs_any.h"

static bool any_skip(const uint8_t *p, size_t n, unsigned depth, bool validate, size_t *used)
{
    yjs_wire_t w = {p, p + n};
    bool r = yjs_any_skip(&w, depth, validate) == QUIRE_OK;
    if (used)
        *used = (size_t)(w.pos - p);
    return r;
}

static void test_tags(void **state)
{
    size_t used;
    const uint8_t undef[] = {127}, null[] = {126}, t[] = {120}, f[] = {121};
    assert_true(any_skip(undef, 1, 4, true, &used) && used == 1);
    assert_true(any_skip(null, 1, 4, true, NULL) && any_skip(t, 1, 4, true, NULL) &&
                any_skip(f, 1, 4, true, NULL));
    const uint8_t i[] = {125, 0x81, 0x01}; /* varInt 65 */
    assert_true(any_skip(i, 3, 4, true, &used) && used == 3);
    const uint8_t f32[] = {124, 0x3f, 0x80, 0, 0};
    assert_true(any_skip(f32, 5, 4, true, &used) && used == 5);
    const uint8_t f64[] = {123, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0};
    assert_true(any_skip(f64, 9, 4, true, &used) && used == 9);
    const uint8_t big[] = {122, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_true(any_skip(big, 9, 4, true, &used) && used == 9);
    const uint8_t str[] = {119, 2, 0xc3, 0xa9};
    assert_true(any_skip(str, 4, 4, true, &used) && used == 4);
    const uint8_t bin[] = {116, 3, 1, 2, 3};
    assert_true(any_skip(bin, 5, 4, true, &used) && used == 5);
    const uint8_t obj[] = {118, 2, 1, 'a', 126, 1, 'b', 117, 2, 120, 121};
    assert_true(any_skip(obj, sizeof obj, 4, true, &used) && used == sizeof obj);
}

static void test_refusals(void **state)
{
    const uint8_t badtag[] = {115};
    assert_false(any_skip(badtag, 1, 4, true, NULL));
    const uint8_t zero[] = {0};
    assert_false(any_skip(zero, 1, 4, true, NULL));
    const uint8_t trunc64[] = {123, 0, 0};
    assert_false(any_skip(trunc64, 3, 4, true, NULL));
    const uint8_t badutf8[] = {119, 2, 0xc0, 0x80};
    assert_false(any_skip(badutf8, 4, 4, true, NULL));
    assert_true(any_skip(badutf8, 4, 4, false, NULL)); /* skim: structure only */
    /* array declaring 2^40 elements in 3 bytes: refused at once, no loop */
    const uint8_t huge[] = {117, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 126};
    assert_false(any_skip(huge, sizeof huge, 4, true, NULL));
    /* object whose key runs past the end */
    const uint8_t key[] = {118, 1, 9, 'a'};
    assert_false(any_skip(key, 4, 4, true, NULL));
}

static void test_depth(void **state)
{
    uint8_t deep[64];
    for (int i = 0; i < 20; i++) {
        deep[2 * i] = 117;
        deep[2 * i + 1] = 1;
    }
    deep[40] = 126;
    assert_true(any_skip(deep, 41, 20, true, NULL));
    yjs_wire_t w = {deep, deep + 41};
    assert_int_equal(yjs_any_skip(&w, 19, true), QUIRE_ERR_LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
