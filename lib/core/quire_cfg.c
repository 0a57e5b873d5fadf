/*
 * quire_cfg — the table-driven configuration parser. Defaults are applied first, then the
 * environment, then flags, so each later source overrides the earlier one; bounds are checked on
 * every source, so a bad environment variable fails as clearly as a bad flag.
 */
#include "quire_cfg.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void *field(const quire_cfg_opt_t *opt, void *conf)
{
    return (char *)conf + opt->offset;
}

static void env_name(const char *name, char *buf, size_t len)
{
    size_t i = 0;
    const char prefix[] = "QUIRE_";
    for (; prefix[i] && i + 1 < len; i++)
        buf[i] = prefix[i];
    for (const char *p = name; *p && i + 1 < len; p++)
        buf[i++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    buf[i] = '\0';
}

static quire_err_t parse_int_suffix(const char *s, int64_t *ret, const char *const *suffixes,
                                    const int64_t *mults, size_t nsuf)
{
    if (!s || !*s)
        return QUIRE_ERR_INVALID;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return QUIRE_ERR_INVALID;
    int64_t mult = 1;
    if (*end) {
        size_t i = 0;
        for (; i < nsuf; i++)
            if (strcasecmp(end, suffixes[i]) == 0)
                break;
        if (i == nsuf)
            return QUIRE_ERR_INVALID;
        mult = mults[i];
    }
    if (v != 0 && (v > INT64_MAX / mult || v < INT64_MIN / mult))
        return QUIRE_ERR_INVALID;
    *ret = (int64_t)v * mult;
    return QUIRE_OK;
}

quire_err_t quire_cfg_parse_ms(const char *s, int64_t *ret_ms)
{
    static const char *const suf[] = {"ms", "s", "m", "h"};
    static const int64_t mul[] = {1, 1000, 60000, 3600000};
    return parse_int_suffix(s, ret_ms, suf, mul, 4);
}

quire_err_t quire_cfg_parse_bytes(const char *s, int64_t *ret_bytes)
{
    static const char *const suf[] = {"b", "k", "kib", "kb", "m", "mib", "mb", "g", "gib", "gb"};
    static const int64_t mul[] = {1,       1024,    1024,       1000,       1048576,
                                  1048576, 1000000, 1073741824, 1073741824, 1000000000};
    return parse_int_suffix(s, ret_bytes, suf, mul, 10);
}

static quire_err_t parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return QUIRE_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return QUIRE_OK;
        }
    }
    return QUIRE_ERR_INVALID;
}

quire_err_t quire_cfg_set(const quire_cfg_opt_t *opt, void *conf, const char *value, char *errbuf,
                          size_t errlen)
{
    int64_t v = 0;
    quire_err_t err = QUIRE_OK;
    switch (opt->type) {
    case QUIRE_CFG_STRING: {
        char *copy = strdup(value);
        if (!copy)
            return QUIRE_ERR_NOMEM;
        char **slot = field(opt, conf);
        free(*slot);
        *slot = copy;
        return QUIRE_OK;
    }
    case QUIRE_CFG_BOOL: {
        bool b;
        if (parse_bool(value, &b) != QUIRE_OK) {
            snprintf(errbuf, errlen, "invalid value for --%s: \"%s\" (expected true or false)",
                     opt->name, value);
            return QUIRE_ERR_CONFIG;
        }
        *(bool *)field(opt, conf) = b;
        return QUIRE_OK;
    }
    case QUIRE_CFG_INT:
        err = parse_int_suffix(value, &v, NULL, NULL, 0);
        break;
    case QUIRE_CFG_MS:
        err = quire_cfg_parse_ms(value, &v);
        break;
    case QUIRE_CFG_BYTES:
        err = quire_cfg_parse_bytes(value, &v);
        break;
    }
    if (err != QUIRE_OK) {
        snprintf(errbuf, errlen, "invalid value for --%s: \"%s\"", opt->name, value);
        return QUIRE_ERR_CONFIG;
    }
    if (opt->min <= opt->max && (v < opt->min || v > opt->max)) {
        snprintf(errbuf, errlen, "--%s must be between %" PRId64 " and %" PRId64 ", not %" PRId64,
                 opt->name, opt->min, opt->max, v);
        return QUIRE_ERR_CONFIG;
    }
    *(int64_t *)field(opt, conf) = v;
    return QUIRE_OK;
}

static const quire_cfg_opt_t *find_opt(const quire_cfg_opt_t *opts, size_t nopts, const char *name,
                                       size_t namelen)
{
    for (size_t i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == namelen && strncmp(opts[i].name, name, namelen) == 0)
            return &opts[i];
    return NULL;
}

