/*
 * ydoc_render — materialised content: Y.Text toString() / toDelta(), Y.XmlFragment, XmlElement
 * and XmlText toString(), Y.Map / Y.Array toJSON(), all as JavaScript computes them, plus root
 * type inference.
 *
 * DESIGN
 * Yjs renders with JavaScript semantics, and those are reproduced here, not approximated:
 *   - JSON.stringify: strings escaped as V8 does (\b \f \n \r \t, other controls as \u00XX, lone
 *     surrogates as \udXXX, everything else raw UTF-8); numbers as Number.prototype.toString
 *     (shortest round-trip digits, exponent form outside [1e-7, 1e21)); -0 as 0; NaN and
 *     ±Infinity as null; undefined members omitted and undefined array elements null; a
 *     Uint8Array as {"0": …, "1": …};
 *   - object member order: integer-like keys ("0" … "4294967294") first in numeric order, then
 *     the others in insertion order; a repeated key keeps its first position and its last value
 *     (what JSON.parse and `obj[key] = v` do);
 *   - String(v) where Yjs concatenates values (XML attributes): arrays joined with ",", objects
 *     "[object Object]", null "null", undefined "undefined";
 *   - sorting (XML attribute names, nested formatting nodes) compares UTF-16 code units.
 * Content values (ContentAny, ContentJSON, embeds, format values) are parsed into a small tree in
 * an arena that lives for one call, then serialised. Lone surrogates (possible only through JSON
 * \u escapes) are carried as WTF-8 (ED A0..BF xx) and escaped on output; raw-string output turns
 * them into U+FFFD.
 *
 * Known gaps: a BigInt (lib0 any tag 122) is written as a JSON number where JSON.stringify would
 * throw; toLocaleLowerCase of XML node names covers ASCII, Latin-1, Greek and Cyrillic only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ydoc_int.h"
#include "yjs_any.h"
#include "yjs_text.h"
#include "yjs_wire.h"

/* ========================================================================================== */
/* arena and value tree */

typedef struct arena_chunk_s {
    struct arena_chunk_s *next;
    size_t used, cap;
    max_align_t data[];
} arena_chunk_t;

typedef struct arena_s {
    arena_chunk_t *head;
    bool failed;
} arena_t;

