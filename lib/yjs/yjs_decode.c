/*
 * yjs_decode — the streaming v1 decoder.
 *
 * Each public call advances a small state machine (struct groups → delete set → done). Failure is
 * sticky: the first error, its message and its offset are kept and every later call returns it.
 * Reads go through yjs_wire, whose functions check every length against what remains.
 */
#include "yjs_decode.h"

#include "yjs_any.h"
#include "yjs_json.h"
#include "yjs_text.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { ST_STRUCTS, ST_DS_HEADER, ST_DS, ST_DONE, ST_FAILED };

static const yjs_limits_t default_limits = YJS_LIMITS_DEFAULT;

static int fail_at(yjs_decoder_t *d, const uint8_t *at, quire_err_t err, const char *msg)
{
    if (d->state != ST_FAILED) {
        d->state = ST_FAILED;
        d->err = err;
        d->err_msg = msg;
        d->err_offset = (size_t)(at - d->start);
    }
    return d->err;
}

static int fail(yjs_decoder_t *d, quire_err_t err, const char *msg)
{
    return fail_at(d, d->w.pos, err, msg);
}

quire_err_t yjs_decode_init(yjs_decoder_t *d, const uint8_t *update, size_t len,
                            const yjs_limits_t *limits, unsigned flags)
{
    memset(d, 0, sizeof *d);
    d->limits = limits ? limits : &default_limits;
    d->start = update;
    d->w.pos = update;
    d->w.end = update + len;
    d->flags = (uint8_t)flags;
    d->err_msg = "";
    if (len == 0)
        return fail(d, QUIRE_ERR_EMPTY, "empty update (an empty Yjs update is the 2 bytes 00 00)");
    if (len > d->limits->max_update_bytes)
        return fail(d, QUIRE_ERR_TOO_LARGE, "update exceeds the maximum update size");
    uint64_t groups;
    if (!yjs_wire_varuint(&d->w, &groups))
        return fail(d, QUIRE_ERR_MALFORMED, "bad varUint: number of client groups");
    if (groups > d->limits->max_clients)
        return fail(d, QUIRE_ERR_LIMIT, "too many client groups");
    /* a group takes at least 3 bytes (count, client, clock); the delete set at least 1 */
    if (groups > yjs_wire_left(&d->w) / 3)
        return fail(d, QUIRE_ERR_MALFORMED, "more client groups declared than bytes remain");
    d->groups_left = groups;
    d->state = ST_STRUCTS;
    return QUIRE_OK;
}

#define CHECK(cond, msg)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return fail_at(d, at, QUIRE_ERR_MALFORMED, msg);                                       \
    } while (0)

/* For checks returning quire_err_t (MALFORMED or LIMIT). */
#define CHECK_ERR(expr, msg)                                                                       \
    do {                                                                                           \
        quire_err_t e_ = (expr);                                                                   \
        if (e_ != QUIRE_OK)                                                                        \
            return fail_at(d, at, e_,                                                              \
                           e_ == QUIRE_ERR_LIMIT ? "nested deeper than the limit" : msg);          \
    } while (0)

/* For read_json's 1 / 0 / -1. */
#define CHECK_JSON(expr, msg)                                                                      \
    do {                                                                                           \
        int r_ = (expr);                                                                           \
        if (r_ <= 0)                                                                               \
            return fail_at(d, at, r_ < 0 ? QUIRE_ERR_LIMIT : QUIRE_ERR_MALFORMED,                  \
                           r_ < 0 ? "nested deeper than the limit" : msg);                         \
    } while (0)

static bool is_self_ref(const yjs_decoder_t *d, const yjs_id_t *ref)
{
    return ref->client == d->client && ref->clock >= d->clock;
}

/* Reads a varString; validates UTF-8 unless skimming. */
static bool read_string(yjs_decoder_t *d, yjs_span_t *ret)
{
    if (!yjs_wire_buf(&d->w, &ret->ptr, &ret->len))
        return false;
    return (d->flags & YJS_DECODE_SKIM) || yjs_text_validate(ret->ptr, ret->len, NULL, NULL);
}

