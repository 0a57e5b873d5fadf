/*
 * api_docs — what the document handlers of `quire api` share (api_docs_read.c,
 * api_docs_lifecycle.c, api_history.c): looking a document up in the read model, the cache
 * headers every document response carries (DESIGN §5, I8: `ETag` = version,
 * `Cache-Control: private, no-cache`, 304 on a matching `If-None-Match`), times as RFC 3339.
 */
#ifndef API_DOCS_H
#define API_DOCS_H

#include <stdbool.h>
#include <stdint.h>

#include "api_ctx.h"
#include "readmodel.h"

/* The document's current version and lifecycle, from the cache when it is provably current,
 * else with one query. QUIRE_ERR_NOT_FOUND when the read model has no such document,
 * QUIRE_ERR_UNAVAILABLE when PostgreSQL cannot be reached. */
quire_err_t api_docs_lookup(api_ctx_t *ctx, const char *doc_id, int64_t *ret_version,
                            readmodel_lifecycle_t *ret_lifecycle);

/* Adds ETag and Cache-Control for a document version. */
void api_docs_cache_headers(api_req_t *req, int64_t version);

/* True when If-None-Match names this version (then reply 304). */
bool api_docs_not_modified(api_req_t *req, int64_t version);

/* "2026-12-04T22:10:00.123Z" into buf (at least 32 bytes). */
void api_docs_time(int64_t ms, char *buf, size_t len);

/* Parses RFC 3339 ("2026-12-04T22:10:00Z", fractions and offsets allowed) into ms since the
 * epoch. QUIRE_ERR_INVALID otherwise. */
quire_err_t api_docs_parse_time(const char *s, int64_t *ret_ms);

/* Parses a non-negative decimal integer below 2^53. QUIRE_ERR_INVALID otherwise. */
quire_err_t api_docs_parse_offset(const char *s, int64_t *ret);

/* The partition a document lives in. */
int32_t api_docs_partition(api_ctx_t *ctx, const char *doc_id);

/* Validates the id and authorises `action`; on failure replies (404 for a bad id or a document
 * the caller may not see) and returns false. */
bool api_docs_admit(api_ctx_t *ctx, api_req_t *req, const char *doc_id, api_action_t action);

#endif