static void *arena_alloc(arena_t *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        arena_chunk_t *c = malloc(sizeof *c + cap);
        if (!c) {
            a->failed = true;
            return NULL;
        }
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = (char *)a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static void arena_free(arena_t *a)
{
    for (arena_chunk_t *c = a->head; c;) {
        arena_chunk_t *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
}

enum { JV_UNDEF, JV_NULL, JV_FALSE, JV_TRUE, JV_NUM, JV_BIG, JV_STR, JV_ARR, JV_OBJ, JV_BIN };

typedef struct jv_s jv_t;
struct jv_s {
    uint8_t t;
    uint32_t n; /* string / binary bytes, array elements, object members */
    union {
        double num;
        int64_t big;
        const uint8_t *s; /* JV_STR: WTF-8; JV_BIN: bytes */
        jv_t **kids;      /* JV_ARR: n values; JV_OBJ: 2n (key string, value) in JS order */
    } u;
};

static jv_t *jv_new(arena_t *a, uint8_t t)
{
    jv_t *v = arena_alloc(a, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->t = t;
    }
    return v;
}

static jv_t *jv_str(arena_t *a, const uint8_t *s, size_t n)
{
    jv_t *v = jv_new(a, JV_STR);
    if (v) {
        v->u.s = s;
        v->n = (uint32_t)n;
    }
    return v;
}

static jv_t jv_undef_v = {.t = JV_UNDEF};
static jv_t jv_null_v = {.t = JV_NULL};

/* "0" … "4294967294" without leading zeros: a JavaScript array index. */
static bool index_key(const jv_t *k, uint64_t *ret)
{
    if (k->n == 0 || k->n > 10 || (k->n > 1 && k->u.s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (uint32_t i = 0; i < k->n; i++) {
        if (k->u.s[i] < '0' || k->u.s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(k->u.s[i] - '0');
    }
    if (v > UINT64_C(4294967294))
        return false;
    *ret = v;
    return true;
}

static bool key_eq(const jv_t *a, const jv_t *b)
{
    return a->n == b->n && memcmp(a->u.s, b->u.s, a->n) == 0;
}

/* Object builder: members added in insertion order, then put in JS property order. */
typedef struct objb_s {
    jv_t **m; /* 2 per member */
    uint32_t n, cap;
} objb_t;

static void objb_set(arena_t *a, objb_t *o, jv_t *k, jv_t *v)
{
    for (uint32_t i = 0; i < o->n; i++)
        if (key_eq(o->m[2 * i], k)) {
            o->m[2 * i + 1] = v;
            return;
        }
    if (o->n == o->cap) {
        uint32_t cap = o->cap ? o->cap * 2 : 8;
        jv_t **m = arena_alloc(a, 2 * cap * sizeof *m);
        if (!m)
            return;
        if (o->n)
            memcpy(m, o->m, 2 * o->n * sizeof *m);
        o->m = m;
        o->cap = cap;
    }
    o->m[2 * o->n] = k;
    o->m[2 * o->n + 1] = v;
    o->n++;
}

static jv_t *objb_done(arena_t *a, objb_t *o)
{
    jv_t *v = jv_new(a, JV_OBJ);
    if (!v)
        return &jv_null_v;
    /* stable: index keys ascending first (insertion sort; objects are small), then the rest */
    jv_t **m = arena_alloc(a, (2 * o->n + 1) * sizeof *m);
    if (!m)
        return &jv_null_v;
    uint32_t k = 0;
    for (uint32_t i = 0; i < o->n; i++) {
        uint64_t x;
        if (!index_key(o->m[2 * i], &x))
            continue;
        uint32_t j = k;
        while (j > 0) {
            uint64_t y = 0;
            index_key(m[2 * (j - 1)], &y);
            if (y <= x)
                break;
            m[2 * j] = m[2 * (j - 1)];
            m[2 * j + 1] = m[2 * (j - 1) + 1];
            j--;
        }
        m[2 * j] = o->m[2 * i];
        m[2 * j + 1] = o->m[2 * i + 1];
        k++;
    }
    for (uint32_t i = 0; i < o->n; i++) {
        uint64_t x;
        if (index_key(o->m[2 * i], &x))
            continue;
        m[2 * k] = o->m[2 * i];
        m[2 * k + 1] = o->m[2 * i + 1];
        k++;
    }
    v->u.kids = m;
    v->n = o->n;
    return v;
}

/* ========================================================================================== */
/* parsing JSON texts and lib0 `any` into values */

#define MAX_DEPTH 256

static void put_wtf8(uint8_t *out, size_t *k, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*k)++] = (uint8_t)cp;
    } else if (cp < 0x800) {
        out[(*k)++] = (uint8_t)(0xC0 | cp >> 6);
        out[(*k)++] = (uint8_t)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*k)++] = (uint8_t)(0xE0 | cp >> 12);
        out[(*k)++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[(*k)++] = (uint8_t)(0x80 | (cp & 0x3F));
    } else {
        out[(*k)++] = (uint8_t)(0xF0 | cp >> 18);
        out[(*k)++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        out[(*k)++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[(*k)++] = (uint8_t)(0x80 | (cp & 0x3F));
    }
}

typedef struct jp_s {
    const uint8_t *p, *end;
    arena_t *a;
    bool bad;
} jp_t;

static void jp_ws(jp_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hexv(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool jp_hex4(jp_t *j, uint32_t *ret)
{
    if (j->end - j->p < 4)
        return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexv(j->p[i]);
        if (h < 0)
            return false;
        v = v << 4 | (uint32_t)h;
    }
    j->p += 4;
    *ret = v;
    return true;
}

/* A JSON string (at the opening quote) as WTF-8. */
static jv_t *jp_string(jp_t *j)
{
    j->p++;
    const uint8_t *s = j->p;
    while (j->p < j->end && *j->p != '"' && *j->p != '\\')
        j->p++;
    if (j->p < j->end && *j->p == '"') { /* no escapes: borrow */
        jv_t *v = jv_str(j->a, s, (size_t)(j->p - s));
        j->p++;
        return v;
    }
    /* escapes: decode (output is never longer than the input) */
    const uint8_t *q = s;
    size_t cap = (size_t)(j->end - s);
    uint8_t *out = arena_alloc(j->a, cap + 4);
    if (!out)
        return &jv_null_v;
    size_t k = 0;
    j->p = q;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p != '\\') {
            out[k++] = *j->p++;
            continue;
        }
        j->p++;
        if (j->p >= j->end)
            break;
        uint8_t c = *j->p++;
        uint32_t cp;
        switch (c) {
        case 'b':
            out[k++] = '\b';
            break;
        case 'f':
            out[k++] = '\f';
            break;
        case 'n':
            out[k++] = '\n';
            break;
        case 'r':
            out[k++] = '\r';
            break;
        case 't':
            out[k++] = '\t';
            break;
        case 'u':
            if (!jp_hex4(j, &cp)) {
                j->bad = true;
                return &jv_null_v;
            }
            if (cp >= 0xD800 && cp < 0xDC00 && j->end - j->p >= 6 && j->p[0] == '\\' &&
                j->p[1] == 'u') {
                jp_t save = *j;
                uint32_t lo;
                j->p += 2;
                if (jp_hex4(j, &lo) && lo >= 0xDC00 && lo < 0xE000)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else
                    *j = save;
            }
            put_wtf8(out, &k, cp);
            break;
        default:
            out[k++] = c; /* \" \\ \/ */
            break;
        }
    }
    if (j->p < j->end)
        j->p++;
    return jv_str(j->a, out, k);
}

static jv_t *jp_value(jp_t *j, unsigned depth)
{
    jp_ws(j);
    if (j->p >= j->end || depth > MAX_DEPTH) {
        j->bad = true;
        return &jv_null_v;
    }
    uint8_t c = *j->p;
    if (c == '"')
        return jp_string(j);
    if (c == '{' || c == '[') {
        j->p++;
        bool obj = c == '{';
        objb_t ob = {0};
        jv_t **el = NULL;
        uint32_t n = 0, cap = 0;
        jp_ws(j);
        if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
            j->p++;
        } else {
            for (;;) {
                jp_ws(j);
                jv_t *k = NULL;
                if (obj) {
                    if (j->p >= j->end || *j->p != '"') {
                        j->bad = true;
                        return &jv_null_v;
                    }
                    k = jp_string(j);
                    jp_ws(j);
                    if (j->p >= j->end || *j->p != ':') {
                        j->bad = true;
                        return &jv_null_v;
                    }
                    j->p++;
                }
                jv_t *v = jp_value(j, depth + 1);
                if (j->bad)
                    return &jv_null_v;
                if (obj) {
                    objb_set(j->a, &ob, k, v);
                } else {
                    if (n == cap) {
                        uint32_t nc = cap ? cap * 2 : 8;
                        jv_t **ne = arena_alloc(j->a, nc * sizeof *ne);
                        if (!ne)
                            return &jv_null_v;
                        if (n)
                            memcpy(ne, el, n * sizeof *ne);
                        el = ne;
                        cap = nc;
                    }
                    el[n++] = v;
                }
                jp_ws(j);
                if (j->p < j->end && *j->p == ',') {
                    j->p++;
                    continue;
                }
                if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
                    j->p++;
                    break;
                }
                j->bad = true;
                return &jv_null_v;
            }
        }
        if (obj)
            return objb_done(j->a, &ob);
        jv_t *v = jv_new(j->a, JV_ARR);
        if (!v)
            return &jv_null_v;
        v->u.kids = el;
        v->n = n;
        return v;
    }
    if (j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0) {
        j->p += 4;
        return &jv_null_v;
    }
    if (j->end - j->p >= 4 && memcmp(j->p, "true", 4) == 0) {
        j->p += 4;
        return jv_new(j->a, JV_TRUE);
    }
    if (j->end - j->p >= 5 && memcmp(j->p, "false", 5) == 0) {
        j->p += 5;
        return jv_new(j->a, JV_FALSE);
    }
    /* number */
    char buf[64];
    size_t k = 0;
    while (j->p < j->end && k < sizeof buf - 1 &&
           ((*j->p >= '0' && *j->p <= '9') || *j->p == '-' || *j->p == '+' || *j->p == '.' ||
            *j->p == 'e' || *j->p == 'E'))
        buf[k++] = (char)*j->p++;
    if (k == 0) {
        j->bad = true;
        return &jv_null_v;
    }
    while (j->p < j->end && ((*j->p >= '0' && *j->p <= '9') || *j->p == '.' || *j->p == 'e' ||
                             *j->p == 'E' || *j->p == '-' || *j->p == '+'))
        j->p++; /* absurdly long numbers: the first 63 characters decide (as close as needed) */
    buf[k] = 0;
    jv_t *v = jv_new(j->a, JV_NUM);
    if (v)
        v->u.num = strtod(buf, NULL);
    return v ? v : &jv_null_v;
}

/* JSON.parse(text); a text that is not JSON (possible only for content skimmed in) gives null.
 * "undefined" (ContentJSON's way of storing undefined) gives undefined. */
static jv_t *json_parse(arena_t *a, const uint8_t *s, size_t n)
{
    if (n == 9 && memcmp(s, "undefined", 9) == 0)
        return &jv_undef_v;
    jp_t j = {s, s + n, a, false};
    jv_t *v = jp_value(&j, 0);
    return j.bad ? &jv_null_v : v;
}