/* A varString holding JSON text: 1 ok, 0 malformed, -1 nested deeper than the limit. */
static int read_json(yjs_decoder_t *d, yjs_span_t *ret)
{
    if (!read_string(d, ret))
        return 0;
    if (d->flags & YJS_DECODE_SKIM)
        return 1;
    quire_err_t err = yjs_json_validate(ret->ptr, ret->len, d->limits->max_depth);
    return err == QUIRE_OK ? 1 : err == QUIRE_ERR_LIMIT ? -1 : 0;
}

static int read_content(yjs_decoder_t *d, const uint8_t *at, yjs_content_t *c)
{
    bool skim = (d->flags & YJS_DECODE_SKIM) != 0;
    const uint8_t *p;
    uint64_t n;
    c->count = 1;
    c->str_flags = 0;
    c->type_ref = 0;
    c->key.ptr = NULL;
    c->key.len = 0;
    c->body.ptr = NULL;
    c->body.len = 0;
    switch (c->ref) {
    case YJS_CONTENT_STRING: {
        CHECK(yjs_wire_buf(&d->w, &c->body.ptr, &c->body.len), "string runs past the end");
        if (skim) {
            c->count = yjs_text_utf16_len(c->body.ptr, c->body.len);
            if (c->count == c->body.len) /* for valid UTF-8 only ASCII has 1 unit per byte */
                c->str_flags = YJS_STR_ASCII;
        } else {
            bool ascii;
            CHECK(yjs_text_validate(c->body.ptr, c->body.len, &c->count, &ascii),
                  "string is not valid UTF-8");
            if (ascii)
                c->str_flags = YJS_STR_ASCII;
        }
        CHECK(c->count > 0, "empty string content");
        return 0;
    }
    case YJS_CONTENT_DELETED:
        CHECK(yjs_wire_varuint(&d->w, &c->count), "bad varUint: deleted length");
        CHECK(c->count > 0, "zero deleted length");
        return 0;
    case YJS_CONTENT_JSON:
    case YJS_CONTENT_ANY:
        CHECK(yjs_wire_varuint(&d->w, &n), "bad varUint: element count");
        CHECK(n > 0, "zero elements");
        CHECK(n <= yjs_wire_left(&d->w), "more elements declared than bytes remain");
        c->count = n;
        c->body.ptr = d->w.pos;
        for (uint64_t i = 0; i < n; i++) {
            if (c->ref == YJS_CONTENT_JSON) {
                yjs_span_t s;
                CHECK(read_string(d, &s), "JSON element runs past the end or is not UTF-8");
                if (!skim && !(s.len == 9 && memcmp(s.ptr, "undefined", 9) == 0))
                    CHECK_ERR(yjs_json_validate(s.ptr, s.len, d->limits->max_depth),
                              "JSON element is not valid JSON");
            } else {
                CHECK_ERR(yjs_any_skip(&d->w, d->limits->max_depth, !skim),
                          "malformed any value (bad tag, truncated or bad UTF-8)");
            }
        }
        c->body.len = (size_t)(d->w.pos - c->body.ptr);
        return 0;
    case YJS_CONTENT_BINARY:
        CHECK(yjs_wire_buf(&d->w, &c->body.ptr, &c->body.len), "binary runs past the end");
        return 0;
    case YJS_CONTENT_EMBED:
        CHECK_JSON(read_json(d, &c->body), "embed is not valid JSON text");
        return 0;
    case YJS_CONTENT_FORMAT:
        CHECK(read_string(d, &c->key), "format key runs past the end or is not UTF-8");
        CHECK_JSON(read_json(d, &c->body), "format value is not valid JSON text");
        return 0;
    case YJS_CONTENT_TYPE: {
        uint8_t t;
        CHECK(yjs_wire_u8(&d->w, &t), "type ref runs past the end");
        CHECK(t <= YJS_TYPE_XML_TEXT, "unknown type ref");
        c->type_ref = t;
        if (t == YJS_TYPE_XML_ELEMENT || t == YJS_TYPE_XML_HOOK)
            CHECK(read_string(d, &c->body), "node name runs past the end or is not UTF-8");
        return 0;
    }
    case YJS_CONTENT_DOC:
        CHECK(read_string(d, &c->body), "subdocument guid runs past the end or is not UTF-8");
        p = d->w.pos;
        CHECK(p < d->w.end && *p == 118, "subdocument options are not an object");
        CHECK_ERR(yjs_any_skip(&d->w, d->limits->max_depth, !skim),
                  "malformed subdocument options");
        c->key.ptr = p;
        c->key.len = (size_t)(d->w.pos - p);
        return 0;
    default:
        CHECK(false, "unknown content ref");
    }
    return 0;
}

