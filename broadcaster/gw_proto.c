/* gw_proto — see the header. */
#include "gw_proto.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "yjs_text.h"
#include "yjs_wire.h"

size_t gw_varuint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t gw_put_varuint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static bool read_bytes(yjs_wire_t *w, const uint8_t **ret, size_t *ret_len)
{
    uint64_t n;
    if (!yjs_wire_varuint(w, &n) || n > yjs_wire_left(w))
        return false;
    *ret = w->pos;
    *ret_len = (size_t)n;
    w->pos += n;
    return true;
}

quire_err_t gw_msg_parse(const uint8_t *frame, size_t len, gw_msg_t *ret_msg)
{
    if (len == 0)
        return QUIRE_ERR_EMPTY;
    yjs_wire_t w = {frame, frame + len};
    gw_msg_t m;
    memset(&m, 0, sizeof m);
    if (!yjs_wire_varuint(&w, &m.type))
        return QUIRE_ERR_MALFORMED;
    switch (m.type) {
    case GW_MSG_SYNC:
        if (!yjs_wire_varuint(&w, &m.subtype) || m.subtype > GW_SYNC_UPDATE ||
            !read_bytes(&w, &m.payload, &m.payload_len))
            return QUIRE_ERR_MALFORMED;
        break;
    case GW_MSG_AWARENESS:
        if (!read_bytes(&w, &m.payload, &m.payload_len))
            return QUIRE_ERR_MALFORMED;
        break;
    case GW_MSG_QUERY_AWARENESS:
        break;
    case GW_MSG_RESUME:
        if (!yjs_wire_varuint(&w, &m.version))
            return QUIRE_ERR_MALFORMED;
        break;
    case GW_MSG_AUTH:
    case GW_MSG_ACK:
    case GW_MSG_NACK:
    case GW_MSG_VERSION:
        return QUIRE_ERR_MALFORMED; /* server-to-client only */
    default:
        *ret_msg = m; /* unknown: ignored by the caller, like the reference server */
        return QUIRE_OK;
    }
    if (yjs_wire_left(&w) != 0)
        return QUIRE_ERR_MALFORMED;
    *ret_msg = m;
    return QUIRE_OK;
}

quire_err_t gw_awareness_parse(const uint8_t *buf, size_t len, gw_aw_entry_t *ret_entries,
                               size_t max, size_t *ret_n)
{
    yjs_wire_t w = {buf, buf + len};
    uint64_t n;
    if (!yjs_wire_varuint(&w, &n))
        return QUIRE_ERR_MALFORMED;
    if (n > max || n > GW_AWARENESS_MAX_ENTRIES)
        return QUIRE_ERR_LIMIT;
    for (uint64_t i = 0; i < n; i++) {
        gw_aw_entry_t *e = &ret_entries[i];
        const uint8_t *s;
        size_t sl;
        if (!yjs_wire_varuint(&w, &e->client) || !yjs_wire_varuint(&w, &e->clock) ||
            !read_bytes(&w, &s, &sl))
            return QUIRE_ERR_MALFORMED;
        if (sl > GW_AWARENESS_MAX_STATE)
            return QUIRE_ERR_LIMIT;
        uint64_t units;
        bool ascii;
        if (!yjs_text_validate(s, sl, &units, &ascii))
            return QUIRE_ERR_MALFORMED;
        e->state = (const char *)s;
        e->state_len = sl;
        e->removed = sl == 4 && memcmp(s, "null", 4) == 0;
        if (!e->removed) {
            cJSON *j = cJSON_ParseWithLength((const char *)s, sl);
            bool ok = j != NULL;
            cJSON_Delete(j);
            if (!ok)
                return QUIRE_ERR_MALFORMED;
        }
    }
    if (yjs_wire_left(&w) != 0)
        return QUIRE_ERR_MALFORMED;
    *ret_n = (size_t)n;
    return QUIRE_OK;
}

gw_frame_t *gw_frame_alloc(size_t len)
{
    gw_frame_t *f = malloc(sizeof *f + GW_FRAME_PRE + len);
    if (!f)
        return NULL;
    f->refs = 1;
    f->len = len;
    return f;
}

void gw_frame_ref(gw_frame_t *f)
{
    f->refs++;
}