static double be_double(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | p[i];
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static float be_float(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* lib0 readAny. */
static jv_t *any_parse(arena_t *a, yjs_wire_t *w, unsigned depth)
{
    uint8_t tag;
    if (depth > MAX_DEPTH || !yjs_wire_u8(w, &tag))
        return &jv_undef_v;
    jv_t *v;
    const uint8_t *p;
    uint64_t n;
    switch (tag) {
    case 127:
        return &jv_undef_v;
    case 126:
        return &jv_null_v;
    case 125: {
        uint64_t abs;
        bool neg;
        if (!yjs_wire_varint(w, &abs, &neg) || !(v = jv_new(a, JV_NUM)))
            return &jv_undef_v;
        v->u.num = neg ? -(double)abs : (double)abs;
        return v;
    }
    case 124:
        if (!yjs_wire_bytes(w, 4, &p) || !(v = jv_new(a, JV_NUM)))
            return &jv_undef_v;
        v->u.num = (double)be_float(p);
        return v;
    case 123:
        if (!yjs_wire_bytes(w, 8, &p) || !(v = jv_new(a, JV_NUM)))
            return &jv_undef_v;
        v->u.num = be_double(p);
        return v;
    case 122: {
        if (!yjs_wire_bytes(w, 8, &p) || !(v = jv_new(a, JV_BIG)))
            return &jv_undef_v;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = u << 8 | p[i];
        v->u.big = (int64_t)u;
        return v;
    }
    case 121:
        return jv_new(a, JV_FALSE);
    case 120:
        return jv_new(a, JV_TRUE);
    case 119: {
        size_t l;
        if (!yjs_wire_buf(w, &p, &l))
            return &jv_undef_v;
        v = jv_str(a, p, l);
        return v ? v : &jv_undef_v;
    }
    case 118: {
        if (!yjs_wire_varuint(w, &n) || n > yjs_wire_left(w))
            return &jv_undef_v;
        objb_t ob = {0};
        for (uint64_t i = 0; i < n; i++) {
            size_t l;
            if (!yjs_wire_buf(w, &p, &l))
                return &jv_undef_v;
            jv_t *k = jv_str(a, p, l);
            jv_t *x = any_parse(a, w, depth + 1);
            if (!k)
                return &jv_undef_v;
            objb_set(a, &ob, k, x);
        }
        return objb_done(a, &ob);
    }
    case 117: {
        if (!yjs_wire_varuint(w, &n) || n > yjs_wire_left(w) || !(v = jv_new(a, JV_ARR)))
            return &jv_undef_v;
        v->u.kids = arena_alloc(a, (n ? n : 1) * sizeof *v->u.kids);
        if (!v->u.kids)
            return &jv_undef_v;
        for (uint64_t i = 0; i < n; i++)
            v->u.kids[i] = any_parse(a, w, depth + 1);
        v->n = (uint32_t)n;
        return v;
    }
    case 116: {
        size_t l;
        if (!yjs_wire_buf(w, &p, &l) || !(v = jv_new(a, JV_BIN)))
            return &jv_undef_v;
        v->u.s = p;
        v->n = (uint32_t)l;
        return v;
    }
    default:
        return &jv_undef_v;
    }
}

/* ========================================================================================== */
/* output: JSON.stringify and String() */

/* Number.prototype.toString() */
static void put_num(yjs_buf_t *b, double x)
{
    char buf[40];
    if (x != x) {
        yjs_buf_bytes(b, "NaN", 3);
        return;
    }
    if (isinf(x)) {
        if (x < 0)
            yjs_buf_u8(b, '-');
        yjs_buf_bytes(b, "Infinity", 8);
        return;
    }
    if (x == 0) {
        yjs_buf_u8(b, '0');
        return;
    }
    if (x < 0) {
        yjs_buf_u8(b, '-');
        x = -x;
    }
    /* shortest round-trip digits */
    char digits[24];
    int nd = 0, exp10 = 0;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, x);
        if (strtod(buf, NULL) == x || prec == 17) {
            /* buf = d[.ddd]e±XX */
            char *e = strchr(buf, 'e');
            exp10 = atoi(e + 1);
            nd = 0;
            for (char *q = buf; q < e; q++)
                if (*q >= '0' && *q <= '9')
                    digits[nd++] = *q;
            break;
        }
    }
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int n = exp10 + 1; /* value = 0.d1d2… × 10^n */
    if (nd <= n && n <= 21) {
        yjs_buf_bytes(b, digits, (size_t)nd);
        for (int i = nd; i < n; i++)
            yjs_buf_u8(b, '0');
    } else if (0 < n && n <= 21) {
        yjs_buf_bytes(b, digits, (size_t)n);
        yjs_buf_u8(b, '.');
        yjs_buf_bytes(b, digits + n, (size_t)(nd - n));
    } else if (-6 < n && n <= 0) {
        yjs_buf_bytes(b, "0.", 2);
        for (int i = 0; i < -n; i++)
            yjs_buf_u8(b, '0');
        yjs_buf_bytes(b, digits, (size_t)nd);
    } else {
        yjs_buf_u8(b, (uint8_t)digits[0]);
        if (nd > 1) {
            yjs_buf_u8(b, '.');
            yjs_buf_bytes(b, digits + 1, (size_t)(nd - 1));
        }
        int e = n - 1;
        snprintf(buf, sizeof buf, "e%c%d", e < 0 ? '-' : '+', e < 0 ? -e : e);
        yjs_buf_bytes(b, buf, strlen(buf));
    }
}

static void put_json_num(yjs_buf_t *b, double x)
{
    if (x != x || isinf(x))
        yjs_buf_bytes(b, "null", 4);
    else
        put_num(b, x);
}

/* JSON-quoted WTF-8 string; with `fffd`, surrogates in the bytes become U+FFFD escapes as
 * \uXXXX anyway (JSON can carry them). */
static void put_jstr(yjs_buf_t *b, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    yjs_buf_u8(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        const char *esc = NULL;
        char u[6];
        size_t skip = 0;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20) {
            u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15];
        } else if (c == 0xED && i + 2 < n && s[i + 1] >= 0xA0) {
            /* WTF-8 surrogate */
            uint32_t cp = (uint32_t)(c & 0x0F) << 12 | (uint32_t)(s[i + 1] & 0x3F) << 6 |
                          (uint32_t)(s[i + 2] & 0x3F);
            u[0] = '\\', u[1] = 'u', u[2] = hex[cp >> 12], u[3] = hex[(cp >> 8) & 15],
            u[4] = hex[(cp >> 4) & 15], u[5] = hex[cp & 15];
            skip = 2;
        } else {
            continue;
        }
        if (run < i)
            yjs_buf_bytes(b, s + run, i - run);
        if (esc)
            yjs_buf_bytes(b, esc, 2);
        else
            yjs_buf_bytes(b, u, 6);
        i += skip;
        run = i + 1;
    }
    if (run < n)
        yjs_buf_bytes(b, s + run, n - run);
    yjs_buf_u8(b, '"');
}

/* JSON.stringify(v) for a value that is not undefined at the top. */
static void put_json(yjs_buf_t *b, const jv_t *v, unsigned depth)
{
    switch (v->t) {
    case JV_UNDEF:
    case JV_NULL:
        yjs_buf_bytes(b, "null", 4);
        return;
    case JV_FALSE:
        yjs_buf_bytes(b, "false", 5);
        return;
    case JV_TRUE:
        yjs_buf_bytes(b, "true", 4);
        return;
    case JV_NUM:
        put_json_num(b, v->u.num);
        return;
    case JV_BIG: {
        char buf[24];
        int n = snprintf(buf, sizeof buf, "%lld", (long long)v->u.big);
        yjs_buf_bytes(b, buf, (size_t)n);
        return;
    }
    case JV_STR:
        put_jstr(b, v->u.s, v->n);
        return;
    case JV_BIN: {
        char buf[32];
        yjs_buf_u8(b, '{');
        for (uint32_t i = 0; i < v->n; i++) {
            int n = snprintf(buf, sizeof buf, "%s\"%u\":%u", i ? "," : "", i, v->u.s[i]);
            yjs_buf_bytes(b, buf, (size_t)n);
        }
        yjs_buf_u8(b, '}');
        return;
    }
    case JV_ARR:
        yjs_buf_u8(b, '[');
        for (uint32_t i = 0; i < v->n; i++) {
            if (i)
                yjs_buf_u8(b, ',');
            put_json(b, v->u.kids[i], depth + 1);
        }
        yjs_buf_u8(b, ']');
        return;
    case JV_OBJ: {
        yjs_buf_u8(b, '{');
        bool first = true;
        for (uint32_t i = 0; i < v->n; i++) {
            const jv_t *val = v->u.kids[2 * i + 1];
            if (val->t == JV_UNDEF)
                continue;
            if (!first)
                yjs_buf_u8(b, ',');
            first = false;
            put_jstr(b, v->u.kids[2 * i]->u.s, v->u.kids[2 * i]->n);
            yjs_buf_u8(b, ':');
            put_json(b, val, depth + 1);
        }
        yjs_buf_u8(b, '}');
        return;
    }
    }
}

