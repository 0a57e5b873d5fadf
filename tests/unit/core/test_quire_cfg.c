/* Unit tests of quire_cfg: precedence, types, bounds, errors, positionals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quire_cfg.h"

typedef struct {
    quire_common_conf_t common;
    int64_t port;
    int64_t timeout_ms;
    int64_t max_bytes;
    bool verbose;
    char *name;
} conf_t;

static const quire_cfg_opt_t opts[] = {
    QUIRE_CFG_COMMON_OPTS(conf_t),
    {"port", QUIRE_CFG_INT, "8080", 1, 65535, offsetof(conf_t, port), 0, "port"},
    {"timeout", QUIRE_CFG_MS, "30s", 0, 3600000, offsetof(conf_t, timeout_ms), 0, "timeout"},
    {"max-bytes", QUIRE_CFG_BYTES, "1MiB", 1, INT64_MAX, offsetof(conf_t, max_bytes), 0, "cap"},
    {"verbose", QUIRE_CFG_BOOL, "false", 0, -1, offsetof(conf_t, verbose), 0, "chatty"},
    {"name", QUIRE_CFG_STRING, NULL, 0, -1, offsetof(conf_t, name), QUIRE_CFG_REQUIRED, "name"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

static int parse(conf_t *c, int argc, char **argv, int *npos, char *err, size_t errlen)
{
    bool help = false;
    memset(c, 0, sizeof *c);
    return quire_cfg_parse(opts, NOPTS, c, argc, argv, npos, &help, err, errlen);
}

static void test_defaults_and_flags(void **state)
{
    conf_t c;
    char err[256];
    int npos = -1;
    char *argv[] = {"--name",    "x",    "pos1",      "--port=9000",
                    "--verbose", "pos2", "--timeout", "250ms"};
    assert_int_equal(parse(&c, 8, argv, &npos, err, sizeof err), QUIRE_OK);
    assert_int_equal(c.port, 9000);
    assert_int_equal(c.timeout_ms, 250);
    assert_int_equal(c.max_bytes, 1048576);
    assert_true(c.verbose);
    assert_string_equal(c.name, "x");
    assert_string_equal(c.common.topic_prefix, "quire");
    assert_int_equal(npos, 2);
    assert_string_equal(argv[0], "pos1");
    assert_string_equal(argv[1], "pos2");
    quire_cfg_deinit(opts, NOPTS, &c);
    assert_null(c.name);
}

static void test_env_then_flag(void **state)
{
    conf_t c;
    char err[256];
    int npos;
    setenv("QUIRE_PORT", "7000", 1);
    setenv("QUIRE_TOPIC_PREFIX", "envprefix", 1);
    char *argv1[] = {"--name", "n"};
    assert_int_equal(parse(&c, 2, argv1, &npos, err, sizeof err), QUIRE_OK);
    assert_int_equal(c.port, 7000);
    assert_string_equal(c.common.topic_prefix, "envprefix");
    quire_cfg_deinit(opts, NOPTS, &c);

    char *argv2[] = {"--name", "n", "--port", "7001"};
    assert_int_equal(parse(&c, 4, argv2, &npos, err, sizeof err), QUIRE_OK);
    assert_int_equal(c.port, 7001); /* the flag wins over the environment */
    quire_cfg_deinit(opts, NOPTS, &c);

    setenv("QUIRE_PORT", "0", 1); /* out of bounds in the environment is an error too */
    assert_int_equal(parse(&c, 2, argv1, &npos, err, sizeof err), QUIRE_ERR_CONFIG);
    assert_non_null(strstr(err, "QUIRE_PORT"));
    quire_cfg_deinit(opts, NOPTS, &c);
    unsetenv("QUIRE_PORT");
    unsetenv("QUIRE_TOPIC_PREFIX");
}

