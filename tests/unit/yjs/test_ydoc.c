/*
 * test_ydoc — unit tests of the integrated document (lib/yjs/ydoc.h) on hand-made updates: the
 * error contract (a refused update changes nothing), pending structs and deletes, limits, GC,
 * the "novel" diff, and rendering with JavaScript semantics. Yjs equivalence on random and real
 * histories is the job of tests/yjs/ydoc_differential.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ydoc.h"
#include "yjs_test_util.h"

/* ---- builders ---------------------------------------------------------------------------- */

static void tb_empty_ds(tb_t *b)
{
    tb_u(b, 0);
}

/* Item with string content after origin (oc, ok). */
static void tb_after_string(tb_t *b, uint64_t oc, uint64_t ok, const char *text)
{
    tb_byte(b, 0x84);
    tb_u(b, oc);
    tb_u(b, ok);
    tb_str(b, text);
}

/* Map entry root[key] = one `any` value (given as its encoded bytes). */
static void tb_root_map_any(tb_t *b, const char *root, const char *key, const uint8_t *any,
                            size_t n)
{
    tb_byte(b, 0x20 | 8);
    tb_byte(b, 1);
    tb_str(b, root);
    tb_str(b, key);
    tb_u(b, 1);
    tb_raw(b, any, n);
}

static size_t any_f64(uint8_t *out, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    out[0] = 123;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)(u >> (56 - 8 * i));
    return 9;
}

static size_t any_str(uint8_t *out, const char *s)
{
    size_t n = strlen(s);
    out[0] = 119;
    out[1] = (uint8_t)n;
    memcpy(out + 2, s, n);
    return n + 2;
}

/* An update of client c: "abc" in root t at clock 0. */
static void upd_abc(tb_t *b, uint64_t c)
{
    tb_group(b, 1, c, 0);
    tb_root_string(b, "t", "abc");
    tb_empty_ds(b);
}

static ydoc_t *doc_new(void)
{
    ydoc_t *d = NULL;
    assert_int_equal(ydoc_new(NULL, &d), QUIRE_OK);
    return d;
}

static char *content(const ydoc_t *d, unsigned flags)
{
    char *s;
    size_t n;
    assert_int_equal(ydoc_content_json(d, flags, &s, &n), QUIRE_OK);
    assert_int_equal(strlen(s), n);
    return s;
}

static void assert_content(const ydoc_t *d, unsigned flags, const char *want)
{
    char *s = content(d, flags);
    assert_string_equal(s, want);
    free(s);
}

static char *render(const ydoc_t *d, const char *root, ydoc_type_t t, ydoc_format_t f)
{
    char *s;
    size_t n;
    assert_int_equal(ydoc_render(d, root, strlen(root), t, f, 0, &s, &n), QUIRE_OK);
    return s;
}

static uint8_t *state(const ydoc_t *d, size_t *n)
{
    uint8_t *s;
    assert_int_equal(ydoc_encode_state(d, NULL, 0, &s, n, NULL), QUIRE_OK);
    return s;
}