/* String(v), as WTF-8. */
static void put_jsstring(yjs_buf_t *b, const jv_t *v, unsigned depth)
{
    switch (v->t) {
    case JV_UNDEF:
        yjs_buf_bytes(b, "undefined", 9);
        return;
    case JV_NULL:
        yjs_buf_bytes(b, "null", 4);
        return;
    case JV_NUM:
        put_num(b, v->u.num);
        return;
    case JV_STR:
        yjs_buf_bytes(b, v->u.s, v->n);
        return;
    case JV_OBJ:
        yjs_buf_bytes(b, "[object Object]", 15);
        return;
    case JV_BIN: {
        char buf[8];
        for (uint32_t i = 0; i < v->n; i++) {
            int n = snprintf(buf, sizeof buf, "%s%u", i ? "," : "", v->u.s[i]);
            yjs_buf_bytes(b, buf, (size_t)n);
        }
        return;
    }
    case JV_ARR:
        if (depth > MAX_DEPTH)
            return;
        for (uint32_t i = 0; i < v->n; i++) {
            if (i)
                yjs_buf_u8(b, ',');
            if (v->u.kids[i]->t != JV_UNDEF && v->u.kids[i]->t != JV_NULL)
                put_jsstring(b, v->u.kids[i], depth + 1);
        }
        return;
    default:
        put_json(b, v, depth);
        return;
    }
}

/* ========================================================================================== */
/* UTF-16 helpers */

/* Next code point of WTF-8 s[*i..n) (no validation needed: the bytes were validated or built
 * here). */
static uint32_t next_cp(const uint8_t *s, size_t n, size_t *i)
{
    uint8_t c = s[*i];
    uint32_t cp;
    size_t len;
    if (c < 0x80)
        cp = c, len = 1;
    else if (c < 0xE0)
        cp = c & 0x1F, len = 2;
    else if (c < 0xF0)
        cp = c & 0x0F, len = 3;
    else
        cp = c & 0x07, len = 4;
    if (*i + len > n)
        len = n - *i;
    for (size_t k = 1; k < len; k++)
        cp = cp << 6 | (s[*i + k] & 0x3F);
    *i += len ? len : 1;
    return cp;
}

/* JavaScript string comparison (UTF-16 code units) of WTF-8 strings: a prefix sorts first. */
static int utf16_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t i = 0, j = 0;
    uint32_t pa = 0, pb = 0; /* pending trail surrogates */
    for (;;) {
        int64_t ua, ub;
        if (pa) {
            ua = pa;
            pa = 0;
        } else if (i < an) {
            uint32_t cp = next_cp(a, an, &i);
            if (cp >= 0x10000) {
                ua = 0xD800 + ((cp - 0x10000) >> 10);
                pa = 0xDC00 + ((cp - 0x10000) & 0x3FF);
            } else {
                ua = cp;
            }
        } else {
            ua = -1;
        }
        if (pb) {
            ub = pb;
            pb = 0;
        } else if (j < bn) {
            uint32_t cp = next_cp(b, bn, &j);
            if (cp >= 0x10000) {
                ub = 0xD800 + ((cp - 0x10000) >> 10);
                pb = 0xDC00 + ((cp - 0x10000) & 0x3FF);
            } else {
                ub = cp;
            }
        } else {
            ub = -1;
        }
        if (ua != ub)
            return ua < ub ? -1 : 1;
        if (ua < 0)
            return 0;
    }
}

/* toLocaleLowerCase for the scripts node names use in practice (see the file comment). */
static void put_lower(yjs_buf_t *b, const uint8_t *s, size_t n)
{
    uint8_t tmp[4];
    for (size_t i = 0; i < n;) {
        size_t start = i;
        uint32_t cp = next_cp(s, n, &i);
        uint32_t lc = cp;
        if (cp >= 'A' && cp <= 'Z')
            lc = cp + 32;
        else if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
            lc = cp + 32;
        else if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2)
            lc = cp + 32;
        else if (cp >= 0x410 && cp <= 0x42F)
            lc = cp + 32;
        else if (cp >= 0x400 && cp <= 0x40F)
            lc = cp + 80;
        if (lc == cp) {
            yjs_buf_bytes(b, s + start, i - start);
        } else {
            size_t k = 0;
            put_wtf8(tmp, &k, lc);
            yjs_buf_bytes(b, tmp, k);
        }
    }
}

/* Raw output of a WTF-8 buffer: surrogates become U+FFFD. */
static void wtf8_to_utf8(yjs_buf_t *out, const uint8_t *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i + 2 < n; i++) {
        if (s[i] == 0xED && s[i + 1] >= 0xA0) {
            yjs_buf_bytes(out, s + run, i - run);
            yjs_buf_bytes(out, YJS_TEXT_FFFD, YJS_TEXT_FFFD_LEN);
            i += 2;
            run = i + 1;
        }
    }
    if (run < n)
        yjs_buf_bytes(out, s + run, n - run);
}

/* ========================================================================================== */
/* rendering types */

typedef struct rctx_s {
    const ydoc_t *d;
    arena_t a;
    unsigned flags;
} rctx_t;

static void put_item_string(yjs_buf_t *b, const ydoc_t *d, const yitem_t *X)
{
    if (X->flags & YF_LEAD_FFFD)
        yjs_buf_bytes(b, YJS_TEXT_FFFD, YJS_TEXT_FFFD_LEN);
    yjs_buf_bytes(b, yd_content(d, X), X->cbytes);
    if (X->flags & YF_TRAIL_FFFD)
        yjs_buf_bytes(b, YJS_TEXT_FFFD, YJS_TEXT_FFFD_LEN);
}

/* The value of a length-1 or element content at element index k (getContent()[k]). */
static jv_t *content_value(rctx_t *r, const yitem_t *X, uint32_t k, unsigned depth);
static jv_t *type_json(rctx_t *r, uint32_t t, unsigned depth);
static void type_string(rctx_t *r, yjs_buf_t *b, uint32_t t, unsigned depth);

static bool type_live(const ydoc_t *d, uint32_t t)
{
    return t && t < d->nty && d->ty[t].live;
}

/* Y.Text toString() */
static void text_string(rctx_t *r, yjs_buf_t *b, uint32_t t)
{
    const ydoc_t *d = r->d;
    for (uint32_t x = d->sq[d->ty[t].list].first; x; x = d->it[x].right) {
        const yitem_t *X = &d->it[x];
        if (!(X->flags & YF_DELETED) && X->ref == YJS_CONTENT_STRING)
            put_item_string(b, d, X);
    }
}

/* A string as a value (for JSON output). */
static jv_t *buf_value(rctx_t *r, const yjs_buf_t *b)
{
    uint8_t *s = arena_alloc(&r->a, b->len ? b->len : 1);
    if (!s)
        return &jv_null_v;
    if (b->len)
        memcpy(s, b->data, b->len);
    jv_t *v = jv_str(&r->a, s, b->len);
    return v ? v : &jv_null_v;
}

