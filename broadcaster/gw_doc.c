/*
 * gw_doc — what the gateway does with documents, on the event loop thread (DESIGN §4).
 *
 * Join without gaps: the first socket of a document creates it in LOADING and asks a join
 * worker for the read model's state covering its partition below P, plus the partition's high
 * watermark H. Then the Kafka thread watches the partition from P (seeking back if it is past P)
 * and answers SEEKED; from there every event of the document at offset >= P is applied, and the
 * document is READY once the partition has been read up to H. Overlap between the stored state
 * and the events is harmless (Yjs updates are idempotent); gaps cannot happen.
 *
 * Fan-out follows the log: each applied event goes to every synced socket of the document in
 * offset order, the sender included. A write (SyncStep2 or Update) is diffed against the state
 * first; only what the log lacks is produced through ingest. Its acknowledgement (extension
 * clients) is sent when all its events have come back through the log and every earlier write
 * of the connection is acknowledged, so "saved" never shows while earlier events are missing.
 *
 * Awareness is echoed locally at once, relayed through the presence topic in coalesced batches,
 * and expires with its gateway's heartbeats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "quire_access.h"
#include "quire_kafka.h"
#include "quire_log.h"
#include "yjs_sv.h"
#include "yjs_update.h"

#define HELD_MAX_BYTES         ((size_t)64 << 20)
#define HELD_UPDATES_MAX       4096 /* Updates held for a connection's first SyncStep2 */
#define HELD_UPDATES_MAX_BYTES ((size_t)16 << 20)
#define HEARTBEAT_US           5000000
#define MAX_AW_PER_CONN        8

static gw_part_t *part_of(gw_t *gw, int32_t p)
{
    return (p >= 0 && p < gw->npartitions) ? &gw->parts[p] : NULL;
}

/* ---- awareness -------------------------------------------------------------------------- */

static gw_aw_t *aw_find(gw_doc_t *d, uint64_t client)
{
    for (size_t i = 0; i < d->naw; i++)
        if (d->aw[i].client == client)
            return &d->aw[i];
    return NULL;
}

static gw_aw_t *aw_add(gw_doc_t *d, uint64_t client)
{
    if (d->naw == d->aw_cap) {
        size_t cap = d->aw_cap ? d->aw_cap * 2 : 8;
        gw_aw_t *n = realloc(d->aw, cap * sizeof *n);
        if (!n)
            return NULL;
        d->aw = n;
        d->aw_cap = cap;
    }
    gw_aw_t *a = &d->aw[d->naw++];
    memset(a, 0, sizeof *a);
    a->client = client;
    return a;
}

static void aw_set(gw_aw_t *a, uint64_t clock, const char *state, size_t len, bool removed)
{
    free(a->state);
    a->state = NULL;
    a->state_len = 0;
    a->clock = clock;
    if (!removed && (a->state = malloc(len + 1))) {
        memcpy(a->state, state, len);
        a->state[len] = '\0';
        a->state_len = len;
    }
}

static void broadcast(gw_doc_t *d, gw_frame_t *f, bool synced_only)
{
    if (!f)
        return;
    for (gw_conn_t *c = d->conns; c; c = c->doc_next)
        if (!synced_only || c->synced)
            gw_conn_send(c, f);
    gw_frame_unref(f);
}

/* Sends every known awareness state of d to one socket. */
static void send_all_awareness(gw_doc_t *d, gw_conn_t *c)
{
    gw_aw_entry_t e[GW_AWARENESS_MAX_ENTRIES];
    size_t n = 0;
    for (size_t i = 0; i < d->naw; i++) {
        if (!d->aw[i].state)
            continue;
        e[n++] = (gw_aw_entry_t){.client = d->aw[i].client,
                                 .clock = d->aw[i].clock,
                                 .state = d->aw[i].state,
                                 .state_len = d->aw[i].state_len};
        if (n == GW_AWARENESS_MAX_ENTRIES) {
            gw_conn_send(c, gw_frame_awareness(e, n));
            n = 0;
        }
    }
    if (n)
        gw_conn_send(c, gw_frame_awareness(e, n));
}

static bool conn_owns(gw_conn_t *c, uint64_t client)
{
    for (size_t i = 0; i < c->n_aw; i++)
        if (c->aw_clients[i] == client)
            return true;
    return false;
}

static void on_awareness(gw_t *gw, gw_conn_t *c, const uint8_t *payload, size_t len)
{
    gw_doc_t *d = c->doc;
    gw_aw_entry_t in[GW_AWARENESS_MAX_ENTRIES], out[GW_AWARENESS_MAX_ENTRIES];
    size_t n = 0, m = 0;
    quire_err_t err = gw_awareness_parse(payload, len, in, GW_AWARENESS_MAX_ENTRIES, &n);
    if (err) {
        gw_conn_close(c, err == QUIRE_ERR_LIMIT ? 4413 : 4400,
                      err == QUIRE_ERR_LIMIT ? "awareness update too large"
                                             : "malformed awareness");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        gw_aw_t *a = aw_find(d, in[i].client);
        /* Stock clients re-send every awareness change they receive, so most entries a socket
         * sends are echoes of others' states. A socket may only set a client id that is unknown,
         * removed, or already set by the same user — never another user's. */
        if (a && a->state && strcmp(a->user, c->who.user) != 0)
            continue;
        if (a &&
            !(in[i].clock > a->clock || (in[i].clock == a->clock && in[i].removed && a->state)))
            continue; /* stale or an echo */
        if (!conn_owns(c, in[i].client)) {
            if (c->n_aw == MAX_AW_PER_CONN)
                continue;
            c->aw_clients[c->n_aw++] = in[i].client;
        }
        if (!a && !(a = aw_add(d, in[i].client)))
            continue;
        aw_set(a, in[i].clock, in[i].state, in[i].state_len, in[i].removed);
        a->conn_id = c->id;
        snprintf(a->user, sizeof a->user, "%s", c->who.user);
        snprintf(a->gateway, sizeof a->gateway, "%s", gw->conf.gateway_id);
        a->seen_us = gw_now_us();
        a->dirty = true;
        d->presence_dirty = true;
        out[m++] = in[i];
    }
    if (m)
        broadcast(d, gw_frame_awareness(out, m), false); /* echo, sender included */
}

