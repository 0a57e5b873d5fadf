/*
 * schema_codec — framing, prescan and Avro-C encode/resolve for one subject (see the header).
 *
 * What must stay true:
 * - No untrusted byte reaches Avro-C before avro_prescan_check() accepted the whole body for its
 *   writer schema, and no value reaches Avro-C's setters before it was checked against the
 *   schema (fixed sizes, enum ranges, int ranges): Avro-C's failure paths write a global buffer.
 * - The field table, every .avsc of the subject and the resolution plan agree; construction
 *   refuses anything else, so a schema edit that breaks the rules fails the unit tests.
 * - Encode leaves no pointer to caller memory behind in the codec (values are reset after use).
 */
#include "schema_codec.h"

#include <avro.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_prescan.h"
#include "schema_registry.h"

/* Debian's libavro is built without THREADSAFE: avro_set_error() writes one process-wide buffer,
 * and schema parsing and resolution call it even on success paths (a union branch tried and
 * rejected). This lock serialises every construction; it guards the library's global, not ours. */
static pthread_mutex_t schema_codec_avro_lock = PTHREAD_MUTEX_INITIALIZER;

/* Where a C field lives in one schema. */
typedef struct slot_s {
    int idx;           /* field index in the record, -1 if the schema lacks the field */
    uint32_t nsymbols; /* enums: symbols of this schema's enum */
} slot_t;

typedef struct decoder_s {
    uint32_t id;
    avro_schema_t wschema;
    avro_schema_t rproj; /* the reader schema minus the fields this writer lacks */
    avro_prescan_t *prescan;
    avro_value_iface_t *resolver;
    avro_value_iface_t *rclass;
    avro_value_t rvalue, wvalue;
    bool has_rvalue, has_wvalue;
    slot_t *slots; /* per C field, in rproj */
} decoder_t;

struct schema_codec_s {
    const char *subject; /* borrowed from the options (a string literal) */
    const schema_field_t *fields;
    size_t nfields;
    uint32_t writer_id, reader_id;
    size_t max_message;
    avro_schema_t rschema;
    uint32_t
        *reader_nsymbols;  /* per C field: enum symbols of the reader schema (0 = field absent) */
    schema_val_t *scratch; /* per C field: decode output until it is complete */
    /* encoder */
    avro_schema_t eschema;
    avro_value_iface_t *eclass;
    avro_value_t evalue;
    bool has_evalue;
    slot_t *eslots;
    avro_writer_t writer;
    avro_reader_t reader;
    /* one decoder per schema id of the subject */
    decoder_t *dec;
    size_t ndec;
    char err[256];
};

static const char empty_buf[1] = {0};

QUIRE_PRINTF(3, 4)
static quire_err_t codec_err(schema_codec_t *c, quire_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return err;
}

void schema_codec_frame_header(uint32_t schema_id, uint8_t out[SCHEMA_CODEC_HEADER_LEN])
{
    out[0] = SCHEMA_CODEC_MAGIC;
    out[1] = (uint8_t)(schema_id >> 24);
    out[2] = (uint8_t)(schema_id >> 16);
    out[3] = (uint8_t)(schema_id >> 8);
    out[4] = (uint8_t)schema_id;
}

