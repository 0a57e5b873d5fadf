/*
 * gw_map — a small open-addressing hash map from a key (string or 64-bit integer) to a pointer,
 * for the gateway's registries (documents by id, connections by id). Single-threaded: owned by
 * the gateway's event loop. Keys are borrowed: a string key must live as long as its entry (the
 * value usually holds it).
 */
#ifndef GW_MAP_H
#define GW_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct gw_map_s gw_map_t;

gw_map_t *gw_map_new(void);
void gw_map_destroy(gw_map_t *m);
size_t gw_map_size(const gw_map_t *m);

void *gw_map_get_str(const gw_map_t *m, const char *key);
int gw_map_put_str(gw_map_t *m, const char *key, void *value); /* 0, or -1 out of memory */
void *gw_map_del_str(gw_map_t *m, const char *key);

void *gw_map_get_u64(const gw_map_t *m, uint64_t key);
int gw_map_put_u64(gw_map_t *m, uint64_t key, void *value);
void *gw_map_del_u64(gw_map_t *m, uint64_t key);

/* Iteration: for (size_t i = 0; (v = gw_map_next(m, &i)); ) — no insertions or deletions while
 * iterating (a deletion may move a later entry behind the iterator): collect, then delete. */
void *gw_map_next(const gw_map_t *m, size_t *iter);

#endif
