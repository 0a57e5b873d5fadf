/*
 * avro_prescan — bounded validation of Avro binary data before Avro-C decodes it (see the header
 * for why and for the rules).
 *
 * Design: the writer schema is flattened once into a pre-order array of nodes; each node records
 * its type, a count (fixed size, enum symbols, record fields, union branches) and the index just
 * past its subtree, so a union branch is found by hopping over its siblings. The check walks that
 * array with a cursor over the input; recursion follows the schema (bounded at compile time), never
 * the input.
 */
#include "avro_prescan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef enum op_type_e {
    OP_NULL,
    OP_BOOLEAN,
    OP_INT,
    OP_LONG,
    OP_FLOAT,
    OP_DOUBLE,
    OP_BYTES,
    OP_STRING,
    OP_FIXED,
    OP_ENUM,
    OP_RECORD,
    OP_UNION,
} op_type_t;

typedef struct op_s {
    op_type_t type;
    uint32_t n;   /* fixed: size; enum: symbols; record: fields; union: branches */
    uint32_t end; /* index of the first node after this one's subtree */
} op_t;

struct avro_prescan_s {
    uint32_t nops;
    op_t ops[];
};

typedef struct compiler_s {
    op_t ops[AVRO_PRESCAN_MAX_OPS];
    uint32_t nops;
    char *errbuf;
    size_t errlen;
} compiler_t;

QUIRE_PRINTF(3, 4)
static quire_err_t set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return QUIRE_ERR_INVALID;
}

static quire_err_t emit(compiler_t *c, avro_schema_t s, int depth)
{
    if (depth > AVRO_PRESCAN_MAX_DEPTH)
        return set_err(c->errbuf, c->errlen,
                       "schema nests deeper than %d (recursive schemas are not supported)",
                       AVRO_PRESCAN_MAX_DEPTH);
    while (s && is_avro_link(s))
        s = avro_schema_link_target(s);
    if (!s)
        return set_err(c->errbuf, c->errlen, "schema has a NULL node");
    if (c->nops >= AVRO_PRESCAN_MAX_OPS)
        return set_err(c->errbuf, c->errlen, "schema has more than %d nodes", AVRO_PRESCAN_MAX_OPS);
    uint32_t me = c->nops++;
    op_t *op = &c->ops[me];
    op->n = 0;
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        op->type = OP_NULL;
        break;
    case AVRO_BOOLEAN:
        op->type = OP_BOOLEAN;
        break;
    case AVRO_INT32:
        op->type = OP_INT;
        break;
    case AVRO_INT64:
        op->type = OP_LONG;
        break;
    case AVRO_FLOAT:
        op->type = OP_FLOAT;
        break;
    case AVRO_DOUBLE:
        op->type = OP_DOUBLE;
        break;
    case AVRO_BYTES:
        op->type = OP_BYTES;
        break;
    case AVRO_STRING:
        op->type = OP_STRING;
        break;
    case AVRO_FIXED: {
        int64_t size = avro_schema_fixed_size(s);
        if (size < 0 || size > UINT32_MAX)
            return set_err(c->errbuf, c->errlen, "fixed size %lld out of range", (long long)size);
        op->type = OP_FIXED;
        op->n = (uint32_t)size;
        break;
    }
    case AVRO_ENUM: {
        int n = avro_schema_enum_number_of_symbols(s);
        if (n <= 0)
            return set_err(c->errbuf, c->errlen, "enum %s has no symbols", avro_schema_name(s));
        op->type = OP_ENUM;
        op->n = (uint32_t)n;
        break;
    }
    case AVRO_RECORD: {
        size_t n = avro_schema_record_size(s);
        op->type = OP_RECORD;
        op->n = (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
            quire_err_t err = emit(c, avro_schema_record_field_get_by_index(s, (int)i), depth + 1);
            if (err)
                return err;
        }
        break;
    }
    case AVRO_UNION: {
        size_t n = avro_schema_union_size(s);
        if (n == 0)
            return set_err(c->errbuf, c->errlen, "union has no branches");
        op->type = OP_UNION;
        op->n = (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
            quire_err_t err = emit(c, avro_schema_union_branch(s, (int)i), depth + 1);
            if (err)
                return err;
        }
        break;
    }
    default:
        return set_err(c->errbuf, c->errlen,
                       "schema type %s is not supported by the prescan (arrays and maps need "
                       "count caps first)",
                       avro_schema_type_name(s));
    }
    c->ops[me].end = c->nops;
    return QUIRE_OK;
}

quire_err_t avro_prescan_compile(avro_schema_t schema, avro_prescan_t **ret_prog, char *errbuf,
                                 size_t errlen)
{
    compiler_t *c = malloc(sizeof *c);
    if (!c)
        return QUIRE_ERR_NOMEM;
    c->nops = 0;
    c->errbuf = errbuf;
    c->errlen = errlen;
    quire_err_t err = emit(c, schema, 0);
    if (err) {
        free(c);
        return err;
    }
    avro_prescan_t *p = malloc(sizeof *p + c->nops * sizeof(op_t));
    if (!p) {
        free(c);
        return QUIRE_ERR_NOMEM;
    }
    p->nops = c->nops;
    for (uint32_t i = 0; i < c->nops; i++)
        p->ops[i] = c->ops[i];
    free(c);
    *ret_prog = p;
    return QUIRE_OK;
}

void avro_prescan_free(avro_prescan_t *prog)
{
    free(prog);
}