quire_err_t schema_codec_frame_parse(const uint8_t *buf, size_t len, uint32_t *ret_schema_id)
{
    if (len == 0)
        return QUIRE_ERR_EMPTY;
    if (len < SCHEMA_CODEC_HEADER_LEN || buf[0] != SCHEMA_CODEC_MAGIC)
        return QUIRE_ERR_MALFORMED;
    *ret_schema_id =
        (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | (uint32_t)buf[4];
    return QUIRE_OK;
}

bool schema_codec_doc_id_ok(const char *doc_id, size_t len)
{
    if (!doc_id || len == 0 || len > 128)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)doc_id[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '~' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* ---- construction -------------------------------------------------------------------------- */

static avro_schema_t deref(avro_schema_t s)
{
    while (s && is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

static const char *type_name(schema_field_type_t t)
{
    static const char *const names[] = {"string", "bytes", "int", "long", "fixed", "enum"};
    return names[t];
}

/* Checks one field of a schema against its C description; fills *ret_nsymbols for enums. */
static bool field_matches(const schema_field_t *f, avro_schema_t s, uint32_t *ret_nsymbols,
                          char *why, size_t whylen)
{
    s = deref(s);
    if (f->optional) {
        if (!is_avro_union(s) || avro_schema_union_size(s) != 2 ||
            !is_avro_null(deref(avro_schema_union_branch(s, 0)))) {
            snprintf(why, whylen, "field %s must be [\"null\", %s]", f->name, type_name(f->type));
            return false;
        }
        s = deref(avro_schema_union_branch(s, 1));
    }
    bool ok = false;
    switch (f->type) {
    case SCHEMA_FIELD_STRING:
        ok = is_avro_string(s);
        break;
    case SCHEMA_FIELD_BYTES:
        ok = is_avro_bytes(s);
        break;
    case SCHEMA_FIELD_INT:
        ok = is_avro_int32(s);
        break;
    case SCHEMA_FIELD_LONG:
        ok = is_avro_int64(s);
        break;
    case SCHEMA_FIELD_FIXED:
        ok = is_avro_fixed(s) && avro_schema_fixed_size(s) == (int64_t)f->fixed_size;
        break;
    case SCHEMA_FIELD_ENUM: {
        if (!is_avro_enum(s))
            break;
        int n = avro_schema_enum_number_of_symbols(s);
        if (n <= 0 || (uint32_t)n > f->nsymbols) {
            snprintf(why, whylen, "enum field %s has %d symbols, C knows %u", f->name, n,
                     f->nsymbols);
            return false;
        }
        for (int i = 0; i < n; i++) {
            if (strcmp(avro_schema_enum_get(s, i), f->symbols[i]) != 0) {
                snprintf(why, whylen,
                         "enum field %s: symbol %d is %s, expected %s (symbols are append-only)",
                         f->name, i, avro_schema_enum_get(s, i), f->symbols[i]);
                return false;
            }
        }
        *ret_nsymbols = (uint32_t)n;
        ok = true;
        break;
    }
    }
    if (!ok)
        snprintf(why, whylen, "field %s must be of type %s%s", f->name, type_name(f->type),
                 f->type == SCHEMA_FIELD_FIXED ? " with the expected size" : "");
    return ok;
}

/* Maps every C field to its index in record schema s (which must be a record whose every field C
 * knows, and which has every required C field). */
static bool map_fields(const schema_codec_opts_t *o, avro_schema_t s, slot_t *slots, char *why,
                       size_t whylen)
{
    if (!is_avro_record(s)) {
        snprintf(why, whylen, "schema is not a record");
        return false;
    }
    size_t n = avro_schema_record_size(s);
    for (size_t i = 0; i < n; i++) {
        const char *name = avro_schema_record_field_name(s, (int)i);
        bool known = false;
        for (size_t k = 0; k < o->nfields; k++)
            known = known || strcmp(o->fields[k].name, name) == 0;
        if (!known) {
            snprintf(why, whylen, "field %s is not in the C field table", name);
            return false;
        }
    }
    for (size_t k = 0; k < o->nfields; k++) {
        const schema_field_t *f = &o->fields[k];
        slots[k].idx = avro_schema_record_field_get_index(s, f->name);
        slots[k].nsymbols = 0;
        if (slots[k].idx < 0) {
            if (!f->optional) {
                snprintf(why, whylen, "required field %s is missing", f->name);
                return false;
            }
            continue;
        }
        if (!field_matches(f, avro_schema_record_field_get_by_index(s, slots[k].idx),
                           &slots[k].nsymbols, why, whylen))
            return false;
    }
    return true;
}

/* The reader schema restricted to the fields the writer also has (see the header for why). */
static avro_schema_t project(avro_schema_t r, avro_schema_t w)
{
    avro_schema_t p = avro_schema_record(avro_schema_name(r), avro_schema_namespace(r));
    if (!p)
        return NULL;
    size_t n = avro_schema_record_size(r);
    for (size_t i = 0; i < n; i++) {
        const char *name = avro_schema_record_field_name(r, (int)i);
        if (avro_schema_record_field_get_index(w, name) < 0)
            continue;
        if (avro_schema_record_field_append(p, name,
                                            avro_schema_record_field_get_by_index(r, (int)i))) {
            avro_schema_decref(p);
            return NULL;
        }
    }
    return p;
}

static quire_err_t parse(const schema_registry_entry_t *e, avro_schema_t *ret, char *errbuf,
                         size_t errlen)
{
    avro_schema_t s;
    if (avro_schema_from_json_length(e->json, e->json_len, &s)) {
        snprintf(errbuf, errlen, "schema %u (%s) does not parse: %s", e->id, e->file,
                 avro_strerror());
        return QUIRE_ERR_INTERNAL;
    }
    *ret = s;
    return QUIRE_OK;
}

static quire_err_t build_decoder(schema_codec_t *c, const schema_codec_opts_t *o,
                                 const schema_registry_entry_t *e, decoder_t *d, char *errbuf,
                                 size_t errlen)
{
    char why[160];
    d->id = e->id;
    quire_err_t err = parse(e, &d->wschema, errbuf, errlen);
    if (err)
        return err;
    if (!(d->slots = calloc(o->nfields, sizeof *d->slots)))
        return QUIRE_ERR_NOMEM;
    if (!map_fields(o, d->wschema, d->slots, why, sizeof why)) {
        snprintf(errbuf, errlen, "schema %u (%s) does not match the C fields: %s", e->id, e->file,
                 why);
        return QUIRE_ERR_INTERNAL;
    }
    if ((err = avro_prescan_compile(d->wschema, &d->prescan, why, sizeof why))) {
        snprintf(errbuf, errlen, "schema %u (%s): %s", e->id, e->file, why);
        return err == QUIRE_ERR_NOMEM ? err : QUIRE_ERR_INTERNAL;
    }
    if (!(d->rproj = project(c->rschema, d->wschema)))
        return QUIRE_ERR_NOMEM;
    if (!map_fields(o, d->rproj, d->slots, why, sizeof why)) {
        snprintf(errbuf, errlen, "reader %u cannot read writer %u: %s", c->reader_id, e->id, why);
        return QUIRE_ERR_INTERNAL;
    }
    if (!(d->resolver = avro_resolved_writer_new(d->wschema, d->rproj))) {
        snprintf(errbuf, errlen, "reader %u cannot resolve writer %u: %s", c->reader_id, e->id,
                 avro_strerror());
        return QUIRE_ERR_INTERNAL;
    }
    if (!(d->rclass = avro_generic_class_from_schema(d->rproj)))
        return QUIRE_ERR_NOMEM;
    if (avro_generic_value_new(d->rclass, &d->rvalue))
        return QUIRE_ERR_NOMEM;
    d->has_rvalue = true;
    if (avro_resolved_writer_new_value(d->resolver, &d->wvalue))
        return QUIRE_ERR_NOMEM;
    d->has_wvalue = true;
    avro_resolved_writer_set_dest(&d->wvalue, &d->rvalue);
    return QUIRE_OK;
}

static quire_err_t build(schema_codec_t *c, const schema_codec_opts_t *o, char *errbuf,
                         size_t errlen)
{
    char why[160];
    schema_registry_entry_t e;
    quire_err_t err;
    uint32_t ids[2] = {o->writer_id, o->reader_id};
    for (int i = 0; i < 2; i++) {
        if (ids[i] == 0 && schema_registry_latest(o->subject, &ids[i])) {
            snprintf(errbuf, errlen, "no schema registered for subject %s", o->subject);
            return QUIRE_ERR_INVALID;
        }
        if (schema_registry_find(ids[i], &e) || strcmp(e.subject, o->subject) != 0) {
            snprintf(errbuf, errlen, "schema id %u is not a %s schema", ids[i], o->subject);
            return QUIRE_ERR_INVALID;
        }
    }
    c->writer_id = ids[0];
    c->reader_id = ids[1];

    /* reader */
    if (schema_registry_find(c->reader_id, &e))
        return QUIRE_ERR_INTERNAL;
    if ((err = parse(&e, &c->rschema, errbuf, errlen)))
        return err;
    slot_t *rslots = calloc(o->nfields, sizeof *rslots);
    c->reader_nsymbols = calloc(o->nfields, sizeof *c->reader_nsymbols);
    c->scratch = calloc(o->nfields, sizeof *c->scratch);
    if (!rslots || !c->reader_nsymbols || !c->scratch) {
        free(rslots);
        return QUIRE_ERR_NOMEM;
    }
    bool ok = map_fields(o, c->rschema, rslots, why, sizeof why);
    for (size_t k = 0; ok && k < o->nfields; k++)
        c->reader_nsymbols[k] = rslots[k].nsymbols;
    free(rslots);
    if (!ok) {
        snprintf(errbuf, errlen, "schema %u (%s) does not match the C fields: %s", e.id, e.file,
                 why);
        return QUIRE_ERR_INTERNAL;
    }

    /* encoder */
    if (schema_registry_find(c->writer_id, &e))
        return QUIRE_ERR_INTERNAL;
    if ((err = parse(&e, &c->eschema, errbuf, errlen)))
        return err;
    if (!(c->eslots = calloc(o->nfields, sizeof *c->eslots)))
        return QUIRE_ERR_NOMEM;
    if (!map_fields(o, c->eschema, c->eslots, why, sizeof why)) {
        snprintf(errbuf, errlen, "schema %u (%s) does not match the C fields: %s", e.id, e.file,
                 why);
        return QUIRE_ERR_INTERNAL;
    }
    if (!(c->eclass = avro_generic_class_from_schema(c->eschema)) ||
        avro_generic_value_new(c->eclass, &c->evalue))
        return QUIRE_ERR_NOMEM;
    c->has_evalue = true;
    if (!(c->writer = avro_writer_memory(empty_buf, 0)) ||
        !(c->reader = avro_reader_memory(empty_buf, 0)))
        return QUIRE_ERR_NOMEM;

    /* a decoder per writer id of the subject */
    size_t n = schema_registry_count();
    if (!(c->dec = calloc(n, sizeof *c->dec)))
        return QUIRE_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (schema_registry_at(i, &e))
            return QUIRE_ERR_INTERNAL;
        if (strcmp(e.subject, o->subject) != 0)
            continue;
        decoder_t *d = &c->dec[c->ndec++];
        if ((err = build_decoder(c, o, &e, d, errbuf, errlen)))
            return err;
    }
    return QUIRE_OK;
}

quire_err_t schema_codec_new(const schema_codec_opts_t *opts, schema_codec_t **ret_codec,
                             char *errbuf, size_t errlen)
{
    char scratch[1];
    if (!errbuf || errlen == 0) {
        errbuf = scratch;
        errlen = sizeof scratch;
    }
    errbuf[0] = '\0';
    if (!opts || !opts->subject || !opts->fields || opts->nfields == 0 ||
        opts->nfields > INT32_MAX || opts->max_message <= SCHEMA_CODEC_HEADER_LEN ||
        opts->max_message > INT64_MAX) {
        snprintf(errbuf, errlen, "invalid codec options");
        return QUIRE_ERR_INVALID;
    }
    schema_codec_t *c = calloc(1, sizeof *c);
    if (!c)
        return QUIRE_ERR_NOMEM;
    c->subject = opts->subject;
    c->fields = opts->fields;
    c->nfields = opts->nfields;
    c->max_message = opts->max_message;
    QUIRE_ASSERT(pthread_mutex_lock(&schema_codec_avro_lock) == 0);
    quire_err_t err = build(c, opts, errbuf, errlen);
    QUIRE_ASSERT(pthread_mutex_unlock(&schema_codec_avro_lock) == 0);
    if (err) {
        if (err == QUIRE_ERR_NOMEM && !errbuf[0])
            snprintf(errbuf, errlen, "out of memory building the codec");
        schema_codec_destroy(c);
        return err;
    }
    *ret_codec = c;
    return QUIRE_OK;
}

void schema_codec_destroy(schema_codec_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->dec && i < c->ndec; i++) {
        decoder_t *d = &c->dec[i];
        if (d->has_wvalue)
            avro_value_decref(&d->wvalue);
        if (d->has_rvalue)
            avro_value_decref(&d->rvalue);
        if (d->rclass)
            avro_value_iface_decref(d->rclass);
        if (d->resolver)
            avro_value_iface_decref(d->resolver);
        if (d->rproj)
            avro_schema_decref(d->rproj);
        if (d->wschema)
            avro_schema_decref(d->wschema);
        avro_prescan_free(d->prescan);
        free(d->slots);
    }
    free(c->dec);
    if (c->reader)
        avro_reader_free(c->reader);
    if (c->writer)
        avro_writer_free(c->writer);
    if (c->has_evalue)
        avro_value_decref(&c->evalue);
    if (c->eclass)
        avro_value_iface_decref(c->eclass);
    if (c->eschema)
        avro_schema_decref(c->eschema);
    if (c->rschema)
        avro_schema_decref(c->rschema);
    free(c->eslots);
    free(c->reader_nsymbols);
    free(c->scratch);
    free(c);
}

uint32_t schema_codec_writer_id(const schema_codec_t *c)
{
    return c->writer_id;
}

uint32_t schema_codec_reader_id(const schema_codec_t *c)
{
    return c->reader_id;
}

const char *schema_codec_last_error(const schema_codec_t *c)
{
    return c->err;
}

/* ---- encode -------------------------------------------------------------------------------- */

/* Sets the encoder's value from vals; on failure the value may be half set (callers reset it). */
static quire_err_t fill(schema_codec_t *c, const schema_val_t *vals)
{
    for (size_t k = 0; k < c->nfields; k++) {
        const schema_field_t *f = &c->fields[k];
        const schema_val_t *v = &vals[k];
        if (c->eslots[k].idx < 0)
            continue; /* the writer schema has no such field: dropped */
        avro_value_t field, branch;
        if (avro_value_get_by_index(&c->evalue, (size_t)c->eslots[k].idx, &field, NULL))
            return codec_err(c, QUIRE_ERR_INTERNAL, "field %s: no such index", f->name);
        if (f->optional) {
            if (avro_value_set_branch(&field, v->present ? 1 : 0, &branch))
                return codec_err(c, QUIRE_ERR_INTERNAL, "field %s: cannot set branch", f->name);
            if (!v->present) {
                avro_value_set_null(&branch);
                continue;
            }
            field = branch;
        } else if (!v->present) {
            return codec_err(c, QUIRE_ERR_INVALID, "required field %s is absent", f->name);
        }
        const void *ptr = v->ptr ? (const void *)v->ptr : (const void *)empty_buf;
        avro_wrapped_buffer_t wb;
        int rc = 0;
        switch (f->type) {
        case SCHEMA_FIELD_STRING:
            /* Avro-C string sizes count a NUL terminator that encoding never reads: the caller's
             * bytes are borrowed without a copy and need no terminator. */
            if (v->len > INT64_MAX - 1)
                return codec_err(c, QUIRE_ERR_TOO_LARGE, "field %s is too long", f->name);
            avro_wrapped_buffer_new(&wb, ptr, v->len + 1);
            rc = avro_value_give_string_len(&field, &wb);
            break;
        case SCHEMA_FIELD_BYTES:
            avro_wrapped_buffer_new(&wb, ptr, v->len);
            rc = avro_value_give_bytes(&field, &wb);
            break;
        case SCHEMA_FIELD_FIXED:
            if (v->len != f->fixed_size)
                return codec_err(c, QUIRE_ERR_INVALID, "field %s must be %u bytes, not %zu",
                                 f->name, f->fixed_size, v->len);
            avro_wrapped_buffer_new(&wb, ptr, v->len);
            rc = avro_value_give_fixed(&field, &wb);
            break;
        case SCHEMA_FIELD_INT:
            if (v->num < INT32_MIN || v->num > INT32_MAX)
                return codec_err(c, QUIRE_ERR_INVALID, "field %s: %lld is out of int range",
                                 f->name, (long long)v->num);
            rc = avro_value_set_int(&field, (int32_t)v->num);
            break;
        case SCHEMA_FIELD_LONG:
            rc = avro_value_set_long(&field, v->num);
            break;
        case SCHEMA_FIELD_ENUM:
            if (v->num < 0 || v->num >= (int64_t)c->eslots[k].nsymbols)
                return codec_err(c, QUIRE_ERR_INVALID,
                                 "field %s: value %lld has no symbol in writer schema %u", f->name,
                                 (long long)v->num, c->writer_id);
            rc = avro_value_set_enum(&field, (int)v->num);
            break;
        }
        if (rc)
            return codec_err(c, QUIRE_ERR_INTERNAL, "field %s: avro-c refused the value", f->name);
    }
    return QUIRE_OK;
}

/* Fills the encoder and sizes the framed message. */
static quire_err_t prepare(schema_codec_t *c, const schema_val_t *vals, size_t *ret_size)
{
    c->err[0] = '\0';
    quire_err_t err = fill(c, vals);
    if (err)
        return err;
    size_t body = 0;
    if (avro_value_sizeof(&c->evalue, &body))
        return codec_err(c, QUIRE_ERR_INTERNAL, "avro-c could not size the record");
    if (body > c->max_message - SCHEMA_CODEC_HEADER_LEN)
        return codec_err(c, QUIRE_ERR_TOO_LARGE, "message of %zu bytes exceeds the %zu-byte cap",
                         body + SCHEMA_CODEC_HEADER_LEN, c->max_message);
    *ret_size = body + SCHEMA_CODEC_HEADER_LEN;
    return QUIRE_OK;
}

static quire_err_t write_prepared(schema_codec_t *c, uint8_t *buf, size_t size)
{
    schema_codec_frame_header(c->writer_id, buf);
    avro_writer_memory_set_dest(c->writer, (const char *)buf + SCHEMA_CODEC_HEADER_LEN,
                                (int64_t)(size - SCHEMA_CODEC_HEADER_LEN));
    if (avro_value_write(c->writer, &c->evalue))
        return codec_err(c, QUIRE_ERR_INTERNAL, "avro-c could not write the record");
    if ((size_t)avro_writer_tell(c->writer) != size - SCHEMA_CODEC_HEADER_LEN)
        return codec_err(c, QUIRE_ERR_INTERNAL, "avro-c wrote a different size than it sized");
    return QUIRE_OK;
}

quire_err_t schema_codec_encoded_size(schema_codec_t *c, const schema_val_t *vals, size_t *ret_size)
{
    size_t size = 0;
    quire_err_t err = prepare(c, vals, &size);
    avro_value_reset(&c->evalue);
    if (err)
        return err;
    *ret_size = size;
    return QUIRE_OK;
}

quire_err_t schema_codec_encode(schema_codec_t *c, const schema_val_t *vals, uint8_t *buf,
                                size_t cap, size_t *ret_len)
{
    size_t size = 0;
    quire_err_t err = prepare(c, vals, &size);
    if (!err && (!buf || cap < size))
        err =
            codec_err(c, QUIRE_ERR_INVALID, "buffer of %zu bytes is too small for %zu", cap, size);
    if (!err)
        err = write_prepared(c, buf, size);
    avro_value_reset(&c->evalue);
    if (err)
        return err;
    *ret_len = size;
    return QUIRE_OK;
}

quire_err_t schema_codec_encode_alloc(schema_codec_t *c, const schema_val_t *vals,
                                      uint8_t **ret_buf, size_t *ret_len)
{
    size_t size = 0;
    uint8_t *buf = NULL;
    quire_err_t err = prepare(c, vals, &size);
    if (!err && !(buf = malloc(size)))
        err = codec_err(c, QUIRE_ERR_NOMEM, "could not allocate %zu bytes", size);
    if (!err)
        err = write_prepared(c, buf, size);
    avro_value_reset(&c->evalue);
    if (err) {
        free(buf);
        return err;
    }
    *ret_buf = buf;
    *ret_len = size;
    return QUIRE_OK;
}

void schema_codec_release(schema_codec_t *c)
{
    for (size_t i = 0; i < c->ndec; i++)
        avro_value_reset(&c->dec[i].rvalue); /* decoded strings and bytes are freed, not kept */
}

/* ---- decode -------------------------------------------------------------------------------- */

static quire_err_t extract(schema_codec_t *c, decoder_t *d, schema_val_t *out)
{
    for (size_t k = 0; k < c->nfields; k++) {
        const schema_field_t *f = &c->fields[k];
        schema_val_t v = {0};
        if (d->slots[k].idx < 0) {
            out[k] = v; /* the writer or the reader lacks the field: absent (default null) */
            continue;
        }
        avro_value_t field = {NULL, NULL}, branch = {NULL, NULL};
        int rc = avro_value_get_by_index(&d->rvalue, (size_t)d->slots[k].idx, &field, NULL);
        if (!rc && f->optional) {
            int disc = -1;
            rc = avro_value_get_discriminant(&field, &disc);
            if (!rc && disc == 0) {
                out[k] = v; /* null */
                continue;
            }
            if (!rc && disc == 1 && !(rc = avro_value_get_current_branch(&field, &branch)))
                field = branch;
            else if (!rc)
                rc = -1;
        }
        if (rc)
            return codec_err(c, QUIRE_ERR_INTERNAL, "field %s: avro-c value is not readable",
                             f->name);
        v.present = true;
        const void *p = NULL;
        size_t size = 0;
        int32_t i32 = 0;
        int e = 0;
        switch (f->type) {
        case SCHEMA_FIELD_STRING: {
            const char *s = NULL;
            rc = avro_value_get_string(&field, &s, &size);
            if (!rc && (!s || size == 0 || s[size - 1] != '\0'))
                rc = -1;
            v.ptr = (const uint8_t *)s;
            v.len = size - 1;
            break;
        }
        case SCHEMA_FIELD_BYTES:
            rc = avro_value_get_bytes(&field, &p, &size);
            v.ptr = size ? p : (const uint8_t *)empty_buf;
            v.len = size;
            break;
        case SCHEMA_FIELD_FIXED:
            rc = avro_value_get_fixed(&field, &p, &size);
            if (!rc && size != f->fixed_size)
                rc = -1;
            v.ptr = p;
            v.len = size;
            break;
        case SCHEMA_FIELD_INT:
            rc = avro_value_get_int(&field, &i32);
            v.num = i32;
            break;
        case SCHEMA_FIELD_LONG:
            rc = avro_value_get_long(&field, &v.num);
            break;
        case SCHEMA_FIELD_ENUM:
            rc = avro_value_get_enum(&field, &e);
            /* Avro-C passes the writer's index through; the prescan bounded it by the writer's
             * symbols, and symbols are append-only, so only a newer writer's symbol is unknown. */
            if (!rc && (e < 0 || (uint32_t)e >= c->reader_nsymbols[k]))
                return codec_err(c, QUIRE_ERR_NOT_FOUND,
                                 "field %s: symbol %d of writer schema %u is unknown to reader "
                                 "schema %u",
                                 f->name, e, d->id, c->reader_id);
            v.num = e;
            break;
        }
        if (rc)
            return codec_err(c, QUIRE_ERR_INTERNAL, "field %s: avro-c value is not readable",
                             f->name);
        out[k] = v;
    }
    return QUIRE_OK;
}

quire_err_t schema_codec_decode(schema_codec_t *c, const uint8_t *buf, size_t len,
                                schema_val_t *ret_vals, uint32_t *ret_schema_id)
{
    c->err[0] = '\0';
    if (len > c->max_message)
        return codec_err(c, QUIRE_ERR_TOO_LARGE, "message of %zu bytes exceeds the %zu-byte cap",
                         len, c->max_message);
    uint32_t id = 0;
    quire_err_t err = schema_codec_frame_parse(buf, len, &id);
    if (err == QUIRE_ERR_EMPTY)
        return codec_err(c, err, "empty message (a tombstone)");
    if (err)
        return codec_err(c, err,
                         len < SCHEMA_CODEC_HEADER_LEN
                             ? "message of %zu bytes is shorter than the 5-byte header"
                             : "message of %zu bytes does not start with magic byte 0",
                         len);
    decoder_t *d = NULL;
    for (size_t i = 0; i < c->ndec && !d; i++) {
        if (c->dec[i].id == id)
            d = &c->dec[i];
    }
    if (!d) {
        schema_registry_entry_t e;
        if (schema_registry_find(id, &e) == QUIRE_OK)
            return codec_err(c, QUIRE_ERR_MALFORMED, "schema id %u is a %s, not a %s", id,
                             e.subject, c->subject);
        return codec_err(c, QUIRE_ERR_NOT_FOUND, "unknown schema id %u", id);
    }
    const uint8_t *body = buf + SCHEMA_CODEC_HEADER_LEN;
    size_t body_len = len - SCHEMA_CODEC_HEADER_LEN;
    char why[sizeof c->err - 32];
    if ((err = avro_prescan_check(d->prescan, body, body_len, why, sizeof why)))
        return codec_err(c, err, "schema %u: %s", id, why);
    avro_value_reset(&d->rvalue);
    avro_reader_memory_set_source(c->reader, body_len ? (const char *)body : empty_buf,
                                  (int64_t)body_len);
    if (avro_value_read(c->reader, &d->wvalue))
        return codec_err(c, QUIRE_ERR_INTERNAL, "avro-c refused a body the prescan accepted");
    if ((err = extract(c, d, c->scratch)))
        return err;
    memcpy(ret_vals, c->scratch, c->nfields * sizeof *ret_vals);
    *ret_schema_id = id;
    return QUIRE_OK;
}
