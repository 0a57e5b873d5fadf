/* api_routes — the handlers of `quire api`, one declaration per route (table in api_main.c). */
#ifndef API_ROUTES_H
#define API_ROUTES_H

#include "api_server.h"

api_next_t api_post_updates(api_req_t *req, void *ctx);

#endif
