/*
 * api_static — `quire api` serves the built web app (web/dist) at `/`.
 *
 * Strict by construction: only the paths "/", "/index.html", "/d/{docId}" (the editor's page;
 * answered with index.html), "/{name}" and "/assets/{name}" are served, where a name is 1–128 of
 * [A-Za-z0-9._-] not starting with '.', and its extension is one of a fixed set (html, js, css,
 * json, svg, png, ico, woff2, map, txt, webmanifest), each with its fixed Content-Type. Paths are
 * never percent-decoded, so "%2e%2e" or "%2f" simply name no file. Files are opened below the
 * root only (openat, no symlink as the last component), must be regular and at most 16 MiB.
 *
 * Caching: /assets/ files have content hashes in their names → `public, max-age=31536000,
 * immutable`; everything else (index.html, sw.js, config.json) → `no-cache` with an ETag (size
 * and mtime) and 304 on If-None-Match. Every answer carries the Content-Security-Policy below,
 * `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and `Cross-Origin-Opener-Policy:
 * same-origin`:
 *   default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;
 *   font-src 'self'; connect-src 'self' <gateways>; worker-src 'self'; manifest-src 'self';
 *   base-uri 'none'; form-action 'self'; frame-ancestors 'none'
 *
 * `/config.json` is generated: {"gateways":[...]} — the WebSocket base URLs the app may connect
 * to (`--web-gateways`; empty = the page's own origin, as behind a reverse proxy).
 */
#ifndef API_STATIC_H
#define API_STATIC_H

#include <stddef.h>

#include "api_server.h"

typedef struct api_static_s api_static_t;

/* root: the directory holding index.html (it need not exist yet: answers are then 503 until it
 * does). gateways: comma-separated ws:// or wss:// base URLs (scheme://host[:port], no path), or
 * "" / NULL. NULL + errbuf when root is empty or a gateway URL is malformed. */
api_static_t *api_static_new(const char *root, const char *gateways, char *errbuf, size_t errlen);
void api_static_destroy(api_static_t *st);

/* The handler of every static route; st NULL answers 404 (no --web-root). */
api_next_t api_static_serve(api_static_t *st, api_req_t *req);
/* The route handler: api_static_serve with the api_ctx_t's `web`. */
api_next_t api_get_static(api_req_t *req, void *ctx);

#endif