/* A format item's key and value. */
static void format_kv(rctx_t *r, const yitem_t *X, jv_t **ret_key, jv_t **ret_val)
{
    const uint8_t *p = yd_content(r->d, X);
    yjs_wire_t w = {p, p + X->cbytes};
    const uint8_t *k = p;
    size_t kl = 0;
    (void)yjs_wire_buf(&w, &k, &kl);
    *ret_key = jv_str(&r->a, k, kl);
    *ret_val = json_parse(&r->a, w.pos, (size_t)(w.end - w.pos));
    if (!*ret_key)
        *ret_key = jv_str(&r->a, (const uint8_t *)"", 0);
}

/* toDelta(): ops as values. Embedded types become their toJSON (what JSON.stringify of the
 * delta gives). ret_types (optional) receives, per op, the type index of an embedded type. */
typedef struct dop_s {
    jv_t *insert;  /* string value, embed value, or type JSON */
    uint32_t type; /* embedded type, 0 otherwise */
    objb_t attrs;  /* attributes in JS order (already ordered via objb_done at emit time) */
    jv_t *attrs_v; /* ordered object, NULL when no attributes */
} dop_t;

typedef struct delta_s {
    dop_t *ops;
    uint32_t n, cap;
} delta_t;

static void delta_push(rctx_t *r, delta_t *dl, jv_t *insert, uint32_t type, const objb_t *cur)
{
    if (dl->n == dl->cap) {
        uint32_t cap = dl->cap ? dl->cap * 2 : 16;
        dop_t *o = arena_alloc(&r->a, cap * sizeof *o);
        if (!o)
            return;
        if (dl->n)
            memcpy(o, dl->ops, dl->n * sizeof *o);
        dl->ops = o;
        dl->cap = cap;
    }
    dop_t *op = &dl->ops[dl->n++];
    memset(op, 0, sizeof *op);
    op->insert = insert;
    op->type = type;
    if (cur->n) {
        objb_t ob = {0};
        for (uint32_t i = 0; i < cur->n; i++)
            objb_set(&r->a, &ob, cur->m[2 * i], cur->m[2 * i + 1]);
        op->attrs_v = objb_done(&r->a, &ob);
    }
}

/* currentAttributes as a JS Map: insertion order, delete moves a later set to the end. */
static void attrs_update(rctx_t *r, objb_t *cur, jv_t *k, jv_t *v)
{
    for (uint32_t i = 0; i < cur->n; i++) {
        if (key_eq(cur->m[2 * i], k)) {
            if (v->t == JV_NULL) {
                memmove(cur->m + 2 * i, cur->m + 2 * i + 2, 2 * (cur->n - i - 1) * sizeof *cur->m);
                cur->n--;
            } else {
                cur->m[2 * i + 1] = v;
            }
            return;
        }
    }
    if (v->t != JV_NULL)
        objb_set(&r->a, cur, k, v);
}

static void text_delta(rctx_t *r, uint32_t t, delta_t *dl, unsigned depth)
{
    const ydoc_t *d = r->d;
    objb_t cur = {0};
    yjs_buf_t str = {0};
    for (uint32_t x = d->sq[d->ty[t].list].first; x; x = d->it[x].right) {
        const yitem_t *X = &d->it[x];
        if (X->flags & YF_DELETED)
            continue;
        switch (X->ref) {
        case YJS_CONTENT_STRING:
            put_item_string(&str, d, X);
            break;
        case YJS_CONTENT_TYPE:
        case YJS_CONTENT_EMBED:
            if (str.len) {
                delta_push(r, dl, buf_value(r, &str), 0, &cur);
                str.len = 0;
            }
            if (X->ref == YJS_CONTENT_TYPE)
                delta_push(r, dl, type_json(r, X->coff, depth + 1), X->coff, &cur);
            else
                delta_push(r, dl, json_parse(&r->a, yd_content(d, X), X->cbytes), 0, &cur);
            break;
        case YJS_CONTENT_FORMAT: {
            if (str.len) {
                delta_push(r, dl, buf_value(r, &str), 0, &cur);
                str.len = 0;
            }
            jv_t *k, *v;
            format_kv(r, X, &k, &v);
            attrs_update(r, &cur, k, v);
            break;
        }
        default:
            break;
        }
    }
    if (str.len)
        delta_push(r, dl, buf_value(r, &str), 0, &cur);
    if (yjs_buf_err(&str))
        r->a.failed = true;
    yjs_buf_deinit(&str);
}

static void put_delta_json(yjs_buf_t *b, const delta_t *dl)
{
    yjs_buf_u8(b, '[');
    for (uint32_t i = 0; i < dl->n; i++) {
        const dop_t *op = &dl->ops[i];
        if (i)
            yjs_buf_u8(b, ',');
        yjs_buf_bytes(b, "{\"insert\":", 10);
        put_json(b, op->insert, 0);
        if (op->attrs_v) {
            yjs_buf_bytes(b, ",\"attributes\":", 14);
            put_json(b, op->attrs_v, 0);
        }
        yjs_buf_u8(b, '}');
    }
    yjs_buf_u8(b, ']');
}

typedef struct kvp_s {
    const jv_t *k, *v;
} kvp_t;

static int cmp_kvp(const void *a, const void *b)
{
    const kvp_t *x = a, *y = b;
    return utf16_cmp(x->k->u.s, x->k->n, y->k->u.s, y->k->n);
}

/* The attribute pairs `for (const key in value)` visits for a format value. */
static uint32_t forin_pairs(rctx_t *r, const jv_t *v, kvp_t **ret)
{
    uint32_t n = 0;
    kvp_t *p = NULL;
    if (v->t == JV_OBJ) {
        p = arena_alloc(&r->a, (v->n ? v->n : 1) * sizeof *p);
        for (uint32_t i = 0; p && i < v->n; i++)
            p[n++] = (kvp_t){v->u.kids[2 * i], v->u.kids[2 * i + 1]};
    } else if (v->t == JV_ARR || v->t == JV_STR) {
        /* indices "0", "1", … ; a string's values are its UTF-16 code units */
        uint32_t cnt = 0;
        if (v->t == JV_ARR) {
            cnt = v->n;
        } else {
            for (size_t i = 0; i < v->n;)
                cnt += next_cp(v->u.s, v->n, &i) >= 0x10000 ? 2 : 1;
        }
        p = arena_alloc(&r->a, (cnt ? cnt : 1) * sizeof *p);
        size_t si = 0;
        for (uint32_t i = 0; p && i < cnt; i++) {
            char num[12];
            int l = snprintf(num, sizeof num, "%u", i);
            uint8_t *ks = arena_alloc(&r->a, (size_t)l);
            if (!ks)
                break;
            memcpy(ks, num, (size_t)l);
            jv_t *k = jv_str(&r->a, ks, (size_t)l);
            jv_t *val;
            if (v->t == JV_ARR) {
                val = v->u.kids[i];
            } else {
                size_t start = si;
                uint32_t cp = next_cp(v->u.s, v->n, &si);
                uint8_t *cs = arena_alloc(&r->a, 4);
                size_t k2 = 0;
                if (!cs)
                    break;
                if (cp >= 0x10000) {
                    /* two units: each half alone is a lone surrogate */
                    put_wtf8(cs, &k2, 0xD800 + ((cp - 0x10000) >> 10));
                    jv_t *hi = jv_str(&r->a, cs, k2);
                    uint8_t *cs2 = arena_alloc(&r->a, 4);
                    size_t k3 = 0;
                    if (!cs2 || !hi)
                        break;
                    put_wtf8(cs2, &k3, 0xDC00 + ((cp - 0x10000) & 0x3FF));
                    p[n++] = (kvp_t){k, hi};
                    i++;
                    l = snprintf(num, sizeof num, "%u", i);
                    ks = arena_alloc(&r->a, (size_t)l);
                    if (!ks)
                        break;
                    memcpy(ks, num, (size_t)l);
                    k = jv_str(&r->a, ks, (size_t)l);
                    val = jv_str(&r->a, cs2, k3);
                } else {
                    val = jv_str(&r->a, v->u.s + start, si - start);
                }
            }
            if (!k || !val)
                break;
            p[n++] = (kvp_t){k, val};
        }
    }
    *ret = p;
    return p ? n : 0;
}

