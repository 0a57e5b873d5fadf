/*
 * gw_server — the gateway's sockets (libwebsockets 4.1.6): upgrade checks, one connection
 * object per socket, message reassembly, bounded send queues, closing with a code, and the
 * event-loop plumbing (inbox drain, timers).
 *
 * Upgrade (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE; `in` is never read — the 4.1.6 UAF with a bogus
 * Upgrade header lives there): the path must be /ws/{docId} with a valid id, an Origin header if
 * present must be allowlisted, and the caller must authenticate with a bearer header, the
 * `token` query parameter or the access cookie (cookies only with an allowlisted Origin). Refusals
 * answer with an HTTP status (401, 403, 404, 429, 503) before any WebSocket exists.
 *
 * Sending: frames are queued per connection (refcounted, shared between sockets) and written
 * one per WRITEABLE callback. A queue beyond send_queue_bytes means a slow reader: it is closed
 * (4408) instead of buffering without bound. A close requested with a code first flushes what is
 * queued (so a NACK reaches the client), then closes.
 */
#include <ev.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "quire_access.h"
#include "quire_log.h"

_Static_assert(GW_FRAME_PRE == LWS_PRE, "GW_FRAME_PRE must equal LWS_PRE");

#define COOKIE_NAME "__Host-quire_access"

typedef struct pss_s {
    gw_conn_t *conn;
} pss_t;

typedef struct user_count_s {
    int count;
    char user[QUIRE_USER_MAX + 1];
} user_count_t;

int64_t gw_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- inbox ------------------------------------------------------------------------------ */

gw_ev_t *gw_ev_new(gw_ev_type_t type)
{
    gw_ev_t *ev = calloc(1, sizeof *ev);
    if (ev)
        ev->type = type;
    return ev;
}

void gw_ev_free(gw_ev_t *ev)
{
    if (!ev)
        return;
    free(ev->data);
    ydoc_destroy(ev->doc);
    free(ev);
}

void gw_post(gw_t *gw, gw_ev_t *ev)
{
    pthread_mutex_lock(&gw->inbox_lock);
    bool was_empty = gw->inbox_head == NULL;
    if (gw->inbox_tail)
        gw->inbox_tail->next = ev;
    else
        gw->inbox_head = ev;
    gw->inbox_tail = ev;
    pthread_mutex_unlock(&gw->inbox_lock);
    if (was_empty && gw->ctx)
        lws_cancel_service(gw->ctx);
}

static void drain_inbox(gw_t *gw)
{
    pthread_mutex_lock(&gw->inbox_lock);
    gw_ev_t *ev = gw->inbox_head;
    gw->inbox_head = gw->inbox_tail = NULL;
    pthread_mutex_unlock(&gw->inbox_lock);
    while (ev) {
        gw_ev_t *n = ev->next;
        gw_doc_on_event(gw, ev);
        gw_ev_free(ev);
        ev = n;
    }
}

/* ---- sending ---------------------------------------------------------------------------- */

void gw_conn_send(gw_conn_t *c, gw_frame_t *f)
{
    if (!f || !c->wsi || c->close_code)
        return;
    if (c->sq_bytes + f->len > (size_t)c->gw->conf.send_queue_bytes) {
        quire_metric_add(c->gw->m_slow, 1);
        QLOG_INFO("closing a slow reader", "doc=%s user=%s queued=%zu", c->doc_id, c->who.user,
                  c->sq_bytes);
        /* drop what is queued: the client resyncs on reconnect */
        for (size_t i = 0; i < c->sq_count; i++)
            gw_frame_unref(c->sq[(c->sq_head + i) % c->sq_cap]);
        c->sq_count = 0;
        c->sq_bytes = 0;
        gw_conn_close(c, 4408, "slow reader: send queue full");
        return;
    }
    if (c->sq_count == c->sq_cap) {
        size_t ncap = c->sq_cap ? c->sq_cap * 2 : 8;
        gw_frame_t **n = malloc(ncap * sizeof *n);
        if (!n) {
            gw_conn_close(c, 1011, "out of memory");
            return;
        }
        for (size_t i = 0; i < c->sq_count; i++)
            n[i] = c->sq[(c->sq_head + i) % c->sq_cap];
        free(c->sq);
        c->sq = n;
        c->sq_head = 0;
        c->sq_cap = ncap;
    }
    gw_frame_ref(f);
    c->sq[(c->sq_head + c->sq_count) % c->sq_cap] = f;
    c->sq_count++;
    c->sq_bytes += f->len;
    lws_callback_on_writable(c->wsi);
}

