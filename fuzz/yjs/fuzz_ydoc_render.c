/*
 * libFuzzer harness: materialised content. Input = records of (u16 little-endian length, update),
 * at most 16, applied in order (refusals are fine). Then every root is rendered as every type in
 * every format, and the whole content as JSON. Invariants: JSON outputs are valid JSON
 * (yjs_json_validate), string outputs valid UTF-8 (yjs_text_validate), the content JSON names
 * ydoc_root_count roots, and rendering is deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ydoc.h"
#include "yjs_json.h"
#include "yjs_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(const char *s, size_t n)
{
    if (!yjs_text_validate((const uint8_t *)s, n, NULL, NULL) ||
        yjs_json_validate((const uint8_t *)s, n, 100000) != QUIRE_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ydoc_limits_t lim = YDOC_LIMITS_DEFAULT;
    lim.decode.max_update_bytes = 1 << 16;
    ydoc_t *d;
    if (ydoc_new(&lim, &d) != QUIRE_OK)
        return 0;
    for (int n = 0; size >= 2 && n < 16; n++) {
        size_t len = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2;
        size -= 2;
        if (len > size)
            len = size;
        (void)ydoc_apply(d, data, len, n & 1 ? YJS_DECODE_SKIM : 0, NULL, NULL);
        data += len;
        size -= len;
    }
    for (unsigned flags = 0; flags < 2; flags++) {
        char *c, *c2;
        size_t n, n2;
        if (ydoc_content_json(d, flags, &c, &n) != QUIRE_OK ||
            ydoc_content_json(d, flags, &c2, &n2) != QUIRE_OK)
            abort();
        check_json(c, n);
        if (n != n2 || memcmp(c, c2, n) != 0 || strlen(c) != n)
            abort();
        free(c);
        free(c2);
    }
    for (size_t i = 0; i < ydoc_root_count(d); i++) {
        size_t nl;
        ydoc_type_t inferred;
        const char *name = ydoc_root_name(d, i, &nl, &inferred);
        if (!name || ydoc_root_type(d, name, nl) != inferred)
            abort();
        (void)ydoc_root_length(d, name, nl);
        for (int t = YDOC_TYPE_AUTO; t <= YDOC_TYPE_ARRAY; t++)
            for (int f = YDOC_FORMAT_JSON; f <= YDOC_FORMAT_DELTA; f++) {
                char *s;
                size_t sl;
                if (ydoc_render(d, name, nl, (ydoc_type_t)t, (ydoc_format_t)f, 0, &s, &sl) !=
                    QUIRE_OK)
                    abort();
                bool is_string =
                    f == YDOC_FORMAT_STRING && (t == YDOC_TYPE_TEXT || t == YDOC_TYPE_XML ||
                                                (t == YDOC_TYPE_AUTO && inferred != YDOC_TYPE_MAP &&
                                                 inferred != YDOC_TYPE_ARRAY));
                if (is_string) {
                    if (!yjs_text_validate((const uint8_t *)s, sl, NULL, NULL))
                        abort();
                } else {
                    check_json(s, sl);
                }
                free(s);
            }
    }
    ydoc_destroy(d);
    return 0;
}
