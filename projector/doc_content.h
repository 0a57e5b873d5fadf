/*
 * doc_content — the materialised content of a Yjs document state (DESIGN §5): one JSON object
 * with one member per root type, rendered as Yjs renders it — text roots as their string
 * (Y.Text.toString()), XML fragments as the XML string Yjs produces (Y.XmlFragment.toString()),
 * maps and arrays as their toJSON().
 *
 * The one place content is rendered: the projector stores it in documents.content, the api
 * serves it for current and past versions. Keep it so; a change of rendering changes here only.
 */
#ifndef DOC_CONTENT_H
#define DOC_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"

/* Renders the content of state[0..len) (a Yjs update v1 holding the whole document) into a
 * malloc'd NUL-terminated JSON text (*ret_json, *ret_len without the NUL), which the caller
 * frees. QUIRE_ERR_MALFORMED when the engine refuses the state, QUIRE_ERR_NOMEM. */
quire_err_t doc_content_render(const uint8_t *state, size_t len, char **ret_json, size_t *ret_len);

/* Whether doc_content_render materialises content (false while only the document-free engine is
 * linked: content is then always {}). */
int doc_content_available(void);

#endif
