/* api_routes — the handlers of `quire api`, one declaration per route (table in api_main.c). */
#ifndef API_ROUTES_H
#define API_ROUTES_H

#include "api_server.h"

api_next_t api_post_updates(api_req_t *req, void *ctx);
api_next_t api_post_docs(api_req_t *req, void *ctx);     /* api_docs_lifecycle.c */
api_next_t api_delete_doc(api_req_t *req, void *ctx);    /* api_docs_lifecycle.c */
api_next_t api_get_doc(api_req_t *req, void *ctx);       /* api_docs_read.c */
api_next_t api_get_doc_state(api_req_t *req, void *ctx); /* api_docs_read.c */
api_next_t api_get_history(api_req_t *req, void *ctx);   /* api_history.c */
api_next_t api_get_docs(api_req_t *req, void *ctx);      /* api_members.c */
api_next_t api_get_members(api_req_t *req, void *ctx);   /* api_members.c */
api_next_t api_put_member(api_req_t *req, void *ctx);    /* api_members.c */
api_next_t api_delete_member(api_req_t *req, void *ctx); /* api_members.c */

#endif