static int read_struct(yjs_decoder_t *d, yjs_struct_t *s)
{
    const uint8_t *at = d->w.pos;
    uint8_t info;
    CHECK(yjs_wire_u8(&d->w, &info), "struct runs past the end");
    s->id.client = d->client;
    s->id.clock = d->clock;
    uint8_t ref = info & YJS_INFO_REF_MASK;
    if (ref == 0 || info == YJS_KIND_SKIP) {
        /* GC (Yjs ignores the upper bits of a GC's info byte) or Skip */
        s->kind = ref == 0 ? YJS_KIND_GC : YJS_KIND_SKIP;
        s->info = s->kind;
        CHECK(yjs_wire_varuint(&d->w, &s->len), "bad varUint: GC/Skip length");
        CHECK(s->len > 0, "zero-length GC/Skip");
        s->content.ref = 0;
    } else {
        CHECK(ref <= YJS_CONTENT_DOC, "unknown content ref");
        s->kind = YJS_KIND_ITEM;
        s->content.ref = ref;
        uint8_t canon = ref;
        if (info & YJS_INFO_ORIGIN) {
            CHECK(yjs_wire_varuint(&d->w, &s->origin.client) &&
                      yjs_wire_varuint(&d->w, &s->origin.clock),
                  "bad varUint: origin");
            CHECK(!is_self_ref(d, &s->origin), "origin refers to the item itself or later");
            canon |= YJS_INFO_ORIGIN;
        }
        if (info & YJS_INFO_RIGHT_ORIGIN) {
            CHECK(yjs_wire_varuint(&d->w, &s->right_origin.client) &&
                      yjs_wire_varuint(&d->w, &s->right_origin.clock),
                  "bad varUint: right origin");
            CHECK(!is_self_ref(d, &s->right_origin),
                  "right origin refers to the item itself or later");
            canon |= YJS_INFO_RIGHT_ORIGIN;
        }
        if (!(info & (YJS_INFO_ORIGIN | YJS_INFO_RIGHT_ORIGIN))) {
            uint8_t pinfo;
            CHECK(yjs_wire_u8(&d->w, &pinfo), "parent info runs past the end");
            CHECK(pinfo <= 1, "parent info is neither 0 (id) nor 1 (root name)");
            s->parent_is_root = pinfo == 1;
            if (s->parent_is_root) {
                CHECK(read_string(d, &s->parent_key), "root name runs past the end or not UTF-8");
            } else {
                CHECK(yjs_wire_varuint(&d->w, &s->parent_id.client) &&
                          yjs_wire_varuint(&d->w, &s->parent_id.clock),
                      "bad varUint: parent id");
                CHECK(!is_self_ref(d, &s->parent_id), "parent refers to the item itself or later");
            }
            if (info & YJS_INFO_PARENT_SUB) {
                CHECK(read_string(d, &s->parent_sub), "parentSub runs past the end or not UTF-8");
                canon |= YJS_INFO_PARENT_SUB;
            }
        }
        s->info = canon;
        int r = read_content(d, at, &s->content);
        if (r < 0)
            return r;
        s->len = s->content.count;
    }
    CHECK(s->len <= YJS_MAX_SAFE - d->clock, "clock overflows 2^53 - 1");
    d->clock += s->len;
    s->raw.ptr = at;
    s->raw.len = (size_t)(d->w.pos - at);
    return 1;
}

