/*
 * doc_cache — rendered documents of `quire api`, keyed by document id and valid for one version
 * (I8: never served stale). An entry records the partition position it is known to be current
 * at (`cover`); the api serves it without any query while api_notify reports that same position
 * for the partition, and otherwise revalidates it with one cheap version query.
 *
 * Entries are immutable once inserted (but for `cover`) and reference-counted, so a request can
 * keep using one while another thread replaces it. Bounded by bytes; the oldest entries go first.
 * Thread-safe.
 */
#ifndef DOC_CACHE_H
#define DOC_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct doc_cache_entry_s {
    char *doc_id;
    int64_t version;
    int32_t partition;
    _Atomic int64_t cover; /* the entry is the document at this partition position */
    char *json;            /* GET /v1/docs/{id} body */
    size_t json_len;
    uint8_t *state; /* merged Yjs update */
    size_t state_len;
    atomic_int refs;
    /* list links, owned by the cache */
    struct doc_cache_entry_s *hnext, *older, *newer;
    uint32_t hash;
} doc_cache_entry_t;

typedef struct doc_cache_s doc_cache_t;

doc_cache_t *doc_cache_new(size_t max_bytes);
void doc_cache_destroy(doc_cache_t *c);

/* A new entry with one reference (the caller's); doc_id, json and state are taken over (freed
 * with the entry). NULL when out of memory (then they are freed too). */
doc_cache_entry_t *doc_cache_entry_new(char *doc_id, int64_t version, int32_t partition,
                                       int64_t cover, char *json, size_t json_len, uint8_t *state,
                                       size_t state_len);
/* Drops one reference. Accepts NULL. */
void doc_cache_release(doc_cache_entry_t *e);

/* The entry of doc_id with a new reference for the caller, or NULL. */
doc_cache_entry_t *doc_cache_get(doc_cache_t *c, const char *doc_id);
/* Inserts (replacing the document's older entry); the cache takes its own reference. */
void doc_cache_put(doc_cache_t *c, doc_cache_entry_t *e);
/* Forgets a document (deleted, or gone). */
void doc_cache_remove(doc_cache_t *c, const char *doc_id);

#endif