static void on_remote_presence(gw_t *gw, gw_doc_t *d, gw_ev_t *ev)
{
    int64_t now = gw_now_us();
    const gw_presence_rec_t *r = &ev->rec;
    if (r->kind == 1) { /* heartbeat: its gateway's entries live on; new ones are applied */
        for (size_t i = 0; i < d->naw; i++) /* removed ones age out, then may come back */
            if (!d->aw[i].conn_id && d->aw[i].state && strcmp(d->aw[i].gateway, r->gateway) == 0)
                d->aw[i].seen_us = now;
        if (!r->len)
            return;
    }
    gw_aw_entry_t in[GW_AWARENESS_MAX_ENTRIES], out[GW_AWARENESS_MAX_ENTRIES];
    size_t n = 0, m = 0;
    if (gw_awareness_parse(r->update, r->len, in, GW_AWARENESS_MAX_ENTRIES, &n) != QUIRE_OK ||
        n != r->nusers)
        return;
    for (size_t i = 0; i < n; i++) {
        gw_aw_t *a = aw_find(d, in[i].client);
        if (a && a->conn_id && a->state)
            continue; /* a live local socket owns it */
        if (a && !(in[i].clock > a->clock || (in[i].clock == a->clock && in[i].removed)))
            continue;
        if (!a && !(a = aw_add(d, in[i].client)))
            continue;
        aw_set(a, in[i].clock, in[i].state, in[i].state_len, in[i].removed);
        a->conn_id = 0;
        size_t ul = r->user_lens[i] < sizeof a->user ? r->user_lens[i] : sizeof a->user - 1;
        memcpy(a->user, r->users[i], ul);
        a->user[ul] = '\0';
        snprintf(a->gateway, sizeof a->gateway, "%s", r->gateway);
        a->seen_us = now;
        out[m++] = in[i];
    }
    if (m)
        broadcast(d, gw_frame_awareness(out, m), false);
}

/* Heartbeats come often enough that remote entries never expire while their gateway lives. */
static int64_t heartbeat_us(gw_t *gw)
{
    int64_t t = gw->conf.presence_expire_ms * 1000 / 3;
    return t < HEARTBEAT_US ? t : HEARTBEAT_US;
}

/* Keeps a presence record of a document not open here (ownership moves to the cache). */
static void cache_presence(gw_t *gw, gw_ev_t *ev)
{
    if (!gw->presence_cache) {
        gw->presence_cache = calloc(GW_PRESENCE_CACHE, sizeof *gw->presence_cache);
        gw->presence_cache_us = calloc(GW_PRESENCE_CACHE, sizeof *gw->presence_cache_us);
        if (!gw->presence_cache || !gw->presence_cache_us) {
            free(gw->presence_cache);
            free(gw->presence_cache_us);
            gw->presence_cache = NULL;
            gw->presence_cache_us = NULL;
            return;
        }
    }
    gw_ev_t *copy = gw_ev_new(GW_EV_PRESENCE);
    if (!copy)
        return;
    *copy = *ev;
    copy->next = NULL;
    ev->data = NULL; /* the record bytes (rec points into them) move to the copy */
    ev->doc = NULL;
    size_t i = gw->presence_cache_next++ % GW_PRESENCE_CACHE;
    gw_ev_free(gw->presence_cache[i]);
    gw->presence_cache[i] = copy;
    gw->presence_cache_us[i] = gw_now_us();
}

/* A document opening on a watched partition: apply its recent cached presence, oldest first. */
static void replay_presence(gw_t *gw, gw_doc_t *d)
{
    if (!gw->presence_cache)
        return;
    int64_t now = gw_now_us();
    size_t n =
        gw->presence_cache_next < GW_PRESENCE_CACHE ? gw->presence_cache_next : GW_PRESENCE_CACHE;
    for (size_t k = 0; k < n; k++) {
        size_t i = (gw->presence_cache_next - n + k) % GW_PRESENCE_CACHE;
        gw_ev_t *ev = gw->presence_cache[i];
        if (ev && strcmp(ev->doc_id, d->id) == 0 &&
            now - gw->presence_cache_us[i] < gw->conf.presence_expire_ms * 1000)
            on_remote_presence(gw, d, ev);
    }
}

static void publish_entries(gw_t *gw, gw_doc_t *d, const gw_aw_entry_t *e, size_t n,
                            const char *const *users, bool heartbeat)
{
    size_t len = gw_awareness_size(e, n);
    uint8_t *buf = malloc(len);
    if (!buf)
        return;
    gw_awareness_write(e, n, buf);
    gw_presence_publish(gw->presence, d->id, buf, len, users, n, heartbeat);
    free(buf);
}

/* Publishes d's changed entries — or, for a heartbeat, its live local ones — at most
 * GW_AWARENESS_MAX_ENTRIES per record; true when something was published. */
static bool publish_presence(gw_t *gw, gw_doc_t *d, bool heartbeat)
{
    gw_aw_entry_t e[GW_AWARENESS_MAX_ENTRIES];
    const char *users[GW_AWARENESS_MAX_ENTRIES];
    size_t n = 0;
    bool published = false;
    for (size_t i = 0; i < d->naw; i++) {
        gw_aw_t *a = &d->aw[i];
        if (heartbeat ? !(a->conn_id && a->state) : !a->dirty)
            continue;
        a->dirty = false;
        e[n] = (gw_aw_entry_t){.client = a->client,
                               .clock = a->clock,
                               .state = a->state,
                               .state_len = a->state_len,
                               .removed = a->state == NULL};
        users[n++] = a->user;
        if (n == GW_AWARENESS_MAX_ENTRIES) {
            publish_entries(gw, d, e, n, users, heartbeat);
            published = true;
            n = 0;
        }
    }
    if (n || (heartbeat && !published)) {
        publish_entries(gw, d, e, n, users, heartbeat);
        published = true;
    }
    return published;
}

/* Publishes the locally changed entries of d (coalesced), or a heartbeat carrying all live
 * local entries once a heartbeat interval passed without one. */
static void presence_flush(gw_t *gw, gw_doc_t *d, int64_t now)
{
    bool any_local = false;
    for (size_t i = 0; i < d->naw && !any_local; i++)
        any_local = d->aw[i].conn_id != 0;
    bool published = d->presence_dirty && publish_presence(gw, d, false);
    d->presence_dirty = false;
    if (published)
        d->presence_beat_us = now;
    else if (any_local && now - d->presence_beat_us > heartbeat_us(gw)) {
        publish_presence(gw, d, true);
        d->presence_beat_us = now;
    }
}

