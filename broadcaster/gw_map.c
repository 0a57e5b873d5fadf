/* gw_map — linear probing with backward-shift deletion; capacity a power of two, load ≤ 0.7. */
#include "gw_map.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *skey;
    uint64_t ukey;
    uint64_t hash;
    void *value; /* NULL = empty slot */
} slot_t;

struct gw_map_s {
    slot_t *slots;
    size_t cap, size;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

gw_map_t *gw_map_new(void)
{
    gw_map_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = 16;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void gw_map_destroy(gw_map_t *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m);
}

size_t gw_map_size(const gw_map_t *m)
{
    return m->size;
}

static bool same(const slot_t *s, const char *skey, uint64_t ukey, uint64_t h)
{
    if (s->hash != h)
        return false;
    return skey ? (s->skey && strcmp(s->skey, skey) == 0) : (!s->skey && s->ukey == ukey);
}

static size_t find(const gw_map_t *m, const char *skey, uint64_t ukey, uint64_t h, bool *found)
{
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].value) {
        if (same(&m->slots[i], skey, ukey, h)) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
    *found = false;
    return i;
}

static int grow(gw_map_t *m)
{
    size_t ncap = m->cap * 2;
    slot_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].value)
            continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (ns[j].value)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

static int put(gw_map_t *m, const char *skey, uint64_t ukey, uint64_t h, void *value)
{
    if ((m->size + 1) * 10 > m->cap * 7 && grow(m) != 0)
        return -1;
    bool found;
    size_t i = find(m, skey, ukey, h, &found);
    if (!found)
        m->size++;
    m->slots[i] = (slot_t){.skey = skey, .ukey = ukey, .hash = h, .value = value};
    return 0;
}

static void *del(gw_map_t *m, const char *skey, uint64_t ukey, uint64_t h)
{
    bool found;
    size_t i = find(m, skey, ukey, h, &found);
    if (!found)
        return NULL;
    void *v = m->slots[i].value;
    size_t mask = m->cap - 1, j = i;
    for (;;) { /* backward-shift deletion keeps probe chains intact */
        j = (j + 1) & mask;
        if (!m->slots[j].value)
            break;
        size_t home = m->slots[j].hash & mask;
        bool move = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
        if (move) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i] = (slot_t){0};
    m->size--;
    return v;
}

void *gw_map_get_str(const gw_map_t *m, const char *key)
{
    bool found;
    size_t i = find(m, key, 0, hash_str(key), &found);
    return found ? m->slots[i].value : NULL;
}
int gw_map_put_str(gw_map_t *m, const char *key, void *value)
{
    return put(m, key, 0, hash_str(key), value);
}
void *gw_map_del_str(gw_map_t *m, const char *key)
{
    return del(m, key, 0, hash_str(key));
}
void *gw_map_get_u64(const gw_map_t *m, uint64_t key)
{
    bool found;
    size_t i = find(m, NULL, key, hash_u64(key), &found);
    return found ? m->slots[i].value : NULL;
}
int gw_map_put_u64(gw_map_t *m, uint64_t key, void *value)
{
    return put(m, NULL, key, hash_u64(key), value);
}
void *gw_map_del_u64(gw_map_t *m, uint64_t key)
{
    return del(m, NULL, key, hash_u64(key));
}

void *gw_map_next(const gw_map_t *m, size_t *iter)
{
    while (*iter < m->cap) {
        size_t i = (*iter)++;
        if (m->slots[i].value)
            return m->slots[i].value;
    }
    return NULL;
}
