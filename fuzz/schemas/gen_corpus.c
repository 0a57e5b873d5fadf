/*
 * Writes the seed corpus of fuzz_schemas_decode into a directory: valid DocEvent v1 and v2
 * messages of every kind, a DocSnapshot, and hostile messages (truncated, bad magic, unknown and
 * foreign ids, huge and negative lengths, out-of-range enum and union indexes, overlong varints,
 * invalid UTF-8, trailing bytes, a bad hash). Run by hand after a schema change:
 *   build/debug/fuzz/schemas/schemas_fuzz_corpus_gen fuzz/schemas/corpus
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_codec.h"
#include "schema_codec.h"
#include "snapshot_codec.h"

typedef struct gen_s {
    const char *dir;
    int files;
} gen_t;

static void put(gen_t *g, const char *name, const uint8_t *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g->dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    g->files++;
}

typedef struct bb_s {
    uint8_t b[4096];
    size_t n;
} bb_t;

static void raw(bb_t *bb, const void *p, size_t n)
{
    if (n)
        memcpy(bb->b + bb->n, p, n);
    bb->n += n;
}

static void lng(bb_t *bb, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z & ~(uint64_t)0x7F) {
        bb->b[bb->n++] = (uint8_t)((z & 0x7F) | 0x80);
        z >>= 7;
    }
    bb->b[bb->n++] = (uint8_t)z;
}

static void str(bb_t *bb, const char *s)
{
    lng(bb, (int64_t)strlen(s));
    raw(bb, s, strlen(s));
}

static void hdr(bb_t *bb, uint32_t id)
{
    bb->n = 0;
    schema_codec_frame_header(id, bb->b);
    bb->n = SCHEMA_CODEC_HEADER_LEN;
}

static const uint8_t ID[16] = {0x6f, 0x1d, 0x2e, 0x90, 0x4b, 0x7c, 0x4a, 0x55,
                               0x9e, 0x12, 0x33, 0x01, 0xaa, 0x0b, 0xc4, 0x5d};
static const uint8_t UPD[] = {0x01, 0x01, 0xb9, 0xe4, 0xa2, 0x07, 0x00, 0x04, 0x01,
                              0x04, 0x74, 0x65, 0x78, 0x74, 0x01, 0x61, 0x00};

/* A framed event up to (not including) the idempotency_key, with the given kind index. */
static void event_prefix(bb_t *bb, uint32_t id, int64_t kind)
{
    hdr(bb, id);
    str(bb, "doc-1");
    raw(bb, ID, 16);
    lng(bb, kind);
    str(bb, "user-1");
    lng(bb, 1760000000000);
    str(bb, "gw-1");
    lng(bb, (int64_t)sizeof UPD);
    raw(bb, UPD, sizeof UPD);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    gen_t g = {.dir = argv[1]};
    event_codec_t *v2 = NULL, *v1 = NULL;
    snapshot_codec_t *sc = NULL;
    event_codec_opts_t o1 = {.writer_schema_id = 1};
    if (event_codec_new(NULL, &v2, NULL, 0) || event_codec_new(&o1, &v1, NULL, 0) ||
        snapshot_codec_new(NULL, &sc, NULL, 0))
        return 1;

    /* valid events: every kind, both versions, with and without a key */
    static const char *const kinds[] = {"update", "create", "delete"};
    uint8_t buf[4096];
    size_t n = 0;
    char name[128];
    for (int k = 0; k < EVENT_CODEC_KIND_COUNT; k++) {
        event_codec_event_t ev = {.doc_id = "notes.2025~draft_v-1",
                                  .kind = (event_codec_kind_t)k,
                                  .actor = "user-\xc3\xa9t\xc3\xa9",
                                  .server_time_ms = 1760000000123,
                                  .origin = "gateway-7@host-3",
                                  .update = k == 0 ? UPD : NULL,
                                  .update_len = k == 0 ? sizeof UPD : 0,
                                  .idempotency_key = "req-3f2a9c",
                                  .idempotency_key_len = 10};
        ev.doc_id_len = strlen(ev.doc_id);
        ev.actor_len = strlen(ev.actor);
        ev.origin_len = strlen(ev.origin);
        memcpy(ev.event_id, ID, 16);
        if (event_codec_encode(v1, &ev, buf, sizeof buf, &n))
            return 1;
        snprintf(name, sizeof name, "event_v1_%s", kinds[k]);
        put(&g, name, buf, n);
        if (event_codec_encode(v2, &ev, buf, sizeof buf, &n))
            return 1;
        snprintf(name, sizeof name, "event_v2_%s_key", kinds[k]);
        put(&g, name, buf, n);
        if (k == 0) {
            put(&g, "trailing_byte", buf, n + 1);
            put(&g, "truncated_half", buf, n / 2);
            put(&g, "truncated_last", buf, n - 1);
            buf[0] = 1;
            put(&g, "bad_magic", buf, n);
            schema_codec_frame_header(1, buf);
            put(&g, "v2_body_under_v1_id", buf, n);
            schema_codec_frame_header(3, buf);
            put(&g, "event_body_under_snapshot_id", buf, n);
            schema_codec_frame_header(1337, buf);
            put(&g, "unknown_id_1337", buf, n);
        }
        ev.idempotency_key = NULL;
        if (event_codec_encode(v2, &ev, buf, sizeof buf, &n))
            return 1;
        snprintf(name, sizeof name, "event_v2_%s", kinds[k]);
        put(&g, name, buf, n);
    }

    /* a valid snapshot */
    snapshot_codec_snapshot_t s = {.doc_id = "doc-1",
                                   .doc_id_len = 5,
                                   .partition = 3,
                                   .position = 4242,
                                   .state = UPD,
                                   .state_len = sizeof UPD,
                                   .created_time_ms = 1760000000999};
    if (snapshot_codec_encode(sc, &s, buf, sizeof buf, &n))
        return 1;
    put(&g, "snapshot_v1", buf, n);
    buf[n - 3] ^= 0x40; /* inside the hash or time: breaks the hash or not, both interesting */
    put(&g, "snapshot_v1_flipped", buf, n);
    if (snapshot_codec_encode(sc, &s, buf, sizeof buf, &n))
        return 1;
    buf[5 + 6 + 1 + 2 + 1 + 4] ^= 0x01; /* a state byte: header, doc_id, partition, position, len */
    put(&g, "snapshot_v1_bad_hash", buf, n);

    /* hostile events */
    bb_t bb;
    put(&g, "empty", NULL, 0);
    put(&g, "header_only", (const uint8_t *)"\0\0\0\0\2", 5);
    put(&g, "four_bytes", (const uint8_t *)"\0\0\0\0", 4);
    static const int64_t lens[] = {INT64_MAX, -1, (int64_t)1 << 40, 1 << 20};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        hdr(&bb, 2);
        lng(&bb, lens[i]);
        raw(&bb, "doc", 3);
        snprintf(name, sizeof name, "doc_id_len_%zu", i);
        put(&g, name, bb.b, bb.n);
        event_prefix(&bb, 2, 0);
        bb.n -= sizeof UPD + 1;
        lng(&bb, lens[i]);
        raw(&bb, UPD, 4);
        snprintf(name, sizeof name, "update_len_%zu", i);
        put(&g, name, bb.b, bb.n);
    }
    static const int64_t bad_kinds[] = {3, -1, 1000, INT32_MAX};
    for (size_t i = 0; i < sizeof bad_kinds / sizeof bad_kinds[0]; i++) {
        event_prefix(&bb, 2, bad_kinds[i]);
        lng(&bb, 0);
        snprintf(name, sizeof name, "enum_out_of_range_%zu", i);
        put(&g, name, bb.b, bb.n);
    }
    static const int64_t bad_branches[] = {2, -1, 99};
    for (size_t i = 0; i < sizeof bad_branches / sizeof bad_branches[0]; i++) {
        event_prefix(&bb, 2, 0);
        lng(&bb, bad_branches[i]);
        str(&bb, "k");
        snprintf(name, sizeof name, "union_out_of_range_%zu", i);
        put(&g, name, bb.b, bb.n);
    }
    event_prefix(&bb, 2, 0);
    lng(&bb, 1);
    lng(&bb, INT64_MAX);
    put(&g, "key_len_huge", bb.b, bb.n);
    hdr(&bb, 2);
    for (int i = 0; i < 12; i++)
        bb.b[bb.n++] = 0xFF;
    put(&g, "varint_too_long", bb.b, bb.n);
    hdr(&bb, 2);
    str(&bb, "doc-1");
    raw(&bb, ID, 16);
    lng(&bb, 0);
    str(&bb, "us\xff\xfe");
    put(&g, "actor_not_utf8", bb.b, bb.n);
    event_prefix(&bb, 1, 1); /* CREATE carrying an update: well-formed Avro, breaks quire's rule */
    put(&g, "create_with_update", bb.b, bb.n);

    event_codec_destroy(v1);
    event_codec_destroy(v2);
    snapshot_codec_destroy(sc);
    printf("wrote %d files to %s\n", g.files, g.dir);
    return 0;
}