/* A socket left: its clients' awareness becomes null, locally and on other gateways. */
static void drop_conn_awareness(gw_t *gw, gw_doc_t *d, gw_conn_t *c)
{
    gw_aw_entry_t out[MAX_AW_PER_CONN];
    size_t m = 0;
    for (size_t i = 0; i < c->n_aw; i++) {
        gw_aw_t *a = aw_find(d, c->aw_clients[i]);
        if (!a || a->conn_id != c->id)
            continue;
        aw_set(a, a->clock + 1, NULL, 0, true);
        a->conn_id = 0;
        a->dirty = true;
        d->presence_dirty = true;
        out[m++] = (gw_aw_entry_t){.client = a->client, .clock = a->clock, .removed = true};
    }
    c->n_aw = 0;
    if (m)
        broadcast(d, gw_frame_awareness(out, m), false);
}

static void expire_remote(gw_t *gw, gw_doc_t *d, int64_t now)
{
    gw_aw_entry_t out[GW_AWARENESS_MAX_ENTRIES];
    size_t m = 0;
    for (size_t i = 0; i < d->naw; i++) {
        gw_aw_t *a = &d->aw[i];
        if (a->conn_id || !a->state || now - a->seen_us < gw->conf.presence_expire_ms * 1000)
            continue;
        aw_set(a, a->clock + 1, NULL, 0, true);
        out[m++] = (gw_aw_entry_t){.client = a->client, .clock = a->clock, .removed = true};
        if (m == GW_AWARENESS_MAX_ENTRIES) {
            broadcast(d, gw_frame_awareness(out, m), false);
            m = 0;
        }
    }
    if (m)
        broadcast(d, gw_frame_awareness(out, m), false);
    /* forget removed entries nobody owns after a while, so the table stays small */
    size_t w = 0;
    for (size_t i = 0; i < d->naw; i++) {
        gw_aw_t *a = &d->aw[i];
        if (!a->state && !a->conn_id && !a->dirty &&
            now - a->seen_us > 2 * gw->conf.presence_expire_ms * 1000) {
            free(a->state);
            continue;
        }
        d->aw[w++] = *a;
    }
    d->naw = w;
}

/* ---- documents -------------------------------------------------------------------------- */

static void drop_full_sync(gw_doc_t *d)
{
    for (size_t i = 0; i < d->nfull_sync; i++)
        gw_frame_unref(d->full_sync[i]);
    free(d->full_sync);
    d->full_sync = NULL;
    d->nfull_sync = 0;
}

void gw_doc_free(gw_doc_t *d)
{
    free(d->inflight);
    gw_state_deinit(&d->st);
    drop_full_sync(d);
    for (size_t i = 0; i < d->naw; i++)
        free(d->aw[i].state);
    free(d->aw);
    free(d);
}

static void doc_remove(gw_t *gw, gw_doc_t *d)
{
    gw_map_del_str(gw->docs, d->id);
    if (d->phase == GW_DOC_SEEKING || d->phase == GW_DOC_CATCHUP)
        gw->catching_up--;
    if (d->phase != GW_DOC_LOADING && d->phase != GW_DOC_GONE) {
        gw_part_t *p = part_of(gw, d->partition);
        if (p && --p->watchers == 0) {
            gw_kafka_unwatch(gw->kafka, d->partition);
            gw_kafka_unwatch_presence(gw->kafka, d->partition);
        }
    }
    quire_metric_set(gw->m_docs, (int64_t)gw_map_size(gw->docs));
    gw_doc_free(d);
}

static void doc_fail(gw_t *gw, gw_doc_t *d, int code, const char *reason)
{
    for (gw_conn_t *c = d->conns; c; c = c->doc_next)
        gw_conn_close(c, code, reason);
    if (d->phase == GW_DOC_SEEKING || d->phase == GW_DOC_CATCHUP)
        gw->catching_up--;
    if (d->phase != GW_DOC_LOADING && d->phase != GW_DOC_GONE) {
        gw_part_t *p = part_of(gw, d->partition);
        if (p && --p->watchers == 0) {
            gw_kafka_unwatch(gw->kafka, d->partition);
            gw_kafka_unwatch_presence(gw->kafka, d->partition);
        }
    }
    d->phase = GW_DOC_GONE;
}

/* The diff for `sv` as frames: split into Updates of at most sync_frame_bytes, the last one a
 * SyncStep2. NULL when the state vector is malformed or memory ran out. */
static gw_frame_t **sync_frames(gw_t *gw, gw_doc_t *d, const uint8_t *sv, size_t sv_len,
                                size_t *ret_n)
{
    uint8_t *diff = NULL;
    size_t dlen = 0;
    if (gw_state_diff(&d->st, sv, sv_len, &diff, &dlen) != QUIRE_OK)
        return NULL;
    yjs_parts_t parts = {0};
    yjs_error_t yerr;
    bool split = (int64_t)dlen > gw->conf.sync_frame_bytes &&
                 yjs_update_split(diff, dlen, (size_t)gw->conf.sync_frame_bytes, NULL,
                                  YJS_DECODE_SKIM, &parts, &yerr) == QUIRE_OK;
    size_t n = split ? parts.n : 1;
    gw_frame_t **fs = calloc(n, sizeof *fs);
    for (size_t i = 0; fs && i < n; i++) {
        size_t pl = dlen;
        const uint8_t *pp = split ? yjs_parts_get(&parts, i, &pl) : diff;
        fs[i] = gw_frame_sync(i + 1 < n ? GW_SYNC_UPDATE : GW_SYNC_STEP2, pp, pl);
        if (!fs[i]) {
            while (i--)
                gw_frame_unref(fs[i]);
            free(fs);
            fs = NULL;
        }
    }
    if (split)
        yjs_parts_deinit(&parts);
    free(diff);
    *ret_n = n;
    return fs;
}

/* SyncStep2 for a client state vector: the diff, split into frames of at most
 * sync_frame_bytes so a slow client gets each within the stock client's 30-second timer. All
 * but the last go as Update messages; the last is the SyncStep2 that marks the client synced.
 * The answer to an empty state vector (every joiner without local state) is encoded once per
 * version and its frames shared. */
static void answer_sync(gw_t *gw, gw_conn_t *c, const uint8_t *sv, size_t sv_len)
{
    gw_doc_t *d = c->doc;
    bool empty_sv = sv_len == 1 && sv[0] == 0;
    bool shared = empty_sv && d->full_sync && d->full_sync_version == d->version;
    size_t n = d->nfull_sync;
    gw_frame_t **fs = shared ? d->full_sync : sync_frames(gw, d, sv, sv_len, &n);
    if (!fs) {
        gw_conn_close(c, 4400, "malformed state vector");
        return;
    }
    for (size_t i = 0; i < n; i++)
        gw_conn_send(c, fs[i]);
    if (!shared && empty_sv) { /* keep our references: shared by the next joiners */
        drop_full_sync(d);
        d->full_sync = fs;
        d->nfull_sync = n;
        d->full_sync_version = d->version;
    } else if (!shared) {
        for (size_t i = 0; i < n; i++)
            gw_frame_unref(fs[i]);
        free(fs);
    }
    if (c->ext && d->version >= 0) {
        gw_frame_t *v = gw_frame_version((uint64_t)d->version);
        if (v) {
            gw_conn_send(c, v);
            gw_frame_unref(v);
        }
    }
    c->synced = true;
}

