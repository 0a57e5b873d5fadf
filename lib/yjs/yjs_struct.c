/*
 * yjs_struct — slicing and encoding of decoded structs.
 *
 * Slicing mirrors Yjs exactly (src/utils/updates.js sliceStruct, src/structs/Content*.js splice):
 * the right part of an Item gets origin (client, clock + offset − 1) and keeps right origin,
 * parent and parentSub (the latter two are then not encoded, because an origin is present).
 */
#include "yjs_struct.h"

#include "yjs_any.h"
#include "yjs_text.h"
#include "yjs_wire.h"

/* Structs handed to slice/truncate were validated when decoded: a re-parse cannot fail, but if it
 * ever did we report QUIRE_ERR_INTERNAL rather than trust it. */
#define RESKIP_DEPTH 4096

/* Byte length of the first n elements of an element region (JSON varStrings or anys). */
static bool element_bytes(const yjs_content_t *c, uint64_t n, size_t *ret)
{
    yjs_wire_t w = {c->body.ptr, c->body.ptr + c->body.len};
    for (uint64_t i = 0; i < n; i++) {
        if (c->ref == YJS_CONTENT_JSON) {
            const uint8_t *p;
            size_t l;
            if (!yjs_wire_buf(&w, &p, &l))
                return false;
        } else if (yjs_any_skip(&w, RESKIP_DEPTH, false) != QUIRE_OK) {
            return false;
        }
    }
    *ret = (size_t)(w.pos - c->body.ptr);
    return true;
}

/* Splits string content at UTF-16 offset k (0 < k < count): keeps the right part when `right`,
 * else the left part. */
static void string_cut(yjs_content_t *c, uint64_t k, bool right)
{
    uint64_t lead = (c->str_flags & YJS_STR_LEAD_FFFD) ? 1 : 0;
    uint64_t trail = (c->str_flags & YJS_STR_TRAIL_FFFD) ? 1 : 0;
    uint64_t body_units = c->count - lead - trail;
    uint8_t flags = c->str_flags;
    size_t byte = 0;
    bool split_pair = false;
    uint64_t kb = k - lead; /* offset inside body (k ≥ 1, so a lead FFFD is on the left) */
    if (kb >= body_units) {
        byte = c->body.len; /* cut between body and the trailing FFFD */
    } else if (flags & YJS_STR_ASCII) {
        byte = (size_t)kb;
    } else {
        yjs_text_offset(c->body.ptr, c->body.len, kb, &byte, &split_pair);
    }
    if (right) {
        size_t from = split_pair ? byte + 4 : byte;
        c->body.ptr += from;
        c->body.len -= from;
        flags &= (uint8_t)~YJS_STR_LEAD_FFFD;
        if (split_pair)
            flags |= YJS_STR_LEAD_FFFD;
        c->count -= k;
    } else {
        c->body.len = byte;
        flags &= (uint8_t)~YJS_STR_TRAIL_FFFD;
        if (split_pair)
            flags |= YJS_STR_TRAIL_FFFD;
        c->count = k;
    }
    c->str_flags = flags;
}

static quire_err_t content_cut(yjs_content_t *c, uint64_t k, bool right)
{
    size_t nbytes;
    switch (c->ref) {
    case YJS_CONTENT_DELETED:
        c->count = right ? c->count - k : k;
        return QUIRE_OK;
    case YJS_CONTENT_STRING:
        string_cut(c, k, right);
        return QUIRE_OK;
    case YJS_CONTENT_JSON:
    case YJS_CONTENT_ANY:
        if (!element_bytes(c, k, &nbytes))
            return QUIRE_ERR_INTERNAL;
        if (right) {
            c->body.ptr += nbytes;
            c->body.len -= nbytes;
            c->count -= k;
        } else {
            c->body.len = nbytes;
            c->count = k;
        }
        return QUIRE_OK;
    default:
        return QUIRE_ERR_INVALID;
    }
}

quire_err_t yjs_struct_slice(yjs_struct_t *s, uint64_t offset)
{
    if (offset == 0 || offset >= s->len)
        return QUIRE_ERR_INVALID;
    if (s->kind == YJS_KIND_ITEM) {
        yjs_content_t c = s->content;
        quire_err_t err = content_cut(&c, offset, true);
        if (err != QUIRE_OK)
            return err;
        s->content = c;
        s->origin.client = s->id.client;
        s->origin.clock = s->id.clock + offset - 1;
        s->info |= YJS_INFO_ORIGIN; /* a known parentSub keeps its 0x20 bit, as in Yjs */
    }
    s->id.clock += offset;
    s->len -= offset;
    s->raw.ptr = NULL;
    s->raw.len = 0;
    return QUIRE_OK;
}

quire_err_t yjs_struct_truncate(yjs_struct_t *s, uint64_t len)
{
    if (len == 0 || len >= s->len)
        return QUIRE_ERR_INVALID;
    if (s->kind == YJS_KIND_ITEM) {
        yjs_content_t c = s->content;
        quire_err_t err = content_cut(&c, len, false);
        if (err != QUIRE_OK)
            return err;
        s->content = c;
    }
    s->len = len;
    s->raw.ptr = NULL;
    s->raw.len = 0;
    return QUIRE_OK;
}

static size_t string_bytes(const yjs_content_t *c)
{
    size_t n = c->body.len;
    if (c->str_flags & YJS_STR_LEAD_FFFD)
        n += YJS_TEXT_FFFD_LEN;
    if (c->str_flags & YJS_STR_TRAIL_FFFD)
        n += YJS_TEXT_FFFD_LEN;
    return n;
}

