/* Unit tests of avro_prescan: every type's bounds, union hops, trailing bytes, UTF-8, and the
 * schemas it refuses to compile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "avro_prescan.h"
#include "bytes_builder.h"

static const char ALL_TYPES[] =
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
    "{\"name\":\"n\",\"type\":\"null\"},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"by\",\"type\":\"bytes\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"x\",\"type\":{\"type\":\"fixed\",\"name\":\"X\",\"size\":3}},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"string\",{\"type\":\"record\",\"name\":\"In\","
    "\"fields\":[{\"name\":\"q\",\"type\":\"long\"},{\"name\":\"x2\",\"type\":\"X\"}]}]},"
    "{\"name\":\"t\",\"type\":\"int\"}"
    "]}";

static avro_prescan_t *compile(const char *json)
{
    avro_schema_t s;
    if (avro_schema_from_json_length(json, strlen(json), &s))
        fail_msg("schema: %s", avro_strerror());
    avro_prescan_t *p = NULL;
    char err[256];
    quire_err_t rc = avro_prescan_compile(s, &p, err, sizeof err);
    avro_schema_decref(s);
    if (rc)
        fail_msg("compile: %s", err);
    return p;
}

/* A valid datum of ALL_TYPES; the union takes branch ub. */
static void valid(bb_t *bb, int ub)
{
    bb->n = 0;
    bb_byte(bb, 1);             /* boolean */
    bb_long(bb, -7);            /* int */
    bb_long(bb, INT64_MIN);     /* long */
    bb_raw(bb, "\0\0\x80?", 4); /* float */
    bb_raw(bb, "12345678", 8);  /* double */
    bb_bytes(bb, "\0\xff", 2);  /* bytes may hold anything */
    bb_str(bb, "h\xc3\xa9llo"); /* string */
    bb_raw(bb, "xyz", 3);       /* fixed */
    bb_long(bb, 1);             /* enum B */
    bb_long(bb, ub);            /* union */
    if (ub == 1)
        bb_str(bb, "s");
    if (ub == 2) {
        bb_long(bb, 99);
        bb_raw(bb, "abc", 3);
    }
    bb_long(bb, INT32_MAX); /* int */
}

static quire_err_t check(const avro_prescan_t *p, const bb_t *bb)
{
    char err[256];
    return avro_prescan_check(p, bb->b, bb->n, err, sizeof err);
}

static void test_valid_and_every_truncation(void **state)
{
    avro_prescan_t *p = compile(ALL_TYPES);
    for (int ub = 0; ub < 3; ub++) {
        bb_t bb;
        valid(&bb, ub);
        assert_int_equal(check(p, &bb), QUIRE_OK);
        for (size_t len = 0; len < bb.n; len++) {
            uint8_t *copy = malloc(len ? len : 1);
            memcpy(copy, bb.b, len);
            assert_int_equal(avro_prescan_check(p, len ? copy : NULL, len, NULL, 0),
                             QUIRE_ERR_MALFORMED);
            free(copy);
        }
        bb_byte(&bb, 0);
        char err[128];
        assert_int_equal(avro_prescan_check(p, bb.b, bb.n, err, sizeof err), QUIRE_ERR_MALFORMED);
        assert_non_null(strstr(err, "1 bytes trail"));
    }
    avro_prescan_free(p);
}