static void send_server_step1(gw_doc_t *d, gw_conn_t *c)
{
    const uint8_t *sv;
    size_t svl;
    if (gw_state_sv(&d->st, &sv, &svl) != QUIRE_OK)
        return;
    gw_frame_t *f = gw_frame_sync(GW_SYNC_STEP1, sv, svl);
    if (f) {
        gw_conn_send(c, f);
        gw_frame_unref(f);
    }
}

static void handle_message(gw_t *gw, gw_conn_t *c, const uint8_t *msg, size_t len);

/* Runs what a socket sent while the document was loading. */
static void release_held(gw_t *gw, gw_conn_t *c)
{
    gw_pending_msg_t *m = c->held_head;
    c->held_head = c->held_tail = NULL;
    c->held_bytes = 0;
    while (m) {
        gw_pending_msg_t *n = m->next;
        if (!c->close_code)
            handle_message(gw, c, m->data, m->len);
        free(m);
        m = n;
    }
}

static void doc_ready(gw_t *gw, gw_doc_t *d)
{
    gw->catching_up--;
    d->phase = GW_DOC_READY;
    quire_metric_add(gw->m_joins, 1);
    QLOG_DEBUG("document ready", "doc=%s partition=%d version=%lld sockets=%zu join_ms=%.1f", d->id,
               d->partition, (long long)d->version, d->nconns,
               (double)(gw_now_us() - d->join_started_us) / 1000.0);
    for (gw_conn_t *c = d->conns; c; c = c->doc_next) {
        send_server_step1(d, c);
        release_held(gw, c);
    }
}

/* ---- writes and acknowledgements -------------------------------------------------------- */

static bool write_done(const gw_write_t *w)
{
    return w->reported && w->remaining == 0 && !w->failed;
}

static void try_ack(gw_t *gw, gw_conn_t *c)
{
    uint64_t acked = c->acked_seq;
    /* a held write is done once the SyncStep2 it was merged into is */
    while (c->writes &&
           (write_done(c->writes) || (c->writes->deferred && c->merged && write_done(c->merged)))) {
        gw_write_t *w = c->writes;
        if (w == c->merged)
            c->merged = NULL;
        acked = w->seq;
        c->writes = w->next;
        if (!c->writes)
            c->writes_tail = NULL;
        free(w->ids);
        free(w->upd);
        free(w);
    }
    if (acked != c->acked_seq) {
        c->acked_seq = acked;
        quire_metric_add(gw->m_acks, 1);
        if (c->ext) {
            gw_frame_t *f =
                gw_frame_ack(acked, c->doc && c->doc->version >= 0 ? (uint64_t)c->doc->version : 0);
            if (f) {
                gw_conn_send(c, f);
                gw_frame_unref(f);
            }
        }
    }
}

static void nack_and_close(gw_conn_t *c, uint64_t seq, int code, const char *reason)
{
    if (c->ext) {
        gw_frame_t *f = gw_frame_nack(seq, (uint64_t)code, reason);
        if (f) {
            gw_conn_send(c, f);
            gw_frame_unref(f);
        }
    }
    gw_conn_close(c, code, reason);
}

typedef struct {
    gw_t *gw;
    uint64_t conn_id, seq;
} write_ctx_t;

static void on_write_done(void *opaque, const ingest_result_t *res)
{
    write_ctx_t *w = opaque;
    gw_ev_t *ev = gw_ev_new(GW_EV_WRITE_DONE);
    if (ev) {
        ev->conn_id = w->conn_id;
        ev->seq = w->seq;
        ev->write_err = res->err;
        ev->offset = res->offset;
        gw_post(w->gw, ev);
    }
    free(w);
}

/* Drops in-flight ranges the state now covers. */
static void prune_inflight(gw_doc_t *d)
{
    const uint8_t *svb;
    size_t svl;
    yjs_sv_t sv = {0};
    if (!d->ninflight || gw_state_sv(&d->st, &svb, &svl) != QUIRE_OK ||
        yjs_sv_decode(svb, svl, SIZE_MAX, &sv) != QUIRE_OK)
        return;
    size_t w = 0;
    for (size_t i = 0; i < d->ninflight; i++)
        if (d->inflight[i].end > yjs_sv_get(&sv, d->inflight[i].client))
            d->inflight[w++] = d->inflight[i];
    d->ninflight = w;
    yjs_sv_deinit(&sv);
}

/* Records the ranges a produced write creates (bounded: the oldest are dropped first). */
static void add_inflight(gw_doc_t *d, const uint8_t *update, size_t len)
{
    yjs_validation_t v = {0};
    if (yjs_update_validate(update, len, NULL, YJS_DECODE_SKIM, &v) == QUIRE_OK) {
        for (size_t i = 0; i < v.nranges; i++) {
            if (d->ninflight == d->inflight_cap) {
                if (d->inflight_cap >= 4096) { /* drop the oldest half */
                    memmove(d->inflight, d->inflight + 2048, 2048 * sizeof *d->inflight);
                    d->ninflight = 2048;
                } else {
                    size_t cap = d->inflight_cap ? d->inflight_cap * 2 : 16;
                    yjs_client_range_t *n = realloc(d->inflight, cap * sizeof *n);
                    if (!n)
                        break;
                    d->inflight = n;
                    d->inflight_cap = cap;
                }
            }
            d->inflight[d->ninflight++] = v.ranges[i];
        }
    }
    yjs_validation_deinit(&v);
}

/* Queues write `seq` for acknowledgement in order; NULL (the socket closing) when out of memory. */
static gw_write_t *append_write(gw_t *gw, gw_conn_t *c, uint64_t seq)
{
    gw_write_t *w = calloc(1, sizeof *w);
    if (!w) {
        nack_and_close(c, seq, 1011, "out of memory");
        return NULL;
    }
    w->seq = seq;
    if (c->writes_tail)
        c->writes_tail->next = w;
    else
        c->writes = w;
    c->writes_tail = w;
    quire_metric_add(gw->m_writes, 1);
    return w;
}

