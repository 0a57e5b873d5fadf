/*
 * Unit tests of quire_token: a round trip, and every attack of the security checklist that
 * concerns token parsing — alg none, HS256 with an empty key, other algorithms, "..", ".e30.",
 * a 1 MB token, expired, not yet valid, wrong iss/aud/typ, unknown kid, tampering, duplicate
 * header members, key rotation, and refusing to start without a strong key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quire_token.h"

#define NOW 1800000000LL
/* 32 bytes each, base64url */
#define KEY_A "ka=QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE"
#define KEY_B "kb=QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI"

static quire_tokens_t *tokens(const char *keys)
{
    char err[256];
    quire_tokens_t *t = quire_tokens_new(keys, "quire", "quire", err, sizeof err);
    if (!t)
        fail_msg("%s", err);
    return t;
}

static int verify(quire_tokens_t *t, const char *tok, int64_t now, quire_identity_t *id, char *why,
                  size_t whylen)
{
    return quire_tokens_verify(t, tok, now, id, why, whylen);
}

/* Builds header.payload.signature by hand, HMAC-SHA256 with key (len may be 0). */
static char *forge(const char *header, const char *payload, const uint8_t *key, size_t keylen,
                   int sign)
{
    static char buf[8192];
    char h[1024], p[2048], s[128];
    quire_b64url_encode((const uint8_t *)header, strlen(header), h, sizeof h);
    quire_b64url_encode((const uint8_t *)payload, strlen(payload), p, sizeof p);
    snprintf(buf, sizeof buf, "%s.%s", h, p);
    if (sign) {
        uint8_t mac[32];
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, key, keylen);
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)buf, strlen(buf));
        crypto_auth_hmacsha256_final(&st, mac);
        quire_b64url_encode(mac, 32, s, sizeof s);
        strcat(buf, ".");
        strcat(buf, s);
    } else {
        strcat(buf, ".");
    }
    return buf;
}

static const uint8_t keyA[32] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#define GOOD_PAYLOAD                                                                               \
    "{\"iss\":\"quire\",\"aud\":\"quire\",\"typ\":\"access\",\"sub\":\"alice\",\"sid\":\"s1\","    \
    "\"jti\":\"j1\",\"iat\":1800000000,\"nbf\":1800000000,\"exp\":1800000900}"

static void test_roundtrip(void **state)
{
    quire_tokens_t *t = tokens(KEY_A);
    char *tok = NULL;
    assert_int_equal(quire_tokens_issue(t, "alice", NULL, NOW, 900, &tok), QUIRE_OK);
    quire_identity_t id;
    char why[128];
    assert_int_equal(verify(t, tok, NOW + 10, &id, why, sizeof why), QUIRE_OK);
    assert_string_equal(id.user, "alice");
    assert_true(strlen(id.session) > 10);
    assert_int_equal(id.expires_at_s, NOW + 900);
    /* expired after ttl + leeway, valid within the leeway */
    assert_int_equal(verify(t, tok, NOW + 900 + QUIRE_TOKEN_LEEWAY_S - 1, &id, why, sizeof why),
                     QUIRE_OK);
    assert_int_equal(verify(t, tok, NOW + 900 + QUIRE_TOKEN_LEEWAY_S, &id, why, sizeof why),
                     QUIRE_ERR_UNAUTHENTICATED);
    assert_string_equal(why, "token expired");
    /* not yet valid */
    assert_int_equal(verify(t, tok, NOW - QUIRE_TOKEN_LEEWAY_S - 1, &id, why, sizeof why),
                     QUIRE_ERR_UNAUTHENTICATED);
    assert_string_equal(why, "token not yet valid");
    /* tampered payload: flip one character */
    char *bad = strdup(tok);
    char *p = strchr(bad, '.') + 5;
    *p = *p == 'A' ? 'B' : 'A';
    assert_int_equal(verify(t, bad, NOW, &id, why, sizeof why), QUIRE_ERR_UNAUTHENTICATED);
    free(bad);
    /* invalid users are not issued */
    char *none = NULL;
    assert_int_equal(quire_tokens_issue(t, "bad user", NULL, NOW, 900, &none), QUIRE_ERR_INVALID);
    assert_int_equal(quire_tokens_issue(t, "", NULL, NOW, 900, &none), QUIRE_ERR_INVALID);
    free(tok);
    quire_tokens_destroy(t);
}

