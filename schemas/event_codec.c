/*
 * event_codec — DocEvent <-> Confluent-framed Avro (see the header for the rules and ownership).
 *
 * The field table below is the C view of every DocEvent version: each .avsc of the subject must
 * match it (schema_codec checks at construction), so adding a version means adding its new
 * fields here, optional, and a member in event_codec_event_t.
 */
#include "event_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_prescan.h"
#include "schema_codec.h"
#include "schema_registry.h"

enum {
    F_DOC_ID,
    F_EVENT_ID,
    F_KIND,
    F_ACTOR,
    F_SERVER_TIME,
    F_ORIGIN,
    F_UPDATE,
    F_IDEMPOTENCY_KEY,
    F_COUNT
};

static const char *const kind_symbols[EVENT_CODEC_KIND_COUNT] = {"UPDATE", "CREATE", "DELETE"};

static const schema_field_t event_fields[F_COUNT] = {
    [F_DOC_ID] = {.name = "doc_id", .type = SCHEMA_FIELD_STRING},
    [F_EVENT_ID] = {.name = "event_id",
                    .type = SCHEMA_FIELD_FIXED,
                    .fixed_size = EVENT_CODEC_EVENT_ID_LEN},
    [F_KIND] = {.name = "kind",
                .type = SCHEMA_FIELD_ENUM,
                .symbols = kind_symbols,
                .nsymbols = EVENT_CODEC_KIND_COUNT},
    [F_ACTOR] = {.name = "actor", .type = SCHEMA_FIELD_STRING},
    [F_SERVER_TIME] = {.name = "server_time_ms", .type = SCHEMA_FIELD_LONG},
    [F_ORIGIN] = {.name = "origin", .type = SCHEMA_FIELD_STRING},
    [F_UPDATE] = {.name = "update", .type = SCHEMA_FIELD_BYTES},
    [F_IDEMPOTENCY_KEY] = {.name = "idempotency_key",
                           .type = SCHEMA_FIELD_STRING,
                           .optional = true},
};

struct event_codec_s {
    schema_codec_t *sc;
    size_t max_update;
    char err[256];
};

static bool text_ok(const char *s, size_t len, size_t max)
{
    return s && len >= 1 && len <= max && avro_prescan_utf8_ok((const uint8_t *)s, len);
}

static bool key_ok(const char *s, size_t len)
{
    if (!s || len < 1 || len > EVENT_CODEC_IDEMPOTENCY_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
            return false;
    }
    return true;
}

/* The rules of the header comment; on failure names the field in c->err. bad is the code for a
 * rule broken (INVALID on encode, MALFORMED on decode). */
static quire_err_t check(event_codec_t *c, const event_codec_event_t *ev, quire_err_t bad)
{
    const char *what = NULL;
    static const uint8_t zero_id[EVENT_CODEC_EVENT_ID_LEN];
    if (!schema_codec_doc_id_ok(ev->doc_id, ev->doc_id_len))
        what = "doc_id must be 1-128 bytes of [A-Za-z0-9._~-]";
    else if (memcmp(ev->event_id, zero_id, sizeof zero_id) == 0)
        what = "event_id is all zero";
    else if ((unsigned)ev->kind >= EVENT_CODEC_KIND_COUNT)
        what = "kind is not a known kind";
    else if (!text_ok(ev->actor, ev->actor_len, EVENT_CODEC_ACTOR_MAX))
        what = "actor must be 1-256 bytes of UTF-8 without NUL";
    else if (ev->server_time_ms < 0)
        what = "server_time_ms is negative";
    else if (!text_ok(ev->origin, ev->origin_len, EVENT_CODEC_ORIGIN_MAX))
        what = "origin must be 1-256 bytes of UTF-8 without NUL";
    else if (ev->update_len > 0 && !ev->update)
        what = "update is NULL with a nonzero length";
    else if (ev->kind == EVENT_CODEC_KIND_UPDATE && ev->update_len == 0)
        what = "an UPDATE event needs a non-empty update";
    else if (ev->kind != EVENT_CODEC_KIND_UPDATE && ev->update_len != 0)
        what = "a lifecycle event carries no update bytes";
    else if (ev->idempotency_key && !key_ok(ev->idempotency_key, ev->idempotency_key_len))
        what = "idempotency_key must be 1-255 bytes of printable ASCII";
    if (what) {
        snprintf(c->err, sizeof c->err, "%s", what);
        return bad;
    }
    if (ev->update_len > c->max_update) {
        snprintf(c->err, sizeof c->err, "update of %zu bytes exceeds the %zu-byte limit",
                 ev->update_len, c->max_update);
        return QUIRE_ERR_TOO_LARGE;
    }
    return QUIRE_OK;
}

