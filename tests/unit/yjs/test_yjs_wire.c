/* Unit tests of yjs_wire: lib0 varUint/varInt reading with bounds, range and minimality checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "yjs_wire.h"

static bool rd(const uint8_t *p, size_t n, uint64_t *v, size_t *used)
{
    yjs_wire_t w = {p, p + n};
    bool ok = yjs_wire_varuint(&w, v);
    *used = (size_t)(w.pos - p);
    return ok;
}

static void test_varuint(void **state)
{
    uint64_t v;
    size_t used;
    assert_true(rd((const uint8_t *)"\x00", 1, &v, &used) && v == 0 && used == 1);
    assert_true(rd((const uint8_t *)"\x7f", 1, &v, &used) && v == 127);
    assert_true(rd((const uint8_t *)"\x80\x01", 2, &v, &used) && v == 128 && used == 2);
    assert_true(rd((const uint8_t *)"\xac\x02", 2, &v, &used) && v == 300);
    /* 2^53 - 1 = 8 bytes: ff ff ff ff ff ff ff 0f */
    const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_true(rd(max, 8, &v, &used) && v == YJS_MAX_SAFE && used == 8);
    /* 2^53 */
    const uint8_t over[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10};
    assert_false(rd(over, 8, &v, &used));
    assert_int_equal(used, 0); /* cursor unchanged on failure */
    /* 9 bytes never */
    const uint8_t nine[] = {0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    assert_false(rd(nine, 9, &v, &used));
    /* truncated, empty, non-minimal */
    assert_false(rd((const uint8_t *)"\x80", 1, &v, &used));
    assert_false(rd((const uint8_t *)"", 0, &v, &used));
    assert_false(rd((const uint8_t *)"\x80\x00", 2, &v, &used));
    assert_false(rd((const uint8_t *)"\xff\x80\x00", 3, &v, &used));
}

static void test_varint(void **state)
{
    uint64_t abs;
    bool neg;
    yjs_wire_t w = {(const uint8_t *)"\x41", (const uint8_t *)"\x41" + 1};
    assert_true(yjs_wire_varint(&w, &abs, &neg) && abs == 1 && neg);
    w = (yjs_wire_t){(const uint8_t *)"\x40", (const uint8_t *)"\x40" + 1};
    assert_true(yjs_wire_varint(&w, &abs, &neg) && abs == 0 && neg); /* negative zero */
    w = (yjs_wire_t){(const uint8_t *)"\x80\x01", (const uint8_t *)"\x80\x01" + 2};
    assert_true(yjs_wire_varint(&w, &abs, &neg) && abs == 64 && !neg);
    w = (yjs_wire_t){(const uint8_t *)"\x80\x00", (const uint8_t *)"\x80\x00" + 2};
    assert_false(yjs_wire_varint(&w, &abs, &neg)); /* non-minimal */
    w = (yjs_wire_t){(const uint8_t *)"\xc0", (const uint8_t *)"\xc0" + 1};
    assert_false(yjs_wire_varint(&w, &abs, &neg)); /* truncated */
}

static void test_buf_and_sizes(void **state)
{
    const uint8_t in[] = {0x03, 'a', 'b', 'c', 0x05, 'x'};
    yjs_wire_t w = {in, in + sizeof in};
    const uint8_t *p;
    size_t n;
    assert_true(yjs_wire_buf(&w, &p, &n) && n == 3 && p == in + 1);
    assert_false(yjs_wire_buf(&w, &p, &n)); /* declares 5, 1 left */
    assert_ptr_equal(w.pos, in + 4);
    assert_int_equal(yjs_wire_varuint_size(0), 1);
    assert_int_equal(yjs_wire_varuint_size(127), 1);
    assert_int_equal(yjs_wire_varuint_size(128), 2);
    assert_int_equal(yjs_wire_varuint_size(YJS_MAX_SAFE), 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varuint),
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_buf_and_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
