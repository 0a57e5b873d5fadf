/*
 * quire_cfg — configuration from one declarative table per command.
 *
 * Each option is a row: name, type, default, bounds, where it lives in the command's struct, help.
 * The same table parses flags (`--name value`, `--name=value`, `--no-name` for booleans), reads
 * the environment (`QUIRE_NAME` with '-' → '_'), validates bounds, prints `--help`, and generates
 * docs/CONFIGURATION.md. Precedence: flag, then environment, then default.
 *
 * Value syntax: INT is a decimal integer; MS a duration ("250ms", "30s", "5m", "2h", or a bare
 * number of milliseconds); BYTES a size ("512", "64KiB", "1MiB", "2GiB"); BOOL
 * true/false/1/0/yes/no/on/off. Storage: STRING → char * (heap, freed by quire_cfg_deinit),
 * INT/MS/BYTES → int64_t, BOOL → bool.
 */
#ifndef QUIRE_CFG_H
#define QUIRE_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "quire_err.h"

typedef enum quire_cfg_type_e {
    QUIRE_CFG_STRING,
    QUIRE_CFG_INT,
    QUIRE_CFG_BOOL,
    QUIRE_CFG_MS,
    QUIRE_CFG_BYTES,
} quire_cfg_type_t;

enum {
    QUIRE_CFG_REQUIRED = 1 << 0, /* no default; must be given */
    QUIRE_CFG_SECRET = 1 << 1,   /* value never printed */
    QUIRE_CFG_NO_ENV = 1 << 2,   /* flag only: a per-invocation argument, never read from the
                                    environment (where a same-named variable may mean something
                                    else, e.g. QUIRE_ROOT in stack.env) */
};

typedef struct quire_cfg_opt_s {
    const char *name;      /* flag name without dashes: "kafka-brokers" */
    quire_cfg_type_t type; /* how to parse and where to store */
    const char *def;       /* default in flag syntax, or NULL for none */
    int64_t min, max;      /* inclusive bounds for INT, MS and BYTES (ignored when min > max) */
    size_t offset;         /* offsetof() the field in the command's configuration struct */
    unsigned flags;        /* QUIRE_CFG_REQUIRED | QUIRE_CFG_SECRET */
    const char *help;      /* one line */
} quire_cfg_opt_t;

/* The options every role shares; embed as the first member `common` of a command's struct. */
typedef struct quire_common_conf_s {
    char *log_level;
    char *kafka_brokers;
    char *pg;
    char *topic_prefix;
} quire_common_conf_t;

#define QUIRE_CFG_COMMON_OPTS(type)                                                                \
    {"log-level", QUIRE_CFG_STRING,                                                                \
     "info",      0,                                                                               \
     -1,          offsetof(type, common.log_level),                                                \
     0,           "minimum log level: debug, info, warn, error, off"},                             \
        {"kafka-brokers",                                                                          \
         QUIRE_CFG_STRING,                                                                         \
         "127.0.0.1:9092",                                                                         \
         0,                                                                                        \
         -1,                                                                                       \
         offsetof(type, common.kafka_brokers),                                                     \
         0,                                                                                        \
         "Kafka bootstrap servers, comma-separated"},                                              \
        {"pg",                                                                                     \
         QUIRE_CFG_STRING,                                                                         \
         "postgresql://quire@127.0.0.1:5432/quire",                                                \
         0,                                                                                        \
         -1,                                                                                       \
         offsetof(type, common.pg),                                                                \
         QUIRE_CFG_SECRET,                                                                         \
         "PostgreSQL connection string (libpq)"},                                                  \
    {                                                                                              \
        "topic-prefix", QUIRE_CFG_STRING, "quire", 0, -1, offsetof(type, common.topic_prefix), 0,  \
            "prefix of the Kafka topic names (<prefix>.doc-updates, ...)"                          \
    }

/*
 * Parses argv[0..argc) (after the command name) into `conf`, which must be zeroed. Positional
 * arguments are moved, in order, to the front of argv; their count goes to *ret_npos. `--help`
 * sets *ret_help and returns QUIRE_OK without validating required options. On error, a message
 * naming the option goes to errbuf and QUIRE_ERR_CONFIG is returned.
 */
quire_err_t quire_cfg_parse(const quire_cfg_opt_t *opts, size_t nopts, void *conf, int argc,
                            char **argv, int *ret_npos, bool *ret_help, char *errbuf,
                            size_t errlen);

/* Applies one value to one option (exposed for tests). */
quire_err_t quire_cfg_set(const quire_cfg_opt_t *opt, void *conf, const char *value, char *errbuf,
                          size_t errlen);

/* Frees the strings parse allocated. Safe on a partially parsed or zeroed struct. */
void quire_cfg_deinit(const quire_cfg_opt_t *opts, size_t nopts, void *conf);

/* Prints the options as `--help` text, or as a Markdown table for docs/CONFIGURATION.md. */
void quire_cfg_print_help(FILE *out, const quire_cfg_opt_t *opts, size_t nopts);
void quire_cfg_print_markdown(FILE *out, const quire_cfg_opt_t *opts, size_t nopts);

/* Parses durations and sizes in the syntax above (exposed for tests and other parsers). */
quire_err_t quire_cfg_parse_ms(const char *s, int64_t *ret_ms);
quire_err_t quire_cfg_parse_bytes(const char *s, int64_t *ret_bytes);

#endif
