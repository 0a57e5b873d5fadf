/*
 * doc_content — see the header. The state is integrated into a fresh ydoc (lib/yjs part 2) and
 * rendered with sorted keys, so the content depends on the document only, never on the order in
 * which its updates were merged. While the linked engine cannot integrate yet (QUIRE_ERR_INTERNAL
 * from its stub), the state is only checked to be well formed and the content is {}.
 */
#include "doc_content.h"

#include <stdlib.h>
#include <string.h>

#include "ydoc.h"
#include "yjs_update.h"

static quire_err_t empty_content(const uint8_t *state, size_t len, char **ret_json, size_t *ret_len)
{
    yjs_validation_t v = {0};
    quire_err_t err = yjs_update_validate(state, len, NULL, YJS_DECODE_SKIM, &v);
    yjs_validation_deinit(&v);
    if (err)
        return err == QUIRE_ERR_NOMEM ? err : QUIRE_ERR_MALFORMED;
    char *s = strdup("{}");
    if (!s)
        return QUIRE_ERR_NOMEM;
    *ret_json = s;
    *ret_len = 2;
    return QUIRE_OK;
}

quire_err_t doc_content_render(const uint8_t *state, size_t len, char **ret_json, size_t *ret_len)
{
    ydoc_t *doc = NULL;
    quire_err_t err = ydoc_new(NULL, &doc);
    if (err)
        return err;
    err = ydoc_apply(doc, state, len, YJS_DECODE_SKIM, NULL, NULL);
    if (err == QUIRE_OK)
        err = ydoc_content_json(doc, YDOC_JSON_SORT_KEYS, ret_json, ret_len);
    ydoc_destroy(doc);
    if (err == QUIRE_ERR_INTERNAL)
        return empty_content(state, len, ret_json, ret_len);
    if (err && err != QUIRE_ERR_NOMEM)
        err = QUIRE_ERR_MALFORMED;
    return err;
}

int doc_content_available(void)
{
    ydoc_t *doc = NULL;
    if (ydoc_new(NULL, &doc) != QUIRE_OK)
        return 0;
    static const uint8_t empty[] = {0, 0};
    int ok = ydoc_apply(doc, empty, sizeof empty, 0, NULL, NULL) == QUIRE_OK;
    ydoc_destroy(doc);
    return ok;
}