void gw_conn_close(gw_conn_t *c, int code, const char *reason)
{
    if (c->close_code || !c->wsi)
        return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    lws_callback_on_writable(c->wsi);
    /* a peer that does not read gets no close handshake: drop it after a few seconds */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
}

/* ---- upgrade checks --------------------------------------------------------------------- */

typedef struct upgrade_s {
    char doc_id[EVENT_CODEC_DOC_ID_MAX + 1];
    quire_identity_t who;
    bool ext;
    bool viewer;     /* read-only: the user's role is viewer */
    unsigned status; /* 0 = accepted */
    const char *why;
} upgrade_t;

static bool doc_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > EVENT_CODEC_DOC_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '~' || c == '-'))
            return false;
    }
    return true;
}

static bool origin_allowed(gw_t *gw, const char *origin)
{
    for (size_t i = 0; i < gw->norigins; i++)
        if (strcmp(gw->origins[i], origin) == 0)
            return true;
    return false;
}

static int user_count(gw_t *gw, const char *user)
{
    user_count_t *u = gw_map_get_str(gw->users, user);
    return u ? u->count : 0;
}

/* Copies a token, refusing (empty result) one longer than any valid token. */
static void copy_token(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n > QUIRE_TOKEN_MAX_LEN) {
        dst[0] = '\0';
        return;
    }
    memcpy(dst, src, n + 1);
}

/* The session must be live and the user a member of the document (docs/auth.md). Answers come
 * from quire_access's caches when it can; a miss asks PostgreSQL from the event loop (one
 * indexed lookup, bounded by the pool's timeout) — the upgrade is answered synchronously, and a
 * refused one must be a plain 401/404 like any other. A document the user may not read and one
 * that does not exist answer the same 404. */
static void check_access(gw_t *gw, upgrade_t *u)
{
    quire_err_t err = quire_access_session(gw->access, u->who.session, (int64_t)time(NULL));
    if (err == QUIRE_ERR_UNAUTHENTICATED) {
        u->status = 401;
        u->why = "session ended";
        return;
    }
    quire_role_t role = QUIRE_ROLE_NONE;
    if (!err)
        err = quire_access_role(gw->access, u->doc_id, u->who.user, &role);
    if (!err && role == QUIRE_ROLE_NONE && gw->conf.create_on_write)
        err = quire_access_claim(gw->access, u->doc_id, u->who.user, &role);
    if (err) {
        QLOG_WARN("access check failed", "doc=%s user=%s err=\"%s\"", u->doc_id, u->who.user,
                  quire_err_str(err));
        u->status = 503;
        u->why = "access cannot be checked now";
        return;
    }
    if (role == QUIRE_ROLE_NONE) {
        u->status = 404;
        u->why = "no such document";
        return;
    }
    u->viewer = role == QUIRE_ROLE_VIEWER;
}

