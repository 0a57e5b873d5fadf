/*
 * Unit tests of quire_access and quire_account without a database: role names, invalid ids that
 * never reach PostgreSQL, the control-message parser feeding the caches (a revoked session is
 * refused from the cache alone), the non-blocking cache queries, and the refresh-token shape and
 * successor derivation. The database side is tests/integration/auth/it_auth_pg.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "quire_access.h"
#include "quire_account.h"

#define KEY_A "ka=QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE"
#define KEY_B "kb=QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI"

static int64_t fake_now;
static int64_t fake_clock(void *opaque)
{
    return fake_now;
}

static quire_access_t *access_nodb(void)
{
    /* no pool: any call that reached PostgreSQL would crash the test */
    quire_access_conf_t c = {.cache_ttl_ms = 1000, .clock_ms = fake_clock};
    quire_access_t *a = quire_access_new(&c);
    assert_non_null(a);
    return a;
}

static void test_roles(void **state)
{
    quire_role_t r = QUIRE_ROLE_NONE;
    assert_string_equal(quire_role_name(QUIRE_ROLE_OWNER), "owner");
    assert_string_equal(quire_role_name(QUIRE_ROLE_EDITOR), "editor");
    assert_string_equal(quire_role_name(QUIRE_ROLE_VIEWER), "viewer");
    assert_string_equal(quire_role_name(QUIRE_ROLE_NONE), "none");
    assert_string_equal(quire_role_name((quire_role_t)42), "none");
    assert_int_equal(quire_role_parse("editor", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_EDITOR);
    assert_int_equal(quire_role_parse("none", &r), QUIRE_ERR_INVALID);
    assert_int_equal(quire_role_parse("Editor", &r), QUIRE_ERR_INVALID);
    assert_int_equal(quire_role_parse("editor'--", &r), QUIRE_ERR_INVALID);
    assert_int_equal(quire_role_parse(NULL, &r), QUIRE_ERR_INVALID);
    assert_true(QUIRE_ROLE_OWNER > QUIRE_ROLE_EDITOR && QUIRE_ROLE_EDITOR > QUIRE_ROLE_VIEWER);
}

static void test_invalid_ids_never_query(void **state)
{
    quire_access_t *a = access_nodb();
    quire_role_t r = QUIRE_ROLE_OWNER;
    assert_int_equal(quire_access_role(a, "doc", "bad user'", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_NONE);
    assert_int_equal(quire_access_role(a, "", "alice", &r), QUIRE_OK);
    assert_int_equal(r, QUIRE_ROLE_NONE);
    assert_int_equal(quire_access_claim(a, "doc", "", &r), QUIRE_ERR_INVALID);
    assert_int_equal(quire_access_set_role(a, "doc", "bob", QUIRE_ROLE_OWNER, "alice"),
                     QUIRE_ERR_INVALID);
    assert_int_equal(quire_access_set_role(a, "doc", "bob", QUIRE_ROLE_EDITOR, "x y"),
                     QUIRE_ERR_INVALID);
    yjs_client_range_t rg = {1, 0, 1};
    assert_int_equal(quire_access_check_clients(a, "doc", "", &rg, 1), QUIRE_ERR_INVALID);
    assert_int_equal(quire_access_session(a, "", 0), QUIRE_ERR_UNAUTHENTICATED);
    char longsid[64];
    memset(longsid, 'a', sizeof longsid - 1);
    longsid[sizeof longsid - 1] = '\0';
    assert_int_equal(quire_access_session(a, longsid, 0), QUIRE_ERR_UNAUTHENTICATED);
    quire_access_destroy(a);
}

static void test_control_messages(void **state)
{
    quire_access_t *a = access_nodb();
    /* a revocation is known from the message alone, forever (no expiry on the fake clock) */
    quire_access_forget(a, "session:abc");
    fake_now = 1;
    assert_int_equal(quire_access_session(a, "abc", 100), QUIRE_ERR_UNAUTHENTICATED);
    fake_now = INT64_MAX / 2;
    assert_int_equal(quire_access_session(a, "abc", 100), QUIRE_ERR_UNAUTHENTICATED);
    /* garbage is ignored */
    const char *junk[] = {
        "",          "session:",          "user:",    "doc:",    "member:", "member:d",
        "member::u", "member:d:bad user", "nonsense", "session", NULL};
    for (int i = 0; junk[i]; i++)
        quire_access_forget(a, junk[i]);
    quire_access_forget(a, NULL);
    quire_access_forget(a, "doc:d1");
    quire_access_forget(a, "member:d1:alice");
    quire_access_forget(a, "user:alice");
    quire_role_t r;
    assert_int_equal(quire_access_role_cached(a, "d1", "alice", &r), QUIRE_ERR_NOT_FOUND);
    yjs_client_range_t rg[] = {{7, 0, 3}, {7, 5, 9}, {9, 0, 1}};
    assert_int_equal(quire_access_clients_cached(a, "d1", "alice", rg, 3), QUIRE_ERR_NOT_FOUND);
    assert_int_equal(quire_access_clients_cached(a, "d1", "alice", rg, 0), QUIRE_OK);
    quire_access_destroy(a);
    quire_access_destroy(NULL);
}

static void test_refresh_tokens(void **state)
{
    char err[256];
    quire_tokens_t *ab = quire_tokens_new(KEY_A "," KEY_B, "quire", "quire", err, sizeof err);
    assert_non_null(ab);
    const char *tok = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_true(quire_refresh_token_valid(tok));
    assert_false(quire_refresh_token_valid("AAAA"));
    assert_false(quire_refresh_token_valid(NULL));
    assert_false(quire_refresh_token_valid("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+"));
    assert_false(quire_refresh_token_valid("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'"));
    assert_false(quire_refresh_token_valid("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    char n1[QUIRE_REFRESH_TOKEN_LEN + 1], n2[QUIRE_REFRESH_TOKEN_LEN + 1];
    char n3[QUIRE_REFRESH_TOKEN_LEN + 1];
    assert_int_equal(quire_refresh_successor(ab, 0, tok, n1), QUIRE_OK);
    assert_int_equal(quire_refresh_successor(ab, 0, tok, n2), QUIRE_OK);
    assert_string_equal(n1, n2); /* recomputable: the two-tabs rule depends on it */
    assert_true(quire_refresh_token_valid(n1));
    assert_string_not_equal(n1, tok);
    assert_int_equal(quire_refresh_successor(ab, 1, tok, n3), QUIRE_OK);
    assert_string_not_equal(n1, n3);
    assert_int_equal(quire_refresh_successor(ab, 2, tok, n3), QUIRE_ERR_NOT_FOUND);
    assert_int_equal(quire_refresh_successor(ab, 0, n1, n2), QUIRE_OK);
    assert_string_not_equal(n2, n1);
    quire_tokens_destroy(ab);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_invalid_ids_never_query),
        cmocka_unit_test(test_control_messages),
        cmocka_unit_test(test_refresh_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
