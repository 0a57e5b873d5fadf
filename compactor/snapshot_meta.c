/*
 * snapshot_meta — see the header for the header names and their format.
 */
#include "snapshot_meta.h"

#include <stdio.h>
#include <string.h>

static const char *const names[] = {"quire-version",      "quire-event-count",
                                    "quire-event-bytes",  "quire-first-time-ms",
                                    "quire-last-time-ms", "quire-deleted"};
#define NNUM (sizeof names / sizeof names[0])

rd_kafka_headers_t *snapshot_meta_headers(const snapshot_meta_t *m)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(NNUM + 1);
    if (!h)
        return NULL;
    const int64_t v[NNUM] = {m->version,  m->event_count, m->event_bytes,
                             m->first_ms, m->last_ms,     m->deleted ? 1 : 0};
    for (size_t i = 0; i < NNUM; i++) {
        char buf[24];
        int n = snprintf(buf, sizeof buf, "%lld", (long long)v[i]);
        rd_kafka_header_add(h, names[i], -1, buf, n);
    }
    if (m->owner)
        rd_kafka_header_add(h, "quire-owner", -1, m->owner, (ssize_t)strlen(m->owner));
    return h;
}

static bool parse_i64(const void *val, size_t len, int64_t *ret)
{
    if (!val || len == 0 || len > 20)
        return false;
    const char *s = val;
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1)
            return false;
    }
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - (s[i] - '0')) / 10)
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *ret = neg ? -v : v;
    return true;
}

quire_err_t snapshot_meta_from_message(const rd_kafka_message_t *msg, char *owner_buf,
                                       size_t owner_cap, snapshot_meta_t *ret)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h)
        return QUIRE_ERR_NOT_FOUND;
    int64_t v[NNUM];
    for (size_t i = 0; i < NNUM; i++) {
        const void *val = NULL;
        size_t len = 0;
        if (rd_kafka_header_get_last(h, names[i], &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
            return QUIRE_ERR_NOT_FOUND;
        if (!parse_i64(val, len, &v[i]))
            return QUIRE_ERR_MALFORMED;
    }
    snapshot_meta_t m = {.version = v[0],
                         .event_count = v[1],
                         .event_bytes = v[2],
                         .first_ms = v[3],
                         .last_ms = v[4],
                         .deleted = v[5] != 0};
    const void *val = NULL;
    size_t len = 0;
    if (rd_kafka_header_get_last(h, "quire-owner", &val, &len) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (len + 1 > owner_cap || memchr(val, 0, len))
            return QUIRE_ERR_MALFORMED;
        memcpy(owner_buf, val, len);
        owner_buf[len] = '\0';
        m.owner = owner_buf;
    }
    *ret = m;
    return QUIRE_OK;
}