static void check_upgrade(gw_t *gw, struct lws *wsi, upgrade_t *u)
{
    memset(u, 0, sizeof *u);
    char uri[256];
    if (gw->stopping) {
        u->status = 503;
        u->why = "shutting down";
        return;
    }
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strncmp(uri, "/ws/", 4) ||
        !doc_id_valid(uri + 4)) {
        u->status = 404;
        u->why = "no such document";
        return;
    }
    snprintf(u->doc_id, sizeof u->doc_id, "%s", uri + 4);
    char origin[256] = "";
    int olen = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (olen > 0) {
        if (olen >= (int)sizeof origin ||
            lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0 ||
            !origin_allowed(gw, origin)) {
            u->status = 403;
            u->why = "origin not allowed";
            return;
        }
    }
    char token[QUIRE_TOKEN_MAX_LEN + 1] = "";
    char hdr[QUIRE_TOKEN_MAX_LEN + 16];
    int alen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (alen > 0 && alen < (int)sizeof hdr &&
        lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        strncasecmp(hdr, "Bearer ", 7) == 0)
        copy_token(token, hdr + 7);
    for (int i = 0; i < 16; i++) {
        char arg[QUIRE_TOKEN_MAX_LEN + 16];
        int n = lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0)
            break;
        if (strcmp(arg, "quire=1") == 0)
            u->ext = true;
        else if (!token[0] && strncmp(arg, "token=", 6) == 0)
            copy_token(token, arg + 6);
    }
    if (!token[0] && origin[0]) { /* browsers: the HttpOnly cookie, only from allowed origins */
        int clen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE);
        char *cookies = clen > 0 && clen < 16384 ? malloc((size_t)clen + 1) : NULL;
        if (cookies && lws_hdr_copy(wsi, cookies, clen + 1, WSI_TOKEN_HTTP_COOKIE) > 0) {
            for (char *p = cookies; p && *p;) {
                while (*p == ' ' || *p == ';')
                    p++;
                char *end = strchr(p, ';');
                size_t nl = strlen(COOKIE_NAME);
                if (strncmp(p, COOKIE_NAME "=", nl + 1) == 0) {
                    size_t vl = end ? (size_t)(end - p - nl - 1) : strlen(p + nl + 1);
                    if (vl < sizeof token) {
                        memcpy(token, p + nl + 1, vl);
                        token[vl] = '\0';
                    }
                    break;
                }
                p = end;
            }
        }
        free(cookies);
    }
    char why[128];
    if (quire_tokens_verify(gw->tokens, token[0] ? token : NULL, (int64_t)time(NULL), &u->who, why,
                            sizeof why) != QUIRE_OK) {
        QLOG_DEBUG("upgrade not authenticated", "doc=%s reason=\"%s\"", u->doc_id, why);
        u->status = 401;
        u->why = "authentication required";
        return;
    }
    if (user_count(gw, u->who.user) >= gw->conf.max_conns_per_user) {
        u->status = 429;
        u->why = "too many connections";
        return;
    }
    check_access(gw, u);
}

/* ---- the protocol callback -------------------------------------------------------------- */

static void conn_free(gw_t *gw, gw_conn_t *c)
{
    for (size_t i = 0; i < c->sq_count; i++)
        gw_frame_unref(c->sq[(c->sq_head + i) % c->sq_cap]);
    free(c->sq);
    free(c->rx);
    free(c);
}

static void user_adjust(gw_t *gw, const char *user, int delta)
{
    user_count_t *found = gw_map_get_str(gw->users, user);
    if (!found && delta > 0 && (found = calloc(1, sizeof *found))) {
        snprintf(found->user, sizeof found->user, "%s", user);
        if (gw_map_put_str(gw->users, found->user, found) != 0) {
            free(found);
            return;
        }
    }
    if (!found)
        return;
    found->count += delta;
    if (found->count <= 0) {
        gw_map_del_str(gw->users, found->user);
        free(found);
    }
}

static bool rate_ok(gw_conn_t *c)
{
    int64_t now = gw_now_us();
    double rate = (double)c->gw->conf.rate_per_s;
    c->tokens += (double)(now - c->tokens_us) / 1e6 * rate;
    if (c->tokens > rate * 4)
        c->tokens = rate * 4;
    c->tokens_us = now;
    if (c->tokens < 1)
        return false;
    c->tokens -= 1;
    return true;
}

/* A whole client message: counted against the socket's rate, then handled. */
static void deliver(gw_t *gw, gw_conn_t *c, const uint8_t *msg, size_t len)
{
    if (!rate_ok(c)) {
        QLOG_INFO("closing a socket over its message rate", "doc=%s user=%s", c->doc_id,
                  c->who.user);
        gw_conn_close(c, 4429, "rate limit exceeded");
        return;
    }
    gw_doc_on_message(gw, c, msg, len);
}

static int on_receive(gw_t *gw, gw_conn_t *c, struct lws *wsi, const uint8_t *in, size_t len)
{
    if (c->close_code)
        return 0;
    if (lws_is_first_fragment(wsi)) {
        c->rx_len = 0;
        c->rx_text = !lws_frame_is_binary(wsi);
    }
    if (c->rx_text) {
        gw_conn_close(c, 1003, "binary messages only");
        return 0;
    }
    if (c->rx_len + len > (size_t)gw->conf.max_message_bytes) {
        gw_conn_close(c, 4413, "message too large");
        return 0;
    }
    if (c->rx_len == 0 && lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        deliver(gw, c, in, len); /* a message in one piece: no copy, no buffer kept */
        return 0;
    }
    if (len && c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 4096;
        while (cap < c->rx_len + len)
            cap *= 2;
        uint8_t *n = realloc(c->rx, cap);
        if (!n) {
            gw_conn_close(c, 1011, "out of memory");
            return 0;
        }
        c->rx = n;
        c->rx_cap = cap;
    }
    if (len) /* empty frames arrive with in == NULL */
        memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    size_t n = c->rx_len;
    c->rx_len = 0;
    deliver(gw, c, c->rx, n);
    free(c->rx); /* fragmented messages are rare: keep no buffer between them */
    c->rx = NULL;
    c->rx_cap = 0;
    return 0;
}

