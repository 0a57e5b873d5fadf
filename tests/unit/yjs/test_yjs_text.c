/* Unit tests of yjs_text: strict UTF-8, UTF-16 counting, UTF-16 → byte offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "yjs_text.h"

static bool valid(const char *s, size_t n, uint64_t *units, bool *ascii)
{
    return yjs_text_validate((const uint8_t *)s, n, units, ascii);
}

static void test_valid_and_counts(void **state)
{
    uint64_t u;
    bool ascii;
    assert_true(valid("", 0, &u, &ascii) && u == 0 && ascii);
    assert_true(valid("hello, world, long ascii run", 27, &u, &ascii) && u == 27 && ascii);
    assert_true(valid("\xc3\xa9", 2, &u, &ascii) && u == 1 && !ascii); /* é */
    assert_true(valid("\xe4\xb8\xad", 3, &u, &ascii) && u == 1);       /* 中 */
    assert_true(valid("\xf0\x9f\x98\x80", 4, &u, &ascii) && u == 2);   /* 😀 = pair */
    assert_true(valid("a\xf0\x9f\x98\x80"
                      "bcdefghij",
                      14, &u, &ascii) &&
                u == 12);
    assert_true(valid("\xef\xbf\xbd", 3, &u, &ascii) && u == 1);     /* U+FFFD */
    assert_true(valid("\xf4\x8f\xbf\xbf", 4, &u, &ascii) && u == 2); /* U+10FFFF */
    assert_true(valid("\x00", 1, &u, &ascii) && u == 1);
    assert_int_equal(yjs_text_utf16_len((const uint8_t *)"a\xf0\x9f\x98\x80\xc3\xa9", 7), 4);
}

static void test_invalid(void **state)
{
    static const char *const bad[] = {
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong / */
        "\xed\xa0\x80",     /* surrogate D800 (CESU) */
        "\xed\xbf\xbf",     /* surrogate DFFF */
        "\xf4\x90\x80\x80", /* > U+10FFFF */
        "\xf5\x80\x80\x80", /* invalid lead */
        "\x80",             /* lone continuation */
        "\xe4\xb8",         /* truncated */
        "\xf0\x9f\x98",     /* truncated pair */
        "\xc3\x28",         /* bad continuation */
        "\xff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(valid(bad[i], strlen(bad[i]), NULL, NULL));
}

static void test_offsets(void **state)
{
    const uint8_t *s = (const uint8_t *)"a\xf0\x9f\x98\x80"
                                        "b"; /* units: a=1, 😀=2, b=1 */
    size_t byte;
    bool split;
    yjs_text_offset(s, 6, 1, &byte, &split);
    assert_int_equal(byte, 1);
    assert_false(split);
    yjs_text_offset(s, 6, 2, &byte, &split); /* between the halves of the pair */
    assert_int_equal(byte, 1);
    assert_true(split);
    yjs_text_offset(s, 6, 3, &byte, &split);
    assert_int_equal(byte, 5);
    assert_false(split);
    yjs_text_offset(s, 6, 4, &byte, &split);
    assert_int_equal(byte, 6);
    assert_false(split);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_counts),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