bool avro_prescan_utf8_ok(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        if (b == 0)
            return false;
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1, cp = b & 0x1F, min = 0x80;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2, cp = b & 0x0F, min = 0x800;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3, cp = b & 0x07, min = 0x10000;
        } else {
            return false; /* continuation byte, overlong lead C0/C1, or F5..FF */
        }
        if (len - i - 1 < need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            uint8_t cb = s[i + k];
            if ((cb & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (cb & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

typedef struct cursor_s {
    const uint8_t *buf;
    size_t pos, len;
    char *errbuf;
    size_t errlen;
} cursor_t;

QUIRE_PRINTF(2, 3)
static quire_err_t bad(cursor_t *c, const char *fmt, ...)
{
    if (c->errbuf && c->errlen) {
        int n = snprintf(c->errbuf, c->errlen, "at byte %zu of the Avro body: ", c->pos);
        if (n > 0 && (size_t)n < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->errbuf + n, c->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return QUIRE_ERR_MALFORMED;
}

/* A zig-zag varint of at most 10 bytes whose value fits in 64 bits. */
static quire_err_t read_long(cursor_t *c, int64_t *ret)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < 10; k++) {
        if (c->pos >= c->len)
            return bad(c, "truncated varint");
        uint8_t b = c->buf[c->pos];
        if (k == 9 && b > 1)
            return bad(c, "varint overflows 64 bits");
        c->pos++;
        v |= (uint64_t)(b & 0x7F) << (7 * k);
        if (!(b & 0x80)) {
            uint64_t u = (v >> 1) ^ (0 - (v & 1));
            *ret = u > (uint64_t)INT64_MAX ? -(int64_t)(~u) - 1 : (int64_t)u;
            return QUIRE_OK;
        }
    }
    return bad(c, "varint longer than 10 bytes");
}

static quire_err_t need(cursor_t *c, int64_t n, const char *what)
{
    if (n < 0)
        return bad(c, "negative %s length %lld", what, (long long)n);
    if ((uint64_t)n > c->len - c->pos)
        return bad(c, "%s length %lld exceeds the %zu bytes left", what, (long long)n,
                   c->len - c->pos);
    return QUIRE_OK;
}

static quire_err_t scan(const avro_prescan_t *p, uint32_t i, cursor_t *c)
{
    const op_t *op = &p->ops[i];
    quire_err_t err;
    int64_t v;
    switch (op->type) {
    case OP_NULL:
        return QUIRE_OK;
    case OP_BOOLEAN:
        if (c->pos >= c->len)
            return bad(c, "truncated boolean");
        if (c->buf[c->pos] > 1)
            return bad(c, "boolean byte %u is neither 0 nor 1", c->buf[c->pos]);
        c->pos++;
        return QUIRE_OK;
    case OP_INT:
        if ((err = read_long(c, &v)))
            return err;
        if (v < INT32_MIN || v > INT32_MAX)
            return bad(c, "int value %lld out of range", (long long)v);
        return QUIRE_OK;
    case OP_LONG:
        return read_long(c, &v);
    case OP_FLOAT:
        if ((err = need(c, 4, "float")))
            return err;
        c->pos += 4;
        return QUIRE_OK;
    case OP_DOUBLE:
        if ((err = need(c, 8, "double")))
            return err;
        c->pos += 8;
        return QUIRE_OK;
    case OP_BYTES:
    case OP_STRING:
        if ((err = read_long(c, &v)))
            return err;
        if ((err = need(c, v, op->type == OP_STRING ? "string" : "bytes")))
            return err;
        if (op->type == OP_STRING && v > 0 && !avro_prescan_utf8_ok(c->buf + c->pos, (size_t)v))
            return bad(c, "string is not UTF-8 or contains NUL");
        c->pos += (size_t)v;
        return QUIRE_OK;
    case OP_FIXED:
        if ((err = need(c, op->n, "fixed")))
            return err;
        c->pos += op->n;
        return QUIRE_OK;
    case OP_ENUM:
        if ((err = read_long(c, &v)))
            return err;
        if (v < 0 || v >= (int64_t)op->n)
            return bad(c, "enum index %lld out of range 0..%u", (long long)v, op->n - 1);
        return QUIRE_OK;
    case OP_RECORD: {
        uint32_t child = i + 1;
        for (uint32_t k = 0; k < op->n; k++) {
            if ((err = scan(p, child, c)))
                return err;
            child = p->ops[child].end;
        }
        return QUIRE_OK;
    }
    case OP_UNION: {
        if ((err = read_long(c, &v)))
            return err;
        if (v < 0 || v >= (int64_t)op->n)
            return bad(c, "union branch %lld out of range 0..%u", (long long)v, op->n - 1);
        uint32_t child = i + 1;
        for (int64_t k = 0; k < v; k++)
            child = p->ops[child].end;
        return scan(p, child, c);
    }
    }
    return bad(c, "corrupt prescan program");
}

quire_err_t avro_prescan_check(const avro_prescan_t *prog, const uint8_t *buf, size_t len,
                               char *errbuf, size_t errlen)
{
    cursor_t c = {.buf = buf, .pos = 0, .len = len, .errbuf = errbuf, .errlen = errlen};
    quire_err_t err = scan(prog, 0, &c);
    if (err)
        return err;
    if (c.pos != len)
        return bad(&c, "%zu bytes trail the datum", len - c.pos);
    return QUIRE_OK;
}
