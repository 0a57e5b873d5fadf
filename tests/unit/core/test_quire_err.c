/* Unit tests of quire_err: every code has a name, a description and a class. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "quire_err.h"

static void test_names_and_classes(void **state)
{
    assert_string_equal(quire_err_name(QUIRE_OK), "QUIRE_OK");
    assert_string_equal(quire_err_str(QUIRE_ERR_MALFORMED), "malformed input");
    assert_false(quire_err_retriable(QUIRE_ERR_MALFORMED));
    assert_true(quire_err_retriable(QUIRE_ERR_UNAVAILABLE));
    assert_true(quire_err_retriable(QUIRE_ERR_BUSY));
    assert_string_equal(quire_err_name((quire_err_t)-999), "QUIRE_ERR_UNRECOGNIZED");
#define CHECK(name, value, retriable, desc)                                                        \
    assert_true((value) <= 0);                                                                     \
    assert_string_equal(quire_err_name(name), #name);                                              \
    assert_string_equal(quire_err_str(name), desc);
    QUIRE_ERR_LIST(CHECK)
#undef CHECK
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_names_and_classes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
