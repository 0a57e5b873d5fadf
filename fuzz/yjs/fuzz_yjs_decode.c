/*
 * libFuzzer harness: yjs_update_validate, full and skim, and the state vector. Input = one update.
 * Invariants checked (abort on violation): anything the strict mode accepts, skim accepts too;
 * an accepted update has a state vector, the same in strict and skim mode; ranges are well
 * formed; the per-struct and per-group walks agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yjs_update.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    yjs_validation_t v = {0};
    quire_err_t err = yjs_update_validate(data, size, NULL, 0, &v);
    quire_err_t skim = yjs_update_validate(data, size, NULL, YJS_DECODE_SKIM, &v);
    if (err == QUIRE_OK) {
        if (skim != QUIRE_OK)
            abort();
        for (size_t i = 0; i < v.nranges; i++)
            if (v.ranges[i].end <= v.ranges[i].clock || v.ranges[i].end > YJS_MAX_SAFE)
                abort();
        uint8_t *sv, *sv2;
        size_t n, n2;
        yjs_error_t e;
        if (yjs_update_state_vector(data, size, NULL, 0, &sv, &n, &e) != QUIRE_OK ||
            yjs_update_state_vector(data, size, NULL, YJS_DECODE_SKIM, &sv2, &n2, &e) != QUIRE_OK)
            abort();
        if (n != n2 || memcmp(sv, sv2, n) != 0)
            abort();
        free(sv);
        free(sv2);
        /* the group walk (skim) covers exactly the clocks the struct walk does */
        yjs_decoder_t d1, d2;
        yjs_decode_init(&d1, data, size, NULL, 0);
        yjs_decode_init(&d2, data, size, NULL, YJS_DECODE_SKIM);
        yjs_struct_t s;
        yjs_group_extent_t g;
        int r = 1;
        while (r > 0 && yjs_decode_next_group(&d2, &g) > 0) {
            uint64_t end = g.clock;
            for (uint64_t i = 0; i < g.nstructs; i++) {
                if ((r = yjs_decode_next_struct(&d1, &s)) <= 0 || s.id.client != g.client ||
                    s.id.clock != end)
                    abort();
                end += s.len;
            }
            if (end != g.end)
                abort();
        }
        if (yjs_decode_next_struct(&d1, &s) != 0)
            abort();
    }
    yjs_validation_deinit(&v);
    return 0;
}
