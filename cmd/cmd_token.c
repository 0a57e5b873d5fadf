/* quire token keygen|issue|verify — access tokens for bots, load tests and operators
 * (DESIGN §7: non-browser clients use a bearer token). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quire_cmd.h"
#include "quire_log.h"
#include "quire_token.h"

typedef struct token_conf_s {
    quire_common_conf_t common;
    quire_token_conf_t token;
    char *user;
    char *session;
    int64_t ttl_ms;
} token_conf_t;

static const quire_cfg_opt_t token_opts[] = {
    QUIRE_CFG_COMMON_OPTS(token_conf_t),
    QUIRE_CFG_TOKEN_OPTS(token_conf_t, token),
    {"user", QUIRE_CFG_STRING, NULL, 0, -1, offsetof(token_conf_t, user), 0,
     "the user the token speaks for (issue)"},
    {"session", QUIRE_CFG_STRING, NULL, 0, -1, offsetof(token_conf_t, session), 0,
     "session id to embed (default: a new random one)"},
    {"ttl", QUIRE_CFG_MS, "15m", 1000, 366LL * 24 * 3600 * 1000, offsetof(token_conf_t, ttl_ms), 0,
     "lifetime of an issued token"},
};

static quire_tokens_t *load(token_conf_t *conf)
{
    char err[256];
    quire_tokens_t *t = quire_tokens_new(conf->token.keys, conf->token.issuer, conf->token.audience,
                                         err, sizeof err);
    if (!t)
        fprintf(stderr, "quire token: %s\n", err);
    return t;
}

static int issue_run(void *confp, int argc, char **argv)
{
    token_conf_t *conf = confp;
    if (!conf->user || !quire_user_id_valid(conf->user)) {
        fprintf(stderr, "quire token issue: --user must be 1-64 of [A-Za-z0-9._@+-]\n");
        return 2;
    }
    quire_tokens_t *t = load(conf);
    if (!t)
        return 2;
    char *tok = NULL;
    quire_err_t err = quire_tokens_issue(t, conf->user, conf->session, (int64_t)time(NULL),
                                         conf->ttl_ms / 1000, &tok);
    quire_tokens_destroy(t);
    if (err) {
        fprintf(stderr, "quire token issue: %s\n", quire_err_str(err));
        return 1;
    }
    printf("%s\n", tok);
    free(tok);
    return 0;
}

static int verify_run(void *confp, int argc, char **argv)
{
    token_conf_t *conf = confp;
    if (argc != 1) {
        fprintf(stderr, "quire token verify: give exactly one token\n");
        return 2;
    }
    quire_tokens_t *t = load(conf);
    if (!t)
        return 2;
    quire_identity_t id;
    char why[256];
    quire_err_t err = quire_tokens_verify(t, argv[0], (int64_t)time(NULL), &id, why, sizeof why);
    quire_tokens_destroy(t);
    if (err) {
        printf("{\"valid\":false,\"reason\":\"%s\"}\n", why);
        return 1;
    }
    printf("{\"valid\":true,\"user\":\"%s\",\"session\":\"%s\",\"expires_at\":%lld}\n", id.user,
           id.session, (long long)id.expires_at_s);
    return 0;
}

static int keygen_run(void *confp, int argc, char **argv)
{
    char line[128];
    if (quire_tokens_keygen(line, sizeof line) != QUIRE_OK)
        return 1;
    printf("%s\n", line);
    return 0;
}

const quire_cmd_t quire_cmd_token_issue = {
    .name = "token issue",
    .summary = "issue an access token (bearer) for a user",
    .synopsis = "--user USER [--ttl 1h]",
    .opts = token_opts,
    .nopts = QUIRE_NOPTS(token_opts),
    .conf_size = sizeof(token_conf_t),
    .run = issue_run,
};
const quire_cmd_t quire_cmd_token_verify = {
    .name = "token verify",
    .summary = "check a token and print whom it identifies",
    .synopsis = "<token>",
    .opts = token_opts,
    .nopts = QUIRE_NOPTS(token_opts),
    .conf_size = sizeof(token_conf_t),
    .run = verify_run,
};
const quire_cmd_t quire_cmd_token_keygen = {
    .name = "token keygen",
    .summary = "print a new random token key \"kid=SECRET\" for --jwt-keys",
    .synopsis = "",
    .conf_size = 1,
    .run = keygen_run,
};