/* Sent before the client's first SyncStep2 and building on content the gateway lacks: a
 * reconnecting client types before our SyncStep1 reaches it. Its SyncStep2 diffs the client's
 * whole document against our state vector, so it will carry that content: hold the update and
 * write it merged with the SyncStep2 (acknowledged with it) instead of refusing it. */
static void defer_write(gw_t *gw, gw_conn_t *c, uint64_t seq, uint8_t *novel, size_t nlen)
{
    if (c->ndeferred >= HELD_UPDATES_MAX || c->deferred_bytes + nlen > HELD_UPDATES_MAX_BYTES) {
        free(novel);
        quire_metric_add(gw->m_refused, 1);
        nack_and_close(c, seq, 4413, "too much sent before SyncStep2");
        return;
    }
    gw_write_t *w = append_write(gw, c, seq);
    if (!w) {
        free(novel);
        return;
    }
    w->deferred = true;
    w->upd = novel;
    w->upd_len = nlen;
    c->ndeferred++;
    c->deferred_bytes += nlen;
}

/* The first SyncStep2's novel part (may be NULL), merged with the updates held for it. */
static quire_err_t merge_deferred(gw_conn_t *c, uint8_t **novel, size_t *nlen)
{
    size_t n = 0;
    const uint8_t **ups = calloc((size_t)c->ndeferred + 1, sizeof *ups);
    size_t *lens = calloc((size_t)c->ndeferred + 1, sizeof *lens);
    quire_err_t err = ups && lens ? QUIRE_OK : QUIRE_ERR_NOMEM;
    for (gw_write_t *w = c->writes; !err && w; w = w->next)
        if (w->upd) {
            ups[n] = w->upd;
            lens[n++] = w->upd_len;
        }
    if (!err && *novel) {
        ups[n] = *novel;
        lens[n++] = *nlen;
    }
    uint8_t *merged = NULL;
    size_t mlen = 0;
    yjs_error_t yerr;
    if (!err)
        err = yjs_update_merge(ups, lens, n, NULL, 0, &merged, &mlen, &yerr);
    free(ups);
    free(lens);
    if (err)
        return err;
    for (gw_write_t *w = c->writes; w; w = w->next) {
        free(w->upd);
        w->upd = NULL;
    }
    c->ndeferred = 0;
    c->deferred_bytes = 0;
    free(*novel);
    *novel = merged;
    *nlen = mlen;
    return QUIRE_OK;
}

static void on_write(gw_t *gw, gw_conn_t *c, const uint8_t *update, size_t len, bool step2)
{
    gw_doc_t *d = c->doc;
    uint64_t seq = ++c->next_seq;
    if (c->viewer) {
        gw_frame_t *f = gw_frame_permission_denied("read-only");
        if (f) {
            gw_conn_send(c, f);
            gw_frame_unref(f);
        }
        quire_metric_add(gw->m_refused, 1);
        c->acked_seq = seq; /* nothing pending: the write is refused, not lost */
        return;
    }
    uint8_t *novel = NULL;
    size_t nlen = 0;
    bool missing = false;
    /* validates the update fully, and keeps only what the log does not have */
    quire_err_t err = gw_state_novel(&d->st, update, len, &novel, &nlen);
    bool merged = false;
    if (!err && step2 && !c->step2_seen) {
        c->step2_seen = true;
        if (c->ndeferred) {
            err = merge_deferred(c, &novel, &nlen);
            merged = !err;
        }
    }
    if (!err && novel) {
        prune_inflight(d);
        err = gw_state_missing_deps(&d->st, novel, nlen, d->inflight, d->ninflight, &missing);
    }
    if (!err && missing && !c->step2_seen) {
        defer_write(gw, c, seq, novel, nlen);
        return;
    }
    if (err || missing) {
        free(novel);
        quire_metric_add(gw->m_refused, 1);
        QLOG_INFO("refused an update", "doc=%s user=%s conn=%llu reason=\"%s\"", d->id, c->who.user,
                  (unsigned long long)c->id, missing ? "missing dependencies" : quire_err_str(err));
        nack_and_close(c, seq, err == QUIRE_ERR_TOO_LARGE ? 4413 : 4400,
                       missing                      ? "update depends on content the document lacks"
                       : err == QUIRE_ERR_TOO_LARGE ? "update too large"
                                                    : "malformed update");
        return;
    }
    gw_write_t *w = append_write(gw, c, seq);
    if (!w) {
        free(novel);
        return;
    }
    if (merged)
        c->merged = w;
    if (!novel) { /* the log already holds all of it */
        w->reported = true;
        quire_metric_add(gw->m_noop_writes, 1);
        try_ack(gw, c);
        return;
    }
    write_ctx_t *ctx = malloc(sizeof *ctx);
    if (!ctx) {
        free(novel);
        w->failed = true;
        nack_and_close(c, seq, 1011, "out of memory");
        return;
    }
    *ctx = (write_ctx_t){.gw = gw, .conn_id = c->id, .seq = seq};
    ingest_write_t iw = {
        .doc_id = d->id,
        .actor = c->who.user,
        .kind = EVENT_CODEC_KIND_UPDATE,
        .update = novel,
        .len = nlen,
        .doc_bytes = (int64_t)gw_state_size(&d->st),
    };
    ingest_ticket_t t = {0};
    char errbuf[256];
    err = ingest_submit(gw->ingest, &iw, on_write_done, ctx, &t, errbuf, sizeof errbuf);
    free(novel);
    if (err) {
        free(ctx);
        quire_metric_add(gw->m_refused, 1);
        if (err == QUIRE_ERR_EMPTY) { /* nothing to write after all */
            w->reported = true;
            try_ack(gw, c);
            return;
        }
        w->failed = true;
        int code = err == QUIRE_ERR_TOO_LARGE                            ? 4413
                   : err == QUIRE_ERR_SPOOFED                            ? 4409
                   : (err == QUIRE_ERR_BUSY || quire_err_retriable(err)) ? 1013
                                                                         : 4400;
        QLOG_INFO("refused a write", "doc=%s user=%s err=\"%s\"", d->id, c->who.user, errbuf);
        nack_and_close(c, seq, code, errbuf);
        return;
    }
    w->ids = t.event_ids;
    w->nids = t.nevents;
    w->remaining = t.nevents;
    add_inflight(d, update, len);
}

