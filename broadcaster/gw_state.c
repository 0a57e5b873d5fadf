/* gw_state — see the header. Updates read back from the log were validated at ingest, so they
 * are decoded with YJS_DECODE_SKIM (bounds still checked, UTF-8/JSON not re-validated). */
#include "gw_state.h"

#include <stdlib.h>
#include <string.h>

#include "yjs_update.h"

void gw_state_init(gw_state_t *s, uint8_t *update, size_t len)
{
    memset(s, 0, sizeof *s);
    if (update) {
        s->update = update;
        s->len = len;
    } else {
        s->update = malloc(2);
        if (s->update) {
            s->update[0] = s->update[1] = 0; /* the empty update */
            s->len = 2;
        }
    }
}

void gw_state_deinit(gw_state_t *s)
{
    free(s->update);
    free(s->sv);
    memset(s, 0, sizeof *s);
}

quire_err_t gw_state_apply(gw_state_t *s, const uint8_t *update, size_t len)
{
    const uint8_t *in[2] = {s->update, update};
    size_t lens[2] = {s->len, len};
    uint8_t *out = NULL;
    size_t out_len = 0;
    yjs_error_t err;
    quire_err_t e = yjs_update_merge(in, lens, 2, NULL, YJS_DECODE_SKIM, &out, &out_len, &err);
    if (e)
        return e;
    free(s->update);
    s->update = out;
    s->len = out_len;
    free(s->sv);
    s->sv = NULL;
    return QUIRE_OK;
}

quire_err_t gw_state_sv(gw_state_t *s, const uint8_t **ret_sv, size_t *ret_len)
{
    if (!s->sv) {
        yjs_error_t err;
        quire_err_t e = yjs_update_state_vector(s->update, s->len, NULL, YJS_DECODE_SKIM, &s->sv,
                                                &s->sv_len, &err);
        if (e)
            return e;
    }
    *ret_sv = s->sv;
    *ret_len = s->sv_len;
    return QUIRE_OK;
}

quire_err_t gw_state_diff(gw_state_t *s, const uint8_t *sv, size_t sv_len, uint8_t **ret,
                          size_t *ret_len)
{
    yjs_error_t err;
    return yjs_update_diff(s->update, s->len, sv, sv_len, NULL, YJS_DECODE_SKIM, ret, ret_len,
                           &err);
}

quire_err_t gw_state_novel(gw_state_t *s, const uint8_t *update, size_t len, uint8_t **ret,
                           size_t *ret_len)
{
    const uint8_t *sv;
    size_t sv_len;
    quire_err_t e = gw_state_sv(s, &sv, &sv_len);
    if (e)
        return e;
    uint8_t *diff = NULL;
    size_t diff_len = 0;
    yjs_error_t err;
    e = yjs_update_diff(update, len, sv, sv_len, NULL, 0, &diff, &diff_len, &err);
    if (e)
        return e;
    /* Part 1 cannot tell which deletions the state already has, so a diff that keeps only a
     * delete set is produced again; an update with neither structs nor deletes adds nothing. */
    yjs_validation_t v = {0};
    e = yjs_update_validate(diff, diff_len, NULL, YJS_DECODE_SKIM, &v);
    bool nothing = e == QUIRE_OK && v.nstructs == 0 && v.ndelete_ranges == 0;
    yjs_validation_deinit(&v);
    if (e) {
        free(diff);
        return e;
    }
    if (nothing) {
        free(diff);
        *ret = NULL;
        *ret_len = 0;
        return QUIRE_OK;
    }
    *ret = diff;
    *ret_len = diff_len;
    return QUIRE_OK;
}

size_t gw_state_size(const gw_state_t *s)
{
    return s->len;
}
