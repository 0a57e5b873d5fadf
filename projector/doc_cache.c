/* doc_cache — see the header. One mutex; a chained hash plus an age list for eviction. */
#include "doc_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct doc_cache_s {
    pthread_mutex_t lock;
    doc_cache_entry_t **tab;
    size_t size, count, bytes, max_bytes;
    doc_cache_entry_t *oldest, *newest;
};

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static size_t entry_bytes(const doc_cache_entry_t *e)
{
    return sizeof *e + e->json_len + e->state_len + strlen(e->doc_id);
}

doc_cache_t *doc_cache_new(size_t max_bytes)
{
    doc_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->size = 4096;
    c->tab = calloc(c->size, sizeof *c->tab);
    if (!c->tab) {
        free(c);
        return NULL;
    }
    c->max_bytes = max_bytes;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

doc_cache_entry_t *doc_cache_entry_new(char *doc_id, int64_t version, int32_t partition,
                                       int64_t cover, char *json, size_t json_len, uint8_t *state,
                                       size_t state_len)
{
    doc_cache_entry_t *e = calloc(1, sizeof *e);
    if (!e || !doc_id) {
        free(e);
        free(doc_id);
        free(json);
        free(state);
        return NULL;
    }
    e->doc_id = doc_id;
    e->version = version;
    e->partition = partition;
    atomic_store(&e->cover, cover);
    e->json = json;
    e->json_len = json_len;
    e->state = state;
    e->state_len = state_len;
    e->hash = hash_str(doc_id);
    atomic_store(&e->refs, 1);
    return e;
}

void doc_cache_release(doc_cache_entry_t *e)
{
    if (!e || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    free(e->doc_id);
    free(e->json);
    free(e->state);
    free(e);
}

/* Unlinks e (locked). The cache's reference is dropped by the caller. */
static void unlink_entry(doc_cache_t *c, doc_cache_entry_t *e)
{
    for (doc_cache_entry_t **pp = &c->tab[e->hash & (c->size - 1)]; *pp; pp = &(*pp)->hnext)
        if (*pp == e) {
            *pp = e->hnext;
            break;
        }
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    c->count--;
    c->bytes -= entry_bytes(e);
}

static doc_cache_entry_t *find(doc_cache_t *c, const char *doc_id)
{
    uint32_t h = hash_str(doc_id);
    for (doc_cache_entry_t *e = c->tab[h & (c->size - 1)]; e; e = e->hnext)
        if (e->hash == h && strcmp(e->doc_id, doc_id) == 0)
            return e;
    return NULL;
}

doc_cache_entry_t *doc_cache_get(doc_cache_t *c, const char *doc_id)
{
    pthread_mutex_lock(&c->lock);
    doc_cache_entry_t *e = find(c, doc_id);
    if (e)
        atomic_fetch_add(&e->refs, 1);
    pthread_mutex_unlock(&c->lock);
    return e;
}

void doc_cache_put(doc_cache_t *c, doc_cache_entry_t *e)
{
    doc_cache_entry_t *drop[64];
    size_t ndrop = 0;
    atomic_fetch_add(&e->refs, 1);
    pthread_mutex_lock(&c->lock);
    doc_cache_entry_t *old = find(c, e->doc_id);
    if (old) {
        unlink_entry(c, old);
        drop[ndrop++] = old;
    }
    e->hnext = c->tab[e->hash & (c->size - 1)];
    c->tab[e->hash & (c->size - 1)] = e;
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
    c->count++;
    c->bytes += entry_bytes(e);
    while (c->bytes > c->max_bytes && c->oldest && c->oldest != e && ndrop < 64) {
        doc_cache_entry_t *o = c->oldest;
        unlink_entry(c, o);
        drop[ndrop++] = o;
    }
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < ndrop; i++)
        doc_cache_release(drop[i]);
}

void doc_cache_remove(doc_cache_t *c, const char *doc_id)
{
    pthread_mutex_lock(&c->lock);
    doc_cache_entry_t *e = find(c, doc_id);
    if (e)
        unlink_entry(c, e);
    pthread_mutex_unlock(&c->lock);
    doc_cache_release(e);
}

void doc_cache_destroy(doc_cache_t *c)
{
    if (!c)
        return;
    while (c->oldest) {
        doc_cache_entry_t *e = c->oldest;
        unlink_entry(c, e);
        doc_cache_release(e);
    }
    pthread_mutex_destroy(&c->lock);
    free(c->tab);
    free(c);
}