/* Applies u and asserts that the call failed with `want` and left the document as it was. */
static void assert_refused(ydoc_t *d, const uint8_t *u, size_t n, unsigned flags, quire_err_t want)
{
    size_t l0, l1;
    uint8_t *s0 = state(d, &l0);
    char *c0 = content(d, 0);
    ydoc_apply_t res = {.status = 77};
    yjs_error_t e;
    assert_int_equal(ydoc_apply(d, u, n, flags, &res, &e), want);
    assert_int_equal(res.status, 77); /* outputs untouched */
    assert_true(e.message[0] != 0);
    uint8_t *s1 = state(d, &l1);
    char *c1 = content(d, 0);
    assert_int_equal(l0, l1);
    assert_memory_equal(s0, s1, l0);
    assert_string_equal(c0, c1);
    free(s0);
    free(s1);
    free(c0);
    free(c1);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_empty_document(void **state_)
{
    (void)state_;
    ydoc_t *d = doc_new();
    size_t n;
    uint8_t *s = state(d, &n);
    assert_int_equal(n, 2);
    assert_int_equal(s[0], 0);
    assert_int_equal(s[1], 0);
    free(s);
    assert_int_equal(ydoc_state_vector(d, &s, &n), QUIRE_OK);
    assert_int_equal(n, 1);
    free(s);
    assert_content(d, 0, "{}");
    assert_int_equal(ydoc_root_count(d), 0);
    assert_false(ydoc_has_pending(d));
    assert_true(ydoc_memory(d) > 0);
    char *r;
    assert_int_equal(ydoc_render(d, "x", 1, YDOC_TYPE_AUTO, YDOC_FORMAT_JSON, 0, &r, &n),
                     QUIRE_ERR_NOT_FOUND);
    ydoc_apply_t res;
    const uint8_t empty[2] = {0, 0};
    assert_int_equal(ydoc_apply(d, empty, 2, 0, &res, NULL), QUIRE_OK);
    assert_int_equal(res.status, 0);
    ydoc_destroy(d);
    ydoc_destroy(NULL);
}

static void test_text_and_malformed(void **state_)
{
    (void)state_;
    ydoc_t *d = doc_new();
    tb_t b = {0};
    upd_abc(&b, 5);
    ydoc_apply_t res;
    assert_int_equal(ydoc_apply(d, b.d, b.n, 0, &res, NULL), QUIRE_OK);
    assert_int_equal(res.status, YDOC_APPLIED);
    assert_int_equal(res.integrated, 3);
    assert_content(d, 0, "{\"t\":\"abc\"}");
    assert_int_equal(ydoc_root_type(d, "t", 1), YDOC_TYPE_TEXT);
    assert_int_equal(ydoc_root_length(d, "t", 1), 3);
    /* the same update again: a no-op */
    assert_int_equal(ydoc_apply(d, b.d, b.n, 0, &res, NULL), QUIRE_OK);
    assert_int_equal(res.status, 0);

    /* malformed: truncated, trailing bytes, invalid UTF-8 (after a valid first struct) */
    tb_t m = {0};
    tb_u(&m, 1);
    tb_u(&m, 2);
    tb_u(&m, 5);
    tb_u(&m, 3);
    tb_after_string(&m, 5, 2, "de");
    tb_after_string(&m, 5, 4, "\xff");
    tb_empty_ds(&m);
    assert_refused(d, m.d, m.n, 0, QUIRE_ERR_MALFORMED);
    assert_refused(d, b.d, b.n - 1, 0, QUIRE_ERR_MALFORMED);
    uint8_t trailing[sizeof b.d];
    memcpy(trailing, b.d, b.n);
    trailing[b.n] = 0;
    assert_refused(d, trailing, b.n + 1, 0, QUIRE_ERR_MALFORMED);
    assert_refused(d, b.d, 0, 0, QUIRE_ERR_EMPTY);
    assert_int_equal(ydoc_apply(NULL, b.d, b.n, 0, NULL, NULL), QUIRE_ERR_INVALID);

    /* append "de" after 'c' and delete 'b' */
    tb_t u = {0};
    tb_group(&u, 1, 5, 3);
    tb_after_string(&u, 5, 2, "de");
    tb_u(&u, 1);
    tb_u(&u, 5);
    tb_u(&u, 1);
    tb_u(&u, 1);
    tb_u(&u, 1);
    assert_int_equal(ydoc_apply(d, u.d, u.n, 0, &res, NULL), QUIRE_OK);
    assert_int_equal(res.deleted, 1);
    char *s = render(d, "t", YDOC_TYPE_TEXT, YDOC_FORMAT_STRING);
    assert_string_equal(s, "acde");
    free(s);
    s = render(d, "t", YDOC_TYPE_TEXT, YDOC_FORMAT_DELTA);
    assert_string_equal(s, "[{\"insert\":\"acde\"}]");
    free(s);
    s = render(d, "t", YDOC_TYPE_ARRAY, YDOC_FORMAT_JSON);
    assert_string_equal(s, "[\"a\",\"c\",\"d\",\"e\"]");
    free(s);
    ydoc_destroy(d);
}

static void test_pending(void **state_)
{
    (void)state_;
    ydoc_t *d = doc_new();
    /* client 9 appends after client 5's 'c', which the document does not have yet */
    tb_t later = {0};
    tb_group(&later, 1, 9, 0);
    tb_after_string(&later, 5, 2, "XY");
    tb_empty_ds(&later);
    /* refused without pending */
    assert_refused(d, later.d, later.n, YDOC_APPLY_NO_PENDING, QUIRE_ERR_MISSING_DEPS);
    ydoc_apply_t res;
    assert_int_equal(ydoc_apply(d, later.d, later.n, 0, &res, NULL), QUIRE_OK);
    assert_int_equal(res.status, YDOC_PENDING_ADDED | YDOC_PENDING_REMAINS);
    assert_int_equal(res.pending_structs, 1);
    assert_true(ydoc_has_pending(d));
    yjs_id_t ids[4];
    assert_int_equal(ydoc_missing(d, ids, 4), 1);
    assert_int_equal(ids[0].client, 5);
    assert_int_equal(ids[0].clock, 0);
    /* the same again adds nothing new to what is held */
    assert_int_equal(ydoc_apply(d, later.d, later.n, 0, &res, NULL), QUIRE_OK);
    assert_int_equal(res.status, YDOC_PENDING_REMAINS);
    /* the state carries the held struct */
    size_t n;
    uint8_t *s = state(d, &n);
    uint8_t *p;
    size_t pn;
    assert_int_equal(ydoc_pending_update(d, &p, &pn), QUIRE_OK);
    assert_int_equal(n, pn);
    assert_memory_equal(s, p, n);
    free(s);
    free(p);
    /* a delete of content not received yet is held too */
    tb_t del = {0};
    tb_u(&del, 0);
    tb_u(&del, 1);
    tb_u(&del, 5);
    tb_u(&del, 1);
    tb_u(&del, 0);
    tb_u(&del, 1);
    assert_int_equal(ydoc_apply(d, del.d, del.n, 0, &res, NULL), QUIRE_OK);
    assert_int_equal(res.status, YDOC_PENDING_ADDED | YDOC_PENDING_REMAINS);
    /* the missing content arrives: everything integrates, 'a' is deleted */
    tb_t b = {0};
    upd_abc(&b, 5);
    assert_int_equal(ydoc_apply(d, b.d, b.n, 0, &res, NULL), QUIRE_OK);
    assert_int_equal(res.status, YDOC_APPLIED | YDOC_PENDING_RESOLVED);
    assert_false(ydoc_has_pending(d));
    assert_int_equal(ydoc_missing(d, NULL, 0), 0);
    assert_content(d, 0, "{\"t\":\"bcXY\"}");
    ydoc_destroy(d);
}

static void test_limits(void **state_)
{
    (void)state_;
    ydoc_limits_t lim = YDOC_LIMITS_DEFAULT;
    lim.max_pending_structs = 1;
    ydoc_t *d;
    assert_int_equal(ydoc_new(&lim, &d), QUIRE_OK);
    tb_t two = {0};
    tb_group(&two, 2, 9, 0);
    tb_after_string(&two, 5, 2, "X");
    tb_after_string(&two, 9, 0, "Y");
    tb_empty_ds(&two);
    assert_refused(d, two.d, two.n, 0, QUIRE_ERR_LIMIT);
    ydoc_destroy(d);

    /* a struct whose clocks reach 2^32 cannot be integrated */
    d = doc_new();
    tb_t gc = {0};
    tb_group(&gc, 1, 3, 0);
    tb_byte(&gc, 0);
    tb_u(&gc, UINT64_C(1) << 32);
    tb_empty_ds(&gc);
    assert_refused(d, gc.d, gc.n, 0, QUIRE_ERR_LIMIT);
    ydoc_destroy(d);

    lim = (ydoc_limits_t)YDOC_LIMITS_DEFAULT;
    lim.max_doc_bytes = 1024;
    assert_int_equal(ydoc_new(&lim, &d), QUIRE_OK);
    tb_t b = {0};
    upd_abc(&b, 5);
    assert_refused(d, b.d, b.n, 0, QUIRE_ERR_TOO_LARGE);
    ydoc_destroy(d);

    lim = (ydoc_limits_t)YDOC_LIMITS_DEFAULT;
    lim.decode.max_update_bytes = 4;
    assert_int_equal(ydoc_new(&lim, &d), QUIRE_OK);
    assert_refused(d, b.d, b.n, 0, QUIRE_ERR_TOO_LARGE);
    ydoc_destroy(d);
}

static void test_gc(void **state_)
{
    (void)state_;
    for (int nogc = 0; nogc < 2; nogc++) {
        ydoc_limits_t lim = YDOC_LIMITS_DEFAULT;
        if (nogc)
            lim.flags |= YDOC_NO_GC;
        ydoc_t *d;
        assert_int_equal(ydoc_new(&lim, &d), QUIRE_OK);
        tb_t b = {0};
        upd_abc(&b, 5);
        assert_int_equal(ydoc_apply(d, b.d, b.n, 0, NULL, NULL), QUIRE_OK);
        tb_t del = {0};
        tb_u(&del, 0);
        tb_u(&del, 1);
        tb_u(&del, 5);
        tb_u(&del, 1);
        tb_u(&del, 0);
        tb_u(&del, 3);
        assert_int_equal(ydoc_apply(d, del.d, del.n, 0, NULL, NULL), QUIRE_OK);
        assert_content(d, 0, "{\"t\":\"\"}");
        ydoc_stats_t st;
        ydoc_stats(d, &st);
        assert_int_equal(st.structs, 1);
        assert_int_equal(st.items_deleted, 1);
        assert_int_equal(st.content_bytes, nogc ? 3 : 0);
        size_t n;
        uint8_t *s = state(d, &n);
        /* GC: a ContentDeleted item (ref 1); no GC: the string stays (ref 4) */
        assert_int_equal(s[4], nogc ? 4 : 1);
        free(s);
        /* an emptied root: nothing to infer from once collected */
        assert_int_equal(ydoc_root_type(d, "t", 1), nogc ? YDOC_TYPE_TEXT : YDOC_TYPE_AUTO);
        ydoc_destroy(d);
    }
}

static void test_novel(void **state_)
{
    (void)state_;
    ydoc_t *d = doc_new();
    tb_t b = {0};
    upd_abc(&b, 5);
    uint8_t *u;
    size_t n;
    /* everything is new to an empty document */
    assert_int_equal(ydoc_novel(d, b.d, b.n, 0, &u, &n, NULL), QUIRE_OK);
    assert_non_null(u);
    assert_int_equal(n, b.n);
    assert_memory_equal(u, b.d, n);
    free(u);
    assert_int_equal(ydoc_apply(d, b.d, b.n, 0, NULL, NULL), QUIRE_OK);
    assert_int_equal(ydoc_novel(d, b.d, b.n, 0, &u, &n, NULL), QUIRE_OK);
    assert_null(u);
    assert_int_equal(n, 0);
    /* a resend that overlaps: "abcde" from clock 0 → only "de", cut at clock 3 */
    tb_t r = {0};
    tb_group(&r, 1, 5, 0);
    tb_root_string(&r, "t", "abcde");
    tb_empty_ds(&r);
    assert_int_equal(ydoc_novel(d, r.d, r.n, 0, &u, &n, NULL), QUIRE_OK);
    assert_non_null(u);
    ydoc_t *a = doc_new(), *c = doc_new();
    assert_int_equal(ydoc_apply(a, b.d, b.n, 0, NULL, NULL), QUIRE_OK);
    assert_int_equal(ydoc_apply(a, u, n, 0, NULL, NULL), QUIRE_OK);
    assert_int_equal(ydoc_apply(c, r.d, r.n, 0, NULL, NULL), QUIRE_OK);
    char *ca = content(a, 0), *cc = content(c, 0);
    assert_string_equal(ca, cc);
    assert_string_equal(ca, "{\"t\":\"abcde\"}");
    free(ca);
    free(cc);
    free(u);
    /* deleting twice: the second adds nothing */
    tb_t del = {0};
    tb_u(&del, 0);
    tb_u(&del, 1);
    tb_u(&del, 5);
    tb_u(&del, 1);
    tb_u(&del, 1);
    tb_u(&del, 1);
    assert_int_equal(ydoc_novel(d, del.d, del.n, 0, &u, &n, NULL), QUIRE_OK);
    assert_non_null(u);
    free(u);
    assert_int_equal(ydoc_apply(d, del.d, del.n, 0, NULL, NULL), QUIRE_OK);
    assert_int_equal(ydoc_novel(d, del.d, del.n, 0, &u, &n, NULL), QUIRE_OK);
    assert_null(u);
    /* malformed input is refused */
    assert_int_equal(ydoc_novel(d, b.d, b.n - 2, 0, &u, &n, NULL), QUIRE_ERR_MALFORMED);
    ydoc_destroy(a);
    ydoc_destroy(c);
    ydoc_destroy(d);
}

static void test_map_json_semantics(void **state_)
{
    (void)state_;
    ydoc_t *d = doc_new();
    tb_t b = {0};
    const char *keys[] = {"b", "10", "a", "2", "01"};
    uint8_t any[32];
    tb_group(&b, 8, 7, 0);
    for (int i = 0; i < 5; i++)
        tb_root_map_any(&b, "m", keys[i], any, any_f64(any, i));
    tb_root_map_any(&b, "n", "big", any, any_f64(any, 1e21));
    tb_root_map_any(&b, "n", "small", any, any_f64(any, 1.5e-7));
    tb_root_map_any(&b, "n", "s", any, any_str(any, "q\"\\\n\x01"));
    tb_empty_ds(&b);
    assert_int_equal(ydoc_apply(d, b.d, b.n, 0, NULL, NULL), QUIRE_OK);
    /* JS property order: integer keys ascending first, then insertion order */
    assert_content(d, 0,
                   "{\"m\":{\"2\":3,\"10\":1,\"b\":0,\"a\":2,\"01\":4},"
                   "\"n\":{\"big\":1e+21,\"small\":1.5e-7,\"s\":\"q\\\"\\\\\\n\\u0001\"}}");
    assert_content(d, YDOC_JSON_SORT_KEYS,
                   "{\"m\":{\"01\":4,\"10\":1,\"2\":3,\"a\":2,\"b\":0},"
                   "\"n\":{\"big\":1e+21,\"s\":\"q\\\"\\\\\\n\\u0001\",\"small\":1.5e-7}}");
    assert_int_equal(ydoc_root_type(d, "m", 1), YDOC_TYPE_MAP);
    /* overwrite a key from another client with a higher id: last writer wins */
    tb_t o = {0};
    tb_group(&o, 1, 8, 0);
    tb_byte(&o, 0x80 | 8);
    tb_u(&o, 7);
    tb_u(&o, 0); /* origin: the previous value of "b" */
    tb_u(&o, 1);
    tb_raw(&o, any, any_f64(any, 42.5));
    tb_empty_ds(&o);
    assert_int_equal(ydoc_apply(d, o.d, o.n, 0, NULL, NULL), QUIRE_OK);
    char *s = render(d, "m", YDOC_TYPE_MAP, YDOC_FORMAT_JSON);
    assert_string_equal(s, "{\"2\":3,\"10\":1,\"b\":42.5,\"a\":2,\"01\":4}");
    free(s);
    ydoc_destroy(d);
}

static void test_xml(void **state_)
{
    (void)state_;
    ydoc_t *d = doc_new();
    tb_t b = {0};
    /* <P class="x" a="1">hi <b>yo</b></P> in fragment "pm" */
    tb_group(&b, 7, 4, 0);
    tb_byte(&b, 0x07); /* 0: XmlElement "P" */
    tb_byte(&b, 1);
    tb_str(&b, "pm");
    tb_byte(&b, 3);
    tb_str(&b, "P");
    tb_byte(&b, 0x20 | 8); /* 1: attribute class = "x" */
    tb_byte(&b, 0);
    tb_u(&b, 4);
    tb_u(&b, 0);
    tb_str(&b, "class");
    tb_u(&b, 1);
    tb_byte(&b, 119);
    tb_str(&b, "x");
    tb_byte(&b, 0x20 | 8); /* 2: attribute a = 1 */
    tb_byte(&b, 0);
    tb_u(&b, 4);
    tb_u(&b, 0);
    tb_str(&b, "a");
    tb_u(&b, 1);
    tb_byte(&b, 125);
    tb_byte(&b, 1);
    tb_byte(&b, 0x07); /* 3: XmlText child */
    tb_byte(&b, 0);
    tb_u(&b, 4);
    tb_u(&b, 0);
    tb_byte(&b, 6);
    tb_byte(&b, 0x04); /* 4: "hi " in the XmlText */
    tb_byte(&b, 0);
    tb_u(&b, 4);
    tb_u(&b, 3);
    tb_str(&b, "hi ");
    tb_byte(&b, 0x86); /* 5: format b = {} after "hi " */
    tb_u(&b, 4);
    tb_u(&b, 6);
    tb_str(&b, "b");
    tb_str(&b, "{}");
    tb_after_string(&b, 4, 7, "yo"); /* 6 */
    tb_empty_ds(&b);
    assert_int_equal(ydoc_apply(d, b.d, b.n, 0, NULL, NULL), QUIRE_OK);
    assert_int_equal(ydoc_root_type(d, "pm", 2), YDOC_TYPE_XML);
    char *s = render(d, "pm", YDOC_TYPE_AUTO, YDOC_FORMAT_STRING);
    assert_string_equal(s, "<p a=\"1\" class=\"x\">hi <b>yo</b></p>");
    free(s);
    assert_content(d, 0, "{\"pm\":\"<p a=\\\"1\\\" class=\\\"x\\\">hi <b>yo</b></p>\"}");
    ydoc_destroy(d);
}

static void test_trim_and_stats(void **state_)
{
    (void)state_;
    ydoc_t *d = doc_new();
    tb_t b = {0};
    upd_abc(&b, 5);
    assert_int_equal(ydoc_apply(d, b.d, b.n, 0, NULL, NULL), QUIRE_OK);
    char *c0 = content(d, 0);
    assert_int_equal(ydoc_trim(d), QUIRE_OK);
    char *c1 = content(d, 0);
    assert_string_equal(c0, c1);
    free(c0);
    free(c1);
    ydoc_stats_t st;
    ydoc_stats(d, &st);
    assert_int_equal(st.clients, 1);
    assert_int_equal(st.roots, 1);
    assert_int_equal(st.memory, ydoc_memory(d));
    size_t nl;
    ydoc_type_t t;
    const char *name = ydoc_root_name(d, 0, &nl, &t);
    assert_int_equal(nl, 1);
    assert_memory_equal(name, "t", 1);
    assert_int_equal(t, YDOC_TYPE_TEXT);
    assert_null(ydoc_root_name(d, 1, &nl, NULL));
    ydoc_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_document),
        cmocka_unit_test(test_text_and_malformed),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_gc),
        cmocka_unit_test(test_novel),
        cmocka_unit_test(test_map_json_semantics),
        cmocka_unit_test(test_xml),
        cmocka_unit_test(test_trim_and_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