/* Moves to the group of the next struct: 1 when there is one, 0 at the end, < 0 on error. */
static int next_group(yjs_decoder_t *d)
{
    if (d->state != ST_STRUCTS)
        return d->state == ST_FAILED ? d->err : 0;
    while (d->structs_left == 0) {
        if (d->groups_left == 0) {
            d->state = ST_DS_HEADER;
            return 0;
        }
        const uint8_t *at = d->w.pos;
        uint64_t n, client, clock;
        CHECK(yjs_wire_varuint(&d->w, &n), "bad varUint: number of structs");
        CHECK(yjs_wire_varuint(&d->w, &client), "bad varUint: client");
        CHECK(yjs_wire_varuint(&d->w, &clock), "bad varUint: first clock");
        CHECK(n <= yjs_wire_left(&d->w) / 2, "more structs declared than bytes remain");
        d->groups_left--;
        d->structs_left = n;
        d->client = client;
        d->clock = clock;
    }
    if (d->nstructs >= d->limits->max_structs)
        return fail(d, QUIRE_ERR_LIMIT, "too many structs");
    return 1;
}

int yjs_decode_next_struct(yjs_decoder_t *d, yjs_struct_t *ret_struct)
{
    int r = next_group(d);
    if (r <= 0)
        return r;
    r = read_struct(d, ret_struct);
    if (r < 0)
        return r;
    d->structs_left--;
    d->nstructs++;
    return 1;
}

int yjs_decode_next_delete(yjs_decoder_t *d, uint64_t *ret_client, uint64_t *ret_clock,
                           uint64_t *ret_len)
{
    const uint8_t *at = d->w.pos;
    if (d->state == ST_STRUCTS) {
        yjs_struct_t s;
        int r;
        while ((r = yjs_decode_next_struct(d, &s)) > 0)
            ;
        if (r < 0)
            return r;
        at = d->w.pos;
    }
    if (d->state == ST_FAILED)
        return d->err;
    if (d->state == ST_DONE)
        return 0;
    if (d->state == ST_DS_HEADER) {
        uint64_t n;
        CHECK(yjs_wire_varuint(&d->w, &n), "bad varUint: number of delete-set clients");
        if (n > d->limits->max_clients)
            return fail_at(d, at, QUIRE_ERR_LIMIT, "too many delete-set clients");
        CHECK(n <= yjs_wire_left(&d->w) / 2, "more delete-set clients declared than bytes remain");
        d->ds_clients_left = n;
        d->ds_ranges_left = 0;
        d->state = ST_DS;
    }
    while (d->ds_ranges_left == 0) {
        at = d->w.pos;
        if (d->ds_clients_left == 0) {
            CHECK(d->w.pos == d->w.end, "trailing bytes after the delete set");
            d->state = ST_DONE;
            return 0;
        }
        uint64_t client, n;
        CHECK(yjs_wire_varuint(&d->w, &client), "bad varUint: delete-set client");
        CHECK(yjs_wire_varuint(&d->w, &n), "bad varUint: number of delete ranges");
        CHECK(n <= yjs_wire_left(&d->w) / 2, "more delete ranges declared than bytes remain");
        d->ds_clients_left--;
        d->ds_client = client;
        d->ds_ranges_left = n;
    }
    at = d->w.pos;
    uint64_t clock, len;
    CHECK(yjs_wire_varuint(&d->w, &clock) && yjs_wire_varuint(&d->w, &len),
          "bad varUint: delete range");
    CHECK(len <= YJS_MAX_SAFE - clock, "delete range overflows 2^53 - 1");
    if (d->nranges >= d->limits->max_delete_ranges)
        return fail_at(d, at, QUIRE_ERR_LIMIT, "too many delete ranges");
    d->nranges++;
    d->ds_ranges_left--;
    *ret_client = d->ds_client;
    *ret_clock = clock;
    *ret_len = len;
    return 1;
}

quire_err_t yjs_decode_struct(const uint8_t *raw, size_t len, uint64_t client, uint64_t clock,
                              const yjs_limits_t *limits, unsigned flags, yjs_struct_t *ret_struct)
{
    yjs_decoder_t d;
    memset(&d, 0, sizeof d);
    d.limits = limits ? limits : &default_limits;
    d.start = raw;
    d.w.pos = raw;
    d.w.end = raw + len;
    d.flags = (uint8_t)flags;
    d.client = client;
    d.clock = clock;
    d.state = ST_STRUCTS;
    yjs_struct_t s;
    int r = read_struct(&d, &s);
    if (r < 0)
        return (quire_err_t)r;
    if (d.w.pos != d.w.end)
        return QUIRE_ERR_MALFORMED;
    *ret_struct = s;
    return QUIRE_OK;
}

