/*
 * gw_presence — relaying awareness (cursors, presence) between gateways through the presence
 * topic (DESIGN §4): a separate acks=1 producer (presence is ephemeral, so it never waits behind
 * or slows down durable writes), keyed by document so a document's presence shares its
 * partition number with its updates.
 *
 * Record value: "QP" 0x02 ‖ varString(gateway id) ‖ varUint(gateway epoch) ‖ varUint(kind) ‖
 * varUint8Array(awareness update) ‖ varUint(n) ‖ n × varString(user). kind 0 = awareness update
 * (changed entries), 1 = heartbeat: the gateway still serves its clients, and the update carries
 * all their live entries again, so a record lost (acks=1) or published before a reader's window
 * heals within one heartbeat (empty from gateways before this format note). The users say whose
 * connection set each entry, so a gateway lets a user take over only their own client ids. The
 * epoch changes at every start, so records of a killed gateway are recognisably stale once its
 * heartbeats stop. Coalescing happens in the caller (gw_doc flushes changed entries once per
 * window).
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "quire_kafka.h"
#include "quire_log.h"
#include "yjs_wire.h"

struct gw_presence_s {
    gw_t *gw;
    rd_kafka_t *rk;
};

gw_presence_t *gw_presence_new(gw_t *gw, char *errbuf, size_t errlen)
{
    gw_presence_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    p->gw = gw;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *const kv[][2] = {
        {"bootstrap.servers", gw->conf.brokers},
        {"acks", "1"},
        {"linger.ms", "2"},
        {"socket.nagle.disable", "true"},
        {"partitioner", "murmur2_random"},
        {"message.timeout.ms", "5000"},
        {"queue.buffering.max.messages", "100000"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        if (quire_kafka_conf_set(conf, kv[i][0], kv[i][1], errbuf, errlen)) {
            rd_kafka_conf_destroy(conf);
            free(p);
            return NULL;
        }
    }
    if (quire_kafka_conf_stats(conf, gw->metrics, "gateway-presence", 1000, errbuf, errlen)) {
        rd_kafka_conf_destroy(conf);
        free(p);
        return NULL;
    }
    char err[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!p->rk) {
        snprintf(errbuf, errlen, "could not create the presence producer: %s", err);
        rd_kafka_conf_destroy(conf);
        free(p);
        return NULL;
    }
    return p;
}

void gw_presence_destroy(gw_presence_t *p)
{
    if (!p)
        return;
    rd_kafka_flush(p->rk, 1000);
    void *stats = rd_kafka_opaque(p->rk);
    rd_kafka_destroy(p->rk);
    quire_kafka_stats_free(stats);
    free(p);
}

void gw_presence_publish(gw_presence_t *p, const char *doc_id, const uint8_t *update, size_t len,
                         const char *const *users, size_t nusers, bool heartbeat)
{
    const char *gid = p->gw->conf.gateway_id;
    size_t gl = strlen(gid);
    size_t cap = 3 + 8 + gl + 8 + 8 + 8 + len + 8;
    for (size_t i = 0; i < nusers; i++)
        cap += 8 + strlen(users[i]);
    uint8_t *buf = malloc(cap);
    if (!buf)
        return;
    size_t o = 0;
    buf[o++] = 'Q';
    buf[o++] = 'P';
    buf[o++] = 2;
    o += gw_put_varuint(buf + o, gl);
    memcpy(buf + o, gid, gl);
    o += gl;
    o += gw_put_varuint(buf + o, p->gw->epoch);
    o += gw_put_varuint(buf + o, heartbeat ? 1 : 0);
    o += gw_put_varuint(buf + o, len);
    if (len)
        memcpy(buf + o, update, len);
    o += len;
    o += gw_put_varuint(buf + o, nusers);
    for (size_t i = 0; i < nusers; i++) {
        size_t ul = strlen(users[i]);
        o += gw_put_varuint(buf + o, ul);
        memcpy(buf + o, users[i], ul);
        o += ul;
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(p->gw->topic_presence), RD_KAFKA_V_KEY(doc_id, strlen(doc_id)),
        RD_KAFKA_V_VALUE(buf, o), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
    if (err) {
        free(buf);
        QLOG_DEBUG("presence record dropped", "doc=%s err=\"%s\"", doc_id, rd_kafka_err2str(err));
    } else
        QLOG_DEBUG("presence record published", "doc=%s bytes=%zu entries=%zu", doc_id, o, nusers);
    rd_kafka_poll(p->rk, 0);
}

int gw_presence_decode(const uint8_t *buf, size_t len, gw_presence_rec_t *r)
{
    if (!buf || len < 3 || buf[0] != 'Q' || buf[1] != 'P' || buf[2] != 2)
        return -1;
    yjs_wire_t w = {buf + 3, buf + len};
    uint64_t gl, k, ul, n;
    if (!yjs_wire_varuint(&w, &gl) || gl == 0 || gl >= sizeof r->gateway || gl > yjs_wire_left(&w))
        return -1;
    memcpy(r->gateway, w.pos, gl);
    r->gateway[gl] = '\0';
    w.pos += gl;
    if (!yjs_wire_varuint(&w, &r->epoch) || !yjs_wire_varuint(&w, &k) || k > 1 ||
        !yjs_wire_varuint(&w, &ul) || ul > yjs_wire_left(&w))
        return -1;
    r->kind = (int)k;
    r->update = w.pos;
    r->len = (size_t)ul;
    w.pos += ul;
    if (!yjs_wire_varuint(&w, &n) || n > GW_AWARENESS_MAX_ENTRIES)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t l;
        if (!yjs_wire_varuint(&w, &l) || l == 0 || l > QUIRE_USER_MAX || l > yjs_wire_left(&w))
            return -1;
        r->users[i] = (const char *)w.pos;
        r->user_lens[i] = (size_t)l;
        w.pos += l;
    }
    r->nusers = (size_t)n;
    return yjs_wire_left(&w) == 0 ? 0 : -1;
}
