/*
 * quire_log — level-checked, structured (logfmt) logging to stderr.
 *
 *   QLOG_WARN("could not commit offset", "partition=%d err=\"%s\"", p, rd_kafka_err2str(e));
 *   → 2026-12-04T22:10:00.123Z level=warn comp=projector msg="could not commit offset" partition=3
 * ...
 *
 * The message is a constant in PostgreSQL's style (lower case, no period, "could not" for
 * transient failures, "cannot" for permanent ones); everything variable goes into the fields,
 * whose format string is printf-checked. Arguments are evaluated only when the level is enabled.
 * The logger is the one mutable global besides immutable config: set once at start.
 * Libraries return errors; callers log once.
 */
#ifndef QUIRE_LOG_H
#define QUIRE_LOG_H

#include <stdbool.h>

#include "quire_err.h"

typedef enum quire_log_level_e {
    QUIRE_LOG_DEBUG = 0,
    QUIRE_LOG_INFO = 1,
    QUIRE_LOG_WARN = 2,
    QUIRE_LOG_ERROR = 3,
    QUIRE_LOG_OFF = 4,
} quire_log_level_t;

/* Sets the component name (borrowed; must outlive logging) and the minimum level. */
void quire_log_init(const char *component, quire_log_level_t level);
/* Parses "debug", "info", "warn", "error", "off". Returns QUIRE_ERR_INVALID otherwise. */
quire_err_t quire_log_level_parse(const char *s, quire_log_level_t *ret_level);
extern quire_log_level_t quire__log_level;

static inline bool quire_log_enabled(quire_log_level_t level)
{
    return level >= quire__log_level;
}

void quire_log_write(quire_log_level_t level, const char *msg, const char *fields_fmt, ...)
    QUIRE_PRINTF(3, 4);

/* The fields argument is optional: QLOG_INFO("started") or QLOG_INFO("started", "port=%d", p). */
#define QLOG_AT(level, msg, ...)                                                                   \
    do {                                                                                           \
        if (quire_log_enabled(level))                                                              \
            quire_log_write(level, msg, "" __VA_ARGS__);                                           \
    } while (0)
#define QLOG_DEBUG(msg, ...) QLOG_AT(QUIRE_LOG_DEBUG, msg, __VA_ARGS__)
#define QLOG_INFO(msg, ...)  QLOG_AT(QUIRE_LOG_INFO, msg, __VA_ARGS__)
#define QLOG_WARN(msg, ...)  QLOG_AT(QUIRE_LOG_WARN, msg, __VA_ARGS__)
#define QLOG_ERROR(msg, ...) QLOG_AT(QUIRE_LOG_ERROR, msg, __VA_ARGS__)

#endif