/* Y.XmlText toString(): the delta with formatting as nested tags. */
static void xmltext_string(rctx_t *r, yjs_buf_t *b, uint32_t t, unsigned depth)
{
    delta_t dl = {0};
    text_delta(r, t, &dl, depth);
    for (uint32_t i = 0; i < dl.n; i++) {
        const dop_t *op = &dl.ops[i];
        kvp_t *nodes = NULL;
        uint32_t nn = 0;
        if (op->attrs_v && op->attrs_v->n) {
            nodes = arena_alloc(&r->a, op->attrs_v->n * sizeof *nodes);
            for (uint32_t k = 0; nodes && k < op->attrs_v->n; k++)
                nodes[nn++] = (kvp_t){op->attrs_v->u.kids[2 * k], op->attrs_v->u.kids[2 * k + 1]};
            if (nn > 1)
                qsort(nodes, nn, sizeof *nodes, cmp_kvp);
        }
        for (uint32_t k = 0; k < nn; k++) {
            yjs_buf_u8(b, '<');
            yjs_buf_bytes(b, nodes[k].k->u.s, nodes[k].k->n);
            kvp_t *at;
            uint32_t na = forin_pairs(r, nodes[k].v, &at);
            if (na > 1)
                qsort(at, na, sizeof *at, cmp_kvp);
            for (uint32_t q = 0; q < na; q++) {
                yjs_buf_u8(b, ' ');
                yjs_buf_bytes(b, at[q].k->u.s, at[q].k->n);
                yjs_buf_bytes(b, "=\"", 2);
                put_jsstring(b, at[q].v, 0);
                yjs_buf_u8(b, '"');
            }
            yjs_buf_u8(b, '>');
        }
        if (op->type)
            type_string(r, b, op->type, depth + 1);
        else
            put_jsstring(b, op->insert, 0);
        for (uint32_t k = nn; k-- > 0;) {
            yjs_buf_bytes(b, "</", 2);
            yjs_buf_bytes(b, nodes[k].k->u.s, nodes[k].k->n);
            yjs_buf_u8(b, '>');
        }
    }
}

/* String(element) for one element of list content (typeListMap(xml => xml.toString())). */
static void item_elements_string(rctx_t *r, yjs_buf_t *b, const yitem_t *X, unsigned depth)
{
    if (X->ref == YJS_CONTENT_STRING) {
        put_item_string(b, r->d, X);
    } else if (X->ref == YJS_CONTENT_TYPE) {
        type_string(r, b, X->coff, depth + 1);
    } else {
        for (uint32_t k = 0; k < X->len; k++)
            put_jsstring(b, content_value(r, X, k, depth), 0);
    }
}

/* Y.XmlFragment toString(): the children's toString() joined. */
static void fragment_string(rctx_t *r, yjs_buf_t *b, uint32_t t, unsigned depth)
{
    const ydoc_t *d = r->d;
    for (uint32_t x = d->sq[d->ty[t].list].first; x; x = d->it[x].right) {
        const yitem_t *X = &d->it[x];
        if (!(X->flags & YF_DELETED) && (X->flags & YF_COUNTABLE))
            item_elements_string(r, b, X, depth);
    }
}

/* The visible value of a map key (typeMapGetAll: getContent()[length - 1]); NULL if deleted. */
static jv_t *map_value(rctx_t *r, uint32_t seq, unsigned depth)
{
    const ydoc_t *d = r->d;
    uint32_t x = d->sq[seq].last;
    if (!x || (d->it[x].flags & YF_DELETED))
        return NULL;
    const yitem_t *X = &d->it[x];
    if (X->ref == YJS_CONTENT_FORMAT)
        return &jv_undef_v;
    return content_value(r, X, X->len - 1, depth);
}

/* Y.XmlElement toString() */
static void element_string(rctx_t *r, yjs_buf_t *b, uint32_t t, unsigned depth)
{
    const ydoc_t *d = r->d;
    const ytype_t *ty = &d->ty[t];
    size_t nl = 0;
    const uint8_t *name = ty->name ? yd_key(d, ty->name, &nl) : (const uint8_t *)"";
    uint32_t na = 0;
    for (uint32_t s = ty->map_first; s; s = d->sq[s].next)
        na++;
    kvp_t *at = arena_alloc(&r->a, (na ? na : 1) * sizeof *at);
    uint32_t n = 0;
    for (uint32_t s = ty->map_first; at && s; s = d->sq[s].next) {
        jv_t *v = map_value(r, s, depth + 1);
        if (!v)
            continue;
        size_t kl;
        const uint8_t *k = yd_key(d, d->sq[s].key, &kl);
        jv_t *kv = jv_str(&r->a, k, kl);
        if (kv)
            at[n++] = (kvp_t){kv, v};
    }
    if (n > 1)
        qsort(at, n, sizeof *at, cmp_kvp);
    yjs_buf_u8(b, '<');
    put_lower(b, name, nl);
    for (uint32_t i = 0; i < n; i++) {
        yjs_buf_u8(b, ' ');
        yjs_buf_bytes(b, at[i].k->u.s, at[i].k->n);
        yjs_buf_bytes(b, "=\"", 2);
        put_jsstring(b, at[i].v, 0);
        yjs_buf_u8(b, '"');
    }
    yjs_buf_u8(b, '>');
    fragment_string(r, b, t, depth);
    yjs_buf_bytes(b, "</", 2);
    put_lower(b, name, nl);
    yjs_buf_u8(b, '>');
}

/* String(type) */
static void type_string(rctx_t *r, yjs_buf_t *b, uint32_t t, unsigned depth)
{
    if (!type_live(r->d, t) || depth > MAX_DEPTH)
        return;
    switch (r->d->ty[t].type_ref) {
    case YJS_TYPE_TEXT:
        text_string(r, b, t);
        return;
    case YJS_TYPE_XML_TEXT:
        xmltext_string(r, b, t, depth);
        return;
    case YJS_TYPE_XML_ELEMENT:
        element_string(r, b, t, depth);
        return;
    case YJS_TYPE_XML_FRAGMENT:
        fragment_string(r, b, t, depth);
        return;
    default: /* Y.Array, Y.Map, Y.XmlHook have no toString of their own */
        yjs_buf_bytes(b, "[object Object]", 15);
        return;
    }
}