static void test_forged_good_is_accepted(void **state)
{
    /* The forge helper itself is right: a correctly forged token with the real key verifies. */
    quire_tokens_t *t = tokens(KEY_A);
    quire_identity_t id;
    char why[128];
    char *tok =
        forge("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"ka\"}", GOOD_PAYLOAD, keyA, 32, 1);
    assert_int_equal(verify(t, tok, NOW, &id, why, sizeof why), QUIRE_OK);
    assert_string_equal(id.user, "alice");
    quire_tokens_destroy(t);
}

static void expect_refused(quire_tokens_t *t, const char *tok, const char *reason)
{
    quire_identity_t id;
    char why[128] = "";
    assert_int_equal(verify(t, tok, NOW, &id, why, sizeof why), QUIRE_ERR_UNAUTHENTICATED);
    if (reason && !strstr(why, reason))
        fail_msg("expected reason \"%s\", got \"%s\"", reason, why);
}

static void test_attacks(void **state)
{
    quire_tokens_t *t = tokens(KEY_A);
    expect_refused(
        t, forge("{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"ka\"}", GOOD_PAYLOAD, NULL, 0, 0),
        "three non-empty");
    expect_refused(t,
                   forge("{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"ka\"}", GOOD_PAYLOAD,
                         (const uint8_t *)"", 0, 1),
                   "not HS256");
    /* HS256 signed with an empty key */
    expect_refused(t,
                   forge("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"ka\"}", GOOD_PAYLOAD,
                         (const uint8_t *)"", 0, 1),
                   "signature");
    /* algorithm confusion: RS256/ES256 headers are never accepted */
    expect_refused(
        t, forge("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"ka\"}", GOOD_PAYLOAD, keyA, 32, 1),
        "not HS256");
    expect_refused(
        t, forge("{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"ka\"}", GOOD_PAYLOAD, keyA, 32, 1),
        "not HS256");
    /* duplicate alg member, extra members, jku, missing kid, unknown kid */
    expect_refused(t,
                   forge("{\"alg\":\"HS256\",\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"ka\"}",
                         GOOD_PAYLOAD, keyA, 32, 1),
                   NULL);
    expect_refused(t,
                   forge("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"ka\",\"jku\":\"http://x\"}",
                         GOOD_PAYLOAD, keyA, 32, 1),
                   "unexpected members");
    expect_refused(t, forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD_PAYLOAD, keyA, 32, 1),
                   "unexpected members");
    expect_refused(t,
                   forge("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"../../etc/passwd\"}",
                         GOOD_PAYLOAD, keyA, 32, 1),
                   "not configured");
    /* shapes that crash libjwt 1.10 */
    expect_refused(t, "..", "three non-empty");
    expect_refused(t, ".e30.", "three non-empty");
    expect_refused(t, "a.b", "three non-empty");
    expect_refused(t, "a.b.c.d", "more than three");
    expect_refused(t, "", "three non-empty");
    expect_refused(t, "eyJ!.e30.abc", "outside base64url");
    expect_refused(t, NULL, "no token");
    /* 1 MB token */
    char *big = malloc(1 << 20);
    memset(big, 'A', (1 << 20) - 1);
    big[1000] = '.';
    big[2000] = '.';
    big[(1 << 20) - 1] = '\0';
    expect_refused(t, big, "too long");
    free(big);
    /* claims: wrong iss, aud, typ (a refresh token type), missing sub */
    const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"ka\"}";
    expect_refused(t,
                   forge(hdr,
                         "{\"iss\":\"evil\",\"aud\":\"quire\",\"typ\":\"access\",\"sub\":\"a\","
                         "\"sid\":\"s\",\"jti\":\"j\",\"iat\":1800000000,\"nbf\":1800000000,"
                         "\"exp\":1800000900}",
                         keyA, 32, 1),
                   "issuer");
    expect_refused(t,
                   forge(hdr,
                         "{\"iss\":\"quire\",\"aud\":\"other\",\"typ\":\"access\",\"sub\":\"a\","
                         "\"sid\":\"s\",\"jti\":\"j\",\"iat\":1800000000,\"nbf\":1800000000,"
                         "\"exp\":1800000900}",
                         keyA, 32, 1),
                   "audience");
    expect_refused(t,
                   forge(hdr,
                         "{\"iss\":\"quire\",\"aud\":\"quire\",\"typ\":\"refresh\",\"sub\":\"a\","
                         "\"sid\":\"s\",\"jti\":\"j\",\"iat\":1800000000,\"nbf\":1800000000,"
                         "\"exp\":1800000900}",
                         keyA, 32, 1),
                   "not an access token");
    expect_refused(t,
                   forge(hdr,
                         "{\"iss\":\"quire\",\"aud\":\"quire\",\"typ\":\"access\",\"sid\":\"s\","
                         "\"jti\":\"j\",\"iat\":1800000000,\"nbf\":1800000000,\"exp\":1800000900}",
                         keyA, 32, 1),
                   "subject");
    expect_refused(t,
                   forge(hdr,
                         "{\"iss\":\"quire\",\"aud\":\"quire\",\"typ\":\"access\",\"sub\":\"a\","
                         "\"sid\":\"s\",\"jti\":\"j\",\"iat\":1800000000,\"nbf\":1800000000}",
                         keyA, 32, 1),
                   "lacks exp");
    /* an opaque refresh token (random base64url, no dots) is not an access token */
    expect_refused(t, "Zm9vYmFyYmF6cXV4cXV1eHh4eHh4eHh4eHh4eHh4eHh4eHh4", "three non-empty");
    quire_tokens_destroy(t);
}

