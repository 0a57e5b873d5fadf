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

static bool skip_depth(yjs_wire_t *w, unsigned depth, unsigned max_depth, bool validate)
{
    uint8_t tag;
    uint64_t n, abs;
    bool neg;
    const uint8_t *p;
    if (!yjs_wire_u8(w, &tag))
        return false;
    switch (tag) {
    case 127: /* undefined */
    case 126: /* null */
    case 121: /* false */
    case 120: /* true */
        return true;
    case 125:
        return yjs_wire_varint(w, &abs, &neg);
    case 124:
        return yjs_wire_bytes(w, 4, &p);
    case 123:
    case 122:
        return yjs_wire_bytes(w, 8, &p);
    case 119:
        return skip_string(w, validate);
    case 116: {
        size_t len;
        return yjs_wire_buf(w, &p, &len);
    }
    case 118:
    case 117:
        if (depth >= max_depth || !yjs_wire_varuint(w, &n))
            return false;
        /* each entry takes at least one (array) or two (object) bytes */
        if (n > yjs_wire_left(w))
            return false;
        for (uint64_t i = 0; i < n; i++) {
            if (tag == 118 && !skip_string(w, validate))
                return false;
            if (!skip_depth(w, depth + 1, max_depth, validate))
                return false;
        }
        return true;
    default:
        return false;
    }
}

bool yjs_any_skip(yjs_wire_t *w, unsigned max_depth, bool validate)
{
    return skip_depth(w, 0, max_depth, validate);
}
