/*
 * trace_file — reads the update files tests/yjs/traces.mjs writes ("QYTR": the updates of an
 * editing trace replayed through yjs, the trace's endContent and yjs's final state). Shared by
 * bench_ydoc and the trace tests; header-only.
 */
#ifndef TRACE_FILE_H
#define TRACE_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct trace_file_s {
    uint8_t *data; /* the whole file (owned) */
    size_t size;
    size_t n;                /* updates */
    const uint8_t **updates; /* borrowed from data */
    size_t *lens;
    const uint8_t *end_content; /* UTF-8, not NUL-terminated */
    size_t end_content_len;
    const uint8_t *state; /* Y.encodeStateAsUpdate of the final doc */
    size_t state_len;
} trace_file_t;

static inline uint32_t trace_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* 0 on success; the caller frees with trace_file_free. */
static inline int trace_file_read(const char *path, trace_file_t *t)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    t->data = malloc(sz > 0 ? (size_t)sz : 1);
    if (!t->data || fread(t->data, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        return -1;
    }
    fclose(f);
    t->size = (size_t)sz;
    const uint8_t *p = t->data, *end = t->data + t->size;
    if (t->size < 8 || memcmp(p, "QYTR", 4) != 0)
        return -1;
    t->n = trace_u32(p + 4);
    p += 8;
    t->updates = calloc(t->n ? t->n : 1, sizeof *t->updates);
    t->lens = calloc(t->n ? t->n : 1, sizeof *t->lens);
    if (!t->updates || !t->lens)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (end - p < 4)
            return -1;
        size_t l = trace_u32(p);
        p += 4;
        if ((size_t)(end - p) < l)
            return -1;
        t->updates[i] = p;
        t->lens[i] = l;
        p += l;
    }
    for (int k = 0; k < 2; k++) {
        if (end - p < 4)
            return -1;
        size_t l = trace_u32(p);
        p += 4;
        if ((size_t)(end - p) < l)
            return -1;
        if (k == 0) {
            t->end_content = p;
            t->end_content_len = l;
        } else {
            t->state = p;
            t->state_len = l;
        }
        p += l;
    }
    return 0;
}

static inline void trace_file_free(trace_file_t *t)
{
    free(t->data);
    free(t->updates);
    free(t->lens);
    memset(t, 0, sizeof *t);
}

#endif
