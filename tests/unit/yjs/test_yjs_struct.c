/*
 * Unit tests of yjs_struct: slicing and truncating every sliceable content as Yjs does — the
 * surrogate-pair → U+FFFD rule included — and write/size agreement.
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

/* Decodes the first struct of a one-struct update built in b. */
static yjs_struct_t first(const tb_t *b)
{
    yjs_decoder_t d;
    yjs_struct_t s;
    QUIRE_ASSERT(yjs_decode_init(&d, b->d, b->n, NULL, 0) == QUIRE_OK);
    QUIRE_ASSERT(yjs_decode_next_struct(&d, &s) == 1);
    return s;
}

/* Encodes s and checks yjs_struct_size agrees; returns the bytes in *out. */
static size_t encode(const yjs_struct_t *s, uint8_t *out)
{
    yjs_buf_t buf = {0};
    yjs_struct_write(s, &buf);
    assert_int_equal(yjs_buf_err(&buf), QUIRE_OK);
    assert_int_equal(buf.len, yjs_struct_size(s));
    memcpy(out, buf.data, buf.len);
    size_t n = buf.len;
    yjs_buf_deinit(&buf);
    return n;
}

static void test_string_slice(void **state)
{
    tb_t b = {0};
    tb_group(&b, 1, 3, 10);
    tb_root_string(&b, "t",
                   "ab\xf0\x9f\x98\x80"
                   "c"); /* a b 😀(2) c = 5 units */
    tb_u(&b, 0);
    yjs_struct_t s = first(&b);
    assert_int_equal(s.len, 5);

    /* slice after "ab": origin (3,11), content "😀c" */
    yjs_struct_t r = s;
    assert_int_equal(yjs_struct_slice(&r, 2), QUIRE_OK);
    assert_int_equal(r.id.clock, 12);
    assert_int_equal(r.len, 3);
    assert_int_equal(r.origin.client, 3);
    assert_int_equal(r.origin.clock, 11);
    uint8_t out[64];
    size_t n = encode(&r, out);
    const uint8_t want[] = {0x84, 3, 11, 5, 0xf0, 0x9f, 0x98, 0x80, 'c'};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);

    /* slice inside the pair: right part = U+FFFD "c" (Yjs #248) */
    r = s;
    assert_int_equal(yjs_struct_slice(&r, 3), QUIRE_OK);
    assert_int_equal(r.len, 2);
    n = encode(&r, out);
    const uint8_t want2[] = {0x84, 3, 12, 4, 0xef, 0xbf, 0xbd, 'c'};
    assert_int_equal(n, sizeof want2);
    assert_memory_equal(out, want2, sizeof want2);

    /* truncate inside the pair: left part = "ab" U+FFFD, parent kept (no origin) */
    yjs_struct_t l = s;
    assert_int_equal(yjs_struct_truncate(&l, 3), QUIRE_OK);
    assert_int_equal(l.len, 3);
    n = encode(&l, out);
    const uint8_t want3[] = {0x04, 1, 1, 't', 5, 'a', 'b', 0xef, 0xbf, 0xbd};
    assert_int_equal(n, sizeof want3);
    assert_memory_equal(out, want3, sizeof want3);

    /* slicing a slice: the lead U+FFFD is consumed first */
    assert_int_equal(yjs_struct_slice(&r, 1), QUIRE_OK);
    n = encode(&r, out);
    const uint8_t want4[] = {0x84, 3, 13, 1, 'c'};
    assert_memory_equal(out, want4, sizeof want4);

    /* out of range */
    r = s;
    assert_int_equal(yjs_struct_slice(&r, 0), QUIRE_ERR_INVALID);
    assert_int_equal(yjs_struct_slice(&r, 5), QUIRE_ERR_INVALID);
}

