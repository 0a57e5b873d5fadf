/* Unit tests of yjs_ds: Yjs's sortAndMergeDeleteSet semantics, grouping, encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "yjs_ds.h"

static void test_sort_merge(void **state)
{
    yjs_ds_t ds = {0};
    /* client 1: [5,8) [0,2) [2,3) touching, [7,10) overlapping, [20,20) isolated zero length,
     * [9,9) absorbed; client 9: [3,4) */
    const uint64_t in[][3] = {{1, 5, 3}, {1, 0, 2},  {9, 3, 1}, {1, 2, 1},
                              {1, 7, 3}, {1, 20, 0}, {1, 9, 0}};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        assert_int_equal(yjs_ds_add(&ds, in[i][0], in[i][1], in[i][2]), QUIRE_OK);
    assert_int_equal(yjs_ds_sort_merge(&ds), QUIRE_OK);
    const uint64_t want[][3] = {{9, 3, 1}, {1, 0, 3}, {1, 5, 5}, {1, 20, 0}};
    assert_int_equal(ds.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ds.r[i].client, want[i][0]);
        assert_int_equal(ds.r[i].clock, want[i][1]);
        assert_int_equal(ds.r[i].len, want[i][2]);
    }
    yjs_buf_t out = {0};
    yjs_ds_write(&ds, &out);
    const uint8_t enc[] = {2, 9, 1, 3, 1, 1, 3, 0, 3, 5, 5, 20, 0};
    assert_int_equal(out.len, sizeof enc);
    assert_int_equal(yjs_ds_size(&ds), sizeof enc);
    assert_memory_equal(out.data, enc, sizeof enc);
    yjs_buf_deinit(&out);
    yjs_ds_deinit(&ds);
}

static void test_group_keeps_order(void **state)
{
    yjs_ds_t ds = {0};
    const uint64_t in[][3] = {{1, 9, 1}, {5, 0, 1}, {1, 2, 1}, {5, 7, 1}};
    for (size_t i = 0; i < 4; i++)
        yjs_ds_add(&ds, in[i][0], in[i][1], in[i][2]);
    assert_int_equal(yjs_ds_group(&ds), QUIRE_OK);
    const uint64_t want[][2] = {{5, 0}, {5, 7}, {1, 9}, {1, 2}};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ds.r[i].client, want[i][0]);
        assert_int_equal(ds.r[i].clock, want[i][1]);
    }
    yjs_ds_deinit(&ds);
}

static void test_large_sort(void **state)
{
    yjs_ds_t ds = {0};
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        yjs_ds_add(&ds, x % 4, (x >> 8) % 100000, 1);
    }
    assert_int_equal(yjs_ds_sort_merge(&ds), QUIRE_OK);
    for (size_t i = 1; i < ds.n; i++) {
        if (ds.r[i].client == ds.r[i - 1].client)
            assert_true(ds.r[i - 1].clock + ds.r[i - 1].len < ds.r[i].clock);
        else
            assert_true(ds.r[i - 1].client > ds.r[i].client);
    }
    yjs_ds_deinit(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_merge),
        cmocka_unit_test(test_group_keeps_order),
        cmocka_unit_test(test_large_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