static void test_key_rotation(void **state)
{
    quire_tokens_t *old = tokens(KEY_A);
    char *tok = NULL;
    assert_int_equal(quire_tokens_issue(old, "bob", "sess", NOW, 900, &tok), QUIRE_OK);
    quire_tokens_t *both = tokens(KEY_B "," KEY_A); /* new key first: signs; old still verifies */
    quire_identity_t id;
    char why[128];
    assert_int_equal(verify(both, tok, NOW, &id, why, sizeof why), QUIRE_OK);
    assert_string_equal(id.session, "sess");
    quire_tokens_t *newonly = tokens(KEY_B);
    assert_int_equal(verify(newonly, tok, NOW, &id, why, sizeof why), QUIRE_ERR_UNAUTHENTICATED);
    free(tok);
    /* a token of the new key does not verify with only the old one */
    assert_int_equal(quire_tokens_issue(both, "bob", NULL, NOW, 900, &tok), QUIRE_OK);
    assert_int_equal(verify(old, tok, NOW, &id, why, sizeof why), QUIRE_ERR_UNAUTHENTICATED);
    free(tok);
    quire_tokens_destroy(old);
    quire_tokens_destroy(both);
    quire_tokens_destroy(newonly);
}

static void test_refuses_weak_keys(void **state)
{
    char err[256];
    assert_null(quire_tokens_new(NULL, "quire", "quire", err, sizeof err));
    assert_null(quire_tokens_new("", "quire", "quire", err, sizeof err));
    assert_non_null(strstr(err, "no token signing key"));
    assert_null(quire_tokens_new("k=c2hvcnQ", "quire", "quire", err, sizeof err));
    assert_non_null(strstr(err, "at least 32"));
    assert_null(quire_tokens_new("=QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE", "quire", "quire",
                                 err, sizeof err));
    assert_null(quire_tokens_new("k=not*base64*at*all*not*base64*at*all*xxxxxxxx", "quire", "quire",
                                 err, sizeof err));
    char line[128];
    assert_int_equal(quire_tokens_keygen(line, sizeof line), QUIRE_OK);
    quire_tokens_t *t = quire_tokens_new(line, "quire", "quire", err, sizeof err);
    assert_non_null(t);
    quire_tokens_destroy(t);
}