/* Skips a varUint: its terminating byte within 8 bytes (no value or minimality checks). */
static inline bool skip_varuint(yjs_wire_t *w)
{
    const uint8_t *p = w->pos;
    if (w->end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t stop = ~x & UINT64_C(0x8080808080808080);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (stop == 0)
            return false;
        w->pos = p + ((unsigned)__builtin_ctzll(stop) >> 3) + 1;
        return true;
#else
        (void)stop;
#endif
    }
    for (int i = 0; i < 8 && p < w->end; i++)
        if (*p++ < 0x80) {
            w->pos = p;
            return true;
        }
    return false;
}

/* Skips k consecutive varUints (1 ≤ k ≤ 4): an origin, a right origin, a parent id. With SSE2
 * one 16-byte load and a movemask show every terminating byte, so the k-th is found without a
 * loop over bytes; near the end of the input, or without SSE2, varint by varint. Skim mode only:
 * the values (ids) are not needed, so neither their range nor minimality is checked. */
static inline bool skip_varuints(yjs_wire_t *w, unsigned k)
{
#if defined(__SSE2__)
    if (w->end - w->pos >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)w->pos);
        unsigned stop = ~(unsigned)_mm_movemask_epi8(v) & 0xffffu;
        for (unsigned i = 1; i < k; i++)
            stop &= stop - 1;
        if (stop) {
            w->pos += (unsigned)__builtin_ctz(stop) + 1;
            return true;
        }
    }
#endif
    while (k--)
        if (!skip_varuint(w))
            return false;
    return true;
}

static inline bool skip_varbuf(yjs_wire_t *w)
{
    const uint8_t *p;
    size_t n;
    return yjs_wire_buf(w, &p, &n);
}

/* The structure-only struct reader behind next_extent(SKIM): same bounds and shape checks as
 * read_struct, no UTF-8, JSON or reference checks, no fields kept. */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* w is the caller's (register-held) copy of d->w; the struct starts at `clock`. On success the
 * struct's kind and length are in *e (its id is not filled in). */
