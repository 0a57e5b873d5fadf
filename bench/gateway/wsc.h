/*
 * wsc — a small, non-blocking WebSocket client for benchmarks: thousands of connections on one
 * epoll loop, the y-websocket framing quire's gateway speaks (binary frames, one message each).
 * Not a general client: no TLS, no extensions, text frames ignored.
 */
#ifndef WSC_H
#define WSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wsc_s wsc_t;
typedef struct wsc_loop_s wsc_loop_t;

/* Called for every complete binary message received. */
typedef void (*wsc_msg_fn)(wsc_t *c, const uint8_t *msg, size_t len, void *opaque);
/* Called once when the upgrade completed (ok) or the connection failed/closed (!ok). */
typedef void (*wsc_state_fn)(wsc_t *c, bool open, int close_code, void *opaque);

wsc_loop_t *wsc_loop_new(void);
void wsc_loop_destroy(wsc_loop_t *l);
/* Runs the loop for at most timeout_ms (or until wsc_loop_stop). */
void wsc_loop_run(wsc_loop_t *l, int timeout_ms);
void wsc_loop_stop(wsc_loop_t *l);

/* Starts connecting to host:port and upgrading on path (e.g. "/ws/doc?token=...&quire=1"). */
wsc_t *wsc_connect(wsc_loop_t *l, const char *host, int port, const char *path, wsc_msg_fn on_msg,
                   wsc_state_fn on_state, void *opaque);
/* Queues one binary message (copied). */
int wsc_send(wsc_t *c, const uint8_t *msg, size_t len);
void wsc_close(wsc_t *c);
bool wsc_is_open(const wsc_t *c);
void *wsc_opaque(const wsc_t *c);

int64_t wsc_now_ns(void);

#endif