static void test_b64(void **state)
{
    uint8_t out[16];
    char enc[32];
    assert_int_equal(quire_b64url_encode((const uint8_t *)"\xfb\xff", 2, enc, sizeof enc), 3);
    assert_string_equal(enc, "-_8");
    assert_int_equal(quire_b64url_decode("-_8", 3, out, sizeof out), 2);
    assert_int_equal(quire_b64url_decode("+/8=", 4, out, sizeof out), 2);
    assert_int_equal(quire_b64url_decode("A", 1, out, sizeof out), -1);
    assert_int_equal(quire_b64url_decode("AAAAAAAAAAAAAAAAAAAAAAAA", 24, out, 4), -1);
}

/* CSRF tokens: per session, stable, accepted under any configured key (rotation), refused for
 * another session, another length, or nothing; MACs are separated by purpose. */
static void test_csrf_and_mac(void **state)
{
    quire_tokens_t *ab = tokens(KEY_A "," KEY_B), *b = tokens(KEY_B), *a = tokens(KEY_A);
    char c1[QUIRE_CSRF_TOKEN_LEN + 1], c2[QUIRE_CSRF_TOKEN_LEN + 1], cb[QUIRE_CSRF_TOKEN_LEN + 1];
    assert_int_equal(quire_tokens_csrf(ab, "session-1", c1, sizeof c1), QUIRE_OK);
    assert_int_equal(strlen(c1), QUIRE_CSRF_TOKEN_LEN);
    assert_int_equal(quire_tokens_csrf(a, "session-1", c2, sizeof c2), QUIRE_OK);
    assert_string_equal(c1, c2); /* the signing key decides; a is ab's first key */
    assert_true(quire_tokens_csrf_ok(ab, "session-1", c1));
    assert_false(quire_tokens_csrf_ok(ab, "session-2", c1));
    assert_int_equal(quire_tokens_csrf(b, "session-1", cb, sizeof cb), QUIRE_OK);
    assert_string_not_equal(cb, c1);
    assert_true(quire_tokens_csrf_ok(ab, "session-1", cb)); /* a token made before a rotation */
    assert_false(quire_tokens_csrf_ok(a, "session-1", cb));
    assert_false(quire_tokens_csrf_ok(ab, "session-1", NULL));
    assert_false(quire_tokens_csrf_ok(ab, "session-1", ""));
    assert_false(quire_tokens_csrf_ok(ab, "", c1));
    char longer[64];
    snprintf(longer, sizeof longer, "%sA", c1);
    assert_false(quire_tokens_csrf_ok(ab, "session-1", longer));
    c2[5] = c2[5] == 'A' ? 'B' : 'A';
    assert_false(quire_tokens_csrf_ok(ab, "session-1", c2));
    assert_int_equal(quire_tokens_csrf(ab, "session-1", c2, 10), QUIRE_ERR_INVALID);

    uint8_t m1[32], m2[32];
    assert_int_equal(quire_tokens_mac(ab, 0, "csrf", "x", 1, m1), QUIRE_OK);
    assert_int_equal(quire_tokens_mac(ab, 0, "refresh", "x", 1, m2), QUIRE_OK);
    assert_memory_not_equal(m1, m2, 32);
    assert_int_equal(quire_tokens_mac(ab, 1, "csrf", "x", 1, m2), QUIRE_OK);
    assert_memory_not_equal(m1, m2, 32);
    assert_int_equal(quire_tokens_mac(ab, 2, "csrf", "x", 1, m2), QUIRE_ERR_NOT_FOUND);
    assert_int_equal(quire_tokens_mac(ab, -1, "csrf", "x", 1, m2), QUIRE_ERR_NOT_FOUND);
    quire_tokens_destroy(ab);
    quire_tokens_destroy(a);
    quire_tokens_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),         cmocka_unit_test(test_forged_good_is_accepted),
        cmocka_unit_test(test_attacks),           cmocka_unit_test(test_key_rotation),
        cmocka_unit_test(test_refuses_weak_keys), cmocka_unit_test(test_b64),
        cmocka_unit_test(test_csrf_and_mac),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
