/*
 * quire_log — one line per event, written with a single write(2) so lines from several threads
 * never interleave. Lines longer than the buffer are truncated with "…", never split.
 */
#include "quire_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

quire_log_level_t quire__log_level = QUIRE_LOG_INFO;
static const char *log_component = "quire";

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void quire_log_init(const char *component, quire_log_level_t level)
{
    if (component)
        log_component = component;
    quire__log_level = level;
}

quire_err_t quire_log_level_parse(const char *s, quire_log_level_t *ret_level)
{
    for (int i = 0; i <= QUIRE_LOG_OFF; i++) {
        if (s && strcasecmp(s, level_names[i]) == 0) {
            *ret_level = (quire_log_level_t)i;
            return QUIRE_OK;
        }
    }
    return QUIRE_ERR_INVALID;
}

void quire_log_write(quire_log_level_t level, const char *msg, const char *fields_fmt, ...)
{
    char line[4096];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s comp=%s msg=\"%s\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000L, level_names[level], log_component, msg);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (fields_fmt && fields_fmt[0] && len + 2 < sizeof line) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, fields_fmt);
        int m = vsnprintf(line + len, sizeof line - len, fields_fmt, ap);
        va_end(ap);
        if (m > 0)
            len += (size_t)m < sizeof line - len ? (size_t)m : sizeof line - len - 1;
    }
    if (len >= sizeof line - 1) {
        static const char ell[] = "\xe2\x80\xa6";
        memcpy(line + sizeof line - 1 - sizeof ell, ell, sizeof ell - 1);
        len = sizeof line - 2;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
