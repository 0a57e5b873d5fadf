/*
 * snapshot_codec — DocSnapshot <-> Confluent-framed Avro (see the header for the rules and
 * ownership). Like event_codec, the field table is the C view of every DocSnapshot version.
 */
#include "snapshot_codec.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_codec.h"
#include "schema_registry.h"

enum { F_DOC_ID, F_PARTITION, F_POSITION, F_STATE, F_HASH, F_CREATED, F_COUNT };

static const schema_field_t snapshot_fields[F_COUNT] = {
    [F_DOC_ID] = {.name = "doc_id", .type = SCHEMA_FIELD_STRING},
    [F_PARTITION] = {.name = "partition", .type = SCHEMA_FIELD_INT},
    [F_POSITION] = {.name = "position", .type = SCHEMA_FIELD_LONG},
    [F_STATE] = {.name = "state", .type = SCHEMA_FIELD_BYTES},
    [F_HASH] = {.name = "state_blake2b",
                .type = SCHEMA_FIELD_FIXED,
                .fixed_size = SNAPSHOT_CODEC_HASH_LEN},
    [F_CREATED] = {.name = "created_time_ms", .type = SCHEMA_FIELD_LONG},
};

struct snapshot_codec_s {
    schema_codec_t *sc;
    size_t max_state;
    char err[256];
};

void snapshot_codec_hash(const uint8_t *state, size_t state_len,
                         uint8_t out[SNAPSHOT_CODEC_HASH_LEN])
{
    static const uint8_t none[1] = {0};
    crypto_generichash(out, SNAPSHOT_CODEC_HASH_LEN, state_len ? state : none, state_len, NULL, 0);
}

static quire_err_t check(snapshot_codec_t *c, const snapshot_codec_snapshot_t *s, quire_err_t bad)
{
    const char *what = NULL;
    if (!schema_codec_doc_id_ok(s->doc_id, s->doc_id_len))
        what = "doc_id must be 1-128 bytes of [A-Za-z0-9._~-]";
    else if (s->partition < 0)
        what = "partition is negative";
    else if (s->position < 0)
        what = "position is negative";
    else if (s->state_len == 0 || !s->state)
        what = "state is empty";
    else if (s->created_time_ms < 0)
        what = "created_time_ms is negative";
    if (what) {
        snprintf(c->err, sizeof c->err, "%s", what);
        return bad;
    }
    if (s->state_len > c->max_state) {
        snprintf(c->err, sizeof c->err, "state of %zu bytes exceeds the %zu-byte limit",
                 s->state_len, c->max_state);
        return QUIRE_ERR_TOO_LARGE;
    }
    return QUIRE_OK;
}

quire_err_t snapshot_codec_new(const snapshot_codec_opts_t *opts, snapshot_codec_t **ret_codec,
                               char *errbuf, size_t errlen)
{
    snapshot_codec_opts_t o = opts ? *opts : (snapshot_codec_opts_t){0};
    if (o.max_state_bytes == 0)
        o.max_state_bytes = SNAPSHOT_CODEC_DEFAULT_MAX_STATE;
    if (o.max_state_bytes > (size_t)INT32_MAX || sodium_init() < 0) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "max_state_bytes above 2 GiB, or libsodium failed");
        return QUIRE_ERR_INVALID;
    }
    snapshot_codec_t *c = calloc(1, sizeof *c);
    if (!c)
        return QUIRE_ERR_NOMEM;
    c->max_state = o.max_state_bytes;
    schema_codec_opts_t so = {.subject = SCHEMA_SUBJECT_DOC_SNAPSHOT,
                              .fields = snapshot_fields,
                              .nfields = F_COUNT,
                              .writer_id = o.writer_schema_id,
                              .reader_id = o.reader_schema_id,
                              .max_message = SNAPSHOT_CODEC_ENVELOPE_MAX + o.max_state_bytes};
    quire_err_t err = schema_codec_new(&so, &c->sc, errbuf, errlen);
    if (err) {
        free(c);
        return err;
    }
    *ret_codec = c;
    return QUIRE_OK;
}

void snapshot_codec_destroy(snapshot_codec_t *c)
{
    if (!c)
        return;
    schema_codec_destroy(c->sc);
    free(c);
}

uint32_t snapshot_codec_writer_schema_id(const snapshot_codec_t *c)
{
    return schema_codec_writer_id(c->sc);
}