/* An event came back: it may complete writes of this document's sockets. */
static void match_event(gw_t *gw, gw_doc_t *d, const uint8_t id[EVENT_CODEC_EVENT_ID_LEN])
{
    for (gw_conn_t *c = d->conns; c; c = c->doc_next) {
        bool hit = false;
        for (gw_write_t *w = c->writes; w && !hit; w = w->next) {
            for (size_t i = 0; i < w->nids; i++) {
                if (memcmp(w->ids[i], id, EVENT_CODEC_EVENT_ID_LEN) == 0) {
                    /* mark this id seen so a duplicate (resend) does not count twice */
                    memset(w->ids[i], 0, EVENT_CODEC_EVENT_ID_LEN);
                    if (w->remaining)
                        w->remaining--;
                    hit = true;
                    break;
                }
            }
        }
        if (hit)
            try_ack(gw, c);
    }
}

/* ---- events from the log ---------------------------------------------------------------- */

static void apply_event(gw_t *gw, gw_doc_t *d, gw_ev_t *ev)
{
    if (ev->offset < d->next)
        return; /* already in the state (re-delivered after a seek, or older than P) */
    d->next = ev->offset + 1;
    d->version = ev->offset;
    if (ev->kind == EVENT_CODEC_KIND_DELETE) {
        QLOG_INFO("document deleted: closing its sockets", "doc=%s", d->id);
        doc_fail(gw, d, 4404, "document deleted");
        return;
    }
    if (ev->kind != EVENT_CODEC_KIND_UPDATE || !ev->data)
        return;
    if (gw_state_apply(&d->st, ev->data, ev->len) != QUIRE_OK) {
        QLOG_WARN("could not apply an event; skipped", "doc=%s offset=%lld", d->id,
                  (long long)ev->offset);
        return;
    }
    quire_metric_add(gw->m_events, 1);
    if (d->phase != GW_DOC_READY)
        return;
    gw_frame_t *f = gw_frame_sync(GW_SYNC_UPDATE, ev->data, ev->len);
    gw_frame_t *vf = NULL;
    size_t delivered = 0;
    for (gw_conn_t *c = d->conns; f && c; c = c->doc_next) {
        if (!c->synced)
            continue;
        if (c->ext) {
            if (!vf)
                vf = gw_frame_version((uint64_t)ev->offset);
            if (vf)
                gw_conn_send(c, vf);
        }
        gw_conn_send(c, f);
        delivered++;
    }
    gw_frame_unref(f);
    gw_frame_unref(vf);
    quire_metric_add(gw->m_delivered, (int64_t)delivered);
    if (ev->broker_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double lat =
            (double)((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - ev->broker_ms) / 1000.0;
        quire_metric_observe(gw->m_deliver_lat, lat < 0 ? 0 : lat);
    }
    match_event(gw, d, ev->event_id);
}

/* Partition progress: readiness of catching-up documents, and RESUME waits. */
static void progress(gw_t *gw, int32_t p, uint64_t epoch, int64_t next)
{
    gw_part_t *part = part_of(gw, p);
    if (!part)
        return;
    if (next > part->seen)
        part->seen = next;
    if (gw->catching_up) {
        size_t it = 0;
        gw_doc_t *d;
        gw_doc_t *ready[64];
        size_t nready = 0;
        while ((d = gw_map_next(gw->docs, &it))) {
            if (d->phase != GW_DOC_CATCHUP || d->partition != p || epoch < d->epoch)
                continue;
            if (next > d->scan)
                d->scan = next;
            if (d->scan >= d->high && nready < 64)
                ready[nready++] = d;
        }
        for (size_t i = 0; i < nready; i++)
            doc_ready(gw, ready[i]);
    }
}

static void answer_waiting(gw_t *gw, gw_doc_t *d);

static void on_doc_event(gw_t *gw, gw_ev_t *ev)
{
    gw_part_t *part = part_of(gw, ev->partition);
    if (!part)
        return;
    if (ev->kind != (event_codec_kind_t)-1) {
        gw_doc_t *d = gw_map_get_str(gw->docs, ev->doc_id);
        if (d &&
            ((d->phase == GW_DOC_CATCHUP && ev->epoch >= d->epoch) || d->phase == GW_DOC_READY))
            apply_event(gw, d, ev);
    }
    progress(gw, ev->partition, ev->epoch, ev->offset + 1);
}

static void on_seeked(gw_t *gw, gw_ev_t *ev)
{
    gw_part_t *part = part_of(gw, ev->partition);
    if (!part)
        return;
    if (ev->epoch > part->epoch)
        part->epoch = ev->epoch;
    size_t it = 0;
    gw_doc_t *d;
    while ((d = gw_map_next(gw->docs, &it))) {
        if (d->phase == GW_DOC_SEEKING && d->partition == ev->partition && d->token == ev->seq) {
            d->phase = GW_DOC_CATCHUP;
            d->epoch = ev->epoch;
            d->scan = ev->offset;
        }
    }
    /* readiness is checked after the loop: doc_ready must not run while iterating */
    gw_doc_t *ready[64];
    size_t nready = 0;
    it = 0;
    while ((d = gw_map_next(gw->docs, &it)) && nready < 64)
        if (d->phase == GW_DOC_CATCHUP && d->partition == ev->partition && d->scan >= d->high)
            ready[nready++] = d;
    for (size_t i = 0; i < nready; i++)
        doc_ready(gw, ready[i]);
}

static void on_join_done(gw_t *gw, gw_ev_t *ev)
{
    gw_doc_t *d = gw_map_get_str(gw->docs, ev->doc_id);
    if (!d || d->phase != GW_DOC_LOADING)
        return;
    if (ev->err) {
        QLOG_WARN("could not load a document", "doc=%s err=\"%s\"", d->id, quire_err_str(ev->err));
        doc_fail(gw, d, 1013, "document temporarily unavailable");
        return;
    }
    if (ev->deleted) {
        doc_fail(gw, d, 4404, "document deleted");
        return;
    }
    gw_state_deinit(&d->st);
    gw_state_init(&d->st, ev->doc);
    ev->doc = NULL; /* owned by the state now */
    d->version = ev->version;
    d->next = ev->position;
    d->high = ev->high;
    d->phase = GW_DOC_SEEKING;
    d->token = ++gw->next_token;
    gw->catching_up++;
    gw_part_t *part = part_of(gw, d->partition);
    if (part->watchers++ == 0)
        gw_kafka_watch_presence(gw->kafka, d->partition); /* reads from presence_expire ago */
    else
        replay_presence(gw, d); /* the partition is watched: its recent records are cached */
    gw_kafka_watch(gw->kafka, d->partition, ev->position, d->token);
    QLOG_DEBUG("document loaded", "doc=%s P=%lld high=%lld load_ms=%.1f", d->id,
               (long long)ev->position, (long long)ev->high,
               (double)(gw_now_us() - d->join_started_us) / 1000.0);
}

/* "member:<doc>:<user>": that user's role in that document changed. Sockets of the user on the
 * document follow the new role: none closes them (4403), viewer makes them read-only, editor or
 * owner makes them writable again. */
static int on_member(gw_t *gw, const char *doc_user)
{
    const char *colon = strchr(doc_user, ':'); /* doc ids have no ':'; user names may */
    if (!colon || colon == doc_user || (size_t)(colon - doc_user) > EVENT_CODEC_DOC_ID_MAX)
        return 0;
    char doc[EVENT_CODEC_DOC_ID_MAX + 1];
    memcpy(doc, doc_user, (size_t)(colon - doc_user));
    doc[colon - doc_user] = '\0';
    const char *user = colon + 1;
    gw_doc_t *d = gw_map_get_str(gw->docs, doc);
    if (!d)
        return 0;
    bool asked = false;
    quire_role_t role = QUIRE_ROLE_NONE;
    quire_err_t err = QUIRE_OK;
    int n = 0;
    for (gw_conn_t *c = d->conns, *next; c; c = next) {
        next = c->doc_next;
        if (strcmp(c->who.user, user) != 0)
            continue;
        if (!asked) { /* once, and only when the user has sockets here */
            err = quire_access_role(gw->access, doc, user, &role);
            asked = true;
        }
        n++;
        if (err) /* cannot tell: the safe side is to close; the client reconnects (1013) */
            gw_conn_close(c, 1013, "access cannot be checked now; reconnect");
        else if (role == QUIRE_ROLE_NONE)
            gw_conn_close(c, 4403, "access to the document removed");
        else
            c->viewer = role == QUIRE_ROLE_VIEWER;
    }
    return n;
}

static void on_control(gw_t *gw, gw_ev_t *ev)
{
    const char *s = ev->subject;
    quire_access_forget(gw->access, s); /* caches first: later checks ask PostgreSQL */
    int n = 0;
    if (strncmp(s, "member:", 7) == 0) {
        n = on_member(gw, s + 7);
    } else {
        size_t it = 0;
        gw_conn_t *c;
        while ((c = gw_map_next(gw->conns, &it))) {
            bool hit = (strncmp(s, "session:", 8) == 0 && strcmp(c->who.session, s + 8) == 0) ||
                       (strncmp(s, "user:", 5) == 0 && strcmp(c->who.user, s + 5) == 0);
            bool doc = strncmp(s, "doc:", 4) == 0 && strcmp(c->doc_id, s + 4) == 0;
            if (hit)
                gw_conn_close(c, 4401, "access revoked");
            else if (doc)
                gw_conn_close(c, 4404, "document deleted");
            n += hit || doc;
        }
    }
    if (n)
        QLOG_INFO("revocation applied", "subject=\"%s\" sockets=%d", s, n);
}

static void on_write_done_ev(gw_t *gw, gw_ev_t *ev)
{
    gw_conn_t *c = gw_map_get_u64(gw->conns, ev->conn_id);
    if (!c)
        return;
    for (gw_write_t *w = c->writes; w; w = w->next) {
        if (w->seq != ev->seq)
            continue;
        if (ev->write_err) {
            w->failed = true;
            nack_and_close(c, w->seq, 1013, "not saved: Kafka did not confirm in time");
        } else {
            w->reported = true;
            try_ack(gw, c);
        }
        return;
    }
}

void gw_doc_on_event(gw_t *gw, gw_ev_t *ev)
{
    switch (ev->type) {
    case GW_EV_DOC_EVENT:
        on_doc_event(gw, ev);
        break;
    case GW_EV_PART_EOF:
        progress(gw, ev->partition, ev->epoch, ev->offset);
        break;
    case GW_EV_SEEKED:
        on_seeked(gw, ev);
        break;
    case GW_EV_PRESENCE: {
        gw_doc_t *d = gw_map_get_str(gw->docs, ev->doc_id);
        QLOG_DEBUG("presence record", "doc=%s from=%s kind=%d entries=%zu open=%d", ev->doc_id,
                   ev->rec.gateway, ev->rec.kind, ev->rec.nusers, d ? (int)d->phase : -1);
        if (d && d->phase != GW_DOC_GONE)
            on_remote_presence(gw, d, ev);
        else if (!d)
            cache_presence(gw, ev);
        break;
    }
    case GW_EV_CONTROL:
        on_control(gw, ev);
        break;
    case GW_EV_JOIN_DONE:
        on_join_done(gw, ev);
        break;
    case GW_EV_WRITE_DONE:
        on_write_done_ev(gw, ev);
        break;
    }
    /* sockets waiting on RESUME: the partition may have advanced */
    if (ev->type == GW_EV_DOC_EVENT || ev->type == GW_EV_PART_EOF) {
        gw_doc_t *d = ev->type == GW_EV_DOC_EVENT ? gw_map_get_str(gw->docs, ev->doc_id) : NULL;
        if (d && d->phase == GW_DOC_READY)
            answer_waiting(gw, d);
    }
}

/* ---- sockets ---------------------------------------------------------------------------- */

static void hold(gw_conn_t *c, const uint8_t *msg, size_t len)
{
    if (c->held_bytes + len > HELD_MAX_BYTES) {
        gw_conn_close(c, 4413, "too much sent before the document loaded");
        return;
    }
    gw_pending_msg_t *m = malloc(sizeof *m + len);
    if (!m) {
        gw_conn_close(c, 1011, "out of memory");
        return;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->data, msg, len);
    if (c->held_tail)
        c->held_tail->next = m;
    else
        c->held_head = m;
    c->held_tail = m;
    c->held_bytes += len;
}

/* A SyncStep1 held because of RESUME: answer it once the partition got far enough. */
static void answer_waiting(gw_t *gw, gw_doc_t *d)
{
    gw_part_t *part = part_of(gw, d->partition);
    for (gw_conn_t *c = d->conns; c; c = c->doc_next)
        if (c->held_head && !c->close_code && part && part->seen >= c->min_progress)
            release_held(gw, c);
}

static void handle_message(gw_t *gw, gw_conn_t *c, const uint8_t *msg, size_t len)
{
    gw_doc_t *d = c->doc;
    gw_msg_t m;
    quire_err_t err = gw_msg_parse(msg, len, &m);
    if (err) {
        quire_metric_add(gw->m_refused, 1);
        QLOG_INFO("closing a socket that sent a malformed message", "doc=%s user=%s len=%zu",
                  c->doc_id, c->who.user, len);
        gw_conn_close(c, 4400, "malformed message");
        return;
    }
    if (m.type == GW_MSG_AWARENESS) {
        on_awareness(gw, c, m.payload, m.payload_len);
        return;
    }
    if (m.type == GW_MSG_RESUME) {
        c->min_progress = (int64_t)m.version + 1;
        return;
    }
    if (m.type == GW_MSG_QUERY_AWARENESS) {
        send_all_awareness(d, c);
        return;
    }
    if (m.type != GW_MSG_SYNC)
        return; /* unknown types are ignored, as the reference server does */
    gw_part_t *part = part_of(gw, d->partition);
    bool behind = m.subtype == GW_SYNC_STEP1 && part && part->seen < c->min_progress;
    if (d->phase != GW_DOC_READY || behind || c->held_head) {
        hold(c, msg, len); /* keeps order: everything after a held message waits too */
        return;
    }
    if (m.subtype == GW_SYNC_STEP1)
        answer_sync(gw, c, m.payload, m.payload_len);
    else
        on_write(gw, c, m.payload, m.payload_len, m.subtype == GW_SYNC_STEP2);
}

void gw_doc_on_message(gw_t *gw, gw_conn_t *c, const uint8_t *msg, size_t len)
{
    if (!c->doc || c->close_code)
        return;
    handle_message(gw, c, msg, len);
}

void gw_doc_attach(gw_t *gw, gw_conn_t *c)
{
    gw_doc_t *d = gw_map_get_str(gw->docs, c->doc_id);
    if (d && d->phase == GW_DOC_GONE) {
        gw_conn_close(c, 4404, "document deleted");
        return;
    }
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d) {
            gw_conn_close(c, 1011, "out of memory");
            return;
        }
        snprintf(d->id, sizeof d->id, "%s", c->doc_id);
        d->partition = quire_kafka_partition_for(d->id, strlen(d->id), gw->npartitions);
        d->phase = GW_DOC_LOADING;
        d->version = -1;
        d->join_started_us = gw_now_us();
        if (gw_state_init(&d->st, NULL) != QUIRE_OK) {
            free(d);
            gw_conn_close(c, 1011, "out of memory");
            return;
        }
        if (gw_map_put_str(gw->docs, d->id, d) != 0) {
            gw_doc_free(d);
            gw_conn_close(c, 1011, "out of memory");
            return;
        }
        quire_metric_set(gw->m_docs, (int64_t)gw_map_size(gw->docs));
        gw_join_request(gw->join, d->id, d->partition);
    }
    c->doc = d;
    c->doc_prev = NULL;
    c->doc_next = d->conns;
    if (d->conns)
        d->conns->doc_prev = c;
    d->conns = c;
    d->nconns++;
    d->empty_since_us = 0;
    c->joined_us = gw_now_us();
    send_all_awareness(d, c);
    if (d->phase == GW_DOC_READY)
        send_server_step1(d, c);
}