void yjs_struct_write(const yjs_struct_t *s, yjs_buf_t *out)
{
    if (s->kind != YJS_KIND_ITEM) {
        yjs_buf_u8(out, s->kind == YJS_KIND_SKIP ? 10 : 0);
        yjs_buf_varuint(out, s->len);
        return;
    }
    if (s->raw.len) {
        /* Unsliced: the bytes after the info byte are already canonical (minimal varints, and
         * an ignored parentSub bit only changes the info byte). */
        yjs_buf_u8(out, s->info);
        yjs_buf_bytes(out, s->raw.ptr + 1, s->raw.len - 1);
        return;
    }
    yjs_buf_u8(out, s->info);
    if (s->info & YJS_INFO_ORIGIN) {
        yjs_buf_varuint(out, s->origin.client);
        yjs_buf_varuint(out, s->origin.clock);
    }
    if (s->info & YJS_INFO_RIGHT_ORIGIN) {
        yjs_buf_varuint(out, s->right_origin.client);
        yjs_buf_varuint(out, s->right_origin.clock);
    }
    if (!(s->info & (YJS_INFO_ORIGIN | YJS_INFO_RIGHT_ORIGIN))) {
        if (s->parent_is_root) {
            yjs_buf_u8(out, 1);
            yjs_buf_varbuf(out, s->parent_key.ptr, s->parent_key.len);
        } else {
            yjs_buf_u8(out, 0);
            yjs_buf_varuint(out, s->parent_id.client);
            yjs_buf_varuint(out, s->parent_id.clock);
        }
        if (s->info & YJS_INFO_PARENT_SUB)
            yjs_buf_varbuf(out, s->parent_sub.ptr, s->parent_sub.len);
    }
    const yjs_content_t *c = &s->content;
    switch (c->ref) {
    case YJS_CONTENT_DELETED:
        yjs_buf_varuint(out, c->count);
        break;
    case YJS_CONTENT_JSON:
    case YJS_CONTENT_ANY:
        yjs_buf_varuint(out, c->count);
        yjs_buf_bytes(out, c->body.ptr, c->body.len);
        break;
    case YJS_CONTENT_BINARY:
    case YJS_CONTENT_EMBED:
        yjs_buf_varbuf(out, c->body.ptr, c->body.len);
        break;
    case YJS_CONTENT_STRING:
        yjs_buf_varuint(out, string_bytes(c));
        if (c->str_flags & YJS_STR_LEAD_FFFD)
            yjs_buf_bytes(out, YJS_TEXT_FFFD, YJS_TEXT_FFFD_LEN);
        yjs_buf_bytes(out, c->body.ptr, c->body.len);
        if (c->str_flags & YJS_STR_TRAIL_FFFD)
            yjs_buf_bytes(out, YJS_TEXT_FFFD, YJS_TEXT_FFFD_LEN);
        break;
    case YJS_CONTENT_FORMAT:
        yjs_buf_varbuf(out, c->key.ptr, c->key.len);
        yjs_buf_varbuf(out, c->body.ptr, c->body.len);
        break;
    case YJS_CONTENT_TYPE:
        yjs_buf_u8(out, c->type_ref);
        if (c->type_ref == YJS_TYPE_XML_ELEMENT || c->type_ref == YJS_TYPE_XML_HOOK)
            yjs_buf_varbuf(out, c->body.ptr, c->body.len);
        break;
    case YJS_CONTENT_DOC:
        yjs_buf_varbuf(out, c->body.ptr, c->body.len);
        yjs_buf_bytes(out, c->key.ptr, c->key.len);
        break;
    default:
        break;
    }
}

static size_t varbuf_size(size_t n)
{
    return yjs_wire_varuint_size(n) + n;
}

size_t yjs_struct_size(const yjs_struct_t *s)
{
    if (s->kind != YJS_KIND_ITEM)
        return 1 + yjs_wire_varuint_size(s->len);
    if (s->raw.len)
        return s->raw.len;
    size_t n = 1;
    if (s->info & YJS_INFO_ORIGIN)
        n += yjs_wire_varuint_size(s->origin.client) + yjs_wire_varuint_size(s->origin.clock);
    if (s->info & YJS_INFO_RIGHT_ORIGIN)
        n += yjs_wire_varuint_size(s->right_origin.client) +
             yjs_wire_varuint_size(s->right_origin.clock);
    if (!(s->info & (YJS_INFO_ORIGIN | YJS_INFO_RIGHT_ORIGIN))) {
        n += 1 + (s->parent_is_root ? varbuf_size(s->parent_key.len)
                                    : yjs_wire_varuint_size(s->parent_id.client) +
                                          yjs_wire_varuint_size(s->parent_id.clock));
        if (s->info & YJS_INFO_PARENT_SUB)
            n += varbuf_size(s->parent_sub.len);
    }
    const yjs_content_t *c = &s->content;
    switch (c->ref) {
    case YJS_CONTENT_DELETED:
        return n + yjs_wire_varuint_size(c->count);
    case YJS_CONTENT_JSON:
    case YJS_CONTENT_ANY:
        return n + yjs_wire_varuint_size(c->count) + c->body.len;
    case YJS_CONTENT_BINARY:
    case YJS_CONTENT_EMBED:
        return n + varbuf_size(c->body.len);
    case YJS_CONTENT_STRING:
        return n + varbuf_size(string_bytes(c));
    case YJS_CONTENT_FORMAT:
        return n + varbuf_size(c->key.len) + varbuf_size(c->body.len);
    case YJS_CONTENT_TYPE:
        return n + 1 +
               ((c->type_ref == YJS_TYPE_XML_ELEMENT || c->type_ref == YJS_TYPE_XML_HOOK)
                    ? varbuf_size(c->body.len)
                    : 0);
    case YJS_CONTENT_DOC:
        return n + varbuf_size(c->body.len) + c->key.len;
    default:
        return n;
    }
}
