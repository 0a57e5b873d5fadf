/* wsc — see the header. One epoll loop; each connection has an output buffer and an input
 * buffer; frames are masked with a fixed key (the bench is its own peer: no cache-poisoning
 * risk to defend against). */
#include "wsc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct wsc_s {
    wsc_loop_t *loop;
    int fd;
    bool upgraded, dead;
    uint8_t *out;
    size_t out_len, out_cap, out_off;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *msg; /* reassembly of fragmented messages */
    size_t msg_len, msg_cap;
    wsc_msg_fn on_msg;
    wsc_state_fn on_state;
    void *opaque;
};

struct wsc_loop_s {
    int ep;
    bool stop;
};

int64_t wsc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

wsc_loop_t *wsc_loop_new(void)
{
    wsc_loop_t *l = calloc(1, sizeof *l);
    if (l)
        l->ep = epoll_create1(0);
    return l;
}

void wsc_loop_destroy(wsc_loop_t *l)
{
    if (!l)
        return;
    close(l->ep);
    free(l);
}

void wsc_loop_stop(wsc_loop_t *l)
{
    l->stop = true;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    uint8_t *b = realloc(*buf, n);
    if (!b)
        return -1;
    *buf = b;
    *cap = n;
    return 0;
}

static void want(wsc_t *c, bool write)
{
    struct epoll_event ev = {.events = EPOLLIN | (write ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(c->loop->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void fail(wsc_t *c, int code)
{
    if (c->dead)
        return;
    c->dead = true;
    epoll_ctl(c->loop->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->on_state)
        c->on_state(c, false, code, c->opaque);
}

static int queue_raw(wsc_t *c, const uint8_t *b, size_t n)
{
    if (grow(&c->out, &c->out_cap, c->out_len + n))
        return -1;
    memcpy(c->out + c->out_len, b, n);
    c->out_len += n;
    want(c, true);
    return 0;
}

wsc_t *wsc_connect(wsc_loop_t *l, const char *host, int port, const char *path, wsc_msg_fn on_msg,
                   wsc_state_fn on_state, void *opaque)
{
    wsc_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = l;
    c->on_msg = on_msg;
    c->on_state = on_state;
    c->opaque = opaque;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (c->fd < 0 ||
        (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)) {
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        return NULL;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev);
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: "
                     "Upgrade\r\nSec-WebSocket-Key: cXVpcmUtYmVuY2gta2V5IQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, host, port);
    queue_raw(c, (const uint8_t *)req, (size_t)n);
    return c;
}

int wsc_send(wsc_t *c, const uint8_t *msg, size_t len)
{
    if (c->dead)
        return -1;
    uint8_t hdr[14];
    size_t h = 0;
    hdr[h++] = 0x82;
    if (len < 126) {
        hdr[h++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
    memcpy(hdr + h, key, 4);
    h += 4;
    if (grow(&c->out, &c->out_cap, c->out_len + h + len))
        return -1;
    memcpy(c->out + c->out_len, hdr, h);
    uint8_t *p = c->out + c->out_len + h;
    for (size_t i = 0; i < len; i++)
        p[i] = msg[i] ^ key[i & 3];
    c->out_len += h + len;
    want(c, true);
    return 0;
}

void wsc_close(wsc_t *c)
{
    fail(c, 1000);
}

bool wsc_is_open(const wsc_t *c)
{
    return c->upgraded && !c->dead;
}

void *wsc_opaque(const wsc_t *c)
{
    return c->opaque;
}

static void on_frames(wsc_t *c)
{
    size_t off = 0;
    if (!c->upgraded) {
        uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end)
            return;
        if (c->in_len < 12 || memcmp(c->in + 9, "101", 3) != 0) {
            int status = c->in_len >= 12 ? atoi((const char *)c->in + 9) : 0;
            fail(c, status);
            return;
        }
        c->upgraded = true;
        off = (size_t)(end - c->in) + 4;
        if (c->on_state)
            c->on_state(c, true, 0, c->opaque);
        if (c->dead)
            return;
    }
    while (c->in_len - off >= 2) {
        const uint8_t *p = c->in + off;
        uint8_t op = p[0] & 0x0f;
        bool fin = p[0] & 0x80;
        uint64_t len = p[1] & 0x7f;
        size_t h = 2;
        if (len == 126) {
            if (c->in_len - off < 4)
                break;
            len = ((uint64_t)p[2] << 8) | p[3];
            h = 4;
        } else if (len == 127) {
            if (c->in_len - off < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | p[2 + i];
            h = 10;
        }
        if (c->in_len - off < h + len)
            break;
        const uint8_t *payload = p + h;
        if (op == 8) { /* close */
            int code = len >= 2 ? (payload[0] << 8) | payload[1] : 1005;
            off += h + len;
            fail(c, code);
            return;
        }
        if (op == 2 || op == 0) {
            if (fin && op == 2 && c->msg_len == 0) {
                c->on_msg(c, payload, (size_t)len, c->opaque);
            } else {
                grow(&c->msg, &c->msg_cap, c->msg_len + len);
                memcpy(c->msg + c->msg_len, payload, len);
                c->msg_len += len;
                if (fin) {
                    c->on_msg(c, c->msg, c->msg_len, c->opaque);
                    c->msg_len = 0;
                }
            }
            if (c->dead)
                return;
        } else if (op == 9) { /* ping → pong */
            uint8_t pong[2 + 4 + 125];
            pong[0] = 0x8a;
            pong[1] = (uint8_t)(0x80 | (len > 125 ? 125 : len));
            memset(pong + 2, 0, 4);
            memcpy(pong + 6, payload, len > 125 ? 125 : len);
            queue_raw(c, pong, 6 + (len > 125 ? 125 : len));
        }
        off += h + len;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
}

void wsc_loop_run(wsc_loop_t *l, int timeout_ms)
{
    int64_t deadline = wsc_now_ns() + (int64_t)timeout_ms * 1000000;
    l->stop = false;
    struct epoll_event evs[256];
    do {
        int64_t left = (deadline - wsc_now_ns()) / 1000000;
        if (left < 0)
            left = 0;
        int n = epoll_wait(l->ep, evs, 256, left > 10 ? 10 : (int)left);
        for (int i = 0; i < n; i++) {
            wsc_t *c = evs[i].data.ptr;
            if (c->dead)
                continue;
            if (evs[i].events & EPOLLOUT) {
                while (c->out_off < c->out_len) {
                    ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
                    if (w <= 0)
                        break;
                    c->out_off += (size_t)w;
                }
                if (c->out_off == c->out_len) {
                    c->out_off = c->out_len = 0;
                    want(c, false);
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                for (;;) {
                    if (grow(&c->in, &c->in_cap, c->in_len + 65536))
                        break;
                    ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
                    if (r > 0) {
                        c->in_len += (size_t)r;
                        continue;
                    }
                    if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                        fail(c, 1006);
                    break;
                }
                if (!c->dead)
                    on_frames(c);
            }
        }
    } while (!l->stop && wsc_now_ns() < deadline);
}