/* The close opcode for lws_write: libwebsockets 4.1 keeps LWS_WRITE_CLOSE (4) in its private
 * headers (the public enum leaves 4 free for it: "handled by lws_close_reason()"). */
#define GW_LWS_WRITE_CLOSE ((enum lws_write_protocol)4)

static int on_writeable(gw_t *gw, gw_conn_t *c, struct lws *wsi)
{
    if (c->sq_count) {
        gw_frame_t *f = c->sq[c->sq_head];
        int n = lws_write(wsi, gw_frame_body(f), f->len, LWS_WRITE_BINARY);
        c->sq_head = (c->sq_head + 1) % c->sq_cap;
        c->sq_count--;
        c->sq_bytes -= f->len;
        gw_frame_unref(f);
        if (n < 0) {
            QLOG_INFO("could not write to a socket; closing it", "doc=%s user=%s", c->doc_id,
                      c->who.user);
            return -1;
        }
        if (c->sq_count || c->close_code)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->close_code && !c->close_sent) {
        /* Our close frame, then wait for the peer's: closing the socket at once while a client
         * is still sending (a flood) leaves its data unread, so the kernel answers with a reset
         * that can destroy the close frame before the client reads it (it then saw 1006, not
         * 4429). Input is ignored meanwhile; the peer's close ends the socket, or the timeout. */
        uint8_t buf[LWS_PRE + 125];
        size_t rl = strlen(c->close_reason) > 123 ? 123 : strlen(c->close_reason);
        buf[LWS_PRE] = (uint8_t)(c->close_code >> 8);
        buf[LWS_PRE + 1] = (uint8_t)(c->close_code & 0xff);
        memcpy(buf + LWS_PRE + 2, c->close_reason, rl);
        if (lws_write(wsi, buf + LWS_PRE, 2 + rl, GW_LWS_WRITE_CLOSE) < 0)
            return -1;
        c->close_sent = true;
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, 5);
    }
    return 0;
}

static void tick(lws_sorted_usec_list_t *sul);

typedef struct timer_s {
    lws_sorted_usec_list_t sul; /* first member: tick() casts back */
    gw_t *gw;
} timer_t_;

