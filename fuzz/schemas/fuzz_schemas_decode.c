/*
 * libFuzzer harness for the decoders of schemas/: every input is decoded as a DocEvent by a
 * latest-version reader and by a version-1 reader, and as a DocSnapshot.
 *
 * Beyond "no crash" (ASan/UBSan), it checks:
 * - the result is one of the documented codes; QUIRE_ERR_INTERNAL would mean Avro-C refused a
 *   body the prescan accepted, i.e. the prescan and Avro-C disagree;
 * - Avro-C's allocations during a decode stay under a small multiple of the input (AVRO-4293);
 * - whatever decodes re-encodes, and decodes again to the same fields.
 * Codecs live across inputs; each input ends by releasing their decoded values, so every input
 * frees what it allocates (libFuzzer's leak check) and the codecs are destroyed at exit.
 */
#include <avro.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event_codec.h"
#include "snapshot_codec.h"

typedef struct harness_s {
    event_codec_t *event, *event_v1, *event_v1_writer;
    snapshot_codec_t *snapshot;
    size_t live, peak; /* Avro-C heap bytes; libFuzzer runs inputs on one thread */
} harness_t;

static harness_t h;

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    size_t *p = ptr ? (size_t *)ptr - 2 : NULL;
    size_t old = p ? p[0] : 0;
    if (nsize == 0) {
        free(p);
        h.live -= old;
        return NULL;
    }
    size_t *q = realloc(p, nsize + 2 * sizeof(size_t));
    if (!q)
        return NULL;
    q[0] = nsize;
    h.live = h.live - old + nsize;
    if (h.live > h.peak)
        h.peak = h.live;
    return q + 2;
}

static void teardown(void)
{
    event_codec_destroy(h.event);
    event_codec_destroy(h.event_v1);
    event_codec_destroy(h.event_v1_writer);
    snapshot_codec_destroy(h.snapshot);
    h = (harness_t){0};
}

static void setup(void)
{
    avro_set_allocator(counting_alloc, NULL);
    event_codec_opts_t v1 = {.writer_schema_id = 1, .reader_schema_id = 1};
    event_codec_opts_t w1 = {.writer_schema_id = 1};
    if (event_codec_new(NULL, &h.event, NULL, 0) || event_codec_new(&v1, &h.event_v1, NULL, 0) ||
        event_codec_new(&w1, &h.event_v1_writer, NULL, 0) ||
        snapshot_codec_new(NULL, &h.snapshot, NULL, 0))
        abort();
    atexit(teardown);
}

static void check_code(quire_err_t err)
{
    if (err != QUIRE_OK && err != QUIRE_ERR_EMPTY && err != QUIRE_ERR_TOO_LARGE &&
        err != QUIRE_ERR_MALFORMED && err != QUIRE_ERR_NOT_FOUND)
        abort();
}

/* Marks the start of a decode; returns the live bytes then. */
static size_t begin(void)
{
    h.peak = h.live;
    return h.live;
}

/* Aborts if the decode since begin() allocated more than twice the input plus a constant. */
static void end(size_t before, size_t size)
{
    if (h.peak - before > 2 * size + 4096)
        abort();
}

static bool same_span(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void event_round_trip(event_codec_t *writer, event_codec_t *reader,
                             const event_codec_event_t *ev, bool keep_key)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    /* copy the spans out: the reader's next decode invalidates ev */
    event_codec_event_t in = *ev;
    char *doc = strndup(ev->doc_id, ev->doc_id_len);
    char *actor = strndup(ev->actor, ev->actor_len);
    char *origin = strndup(ev->origin, ev->origin_len);
    char *key = ev->idempotency_key ? strndup(ev->idempotency_key, ev->idempotency_key_len) : NULL;
    uint8_t *upd = malloc(ev->update_len ? ev->update_len : 1);
    if (!doc || !actor || !origin || (ev->idempotency_key && !key) || !upd)
        abort();
    if (ev->update_len)
        memcpy(upd, ev->update, ev->update_len);
    in.doc_id = doc, in.actor = actor, in.origin = origin, in.idempotency_key = key;
    in.update = ev->update_len ? upd : NULL;
    if (event_codec_encode_alloc(writer, &in, &buf, &n))
        abort();
    event_codec_event_t out;
    if (event_codec_decode(reader, buf, n, &out))
        abort();
    if (!same_span(out.doc_id, out.doc_id_len, doc, in.doc_id_len) ||
        memcmp(out.event_id, in.event_id, sizeof in.event_id) != 0 || out.kind != in.kind ||
        !same_span(out.actor, out.actor_len, actor, in.actor_len) ||
        out.server_time_ms != in.server_time_ms ||
        !same_span(out.origin, out.origin_len, origin, in.origin_len) ||
        !same_span(out.update, out.update_len, in.update, in.update_len))
        abort();
    if (keep_key &&
        !(key ? out.idempotency_key && same_span(out.idempotency_key, out.idempotency_key_len, key,
                                                 in.idempotency_key_len)
              : !out.idempotency_key))
        abort();
    free(buf);
    free(doc);
    free(actor);
    free(origin);
    free(key);
    free(upd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!h.event)
        setup();
    event_codec_event_t ev;
    quire_err_t err;
    size_t before = begin();
    err = event_codec_decode(h.event, data, size, &ev);
    end(before, size);
    check_code(err);
    if (err == QUIRE_OK)
        event_round_trip(ev.schema_id == 1 ? h.event_v1_writer : h.event, h.event, &ev, true);

    before = begin();
    err = event_codec_decode(h.event_v1, data, size, &ev);
    end(before, size);
    check_code(err);
    if (err == QUIRE_OK) {
        if (ev.idempotency_key)
            abort(); /* a version-1 reader never sees the field */
        event_round_trip(h.event_v1, h.event_v1, &ev, false);
    }

    snapshot_codec_snapshot_t snap;
    before = begin();
    err = snapshot_codec_decode(h.snapshot, data, size, &snap);
    end(before, size);
    check_code(err);
    if (err == QUIRE_OK) {
        uint8_t *state = malloc(snap.state_len);
        char *doc = strndup(snap.doc_id, snap.doc_id_len);
        if (!state || !doc)
            abort();
        memcpy(state, snap.state, snap.state_len);
        snapshot_codec_snapshot_t in = snap;
        in.state = state;
        in.doc_id = doc;
        uint8_t *buf = NULL;
        size_t n = 0;
        snapshot_codec_snapshot_t out;
        if (snapshot_codec_encode_alloc(h.snapshot, &in, &buf, &n) ||
            snapshot_codec_decode(h.snapshot, buf, n, &out) ||
            !same_span(out.state, out.state_len, state, in.state_len) ||
            !same_span(out.doc_id, out.doc_id_len, doc, in.doc_id_len) ||
            out.partition != in.partition || out.position != in.position ||
            out.created_time_ms != in.created_time_ms ||
            memcmp(out.state_blake2b, in.state_blake2b, sizeof in.state_blake2b) != 0)
            abort();
        free(buf);
        free(state);
        free(doc);
    }
    event_codec_release(h.event);
    event_codec_release(h.event_v1);
    snapshot_codec_release(h.snapshot);
    return 0;
}