size_t snapshot_codec_max_message(const snapshot_codec_t *c)
{
    return SNAPSHOT_CODEC_ENVELOPE_MAX + c->max_state;
}

const char *snapshot_codec_last_error(const snapshot_codec_t *c)
{
    return c->err;
}

void snapshot_codec_release(snapshot_codec_t *c)
{
    schema_codec_release(c->sc);
}

static quire_err_t to_vals(snapshot_codec_t *c, const snapshot_codec_snapshot_t *s, schema_val_t *v,
                           uint8_t hash[SNAPSHOT_CODEC_HASH_LEN])
{
    c->err[0] = '\0';
    if (!s) {
        snprintf(c->err, sizeof c->err, "no snapshot");
        return QUIRE_ERR_INVALID;
    }
    quire_err_t err = check(c, s, QUIRE_ERR_INVALID);
    if (err)
        return err;
    snapshot_codec_hash(s->state, s->state_len, hash);
    v[F_DOC_ID] = (schema_val_t){true, (const uint8_t *)s->doc_id, s->doc_id_len, 0};
    v[F_PARTITION] = (schema_val_t){true, NULL, 0, s->partition};
    v[F_POSITION] = (schema_val_t){true, NULL, 0, s->position};
    v[F_STATE] = (schema_val_t){true, s->state, s->state_len, 0};
    v[F_HASH] = (schema_val_t){true, hash, SNAPSHOT_CODEC_HASH_LEN, 0};
    v[F_CREATED] = (schema_val_t){true, NULL, 0, s->created_time_ms};
    return QUIRE_OK;
}

static quire_err_t from_codec(snapshot_codec_t *c, quire_err_t err)
{
    snprintf(c->err, sizeof c->err, "%s", schema_codec_last_error(c->sc));
    return err;
}

quire_err_t snapshot_codec_encode(snapshot_codec_t *c, const snapshot_codec_snapshot_t *snap,
                                  uint8_t *buf, size_t cap, size_t *ret_len)
{
    schema_val_t v[F_COUNT];
    uint8_t hash[SNAPSHOT_CODEC_HASH_LEN];
    quire_err_t err = to_vals(c, snap, v, hash);
    if (!err && (err = schema_codec_encode(c->sc, v, buf, cap, ret_len)))
        return from_codec(c, err);
    return err;
}

quire_err_t snapshot_codec_encode_alloc(snapshot_codec_t *c, const snapshot_codec_snapshot_t *snap,
                                        uint8_t **ret_buf, size_t *ret_len)
{
    schema_val_t v[F_COUNT];
    uint8_t hash[SNAPSHOT_CODEC_HASH_LEN];
    quire_err_t err = to_vals(c, snap, v, hash);
    if (!err && (err = schema_codec_encode_alloc(c->sc, v, ret_buf, ret_len)))
        return from_codec(c, err);
    return err;
}

quire_err_t snapshot_codec_decode(snapshot_codec_t *c, const uint8_t *buf, size_t len,
                                  snapshot_codec_snapshot_t *ret_snap)
{
    schema_val_t v[F_COUNT];
    uint32_t id = 0;
    c->err[0] = '\0';
    quire_err_t err = schema_codec_decode(c->sc, buf, len, v, &id);
    if (err)
        return from_codec(c, err);
    snapshot_codec_snapshot_t s = {
        .schema_id = id,
        .doc_id = (const char *)v[F_DOC_ID].ptr,
        .doc_id_len = v[F_DOC_ID].len,
        .partition = (int32_t)v[F_PARTITION].num,
        .position = v[F_POSITION].num,
        .state = v[F_STATE].ptr,
        .state_len = v[F_STATE].len,
        .created_time_ms = v[F_CREATED].num,
    };
    memcpy(s.state_blake2b, v[F_HASH].ptr, SNAPSHOT_CODEC_HASH_LEN);
    if ((err = check(c, &s, QUIRE_ERR_MALFORMED)))
        return err;
    uint8_t hash[SNAPSHOT_CODEC_HASH_LEN];
    snapshot_codec_hash(s.state, s.state_len, hash);
    if (memcmp(hash, s.state_blake2b, SNAPSHOT_CODEC_HASH_LEN) != 0) {
        snprintf(c->err, sizeof c->err, "state_blake2b does not match the state bytes");
        return QUIRE_ERR_MALFORMED;
    }
    *ret_snap = s;
    return QUIRE_OK;
}