static void test_errors(void **state)
{
    conf_t c;
    char err[256];
    int npos;
    char *a1[] = {"--name", "n", "--port", "70000"};
    assert_int_equal(parse(&c, 4, a1, &npos, err, sizeof err), QUIRE_ERR_CONFIG);
    assert_non_null(strstr(err, "between 1 and 65535"));
    quire_cfg_deinit(opts, NOPTS, &c);

    char *a2[] = {"--name", "n", "--bogus"};
    assert_int_equal(parse(&c, 3, a2, &npos, err, sizeof err), QUIRE_ERR_CONFIG);
    assert_non_null(strstr(err, "unrecognized option --bogus"));
    quire_cfg_deinit(opts, NOPTS, &c);

    char *a3[] = {"--port", "1"};
    assert_int_equal(parse(&c, 2, a3, &npos, err, sizeof err), QUIRE_ERR_CONFIG);
    assert_non_null(strstr(err, "--name is required"));
    quire_cfg_deinit(opts, NOPTS, &c);

    char *a4[] = {"--name"};
    assert_int_equal(parse(&c, 1, a4, &npos, err, sizeof err), QUIRE_ERR_CONFIG);
    assert_non_null(strstr(err, "needs a value"));
    quire_cfg_deinit(opts, NOPTS, &c);

    char *a5[] = {"--name", "n", "--timeout", "3 s"};
    assert_int_equal(parse(&c, 4, a5, &npos, err, sizeof err), QUIRE_ERR_CONFIG);
    quire_cfg_deinit(opts, NOPTS, &c);

    char *a6[] = {"--name", "n", "--verbose=maybe"};
    assert_int_equal(parse(&c, 3, a6, &npos, err, sizeof err), QUIRE_ERR_CONFIG);
    quire_cfg_deinit(opts, NOPTS, &c);
}

static void test_no_prefix_and_separator(void **state)
{
    conf_t c;
    char err[256];
    int npos;
    char *argv[] = {"--name", "n", "--verbose", "--no-verbose", "--", "--port"};
    assert_int_equal(parse(&c, 6, argv, &npos, err, sizeof err), QUIRE_OK);
    assert_false(c.verbose);
    assert_int_equal(c.port, 8080);
    assert_int_equal(npos, 1);
    assert_string_equal(argv[0], "--port");
    quire_cfg_deinit(opts, NOPTS, &c);
}

static void test_units(void **state)
{
    int64_t v;
    assert_int_equal(quire_cfg_parse_ms("5m", &v), QUIRE_OK);
    assert_int_equal(v, 300000);
    assert_int_equal(quire_cfg_parse_ms("2h", &v), QUIRE_OK);
    assert_int_equal(v, 7200000);
    assert_int_equal(quire_cfg_parse_ms("12", &v), QUIRE_OK);
    assert_int_equal(v, 12);
    assert_int_equal(quire_cfg_parse_ms("", &v), QUIRE_ERR_INVALID);
    assert_int_equal(quire_cfg_parse_ms("1fortnight", &v), QUIRE_ERR_INVALID);
    assert_int_equal(quire_cfg_parse_bytes("64KiB", &v), QUIRE_OK);
    assert_int_equal(v, 65536);
    assert_int_equal(quire_cfg_parse_bytes("2GiB", &v), QUIRE_OK);
    assert_int_equal(v, 2147483648LL);
    assert_int_equal(quire_cfg_parse_bytes("99999999999999999GiB", &v), QUIRE_ERR_INVALID);
}

static void test_help_lists_every_option(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    quire_cfg_print_help(f, opts, NOPTS);
    fclose(f);
    for (size_t i = 0; i < NOPTS; i++)
        assert_non_null(strstr(buf, opts[i].name));
    assert_non_null(strstr(buf, "QUIRE_KAFKA_BROKERS"));
    assert_null(strstr(buf, "postgresql://")); /* secret defaults are not printed */
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_flags),
        cmocka_unit_test(test_env_then_flag),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_no_prefix_and_separator),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_help_lists_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
