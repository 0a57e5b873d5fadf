/*
 * quire_admin — the operational HTTP endpoints every role serves: /healthz (the process is alive),
 * /readyz (it can do its job now: broker and database reachable, caught up, ...), /metrics
 * (Prometheus text). A role either runs its own small server on --admin-listen, or, when it
 * already speaks HTTP (the api), routes these paths through quire_admin_handle.
 */
#ifndef QUIRE_ADMIN_H
#define QUIRE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "quire_err.h"
#include "quire_metrics.h"

struct MHD_Connection;
typedef struct quire_admin_s quire_admin_t;

/* Readiness: return true when ready; otherwise write a short reason into buf. Called on the
 * server's thread. */
typedef bool (*quire_admin_ready_cb)(void *opaque, char *buf, size_t len);

/* Starts serving on "host:port" (port 0 = an ephemeral port; see quire_admin_port). `metrics` is
 * borrowed and must outlive the server. Returns NULL and fills errbuf on failure. */
quire_admin_t *quire_admin_new(const char *listen, quire_metrics_t *metrics,
                               quire_admin_ready_cb ready, void *opaque, char *errbuf,
                               size_t errlen);
void quire_admin_destroy(quire_admin_t *a);
int quire_admin_port(const quire_admin_t *a);

/* For servers that own their HTTP: if url is /healthz, /readyz or /metrics, queue the answer on
 * conn and return true (ret_result gets the MHD result); otherwise return false. */
bool quire_admin_handle(quire_metrics_t *metrics, quire_admin_ready_cb ready, void *opaque,
                        struct MHD_Connection *conn, const char *url, int *ret_result);

/* Splits "host:port" (host may be empty = all interfaces; [v6]:port accepted). */
quire_err_t quire_admin_parse_listen(const char *listen, char *host, size_t hostlen, int *ret_port);

#endif
