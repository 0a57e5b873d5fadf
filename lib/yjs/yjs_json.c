/*
 * yjs_json — a recursive-descent RFC 8259 validator. Recursion depth is bounded by max_depth, and
 * every step consumes input, so time is linear and stack use is bounded on any input.
 */
#include "yjs_json.h"

typedef struct json_s {
    const uint8_t *p;
    const uint8_t *end;
    unsigned depth;
    unsigned max_depth;
    bool too_deep;
} json_t;

static void skip_ws(json_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(uint8_t c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool literal(json_t *j, const char *word, size_t n)
{
    if ((size_t)(j->end - j->p) < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (j->p[i] != (uint8_t)word[i])
            return false;
    j->p += n;
    return true;
}

static bool string(json_t *j)
{
    j->p++; /* opening quote */
    while (j->p < j->end) {
        uint8_t c = *j->p++;
        if (c == '"')
            return true;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (j->p >= j->end)
                return false;
            c = *j->p++;
            if (c == 'u') {
                if (j->end - j->p < 4)
                    return false;
                for (int i = 0; i < 4; i++)
                    if (!is_hex(j->p[i]))
                        return false;
                j->p += 4;
            } else if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' &&
                       c != 'r' && c != 't') {
                return false;
            }
        }
    }
    return false;
}

static bool number(json_t *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end)
        return false;
    if (*j->p == '0') {
        j->p++;
    } else if (is_digit(*j->p)) {
        while (j->p < j->end && is_digit(*j->p))
            j->p++;
    } else {
        return false;
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || !is_digit(*j->p))
            return false;
        while (j->p < j->end && is_digit(*j->p))
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || !is_digit(*j->p))
            return false;
        while (j->p < j->end && is_digit(*j->p))
            j->p++;
    }
    return true;
}

static bool value(json_t *j);

static bool container(json_t *j, uint8_t close, bool object)
{
    if (++j->depth > j->max_depth) {
        j->too_deep = true;
        return false;
    }
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        if (object) {
            if (j->p >= j->end || *j->p != '"' || !string(j))
                return false;
            skip_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return false;
            j->p++;
        }
        if (!value(j))
            return false;
        skip_ws(j);
        if (j->p >= j->end)
            return false;
        uint8_t c = *j->p++;
        if (c == close) {
            j->depth--;
            return true;
        }
        if (c != ',')
            return false;
        skip_ws(j);
    }
}

static bool value(json_t *j)
{
    skip_ws(j);
    if (j->p >= j->end)
        return false;
    switch (*j->p) {
    case '{':
        return container(j, '}', true);
    case '[':
        return container(j, ']', false);
    case '"':
        return string(j);
    case 't':
        return literal(j, "true", 4);
    case 'f':
        return literal(j, "false", 5);
    case 'n':
        return literal(j, "null", 4);
    default:
        return number(j);
    }
}

quire_err_t yjs_json_validate(const uint8_t *s, size_t len, unsigned max_depth)
{
    json_t j = {.p = s, .end = s + len, .depth = 0, .max_depth = max_depth, .too_deep = false};
    if (!value(&j))
        return j.too_deep ? QUIRE_ERR_LIMIT : QUIRE_ERR_MALFORMED;
    skip_ws(&j);
    return j.p == j.end ? QUIRE_OK : QUIRE_ERR_MALFORMED;
}