void gw_doc_detach(gw_t *gw, gw_conn_t *c)
{
    gw_doc_t *d = c->doc;
    for (gw_pending_msg_t *m = c->held_head, *n; m; m = n) {
        n = m->next;
        free(m);
    }
    c->held_head = c->held_tail = NULL;
    for (gw_write_t *w = c->writes, *n; w; w = n) {
        n = w->next;
        free(w->ids);
        free(w->upd);
        free(w);
    }
    c->writes = c->writes_tail = c->merged = NULL;
    if (!d)
        return;
    if (c->doc_prev)
        c->doc_prev->doc_next = c->doc_next;
    else
        d->conns = c->doc_next;
    if (c->doc_next)
        c->doc_next->doc_prev = c->doc_prev;
    d->nconns--;
    c->doc = NULL;
    drop_conn_awareness(gw, d, c);
    if (d->nconns == 0)
        d->empty_since_us = gw_now_us();
}

size_t gw_pending_writes(gw_t *gw)
{
    size_t n = 0, it = 0;
    gw_conn_t *c;
    while ((c = gw_map_next(gw->conns, &it)))
        for (gw_write_t *w = c->writes; w; w = w->next)
            n++;
    return n;
}

/* Access tokens expire (15 min for browsers): a socket outlives its token by at most a tick and
 * the leeway; the client refreshes its session and reconnects (4401, docs/protocol.md). */