/* Y.Map toJSON() */
static jv_t *map_json(rctx_t *r, uint32_t t, unsigned depth)
{
    const ydoc_t *d = r->d;
    objb_t ob = {0};
    for (uint32_t s = d->ty[t].map_first; s; s = d->sq[s].next) {
        jv_t *v = map_value(r, s, depth + 1);
        if (!v)
            continue;
        size_t kl;
        const uint8_t *k = yd_key(d, d->sq[s].key, &kl);
        jv_t *kv = jv_str(&r->a, k, kl);
        if (kv)
            objb_set(&r->a, &ob, kv, v);
    }
    if (r->flags & YDOC_JSON_SORT_KEYS) {
        kvp_t *p = arena_alloc(&r->a, (ob.n ? ob.n : 1) * sizeof *p);
        jv_t *v = jv_new(&r->a, JV_OBJ);
        jv_t **m = arena_alloc(&r->a, (2 * ob.n + 1) * sizeof *m);
        if (!p || !v || !m)
            return &jv_null_v;
        for (uint32_t i = 0; i < ob.n; i++)
            p[i] = (kvp_t){ob.m[2 * i], ob.m[2 * i + 1]};
        if (ob.n > 1)
            qsort(p, ob.n, sizeof *p, cmp_kvp);
        for (uint32_t i = 0; i < ob.n; i++) {
            m[2 * i] = (jv_t *)p[i].k;
            m[2 * i + 1] = (jv_t *)p[i].v;
        }
        v->u.kids = m;
        v->n = ob.n;
        return v;
    }
    return objb_done(&r->a, &ob);
}

/* Y.Array toJSON() */
static jv_t *array_json(rctx_t *r, uint32_t t, unsigned depth)
{
    const ydoc_t *d = r->d;
    uint32_t n = 0, cap = 0;
    jv_t **el = NULL;
    for (uint32_t x = d->sq[d->ty[t].list].first; x; x = d->it[x].right) {
        const yitem_t *X = &d->it[x];
        if ((X->flags & YF_DELETED) || !(X->flags & YF_COUNTABLE))
            continue;
        if (n + X->len > cap) {
            uint32_t nc = cap ? cap * 2 : 16;
            while (nc < n + X->len)
                nc *= 2;
            jv_t **ne = arena_alloc(&r->a, nc * sizeof *ne);
            if (!ne)
                return &jv_null_v;
            if (n)
                memcpy(ne, el, n * sizeof *ne);
            el = ne;
            cap = nc;
        }
        if (X->ref == YJS_CONTENT_STRING) {
            /* each UTF-16 code unit is an element */
            yjs_buf_t s = {0};
            put_item_string(&s, d, X);
            for (size_t i = 0; i < s.len;) {
                size_t st = i;
                uint32_t cp = next_cp(s.data, s.len, &i);
                uint8_t *u = arena_alloc(&r->a, 8);
                if (!u)
                    break;
                size_t k = 0;
                if (cp >= 0x10000) {
                    put_wtf8(u, &k, 0xD800 + ((cp - 0x10000) >> 10));
                    el[n++] = jv_str(&r->a, u, k);
                    size_t k2 = k;
                    put_wtf8(u, &k2, 0xDC00 + ((cp - 0x10000) & 0x3FF));
                    el[n++] = jv_str(&r->a, u + k, k2 - k);
                } else {
                    memcpy(u, s.data + st, i - st);
                    el[n++] = jv_str(&r->a, u, i - st);
                }
            }
            yjs_buf_deinit(&s);
            continue;
        }
        for (uint32_t k = 0; k < X->len; k++)
            el[n++] = content_value(r, X, k, depth);
    }
    jv_t *v = jv_new(&r->a, JV_ARR);
    if (!v)
        return &jv_null_v;
    for (uint32_t i = 0; i < n; i++)
        if (!el[i])
            el[i] = &jv_null_v;
    v->u.kids = el;
    v->n = n;
    return v;
}

/* toJSON() of a nested (or root, once its type is known) type */
static jv_t *type_json_as(rctx_t *r, uint32_t t, uint8_t type_ref, unsigned depth)
{
    if (!type_live(r->d, t) || depth > MAX_DEPTH)
        return &jv_null_v;
    yjs_buf_t b = {0};
    jv_t *v;
    switch (type_ref) {
    case YJS_TYPE_ARRAY:
        return array_json(r, t, depth);
    case YJS_TYPE_MAP:
    case YJS_TYPE_XML_HOOK:
        return map_json(r, t, depth);
    case YJS_TYPE_TEXT:
        text_string(r, &b, t);
        break;
    case YJS_TYPE_XML_TEXT:
        xmltext_string(r, &b, t, depth);
        break;
    case YJS_TYPE_XML_ELEMENT:
        element_string(r, &b, t, depth);
        break;
    default:
        fragment_string(r, &b, t, depth);
        break;
    }
    if (yjs_buf_err(&b))
        r->a.failed = true;
    v = buf_value(r, &b);
    yjs_buf_deinit(&b);
    return v;
}

static jv_t *type_json(rctx_t *r, uint32_t t, unsigned depth)
{
    if (!type_live(r->d, t))
        return &jv_null_v;
    return type_json_as(r, t, r->d->ty[t].type_ref, depth);
}

static jv_t *content_value(rctx_t *r, const yitem_t *X, uint32_t k, unsigned depth)
{
    const ydoc_t *d = r->d;
    const uint8_t *p = yd_content(d, X);
    switch (X->ref) {
    case YJS_CONTENT_ANY:
    case YJS_CONTENT_JSON: {
        yjs_wire_t w = {p, p + X->cbytes};
        for (uint32_t i = 0;; i++) {
            if (X->ref == YJS_CONTENT_ANY) {
                if (i == k)
                    return any_parse(&r->a, &w, 0);
                if (yjs_any_skip(&w, 4096, false) != QUIRE_OK)
                    return &jv_undef_v;
            } else {
                const uint8_t *s;
                size_t l;
                if (!yjs_wire_buf(&w, &s, &l))
                    return &jv_undef_v;
                if (i == k)
                    return json_parse(&r->a, s, l);
            }
        }
    }
    case YJS_CONTENT_STRING: {
        /* getContent() of a string: its UTF-16 code units */
        yjs_buf_t s = {0};
        put_item_string(&s, d, X);
        uint32_t unit = 0;
        jv_t *v = &jv_undef_v;
        for (size_t i = 0; i < s.len;) {
            size_t st = i;
            uint32_t cp = next_cp(s.data, s.len, &i);
            uint32_t units = cp >= 0x10000 ? 2 : 1;
            if (k < unit + units) {
                uint8_t *u = arena_alloc(&r->a, 4);
                size_t n = 0;
                if (!u)
                    break;
                if (units == 2)
                    put_wtf8(u, &n,
                             k == unit ? 0xD800 + ((cp - 0x10000) >> 10)
                                       : 0xDC00 + ((cp - 0x10000) & 0x3FF));
                else
                    memcpy(u, s.data + st, n = i - st);
                v = jv_str(&r->a, u, n);
                break;
            }
            unit += units;
        }
        yjs_buf_deinit(&s);
        return v ? v : &jv_undef_v;
    }
    case YJS_CONTENT_BINARY: {
        jv_t *v = jv_new(&r->a, JV_BIN);
        if (!v)
            return &jv_undef_v;
        v->u.s = p;
        v->n = X->cbytes;
        return v;
    }
    case YJS_CONTENT_EMBED:
        return json_parse(&r->a, p, X->cbytes);
    case YJS_CONTENT_TYPE:
        return type_json(r, X->coff, depth + 1);
    case YJS_CONTENT_DOC: {
        objb_t ob = {0};
        return objb_done(&r->a, &ob); /* a subdocument's toJSON(): its (unloaded) share */
    }
    default:
        return &jv_undef_v;
    }
}

