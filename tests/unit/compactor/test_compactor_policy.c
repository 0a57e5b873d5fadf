/*
 * Unit tests of the snapshot policy (compactor_policy.h): the BYTES threshold is the larger of
 * fraction × state and the minimum; QUIET fires after the quiet period only within the write
 * amplification budget (a first snapshot always); AGE fires whatever the budget; nothing pending
 * is never due; the next check time is when a time rule could fire. And a simulation of a typed
 * document under the defaults: its snapshots write at most 1.5 times its event bytes, and no
 * stretch between two snapshots exceeds the threshold plus one event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "compactor_policy.h"

static const compactor_policy_t defaults = COMPACTOR_POLICY_DEFAULT;

static void test_threshold(void **state)
{
    (void)state;
    assert_int_equal(compactor_policy_threshold(&defaults, 0), 64 * 1024);
    assert_int_equal(compactor_policy_threshold(&defaults, 1000), 64 * 1024);
    assert_int_equal(compactor_policy_threshold(&defaults, 1 << 20), 1 << 20);
    compactor_policy_t half = defaults;
    half.fraction = 0.5;
    half.min_bytes = 0;
    assert_int_equal(compactor_policy_threshold(&half, 1000), 500);
    assert_int_equal(compactor_policy_threshold(&half, -5), 0);
}

static void test_bytes_rule(void **state)
{
    (void)state;
    compactor_doc_stats_t s = {.bytes_since = 64 * 1024 - 1,
                               .events_since = 10,
                               .state_bytes = 1000,
                               .has_snapshot = true,
                               .snapshot_bytes = 1000,
                               .event_bytes = 100000,
                               .last_event_ms = 1000,
                               .first_pending_ms = 900};
    int64_t next;
    assert_int_equal(compactor_policy_decide(&defaults, &s, 1000, &next), COMPACTOR_NOT_YET);
    assert_int_equal(next, 1000 + 30000);
    s.bytes_since++;
    assert_int_equal(compactor_policy_decide(&defaults, &s, 1000, &next), COMPACTOR_BYTES);
    assert_int_equal(next, 1000);
    /* the rule follows the state's size above the minimum */
    s.state_bytes = 200000;
    assert_int_equal(compactor_policy_decide(&defaults, &s, 1000, NULL), COMPACTOR_NOT_YET);
    s.bytes_since = 200000;
    assert_int_equal(compactor_policy_decide(&defaults, &s, 1000, NULL), COMPACTOR_BYTES);
}

static void test_nothing_pending(void **state)
{
    (void)state;
    compactor_doc_stats_t s = {.bytes_since = 1 << 30, .events_since = 0};
    int64_t next = 0;
    assert_int_equal(compactor_policy_decide(&defaults, &s, 99999999, &next), COMPACTOR_NOT_YET);
    assert_int_equal(next, INT64_MAX);
}

static void test_quiet_and_budget(void **state)
{
    (void)state;
    compactor_doc_stats_t s = {.bytes_since = 100,
                               .events_since = 1,
                               .state_bytes = 5000,
                               .has_snapshot = false,
                               .event_bytes = 100,
                               .last_event_ms = 10000,
                               .first_pending_ms = 10000};
    int64_t next;
    /* the first snapshot is always allowed after the quiet period */
    assert_int_equal(compactor_policy_decide(&defaults, &s, 39999, &next), COMPACTOR_NOT_YET);
    assert_int_equal(next, 40000);
    assert_int_equal(compactor_policy_decide(&defaults, &s, 40000, NULL), COMPACTOR_QUIET);
    /* later ones within the budget: snapshots so far + this state <= 1.5 x events */
    s.has_snapshot = true;
    s.snapshot_bytes = 10000;
    s.event_bytes = 10000; /* 15000 > 15000? no: equal is allowed */
    assert_int_equal(compactor_policy_decide(&defaults, &s, 40000, NULL), COMPACTOR_QUIET);
    s.event_bytes = 9999;
    assert_int_equal(compactor_policy_decide(&defaults, &s, 40000, &next), COMPACTOR_NOT_YET);
    /* over budget: only AGE can fire, an hour after the oldest pending event */
    assert_int_equal(next, 10000 + 3600000);
    assert_int_equal(compactor_policy_decide(&defaults, &s, 10000 + 3600000, NULL), COMPACTOR_AGE);
    compactor_policy_t no_age = defaults;
    no_age.max_pending_ms = 0;
    assert_int_equal(compactor_policy_decide(&no_age, &s, INT64_MAX / 2, &next), COMPACTOR_NOT_YET);
    assert_int_equal(next, INT64_MAX);
}

/* A document typed one character per event (24-byte events, the state growing by 1.2 bytes per
 * character), each snapshot the size of the state: at the defaults its snapshots write well under
 * 1.5 times its events, and each stretch between snapshots stays under the threshold + 1 event. */
static void test_typing_simulation(void **state)
{
    (void)state;
    const int64_t ev = 24;
    compactor_doc_stats_t s = {0};
    int64_t t = 0, total_snap = 0, total_ev = 0, nsnap = 0;
    double doc = 40;
    for (int i = 0; i < 259778; i++) {
        t += 50;
        s.bytes_since += ev;
        s.events_since++;
        s.event_bytes += ev;
        total_ev += ev;
        s.last_event_ms = t;
        if (s.events_since == 1)
            s.first_pending_ms = t;
        doc += 1.2;
        int64_t threshold = compactor_policy_threshold(&defaults, s.state_bytes);
        compactor_reason_t r = compactor_policy_decide(&defaults, &s, t, NULL);
        if (r == COMPACTOR_BYTES) {
            assert_true(s.bytes_since < threshold + ev);
            s.state_bytes = (int64_t)doc;
            s.snapshot_bytes += s.state_bytes;
            total_snap += s.state_bytes;
            s.has_snapshot = true;
            s.bytes_since = 0;
            s.events_since = 0;
            nsnap++;
        }
    }
    /* the quiet-period snapshot at the end */
    assert_int_equal(compactor_policy_decide(&defaults, &s, t + 30000, NULL), COMPACTOR_QUIET);
    total_snap += (int64_t)doc;
    assert_true(nsnap > 10);
    assert_true((double)total_snap <= 1.5 * (double)total_ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold),         cmocka_unit_test(test_bytes_rule),
        cmocka_unit_test(test_nothing_pending),   cmocka_unit_test(test_quiet_and_budget),
        cmocka_unit_test(test_typing_simulation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
