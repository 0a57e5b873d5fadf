/*
 * libFuzzer harness: yjs_update_split. Input = u16 little-endian cap (64 is added), then the
 * update. Invariants: every part is within the cap and valid; the parts merge; the merged parts
 * carry the same clock ranges as the update (same state vector when nothing was cut... and
 * always the same total of clock units).
 */
#include <stdint.h>
#include <stdlib.h>

#include "yjs_update.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t units(const uint8_t *u, size_t n)
{
    yjs_validation_t v = {0};
    if (yjs_update_validate(u, n, NULL, 0, &v) != QUIRE_OK)
        abort();
    uint64_t total = 0;
    for (size_t i = 0; i < v.nranges; i++)
        total += v.ranges[i].end - v.ranges[i].clock;
    yjs_validation_deinit(&v);
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t cap = 64 + ((size_t)data[0] | (size_t)data[1] << 8);
    data += 2;
    size -= 2;
    yjs_parts_t parts = {0};
    yjs_error_t e;
    if (yjs_update_split(data, size, cap, NULL, 0, &parts, &e) != QUIRE_OK)
        return 0;
    const uint8_t **ins = malloc(parts.n * sizeof *ins);
    size_t *lens = malloc(parts.n * sizeof *lens);
    if (!ins || !lens)
        abort();
    uint64_t total = 0;
    for (size_t i = 0; i < parts.n; i++) {
        ins[i] = yjs_parts_get(&parts, i, &lens[i]);
        if (lens[i] > cap)
            abort();
        total += units(ins[i], lens[i]);
    }
    if (total != units(data, size))
        abort();
    uint8_t *m;
    size_t mlen;
    if (yjs_update_merge(ins, lens, parts.n, NULL, 0, &m, &mlen, &e) != QUIRE_OK)
        abort();
    free(m);
    free(ins);
    free(lens);
    yjs_parts_deinit(&parts);
    return 0;
}