quire_err_t quire_cfg_parse(const quire_cfg_opt_t *opts, size_t nopts, void *conf, int argc,
                            char **argv, int *ret_npos, bool *ret_help, char *errbuf, size_t errlen)
{
    bool *seen = calloc(nopts ? nopts : 1, sizeof *seen);
    if (!seen)
        return QUIRE_ERR_NOMEM;
    quire_err_t err = QUIRE_OK;
    bool help = false;
    int npos = 0;

    for (size_t i = 0; i < nopts && err == QUIRE_OK; i++) {
        char env[128];
        env_name(opts[i].name, env, sizeof env);
        const char *v = (opts[i].flags & QUIRE_CFG_NO_ENV) ? NULL : getenv(env);
        if (v) {
            err = quire_cfg_set(&opts[i], conf, v, errbuf, errlen);
            if (err != QUIRE_OK)
                snprintf(errbuf, errlen, "invalid value in environment variable %s", env);
            seen[i] = true;
        } else if (opts[i].def) {
            err = quire_cfg_set(&opts[i], conf, opts[i].def, errbuf, errlen);
        }
    }

    bool only_positional = false;
    for (int a = 0; a < argc && err == QUIRE_OK; a++) {
        char *arg = argv[a];
        if (only_positional || arg[0] != '-' || arg[1] != '-' || arg[2] == '\0') {
            if (!only_positional && strcmp(arg, "--") == 0) {
                only_positional = true;
                continue;
            }
            argv[npos++] = arg;
            continue;
        }
        const char *name = arg + 2;
        if (strcmp(name, "help") == 0) {
            help = true;
            continue;
        }
        const char *eq = strchr(name, '=');
        size_t namelen = eq ? (size_t)(eq - name) : strlen(name);
        const quire_cfg_opt_t *opt = find_opt(opts, nopts, name, namelen);
        const char *value = eq ? eq + 1 : NULL;
        if (!opt && !eq && strncmp(name, "no-", 3) == 0) {
            opt = find_opt(opts, nopts, name + 3, namelen - 3);
            if (opt && opt->type == QUIRE_CFG_BOOL)
                value = "false";
            else
                opt = NULL;
        }
        if (!opt) {
            snprintf(errbuf, errlen, "unrecognized option --%.*s", (int)namelen, name);
            err = QUIRE_ERR_CONFIG;
            break;
        }
        if (!value) {
            if (opt->type == QUIRE_CFG_BOOL) {
                value = "true";
            } else if (a + 1 < argc) {
                value = argv[++a];
            } else {
                snprintf(errbuf, errlen, "option --%s needs a value", opt->name);
                err = QUIRE_ERR_CONFIG;
                break;
            }
        }
        err = quire_cfg_set(opt, conf, value, errbuf, errlen);
        seen[opt - opts] = true;
    }

    for (size_t i = 0; i < nopts && err == QUIRE_OK && !help; i++) {
        if ((opts[i].flags & QUIRE_CFG_REQUIRED) && !seen[i] && !opts[i].def) {
            snprintf(errbuf, errlen, "option --%s is required", opts[i].name);
            err = QUIRE_ERR_CONFIG;
        }
    }
    free(seen);
    if (err == QUIRE_OK) {
        *ret_npos = npos;
        *ret_help = help;
    }
    return err;
}

void quire_cfg_deinit(const quire_cfg_opt_t *opts, size_t nopts, void *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < nopts; i++) {
        if (opts[i].type == QUIRE_CFG_STRING) {
            char **slot = field(&opts[i], conf);
            free(*slot);
            *slot = NULL;
        }
    }
}

static const char *type_name(quire_cfg_type_t t)
{
    switch (t) {
    case QUIRE_CFG_STRING:
        return "string";
    case QUIRE_CFG_INT:
        return "int";
    case QUIRE_CFG_BOOL:
        return "bool";
    case QUIRE_CFG_MS:
        return "duration";
    case QUIRE_CFG_BYTES:
        return "size";
    }
    return "?";
}

void quire_cfg_print_help(FILE *out, const quire_cfg_opt_t *opts, size_t nopts)
{
    fprintf(out, "Options (flag, then environment variable, then default):\n");
    for (size_t i = 0; i < nopts; i++) {
        char env[128];
        env_name(opts[i].name, env, sizeof env);
        fprintf(out, "  --%-22s %-8s %s\n", opts[i].name, type_name(opts[i].type), opts[i].help);
        if (opts[i].flags & QUIRE_CFG_NO_ENV)
            fprintf(out, "  %-33s flag only", "");
        else
            fprintf(out, "  %-33s env %s", "", env);
        if (opts[i].def && !(opts[i].flags & QUIRE_CFG_SECRET))
            fprintf(out, ", default \"%s\"", opts[i].def);
        if (opts[i].flags & QUIRE_CFG_REQUIRED)
            fprintf(out, ", required");
        fputc('\n', out);
    }
    fprintf(out, "  --%-22s %-8s %s\n", "help", "", "print this help");
}

void quire_cfg_print_markdown(FILE *out, const quire_cfg_opt_t *opts, size_t nopts)
{
    fprintf(out, "| flag | environment | type | default | description |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < nopts; i++) {
        char env[128];
        env_name(opts[i].name, env, sizeof env);
        const char *def = opts[i].def ? opts[i].def : "";
        if (opts[i].flags & QUIRE_CFG_SECRET)
            def = opts[i].def ? "(hidden)" : "";
        if (opts[i].flags & QUIRE_CFG_NO_ENV)
            snprintf(env, sizeof env, "(flag only)");
        fprintf(out, "| `--%s` | `%s` | %s | %s%s%s | %s%s |\n", opts[i].name, env,
                type_name(opts[i].type), *def ? "`" : "", def, *def ? "`" : "", opts[i].help,
                (opts[i].flags & QUIRE_CFG_REQUIRED) ? " (required)" : "");
    }
}