static ALWAYS_INLINE int skim_struct(yjs_decoder_t *d, yjs_wire_t *w, uint64_t clock,
                                     yjs_extent_t *e)
{
    const uint8_t *at = w->pos;
    uint8_t info;
    uint64_t len, n;
    CHECK(yjs_wire_u8(w, &info), "struct runs past the end");
    uint8_t ref = info & YJS_INFO_REF_MASK;
    if (ref == YJS_CONTENT_STRING && (info & (YJS_INFO_ORIGIN | YJS_INFO_RIGHT_ORIGIN))) {
        /* the common case — typed text — first: ids, then a short string */
        unsigned ids = ((info >> 7) & 1) + ((info >> 6) & 1);
        const uint8_t *p;
        size_t bytes;
        CHECK(skip_varuints(w, 2 * ids), "bad varUint: origin");
        CHECK(yjs_wire_buf(w, &p, &bytes), "string runs past the end");
        if (bytes == 1) {
            len = 1; /* one key stroke; as valid UTF-8 it is one ASCII unit */
        } else if (bytes <= 8) {
            len = 0;
            for (size_t i = 0; i < bytes; i++)
                len += ((p[i] & 0xC0) != 0x80) + (p[i] >= 0xF0);
        } else {
            len = yjs_text_utf16_len(p, bytes);
        }
        CHECK(len > 0 && len <= YJS_MAX_SAFE - clock, "empty string or clock overflow");
        e->kind = YJS_KIND_ITEM;
        e->len = len;
        return 1;
    }
    if (ref == 0 || info == YJS_KIND_SKIP) {
        e->kind = ref == 0 ? YJS_KIND_GC : YJS_KIND_SKIP;
        CHECK(yjs_wire_varuint(w, &len) && len > 0, "bad GC/Skip length");
    } else {
        CHECK(ref <= YJS_CONTENT_DOC, "unknown content ref");
        e->kind = YJS_KIND_ITEM;
        unsigned ids = ((info >> 7) & 1) + ((info >> 6) & 1);
        if (ids)
            CHECK(skip_varuints(w, 2 * ids), "bad varUint: origin");
        else {
            uint8_t pinfo;
            CHECK(yjs_wire_u8(w, &pinfo) && pinfo <= 1, "bad parent info");
            if (pinfo)
                CHECK(skip_varbuf(w), "root name runs past the end");
            else
                CHECK(skip_varuints(w, 2), "bad varUint: parent id");
            if (info & YJS_INFO_PARENT_SUB)
                CHECK(skip_varbuf(w), "parentSub runs past the end");
        }
        len = 1;
        switch (ref) {
        case YJS_CONTENT_STRING: {
            const uint8_t *p;
            size_t bytes;
            CHECK(yjs_wire_buf(w, &p, &bytes), "string runs past the end");
            if (bytes <= 8) {
                len = 0;
                for (size_t i = 0; i < bytes; i++)
                    len += ((p[i] & 0xC0) != 0x80) + (p[i] >= 0xF0);
            } else {
                len = yjs_text_utf16_len(p, bytes);
            }
            CHECK(len > 0, "empty string content");
            break;
        }
        case YJS_CONTENT_DELETED:
            CHECK(yjs_wire_varuint(w, &len) && len > 0, "bad deleted length");
            break;
        case YJS_CONTENT_JSON:
        case YJS_CONTENT_ANY:
            CHECK(yjs_wire_varuint(w, &n) && n > 0 && n <= yjs_wire_left(w), "bad element count");
            for (uint64_t i = 0; i < n; i++) {
                if (ref == YJS_CONTENT_JSON)
                    CHECK(skip_varbuf(w), "JSON element runs past the end");
                else
                    CHECK_ERR(yjs_any_skip(w, d->limits->max_depth, false), "malformed any value");
            }
            len = n;
            break;
        case YJS_CONTENT_BINARY:
        case YJS_CONTENT_EMBED:
            CHECK(skip_varbuf(w), "content runs past the end");
            break;
        case YJS_CONTENT_FORMAT:
            CHECK(skip_varbuf(w) && skip_varbuf(w), "format runs past the end");
            break;
        case YJS_CONTENT_TYPE: {
            uint8_t t;
            CHECK(yjs_wire_u8(w, &t) && t <= YJS_TYPE_XML_TEXT, "bad type ref");
            if (t == YJS_TYPE_XML_ELEMENT || t == YJS_TYPE_XML_HOOK)
                CHECK(skip_varbuf(w), "node name runs past the end");
            break;
        }
        default: /* YJS_CONTENT_DOC */
            CHECK(skip_varbuf(w), "subdocument guid runs past the end");
            CHECK(w->pos < w->end && *w->pos == 118, "subdocument options are not an object");
            CHECK_ERR(yjs_any_skip(w, d->limits->max_depth, false),
                      "malformed subdocument options");
            break;
        }
    }
    CHECK(len <= YJS_MAX_SAFE - clock, "clock overflows 2^53 - 1");
    e->len = len;
    return 1;
}

int yjs_decode_next_extent(yjs_decoder_t *d, yjs_extent_t *ret_extent)
{
    int r = next_group(d);
    if (r <= 0)
        return r;
    if (d->flags & YJS_DECODE_SKIM) {
        yjs_wire_t w = d->w;
        r = skim_struct(d, &w, d->clock, ret_extent);
        if (r > 0) {
            d->w = w;
            ret_extent->id.client = d->client;
            ret_extent->id.clock = d->clock;
            d->clock += ret_extent->len;
        }
    } else {
        yjs_struct_t s;
        r = read_struct(d, &s);
        if (r > 0) {
            ret_extent->id = s.id;
            ret_extent->len = s.len;
            ret_extent->kind = s.kind;
        }
    }
    if (r < 0)
        return r;
    d->structs_left--;
    d->nstructs++;
    return 1;
}