void gw_frame_unref(gw_frame_t *f)
{
    if (f && --f->refs == 0)
        free(f);
}

gw_frame_t *gw_frame_sync(uint64_t subtype, const uint8_t *payload, size_t len)
{
    size_t total = 1 + gw_varuint_len(subtype) + gw_varuint_len(len) + len;
    gw_frame_t *f = gw_frame_alloc(total);
    if (!f)
        return NULL;
    uint8_t *p = gw_frame_body(f);
    p[0] = GW_MSG_SYNC;
    size_t o = 1;
    o += gw_put_varuint(p + o, subtype);
    o += gw_put_varuint(p + o, len);
    if (len)
        memcpy(p + o, payload, len);
    return f;
}

size_t gw_awareness_size(const gw_aw_entry_t *entries, size_t n)
{
    size_t inner = gw_varuint_len(n);
    for (size_t i = 0; i < n; i++) {
        size_t sl = entries[i].removed ? 4 : entries[i].state_len;
        inner += gw_varuint_len(entries[i].client) + gw_varuint_len(entries[i].clock) +
                 gw_varuint_len(sl) + sl;
    }
    return inner;
}

void gw_awareness_write(const gw_aw_entry_t *entries, size_t n, uint8_t *p)
{
    size_t o = gw_put_varuint(p, n);
    for (size_t i = 0; i < n; i++) {
        const char *s = entries[i].removed ? "null" : entries[i].state;
        size_t sl = entries[i].removed ? 4 : entries[i].state_len;
        o += gw_put_varuint(p + o, entries[i].client);
        o += gw_put_varuint(p + o, entries[i].clock);
        o += gw_put_varuint(p + o, sl);
        memcpy(p + o, s, sl);
        o += sl;
    }
}

gw_frame_t *gw_frame_awareness(const gw_aw_entry_t *entries, size_t n)
{
    size_t inner = gw_awareness_size(entries, n);
    gw_frame_t *f = gw_frame_alloc(1 + gw_varuint_len(inner) + inner);
    if (!f)
        return NULL;
    uint8_t *p = gw_frame_body(f);
    p[0] = GW_MSG_AWARENESS;
    size_t o = 1 + gw_put_varuint(p + 1, inner);
    gw_awareness_write(entries, n, p + o);
    return f;
}

static gw_frame_t *frame_with_string(const uint8_t *head, size_t headlen, const char *s)
{
    size_t sl = strlen(s);
    gw_frame_t *f = gw_frame_alloc(headlen + gw_varuint_len(sl) + sl);
    if (!f)
        return NULL;
    uint8_t *p = gw_frame_body(f);
    memcpy(p, head, headlen);
    size_t o = headlen + gw_put_varuint(p + headlen, sl);
    memcpy(p + o, s, sl);
    return f;
}

gw_frame_t *gw_frame_permission_denied(const char *reason)
{
    const uint8_t head[] = {GW_MSG_AUTH, GW_AUTH_PERMISSION_DENIED};
    return frame_with_string(head, sizeof head, reason);
}

gw_frame_t *gw_frame_ack(uint64_t seq, uint64_t version)
{
    gw_frame_t *f = gw_frame_alloc(1 + gw_varuint_len(seq) + gw_varuint_len(version));
    if (!f)
        return NULL;
    uint8_t *p = gw_frame_body(f);
    p[0] = GW_MSG_ACK;
    size_t o = 1 + gw_put_varuint(p + 1, seq);
    gw_put_varuint(p + o, version);
    return f;
}

gw_frame_t *gw_frame_nack(uint64_t seq, uint64_t code, const char *reason)
{
    uint8_t head[1 + 8 + 8];
    head[0] = GW_MSG_NACK;
    size_t o = 1 + gw_put_varuint(head + 1, seq);
    o += gw_put_varuint(head + o, code);
    return frame_with_string(head, o, reason);
}

gw_frame_t *gw_frame_version(uint64_t version)
{
    gw_frame_t *f = gw_frame_alloc(1 + gw_varuint_len(version));
    if (!f)
        return NULL;
    uint8_t *p = gw_frame_body(f);
    p[0] = GW_MSG_VERSION;
    gw_put_varuint(p + 1, version);
    return f;
}