quire_err_t event_codec_new(const event_codec_opts_t *opts, event_codec_t **ret_codec, char *errbuf,
                            size_t errlen)
{
    event_codec_opts_t o = opts ? *opts : (event_codec_opts_t){0};
    if (o.max_update_bytes == 0)
        o.max_update_bytes = EVENT_CODEC_DEFAULT_MAX_UPDATE;
    if (o.max_update_bytes > (size_t)INT32_MAX) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "max_update_bytes above 2 GiB");
        return QUIRE_ERR_INVALID;
    }
    event_codec_t *c = calloc(1, sizeof *c);
    if (!c)
        return QUIRE_ERR_NOMEM;
    c->max_update = o.max_update_bytes;
    schema_codec_opts_t so = {.subject = SCHEMA_SUBJECT_DOC_EVENT,
                              .fields = event_fields,
                              .nfields = F_COUNT,
                              .writer_id = o.writer_schema_id,
                              .reader_id = o.reader_schema_id,
                              .max_message = EVENT_CODEC_ENVELOPE_MAX + o.max_update_bytes};
    quire_err_t err = schema_codec_new(&so, &c->sc, errbuf, errlen);
    if (err) {
        free(c);
        return err;
    }
    *ret_codec = c;
    return QUIRE_OK;
}

void event_codec_destroy(event_codec_t *c)
{
    if (!c)
        return;
    schema_codec_destroy(c->sc);
    free(c);
}

uint32_t event_codec_writer_schema_id(const event_codec_t *c)
{
    return schema_codec_writer_id(c->sc);
}

size_t event_codec_max_message(const event_codec_t *c)
{
    return EVENT_CODEC_ENVELOPE_MAX + c->max_update;
}

const char *event_codec_last_error(const event_codec_t *c)
{
    return c->err;
}

/* Validates *ev and lays it out as field values. */
static quire_err_t to_vals(event_codec_t *c, const event_codec_event_t *ev, schema_val_t *v)
{
    c->err[0] = '\0';
    if (!ev) {
        snprintf(c->err, sizeof c->err, "no event");
        return QUIRE_ERR_INVALID;
    }
    quire_err_t err = check(c, ev, QUIRE_ERR_INVALID);
    if (err)
        return err;
    v[F_DOC_ID] = (schema_val_t){true, (const uint8_t *)ev->doc_id, ev->doc_id_len, 0};
    v[F_EVENT_ID] = (schema_val_t){true, ev->event_id, EVENT_CODEC_EVENT_ID_LEN, 0};
    v[F_KIND] = (schema_val_t){true, NULL, 0, ev->kind};
    v[F_ACTOR] = (schema_val_t){true, (const uint8_t *)ev->actor, ev->actor_len, 0};
    v[F_SERVER_TIME] = (schema_val_t){true, NULL, 0, ev->server_time_ms};
    v[F_ORIGIN] = (schema_val_t){true, (const uint8_t *)ev->origin, ev->origin_len, 0};
    v[F_UPDATE] = (schema_val_t){true, ev->update, ev->update_len, 0};
    v[F_IDEMPOTENCY_KEY] =
        (schema_val_t){ev->idempotency_key != NULL, (const uint8_t *)ev->idempotency_key,
                       ev->idempotency_key ? ev->idempotency_key_len : 0, 0};
    return QUIRE_OK;
}

