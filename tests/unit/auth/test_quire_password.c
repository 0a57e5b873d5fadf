/*
 * Unit tests of quire_password: Argon2id hashes round-trip, carry their parameters, refuse wrong
 * passwords, malformed and non-Argon2id hashes, and passwords out of bounds; a rehash is asked for
 * when the parameters grew.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "quire_password.h"

static const quire_password_params_t small = {1, 8192}; /* the least libsodium allows */

static void test_roundtrip(void **state)
{
    char h[QUIRE_PASSWORD_HASH_MAX];
    const char *pw = "correct horse battery staple";
    assert_int_equal(quire_password_hash(pw, strlen(pw), &small, h, sizeof h), QUIRE_OK);
    assert_true(strncmp(h, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0);
    assert_null(strstr(h, pw));
    assert_true(quire_password_verify(h, pw, strlen(pw)));
    assert_false(quire_password_verify(h, pw, strlen(pw) - 1));
    assert_false(quire_password_verify(h, "Correct horse battery staple", strlen(pw)));
    char h2[QUIRE_PASSWORD_HASH_MAX];
    assert_int_equal(quire_password_hash(pw, strlen(pw), &small, h2, sizeof h2), QUIRE_OK);
    assert_string_not_equal(h, h2); /* salted */
    /* binary passwords with NUL bytes are passwords too */
    const char bin[] = "abc\0def\0ghi";
    assert_int_equal(quire_password_hash(bin, sizeof bin - 1, &small, h2, sizeof h2), QUIRE_OK);
    assert_true(quire_password_verify(h2, bin, sizeof bin - 1));
    assert_false(quire_password_verify(h2, "abc", 3));
}

static void test_refusals(void **state)
{
    char h[QUIRE_PASSWORD_HASH_MAX];
    assert_int_equal(quire_password_hash("short", 5, &small, h, sizeof h), QUIRE_ERR_INVALID);
    assert_int_equal(quire_password_hash(NULL, 10, &small, h, sizeof h), QUIRE_ERR_INVALID);
    static char huge[QUIRE_PASSWORD_MAX + 2];
    memset(huge, 'x', sizeof huge - 1);
    assert_int_equal(quire_password_hash(huge, sizeof huge - 1, &small, h, sizeof h),
                     QUIRE_ERR_INVALID);
    quire_password_params_t bad = {0, 8192};
    assert_int_equal(quire_password_hash("long enough", 11, &bad, h, sizeof h), QUIRE_ERR_INVALID);
    bad = (quire_password_params_t){1, 1024};
    assert_int_equal(quire_password_hash("long enough", 11, &bad, h, sizeof h), QUIRE_ERR_INVALID);
    assert_int_equal(quire_password_hash("long enough", 11, &small, h, 10), QUIRE_ERR_INVALID);

    /* hashes that are not Argon2id, or not hashes at all, never match */
    assert_false(quire_password_verify(NULL, "x", 1));
    assert_false(quire_password_verify("", "", 0));
    assert_false(
        quire_password_verify("$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "x", 1));
    assert_false(quire_password_verify("$argon2id$v=19$m=8,t=1,p=1$", "x", 1));
    assert_false(quire_password_verify("plaintext password", "plaintext password", 18));
    assert_false(quire_password_verify("$argon2id$v=19$m=8,t=1,p=1$AAAA$AAAA", "x", 1));
    char longhash[300];
    memset(longhash, 'A', sizeof longhash - 1);
    memcpy(longhash, "$argon2id$", 10);
    longhash[sizeof longhash - 1] = '\0';
    assert_false(quire_password_verify(longhash, "x", 1));
}

static void test_rehash_and_dummy(void **state)
{
    char h[QUIRE_PASSWORD_HASH_MAX], d[QUIRE_PASSWORD_HASH_MAX];
    assert_int_equal(quire_password_hash("long enough", 11, &small, h, sizeof h), QUIRE_OK);
    assert_false(quire_password_needs_rehash(h, &small));
    quire_password_params_t more = {2, 16384};
    assert_true(quire_password_needs_rehash(h, &more));
    assert_true(quire_password_needs_rehash("garbage", &small));
    assert_int_equal(quire_password_dummy(&small, d, sizeof d), QUIRE_OK);
    assert_false(quire_password_verify(d, "long enough", 11));
    assert_false(quire_password_verify(d, "", 0));
    quire_password_params_t def = quire_password_default_params();
    assert_true(def.ops >= 2 && def.mem_bytes >= (64u << 20));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_rehash_and_dummy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