static void test_each_rule(void **state)
{
    avro_prescan_t *p = compile(ALL_TYPES);
    bb_t bb;
    char err[256];
    /* boolean 2 */
    valid(&bb, 0);
    bb.b[0] = 2;
    assert_int_equal(avro_prescan_check(p, bb.b, bb.n, err, sizeof err), QUIRE_ERR_MALFORMED);
    assert_non_null(strstr(err, "at byte 0"));
    assert_non_null(strstr(err, "boolean"));
    /* int out of range (first int is at byte 1) */
    bb.n = 0;
    bb_byte(&bb, 0);
    bb_long(&bb, (int64_t)INT32_MAX + 1);
    assert_int_equal(avro_prescan_check(p, bb.b, bb.n, err, sizeof err), QUIRE_ERR_MALFORMED);
    assert_non_null(strstr(err, "int value"));
    bb.n = 1;
    bb_long(&bb, (int64_t)INT32_MIN - 1);
    assert_int_equal(check(p, &bb), QUIRE_ERR_MALFORMED);
    /* enum, union out of range; string not UTF-8 */
    struct {
        int64_t e, u;
        const char *s;
        const char *msg;
    } cases[] = {
        {2, 0, "ok", "enum index"},          {-1, 0, "ok", "enum index"},
        {0, 3, "ok", "union branch"},        {0, -1, "ok", "union branch"},
        {0, 0, "\xe2\x82", "UTF-8"},         {0, 0, "\xf4\x90\x80\x80", "UTF-8"},
        {0, 0, "\xe0\x80\xaf", "UTF-8"},     {0, 0, "\x80", "UTF-8"},
        {0, 0, "\xf8\x88\x80\x80", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bb.n = 0;
        bb_byte(&bb, 0);
        bb_long(&bb, 0);
        bb_long(&bb, 0);
        bb_raw(&bb, "1234", 4);
        bb_raw(&bb, "12345678", 8);
        bb_bytes(&bb, "", 0);
        bb_str(&bb, cases[i].s);
        bb_raw(&bb, "xyz", 3);
        bb_long(&bb, cases[i].e);
        bb_long(&bb, cases[i].u);
        bb_long(&bb, 0);
        assert_int_equal(avro_prescan_check(p, bb.b, bb.n, err, sizeof err), QUIRE_ERR_MALFORMED);
        if (!strstr(err, cases[i].msg))
            fail_msg("case %zu: %s", i, err);
    }
    /* lengths: negative, beyond the input, at the very edge of the input */
    const int64_t lens[] = {-1, INT64_MIN, INT64_MAX, 5};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        bb.n = 0;
        bb_byte(&bb, 0);
        bb_long(&bb, 0);
        bb_long(&bb, 0);
        bb_raw(&bb, "1234", 4);
        bb_raw(&bb, "12345678", 8);
        bb_long(&bb, lens[i]);
        bb_raw(&bb, "abcd", 4);
        assert_int_equal(avro_prescan_check(p, bb.b, bb.n, err, sizeof err), QUIRE_ERR_MALFORMED);
        assert_non_null(strstr(err, "bytes length"));
    }
    /* a tiny error buffer is still terminated */
    char tiny[8];
    valid(&bb, 0);
    bb.b[0] = 9;
    assert_int_equal(avro_prescan_check(p, bb.b, bb.n, tiny, sizeof tiny), QUIRE_ERR_MALFORMED);
    assert_true(strlen(tiny) < sizeof tiny);
    avro_prescan_free(p);
}

static void test_varints(void **state)
{
    avro_prescan_t *p = compile("\"long\"");
    const uint8_t max[] = {0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    assert_int_equal(avro_prescan_check(p, max, sizeof max, NULL, 0), QUIRE_OK);
    const uint8_t over[] = {0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02};
    assert_int_equal(avro_prescan_check(p, over, sizeof over, NULL, 0), QUIRE_ERR_MALFORMED);
    const uint8_t longer[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    assert_int_equal(avro_prescan_check(p, longer, sizeof longer, NULL, 0), QUIRE_ERR_MALFORMED);
    const uint8_t open[] = {0x80};
    assert_int_equal(avro_prescan_check(p, open, 1, NULL, 0), QUIRE_ERR_MALFORMED);
    assert_int_equal(avro_prescan_check(p, NULL, 0, NULL, 0), QUIRE_ERR_MALFORMED);
    avro_prescan_free(p);
}

static void test_refused_schemas(void **state)
{
    const char *bad[] = {
        "{\"type\":\"array\",\"items\":\"long\"}",
        "{\"type\":\"map\",\"values\":\"long\"}",
        "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"next\",\"type\":[\"null\","
        "\"L\"]}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        avro_schema_t s;
        if (avro_schema_from_json_length(bad[i], strlen(bad[i]), &s))
            fail_msg("schema %zu: %s", i, avro_strerror());
        avro_prescan_t *p = (avro_prescan_t *)0x1;
        char err[256];
        assert_int_equal(avro_prescan_compile(s, &p, err, sizeof err), QUIRE_ERR_INVALID);
        assert_ptr_equal(p, (avro_prescan_t *)0x1);
        assert_true(strlen(err) > 0);
        avro_schema_decref(s);
    }
    avro_prescan_free(NULL);
}

static void test_utf8(void **state)
{
    struct {
        const char *s;
        size_t n;
        bool ok;
    } v[] = {
        {"", 0, true},
        {"plain", 5, true},
        {"\xc2\x80", 2, true},
        {"\xdf\xbf", 2, true},
        {"\xe0\xa0\x80", 3, true},
        {"\xef\xbf\xbf", 3, true},
        {"\xf0\x90\x80\x80", 4, true},
        {"\xf4\x8f\xbf\xbf", 4, true},
        {"a\0b", 3, false},
        {"\xc0\x80", 2, false},
        {"\xc1\xbf", 2, false},
        {"\xe0\x9f\xbf", 3, false},
        {"\xed\xa0\x80", 3, false},
        {"\xed\xbf\xbf", 3, false},
        {"\xf0\x8f\xbf\xbf", 4, false},
        {"\xf4\x90\x80\x80", 4, false},
        {"\xf5\x80\x80\x80", 4, false},
        {"\xc2", 1, false},
        {"\xe0\xa0", 2, false},
        {"\xc2\x41", 2, false},
        {"\xbf", 1, false},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (avro_prescan_utf8_ok((const uint8_t *)v[i].s, v[i].n) != v[i].ok)
            fail_msg("utf8 case %zu", i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_every_truncation),
        cmocka_unit_test(test_each_rule),
        cmocka_unit_test(test_varints),
        cmocka_unit_test(test_refused_schemas),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
