/*
 * Unit tests of doc_cache: get returns a reference that outlives replacement and removal; put
 * replaces a document's older entry; the byte bound evicts the oldest entries first; cover can be
 * raised in place.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doc_cache.h"

static doc_cache_entry_t *entry(const char *id, int64_t version, size_t payload)
{
    char *json = malloc(payload + 1);
    memset(json, 'x', payload);
    json[payload] = '\0';
    uint8_t *state = malloc(4);
    memcpy(state, "\0\0\0\0", 4);
    doc_cache_entry_t *e =
        doc_cache_entry_new(strdup(id), version, 3, version + 1, json, payload, state, 4);
    assert_non_null(e);
    return e;
}

static void test_get_put_replace(void **state)
{
    doc_cache_t *c = doc_cache_new(1 << 20);
    assert_null(doc_cache_get(c, "a"));
    doc_cache_entry_t *e1 = entry("a", 10, 100);
    doc_cache_put(c, e1);
    doc_cache_entry_t *g = doc_cache_get(c, "a");
    assert_ptr_equal(g, e1);
    doc_cache_entry_t *e2 = entry("a", 11, 100);
    doc_cache_put(c, e2); /* replaces */
    doc_cache_release(e2);
    doc_cache_release(entry("b", 1, 1)); /* never inserted: freed at once */
    doc_cache_entry_t *g2 = doc_cache_get(c, "a");
    assert_int_equal(g2->version, 11);
    /* the old reference still reads its own version */
    assert_int_equal(g->version, 10);
    assert_int_equal(g->json_len, 100);
    atomic_store(&g2->cover, 99);
    doc_cache_entry_t *g3 = doc_cache_get(c, "a");
    assert_int_equal(atomic_load(&g3->cover), 99);
    doc_cache_remove(c, "a");
    assert_null(doc_cache_get(c, "a"));
    assert_int_equal(g2->version, 11);
    doc_cache_release(g);
    doc_cache_release(g2);
    doc_cache_release(g3);
    doc_cache_release(e1);
    doc_cache_destroy(c);
}

static void test_evicts_oldest(void **state)
{
    doc_cache_t *c = doc_cache_new(10000);
    char id[16];
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "d%d", i);
        doc_cache_entry_t *e = entry(id, i, 2000);
        doc_cache_put(c, e);
        doc_cache_release(e);
    }
    /* about four 2 KB entries fit in 10 KB: the newest stay */
    doc_cache_entry_t *newest = doc_cache_get(c, "d19");
    assert_non_null(newest);
    doc_cache_release(newest);
    assert_null(doc_cache_get(c, "d0"));
    assert_null(doc_cache_get(c, "d10"));
    doc_cache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put_replace),
        cmocka_unit_test(test_evicts_oldest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