static void test_other_slices(void **state)
{
    uint8_t out[128];
    /* any [1, "xy", null] sliced at 1 */
    tb_t b = {0};
    tb_group(&b, 1, 3, 0);
    tb_byte(&b, 0x48); /* right origin + any */
    tb_u(&b, 4);
    tb_u(&b, 0);
    tb_u(&b, 3);
    tb_byte(&b, 125);
    tb_byte(&b, 1);
    tb_byte(&b, 119);
    tb_str(&b, "xy");
    tb_byte(&b, 126);
    tb_u(&b, 0);
    yjs_struct_t s = first(&b);
    assert_int_equal(yjs_struct_slice(&s, 1), QUIRE_OK);
    size_t n = encode(&s, out);
    const uint8_t want[] = {0xc8, 3, 0, 4, 0, 2, 119, 2, 'x', 'y', 126};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);

    /* JSON ["1","2"] truncated to 1 */
    b = (tb_t){0};
    tb_group(&b, 1, 3, 0);
    tb_byte(&b, 0x02);
    tb_byte(&b, 1);
    tb_str(&b, "a");
    tb_u(&b, 2);
    tb_str(&b, "1");
    tb_str(&b, "22");
    tb_u(&b, 0);
    s = first(&b);
    assert_int_equal(yjs_struct_truncate(&s, 1), QUIRE_OK);
    n = encode(&s, out);
    const uint8_t want2[] = {0x02, 1, 1, 'a', 1, 1, '1'};
    assert_memory_equal(out, want2, sizeof want2);

    /* deleted 5 sliced at 2; GC 4 sliced at 1 */
    b = (tb_t){0};
    tb_group(&b, 2, 3, 0);
    tb_byte(&b, 0x01);
    tb_byte(&b, 1);
    tb_str(&b, "a");
    tb_u(&b, 5);
    tb_byte(&b, 0);
    tb_u(&b, 4);
    tb_u(&b, 0);
    s = first(&b);
    assert_int_equal(yjs_struct_slice(&s, 2), QUIRE_OK);
    n = encode(&s, out);
    const uint8_t want3[] = {0x81, 3, 1, 3};
    assert_memory_equal(out, want3, sizeof want3);
    yjs_decoder_t d;
    assert_int_equal(yjs_decode_init(&d, b.d, b.n, NULL, 0), QUIRE_OK);
    assert_int_equal(yjs_decode_next_struct(&d, &s), 1);
    assert_int_equal(yjs_decode_next_struct(&d, &s), 1);
    assert_int_equal(s.kind, YJS_KIND_GC);
    assert_int_equal(yjs_struct_slice(&s, 1), QUIRE_OK);
    assert_int_equal(s.id.clock, 6);
    n = encode(&s, out);
    assert_int_equal(n, 2);
    assert_int_equal(out[1], 3);
}

static void test_unsliceable(void **state)
{
    tb_t b = {0};
    tb_group(&b, 1, 3, 0);
    tb_byte(&b, 0x07);
    tb_byte(&b, 1);
    tb_str(&b, "a");
    tb_byte(&b, 1);
    tb_u(&b, 0);
    yjs_struct_t s = first(&b);
    assert_int_equal(yjs_struct_slice(&s, 1), QUIRE_ERR_INVALID); /* len 1 */
}

static void test_parent_sub_kept_on_slice(void **state)
{
    /* a map-root item with 2 any values, sliced: Yjs keeps the 0x20 bit, drops the string */
    tb_t b = {0};
    tb_group(&b, 1, 3, 0);
    tb_byte(&b, 0x28);
    tb_byte(&b, 1);
    tb_str(&b, "m");
    tb_str(&b, "k");
    tb_u(&b, 2);
    tb_byte(&b, 120);
    tb_byte(&b, 121);
    tb_u(&b, 0);
    yjs_struct_t s = first(&b);
    assert_int_equal(yjs_struct_slice(&s, 1), QUIRE_OK);
    uint8_t out[32];
    size_t n = encode(&s, out);
    const uint8_t want[] = {0xa8, 3, 0, 1, 121};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_slice),
        cmocka_unit_test(test_other_slices),
        cmocka_unit_test(test_unsliceable),
        cmocka_unit_test(test_parent_sub_kept_on_slice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