static void tick(lws_sorted_usec_list_t *sul)
{
    timer_t_ *t = (timer_t_ *)sul;
    gw_doc_tick(t->gw);
    lws_sul_schedule(t->gw->ctx, 0, &t->sul, tick, 50 * LWS_US_PER_MS);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    gw_t *gw = ctx ? lws_context_user(ctx) : NULL;
    pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_PROTOCOL_INIT:
        if (gw && !gw->timer) {
            timer_t_ *t = calloc(1, sizeof *t);
            if (!t)
                return -1;
            t->gw = gw;
            gw->timer = t;
            lws_sul_schedule(ctx, 0, &t->sul, tick, 50 * LWS_US_PER_MS);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (gw)
            drain_inbox(gw);
        return 0;
    case LWS_CALLBACK_HTTP:
        /* plain HTTP on the WebSocket port: nothing here but upgrades */
        lws_return_http_status(wsi, 404, NULL);
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
        upgrade_t u;
        check_upgrade(gw, wsi, &u);
        if (!u.status)
            return 0;
        QLOG_DEBUG("upgrade refused", "status=%u why=\"%s\"", u.status, u.why);
        quire_metric_add(gw->m_refused, 1);
        lws_return_http_status(wsi, u.status, u.why);
        return 1;
    }
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return 0;
    case LWS_CALLBACK_ESTABLISHED: {
        upgrade_t u;
        check_upgrade(gw, wsi, &u);
        if (u.status)
            return -1; /* cannot happen: CONFIRM_UPGRADE refused it */
        gw_conn_t *c = calloc(1, sizeof *c);
        if (!c)
            return -1;
        c->id = ++gw->next_conn_id;
        c->gw = gw;
        c->wsi = wsi;
        c->ext = u.ext;
        c->viewer = u.viewer;
        c->who = u.who;
        c->tokens = (double)gw->conf.rate_per_s * 4;
        c->tokens_us = gw_now_us();
        snprintf(c->doc_id, sizeof c->doc_id, "%s", u.doc_id);
        if (gw_map_put_u64(gw->conns, c->id, c) != 0) {
            free(c);
            return -1;
        }
        c->established = true;
        pss->conn = c;
        user_adjust(gw, c->who.user, +1);
        quire_metric_set(gw->m_conns, (int64_t)gw_map_size(gw->conns));
        gw_doc_attach(gw, c);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        return pss && pss->conn ? on_receive(gw, pss->conn, wsi, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss && pss->conn ? on_writeable(gw, pss->conn, wsi) : 0;
    case LWS_CALLBACK_CLOSED: {
        gw_conn_t *c = pss ? pss->conn : NULL;
        if (!c)
            return 0;
        QLOG_DEBUG("socket closed", "doc=%s user=%s code=%d queued=%zu", c->doc_id, c->who.user,
                   c->close_code, c->sq_bytes);
        pss->conn = NULL;
        gw_doc_detach(gw, c);
        gw_map_del_u64(gw->conns, c->id);
        user_adjust(gw, c->who.user, -1);
        quire_metric_set(gw->m_conns, (int64_t)gw_map_size(gw->conns));
        c->wsi = NULL;
        conn_free(gw, c);
        return 0;
    }
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    /* A small receive buffer per socket: larger messages arrive in pieces we reassemble. The
     * send size must be set apart from it: 0 means "send() at most rx_buffer_size bytes at a
     * time", which cut a 7 MB initial state into ~14,000 send() calls per joiner. */
    {"quire-yjs", callback, sizeof(pss_t), 512, 0, NULL, (size_t)1 << 20},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static lws_retry_bo_t retry;

struct lws_context *gw_server_start(gw_t *gw, char *errbuf, size_t errlen)
{
    char host[128];
    int port = 0;
    const char *colon = strrchr(gw->conf.listen, ':');
    if (!colon || (size_t)(colon - gw->conf.listen) >= sizeof host) {
        snprintf(errbuf, errlen, "invalid --listen \"%s\"", gw->conf.listen);
        return NULL;
    }
    memcpy(host, gw->conf.listen, (size_t)(colon - gw->conf.listen));
    host[colon - gw->conf.listen] = '\0';
    port = atoi(colon + 1);
    lws_set_log_level(LLL_ERR, NULL);
    retry.secs_since_valid_ping = (uint16_t)(gw->conf.ping_ms / 1000);
    retry.secs_since_valid_hangup = (uint16_t)(gw->conf.hangup_ms / 1000);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = host[0] ? host : NULL;
    info.protocols = protocols;
    info.user = gw;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.timeout_secs = 10;
    info.timeout_secs_ah_idle = 10;
    info.max_http_header_data = 8192;
    info.max_http_header_pool = 1024;
    info.retry_and_idle_policy = &retry;
    info.fd_limit_per_thread = 0;
    if (gw->conf.epoll) {
        /* poll() walks every socket on each wake-up: with 10,000 idle sockets a gateway serving
         * 200 edits/s spent most of a core there (bench_gateway busy). libwebsockets' libev
         * plugin waits with epoll, whose cost follows the ready sockets only. */
        static void *foreign[1];
        foreign[0] = gw->evloop = ev_loop_new(EVBACKEND_EPOLL);
        if (gw->evloop) {
            info.foreign_loops = foreign;
            info.options |= LWS_SERVER_OPTION_LIBEV;
            gw->ctx = lws_create_context(&info);
            if (gw->ctx)
                return gw->ctx;
            ev_loop_destroy(gw->evloop);
            gw->evloop = NULL;
            info.foreign_loops = NULL;
            info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
        }
        QLOG_WARN("the libev event loop is not available; serving with poll()", "listen=%s",
                  gw->conf.listen);
    }
    gw->ctx = lws_create_context(&info);
    if (!gw->ctx)
        snprintf(errbuf, errlen, "could not listen on %s", gw->conf.listen);
    return gw->ctx;
}

void gw_server_service(gw_t *gw)
{
    if (gw->evloop)
        ev_run(gw->evloop, EVRUN_ONCE); /* the 50 ms tick bounds the wait */
    else
        lws_service(gw->ctx, 0);
}

void gw_server_stop(gw_t *gw)
{
    if (gw->ctx)
        lws_context_destroy(gw->ctx);
    gw->ctx = NULL;
    if (gw->evloop)
        ev_loop_destroy(gw->evloop);
    gw->evloop = NULL;
}
