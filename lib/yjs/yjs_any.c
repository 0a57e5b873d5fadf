/*
 * yjs_any — skipping and validating lib0 `any` values. Recursion is bounded by max_depth and
 * every element consumes at least one byte, so declared counts cannot make it loop or allocate.
 */
#include "yjs_any.h"

#include "yjs_text.h"

static bool skip_string(yjs_wire_t *w, bool validate)
{
    const uint8_t *s;
    size_t n;
    if (!yjs_wire_buf(w, &s, &n))
        return false;
    return !validate || yjs_text_validate(s, n, NULL, NULL);
}

static quire_err_t skip_depth(yjs_wire_t *w, unsigned depth, unsigned max_depth, bool validate)
{
    uint8_t tag;
    uint64_t n, abs;
    bool neg;
    const uint8_t *p;
    bool ok;
    if (!yjs_wire_u8(w, &tag))
        return QUIRE_ERR_MALFORMED;
    switch (tag) {
    case 127: /* undefined */
    case 126: /* null */
    case 121: /* false */
    case 120: /* true */
        return QUIRE_OK;
    case 125:
        ok = yjs_wire_varint(w, &abs, &neg);
        break;
    case 124:
        ok = yjs_wire_bytes(w, 4, &p);
        break;
    case 123:
    case 122:
        ok = yjs_wire_bytes(w, 8, &p);
        break;
    case 119:
        ok = skip_string(w, validate);
        break;
    case 116: {
        size_t len;
        ok = yjs_wire_buf(w, &p, &len);
        break;
    }
    case 118:
    case 117:
        if (depth >= max_depth)
            return QUIRE_ERR_LIMIT;
        /* each entry takes at least one (array) or two (object) bytes */
        if (!yjs_wire_varuint(w, &n) || n > yjs_wire_left(w))
            return QUIRE_ERR_MALFORMED;
        for (uint64_t i = 0; i < n; i++) {
            if (tag == 118 && !skip_string(w, validate))
                return QUIRE_ERR_MALFORMED;
            quire_err_t err = skip_depth(w, depth + 1, max_depth, validate);
            if (err != QUIRE_OK)
                return err;
        }
        return QUIRE_OK;
    default:
        return QUIRE_ERR_MALFORMED;
    }
    return ok ? QUIRE_OK : QUIRE_ERR_MALFORMED;
}

quire_err_t yjs_any_skip(yjs_wire_t *w, unsigned max_depth, bool validate)
{
    return skip_depth(w, 0, max_depth, validate);
}