static void expire_access(gw_t *gw)
{
    time_t now = time(NULL);
    size_t it = 0;
    gw_conn_t *c;
    while ((c = gw_map_next(gw->conns, &it)))
        if (c->who.expires_at_s && (int64_t)now > c->who.expires_at_s + QUIRE_TOKEN_LEEWAY_S)
            gw_conn_close(c, 4401, "access expired: refresh and reconnect");
}

void gw_doc_tick(gw_t *gw)
{
    int64_t now = gw_now_us();
    static const int64_t access_check_us = 1000000;
    if (now - gw->access_checked_us > access_check_us) {
        gw->access_checked_us = now;
        expire_access(gw);
    }
    gw_doc_t *gone[128];
    size_t ngone = 0, it = 0;
    gw_doc_t *d;
    while ((d = gw_map_next(gw->docs, &it))) {
        if (d->phase == GW_DOC_READY) {
            if (d->presence_dirty || d->naw)
                presence_flush(gw, d, now);
            expire_remote(gw, d, now);
        }
        bool joining =
            d->phase == GW_DOC_LOADING || d->phase == GW_DOC_SEEKING || d->phase == GW_DOC_CATCHUP;
        if (joining && now - d->join_started_us > gw->conf.join_timeout_ms * 1000) {
            QLOG_WARN("gave up joining a document", "doc=%s phase=%d", d->id, (int)d->phase);
            doc_fail(gw, d, 1013, "document could not be loaded in time");
        }
        /* RESUME waits beyond the join timeout */
        for (gw_conn_t *c = d->conns; c; c = c->doc_next)
            if (c->held_head && d->phase == GW_DOC_READY &&
                now - c->joined_us > gw->conf.join_timeout_ms * 1000)
                gw_conn_close(c, 1013, "could not catch up with the version you saw");
        bool idle = d->nconns == 0 && d->empty_since_us &&
                    now - d->empty_since_us > gw->conf.unload_grace_ms * 1000;
        bool dead = d->nconns == 0 && d->phase == GW_DOC_GONE;
        if ((idle || dead) && ngone < 128) {
            if (d->presence_dirty)
                presence_flush(gw, d, now);
            gone[ngone++] = d;
        }
    }
    for (size_t i = 0; i < ngone; i++)
        doc_remove(gw, gone[i]);
}

void gw_doc_shutdown(gw_t *gw)
{
    size_t it = 0;
    gw_conn_t *c;
    while ((c = gw_map_next(gw->conns, &it)))
        gw_conn_close(c, 1001, "gateway shutting down");
}
