/*
 * libFuzzer harness: yjs_update_diff. Input = u16 little-endian update length, the update, then
 * the state vector. Invariants: a diff is a valid update; the diff against the empty state vector
 * exists whenever some diff does.
 */
#include <stdint.h>
#include <stdlib.h>

#include "yjs_update.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t ulen = (size_t)data[0] | (size_t)data[1] << 8;
    data += 2;
    size -= 2;
    if (ulen > size)
        ulen = size;
    uint8_t *out;
    size_t olen;
    yjs_error_t e;
    if (yjs_update_diff(data, ulen, data + ulen, size - ulen, NULL, 0, &out, &olen, &e) != QUIRE_OK)
        return 0;
    if (yjs_decode_check(out, olen, NULL, 0) != QUIRE_OK)
        abort();
    free(out);
    const uint8_t empty_sv[] = {0};
    if (yjs_update_diff(data, ulen, empty_sv, 1, NULL, 0, &out, &olen, &e) != QUIRE_OK)
        abort();
    free(out);
    return 0;
}