/* ========================================================================================== */
/* roots, inference, public entry points */

ydoc_type_t yd_infer(const ydoc_t *d, uint32_t t)
{
    const ytype_t *ty = &d->ty[t];
    uint32_t first = d->sq[ty->list].first;
    if (!first)
        return ty->map_first ? YDOC_TYPE_MAP : YDOC_TYPE_AUTO;
    bool xml = false, array = false;
    for (uint32_t x = first; x; x = d->it[x].right) {
        const yitem_t *X = &d->it[x];
        switch (X->ref) {
        case YJS_CONTENT_STRING:
        case YJS_CONTENT_FORMAT:
        case YJS_CONTENT_EMBED:
            return YDOC_TYPE_TEXT;
        case YJS_CONTENT_TYPE:
            if (X->extra == YJS_TYPE_XML_ELEMENT || X->extra == YJS_TYPE_XML_TEXT ||
                X->extra == YJS_TYPE_XML_HOOK)
                xml = true;
            else
                array = true;
            break;
        case YJS_CONTENT_ANY:
        case YJS_CONTENT_JSON:
        case YJS_CONTENT_BINARY:
        case YJS_CONTENT_DOC:
            array = true;
            break;
        default:
            break;
        }
    }
    return xml ? YDOC_TYPE_XML : array ? YDOC_TYPE_ARRAY : YDOC_TYPE_AUTO;
}

static uint32_t root_find(const ydoc_t *d, const char *name, size_t len)
{
    uint32_t k = yd_key_find(d, (const uint8_t *)name, len);
    if (!k)
        return 0;
    for (uint32_t i = 0; i < d->nroots; i++)
        if (d->ty[d->roots[i]].name == k)
            return d->roots[i];
    return 0;
}

size_t ydoc_root_count(const ydoc_t *doc)
{
    return doc ? doc->nroots : 0;
}

const char *ydoc_root_name(const ydoc_t *doc, size_t i, size_t *ret_len, ydoc_type_t *ret_type)
{
    if (!doc || i >= doc->nroots) {
        if (ret_len)
            *ret_len = 0;
        return NULL;
    }
    uint32_t t = doc->roots[i];
    if (ret_type)
        *ret_type = yd_infer(doc, t);
    size_t l;
    const char *s = (const char *)yd_key(doc, doc->ty[t].name, &l);
    if (ret_len)
        *ret_len = l;
    return s;
}

ydoc_type_t ydoc_root_type(const ydoc_t *doc, const char *name, size_t name_len)
{
    uint32_t t = doc && name ? root_find(doc, name, name_len) : 0;
    return t ? yd_infer(doc, t) : YDOC_TYPE_AUTO;
}

uint64_t ydoc_root_length(const ydoc_t *doc, const char *name, size_t name_len)
{
    uint32_t t = doc && name ? root_find(doc, name, name_len) : 0;
    return t ? doc->ty[t].length : 0;
}

/* Renders root t as type/format into b. */
static void render_root(rctx_t *r, yjs_buf_t *b, uint32_t t, ydoc_type_t type, ydoc_format_t fmt)
{
    if (type == YDOC_TYPE_AUTO)
        type = yd_infer(r->d, t);
    yjs_buf_t s = {0};
    jv_t *v = NULL;
    switch (type) {
    case YDOC_TYPE_MAP:
        v = map_json(r, t, 0);
        break;
    case YDOC_TYPE_ARRAY:
        v = array_json(r, t, 0);
        break;
    case YDOC_TYPE_TEXT:
        if (fmt == YDOC_FORMAT_DELTA) {
            delta_t dl = {0};
            text_delta(r, t, &dl, 0);
            put_delta_json(b, &dl);
            return;
        }
        text_string(r, &s, t);
        break;
    case YDOC_TYPE_XML:
        fragment_string(r, &s, t, 0);
        break;
    default: /* nothing to infer from: what an emptied text or fragment gives */
        break;
    }
    if (v) {
        put_json(b, v, 0);
        return;
    }
    if (yjs_buf_err(&s))
        r->a.failed = true;
    if (fmt == YDOC_FORMAT_STRING)
        wtf8_to_utf8(b, s.data, s.len);
    else
        put_jstr(b, s.data, s.len);
    yjs_buf_deinit(&s);
}

static quire_err_t finish(rctx_t *r, yjs_buf_t *b, char **ret, size_t *ret_len)
{
    yjs_buf_u8(b, 0);
    bool failed = r->a.failed || yjs_buf_err(b) != QUIRE_OK;
    arena_free(&r->a);
    if (failed) {
        yjs_buf_deinit(b);
        return QUIRE_ERR_NOMEM;
    }
    size_t n;
    *ret = (char *)yjs_buf_steal(b, &n);
    *ret_len = n - 1;
    return QUIRE_OK;
}

typedef struct rootref_s {
    const uint8_t *name;
    size_t len;
    uint32_t t;
} rootref_t;

static int cmp_rootref(const void *a, const void *b)
{
    const rootref_t *x = a, *y = b;
    return utf16_cmp(x->name, x->len, y->name, y->len);
}

quire_err_t ydoc_content_json(const ydoc_t *doc, unsigned flags, char **ret_json, size_t *ret_len)
{
    if (!doc || !ret_json || !ret_len)
        return QUIRE_ERR_INVALID;
    rctx_t r = {.d = doc, .flags = flags};
    yjs_buf_t b = {0};
    rootref_t *roots = malloc((doc->nroots ? doc->nroots : 1) * sizeof *roots);
    if (!roots)
        return QUIRE_ERR_NOMEM;
    for (uint32_t i = 0; i < doc->nroots; i++) {
        roots[i].t = doc->roots[i];
        roots[i].name = yd_key(doc, doc->ty[roots[i].t].name, &roots[i].len);
    }
    if ((flags & YDOC_JSON_SORT_KEYS) && doc->nroots > 1)
        qsort(roots, doc->nroots, sizeof *roots, cmp_rootref);
    yjs_buf_u8(&b, '{');
    for (uint32_t i = 0; i < doc->nroots; i++) {
        if (i)
            yjs_buf_u8(&b, ',');
        put_jstr(&b, roots[i].name, roots[i].len);
        yjs_buf_u8(&b, ':');
        render_root(&r, &b, roots[i].t, YDOC_TYPE_AUTO, YDOC_FORMAT_JSON);
        arena_free(&r.a); /* values do not outlive one root */
    }
    yjs_buf_u8(&b, '}');
    free(roots);
    return finish(&r, &b, ret_json, ret_len);
}

quire_err_t ydoc_render(const ydoc_t *doc, const char *name, size_t name_len, ydoc_type_t type,
                        ydoc_format_t format, unsigned flags, char **ret, size_t *ret_len)
{
    if (!doc || !name || !ret || !ret_len || (unsigned)type > YDOC_TYPE_ARRAY ||
        (unsigned)format > YDOC_FORMAT_DELTA)
        return QUIRE_ERR_INVALID;
    uint32_t t = root_find(doc, name, name_len);
    if (!t)
        return QUIRE_ERR_NOT_FOUND;
    rctx_t r = {.d = doc, .flags = flags};
    yjs_buf_t b = {0};
    render_root(&r, &b, t, type, format);
    return finish(&r, &b, ret, ret_len);
}
