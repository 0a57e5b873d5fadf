/* Unit tests of yjs_json: what JSON.parse accepts, and nesting caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "yjs_json.h"

static bool ok(const char *s)
{
    return yjs_json_validate((const uint8_t *)s, strlen(s), 8) == QUIRE_OK;
}

static void test_accepts(void **state)
{
    static const char *const good[] = {
        "0",
        "-0",
        "1.5e10",
        "-12.25E-3",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\\u00e9\\n\\\"\"",
        "[]",
        "{}",
        " [1, \"x\", {\"a\" : [null]}] ",
        "{\"a\":{\"b\":{}}}",
        "\"\xc3\xa9\"",
        "\"\\ud800\"", /* a lone surrogate escape: JSON.parse accepts it */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(ok(good[i]));
}

static void test_refuses(void **state)
{
    static const char *const bad[] = {
        "",      " ",          "01",    "1.",         ".5",        "+1",   "1e",
        "-",     "tru",        "nul",   "undefined",  "NaN",       "[1,]", "{\"a\"}",
        "{a:1}", "{\"a\":1,}", "[1 2]", "\"\\x\"",    "\"\\u12\"", "\"a",  "\"\x01\"",
        "1 2",   "[",          "]",     "{\"a\":1}}", "'a'",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(ok(bad[i]));
}

static void test_depth(void **state)
{
    assert_true(ok("[[[[[[[[1]]]]]]]]")); /* 8 */
    assert_int_equal(yjs_json_validate((const uint8_t *)"[[[[[[[[[1]]]]]]]]]", 19, 8),
                     QUIRE_ERR_LIMIT); /* 9 */
    char deep[20001];
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    deep[20000] = '\0';
    assert_int_equal(yjs_json_validate((const uint8_t *)deep, 20000, 64), QUIRE_ERR_LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