int yjs_decode_next_group(yjs_decoder_t *d, yjs_group_extent_t *ret_group)
{
    int r = next_group(d);
    if (r <= 0)
        return r;
    yjs_group_extent_t g = {.client = d->client, .clock = d->clock, .skip_clock = UINT64_MAX};
    bool skim = (d->flags & YJS_DECODE_SKIM) != 0;
    uint64_t left = d->structs_left;
    if (left > d->limits->max_structs - d->nstructs)
        return fail(d, QUIRE_ERR_LIMIT, "too many structs");
    if (skim) {
        yjs_wire_t w = d->w;
        uint64_t clock = d->clock;
        for (uint64_t i = 0; i < left; i++) {
            yjs_extent_t e = {.len = 0, .kind = 0};
#if defined(__SSE2__)
            /* Typed text — string items with origins, one key stroke each — in a tight loop:
             * the info byte and the varint terminators come from the same two 16-byte loads,
             * so the next struct's position depends on no other read. Anything else falls
             * through to skim_struct. */
            if (i > 0 && clock <= YJS_MAX_SAFE - (left - i)) {
                const uint8_t *p = w.pos;
                size_t step = 0;
                while (i < left && w.end - p >= 48) { /* q + 1 < 34 stays in reach */
                    uint8_t info = p[0];
                    if ((info & YJS_INFO_REF_MASK) != YJS_CONTENT_STRING ||
                        !(info & (YJS_INFO_ORIGIN | YJS_INFO_RIGHT_ORIGIN)))
                        break;
                    __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)p);
                    __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
                    uint32_t stop =
                        ~((uint32_t)_mm_movemask_epi8(v0) | (uint32_t)_mm_movemask_epi8(v1) << 16) &
                        0xfffffffeu;
                    /* the 2nd or the 4th terminator (a branch: runs of typing with or without
                     * a right origin predict well, and prediction beats a data dependency) */
                    uint32_t s1 = stop & (stop - 1), s2 = s1 & (s1 - 1), s3 = s2 & (s2 - 1);
                    stop = (info & YJS_INFO_ORIGIN) && (info & YJS_INFO_RIGHT_ORIGIN) ? s3 : s1;
                    if (!stop)
                        break;
                    size_t q = (size_t)__builtin_ctz(stop) + 1; /* the string's length byte */
                    if (p[q] != 1 || p[q + 1] >= 0x80)
                        break;
                    /* Advance by the previous struct's size unless this one differs: a
                     * well-predicted branch lets the next loads start before this struct's
                     * terminators are known (the empty asm keeps the compiler from turning the
                     * branch back into a data dependency). */
                    if (__builtin_expect(q + 2 != step, 0)) {
                        step = q + 2;
                        __asm__("" : "+r"(step));
                    }
                    p += step;
                    clock++;
                    i++;
                }
                w.pos = p;
                if (i == left)
                    break;
            }
#endif
            r = skim_struct(d, &w, clock, &e);
            if (r < 0)
                return r;
            if (e.kind == YJS_KIND_SKIP && g.skip_clock == UINT64_MAX) {
                g.skip_clock = clock;
                g.first_is_skip = i == 0;
            }
            clock += e.len;
            if (i == 0)
                g.first_end = clock;
        }
        d->w = w;
        d->clock = clock;
    } else {
        for (uint64_t i = 0; i < left; i++) {
            uint64_t before = d->clock;
            yjs_struct_t s;
            r = read_struct(d, &s);
            if (r < 0)
                return r;
            if (i == 0)
                g.first_end = d->clock;
            if (s.kind == YJS_KIND_SKIP && g.skip_clock == UINT64_MAX) {
                g.skip_clock = before;
                g.first_is_skip = i == 0;
            }
        }
    }
    if (g.skip_clock == UINT64_MAX)
        g.skip_clock = d->clock;
    d->structs_left = 0;
    d->nstructs += left;
    g.nstructs = left;
    g.end = d->clock;
    *ret_group = g;
    return 1;
}

const char *yjs_decode_error(const yjs_decoder_t *d, size_t *ret_offset)
{
    if (ret_offset)
        *ret_offset = d->err_offset;
    return d->err_msg ? d->err_msg : "";
}

quire_err_t yjs_decode_check(const uint8_t *update, size_t len, const yjs_limits_t *limits,
                             unsigned flags)
{
    yjs_decoder_t d;
    quire_err_t err = yjs_decode_init(&d, update, len, limits, flags);
    if (err != QUIRE_OK)
        return err;
    uint64_t client, clock, dlen;
    int r;
    while ((r = yjs_decode_next_delete(&d, &client, &clock, &dlen)) > 0)
        ;
    return r < 0 ? (quire_err_t)r : QUIRE_OK;
}