static quire_err_t from_codec(event_codec_t *c, quire_err_t err)
{
    snprintf(c->err, sizeof c->err, "%s", schema_codec_last_error(c->sc));
    return err;
}

quire_err_t event_codec_encode(event_codec_t *c, const event_codec_event_t *ev, uint8_t *buf,
                               size_t cap, size_t *ret_len)
{
    schema_val_t v[F_COUNT];
    quire_err_t err = to_vals(c, ev, v);
    if (!err && (err = schema_codec_encode(c->sc, v, buf, cap, ret_len)))
        return from_codec(c, err);
    return err;
}

quire_err_t event_codec_encode_alloc(event_codec_t *c, const event_codec_event_t *ev,
                                     uint8_t **ret_buf, size_t *ret_len)
{
    schema_val_t v[F_COUNT];
    quire_err_t err = to_vals(c, ev, v);
    if (!err && (err = schema_codec_encode_alloc(c->sc, v, ret_buf, ret_len)))
        return from_codec(c, err);
    return err;
}

quire_err_t event_codec_encoded_size(event_codec_t *c, const event_codec_event_t *ev,
                                     size_t *ret_size)
{
    schema_val_t v[F_COUNT];
    quire_err_t err = to_vals(c, ev, v);
    if (!err && (err = schema_codec_encoded_size(c->sc, v, ret_size)))
        return from_codec(c, err);
    return err;
}

quire_err_t event_codec_decode(event_codec_t *c, const uint8_t *buf, size_t len,
                               event_codec_event_t *ret_event)
{
    schema_val_t v[F_COUNT];
    uint32_t id = 0;
    c->err[0] = '\0';
    quire_err_t err = schema_codec_decode(c->sc, buf, len, v, &id);
    if (err)
        return from_codec(c, err);
    event_codec_event_t ev = {
        .schema_id = id,
        .doc_id = (const char *)v[F_DOC_ID].ptr,
        .doc_id_len = v[F_DOC_ID].len,
        .kind = (event_codec_kind_t)v[F_KIND].num,
        .actor = (const char *)v[F_ACTOR].ptr,
        .actor_len = v[F_ACTOR].len,
        .server_time_ms = v[F_SERVER_TIME].num,
        .origin = (const char *)v[F_ORIGIN].ptr,
        .origin_len = v[F_ORIGIN].len,
        .update = v[F_UPDATE].ptr,
        .update_len = v[F_UPDATE].len,
        .idempotency_key =
            v[F_IDEMPOTENCY_KEY].present ? (const char *)v[F_IDEMPOTENCY_KEY].ptr : NULL,
        .idempotency_key_len = v[F_IDEMPOTENCY_KEY].present ? v[F_IDEMPOTENCY_KEY].len : 0,
    };
    memcpy(ev.event_id, v[F_EVENT_ID].ptr, EVENT_CODEC_EVENT_ID_LEN);
    if ((err = check(c, &ev, QUIRE_ERR_MALFORMED)))
        return err;
    *ret_event = ev;
    return QUIRE_OK;
}

void event_codec_release(event_codec_t *c)
{
    schema_codec_release(c->sc);
}

const char *event_codec_kind_name(event_codec_kind_t kind)
{
    return (unsigned)kind < EVENT_CODEC_KIND_COUNT ? kind_symbols[kind] : "UNKNOWN";
}

void event_codec_event_id_format(const uint8_t id[EVENT_CODEC_EVENT_ID_LEN],
                                 char out[EVENT_CODEC_EVENT_ID_STR_LEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < EVENT_CODEC_EVENT_ID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 0xF];
    }
    out[o] = '\0';
}
