/*
 * quire_access — who may do what with a document, and whose Yjs client ids are whose (DESIGN §7,
 * docs/auth.md). Shared by the api and the gateways.
 *
 *   roles      owner ⊃ editor ⊃ viewer, in doc_members. A document the user is no member of, an
 *              unknown document and a deleted one all give QUIRE_ROLE_NONE: callers answer 404 for
 *              all three alike. A document with no owner row whose read-model owner
 *              (documents.owner, the actor of its first event in the log) is the user gives
 *              OWNER, and the row is written then: ownership survives losing these tables.
 *   claim      creating a document makes its creator owner: insert-if-absent, only while the
 *              document has neither members nor a read-model row; one owner per document
 *              (a unique index), so of two concurrent claims exactly one wins.
 *   sessions   a session (the `sid` of an access token) revoked by logout, refresh-token reuse or a
 *              password change fails quire_access_session; a sid with no row (a bearer token from
 *              `quire token issue`) passes.
 *   clients    the first authorised write carrying structs of a Yjs client id binds (document,
 *              client id) to its user (insert-if-absent, doc_clients); a write carrying structs of
 *              a client id bound to another user is refused (QUIRE_ERR_SPOOFED).
 *
 * Caching (in process, thread-safe, bounded): bindings never change, so a cached binding is kept
 * until evicted. Roles and active sessions are kept at most cache_ttl_ms (default 5 s): a change
 * made by another process reaches this one within that bound, or at once when the caller passes
 * the matching control message to quire_access_forget (the gateway does, for every message on
 * <prefix>.control). Revoked sessions are remembered (revocation is permanent). Negative role
 * answers are never cached.
 *
 * Threads: every function may be called from any thread. Functions that may query PostgreSQL
 * block for up to pg_timeout_ms (plus the query) — call them from worker threads, never from an
 * event loop; the *_cached variants never block and say QUIRE_ERR_NOT_FOUND when the cache cannot
 * answer.
 *
 * Errors: QUIRE_ERR_UNAVAILABLE when PostgreSQL cannot be asked (retriable: refuse the request
 * with 503 / close with a retriable code, never grant).
 */
#ifndef QUIRE_ACCESS_H
#define QUIRE_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "quire_pgpool.h"
#include "quire_token.h"
#include "yjs_update.h"

typedef enum quire_role_e {
    QUIRE_ROLE_NONE = 0,
    QUIRE_ROLE_VIEWER = 1,
    QUIRE_ROLE_EDITOR = 2,
    QUIRE_ROLE_OWNER = 3,
} quire_role_t;

/* "none", "viewer", "editor", "owner". */
const char *quire_role_name(quire_role_t role);
/* Parses "viewer", "editor" or "owner"; QUIRE_ERR_INVALID otherwise. */
quire_err_t quire_role_parse(const char *s, quire_role_t *ret_role);

typedef struct quire_access_s quire_access_t;

typedef struct quire_access_conf_s {
    quire_pgpool_t *pool;              /* borrowed; must outlive the quire_access_t */
    int pg_timeout_ms;                 /* waiting for a pooled connection (default 5000) */
    int64_t cache_ttl_ms;              /* roles and active sessions (0 = no caching of them) */
    size_t cache_entries;              /* per cache (roles, sessions, bindings); default 100000 */
    int64_t (*clock_ms)(void *opaque); /* monotonic ms; NULL = CLOCK_MONOTONIC (tests inject) */
    void *clock_opaque;
} quire_access_conf_t;

/* NULL on out of memory. conf is copied. */
quire_access_t *quire_access_new(const quire_access_conf_t *conf);
/* Accepts NULL. No call may be running. */
void quire_access_destroy(quire_access_t *a);

/* ---- roles ---------------------------------------------------------------------------------- */

/* The user's role in the document (NONE when not a member, unknown or deleted). Cached. */
quire_err_t quire_access_role(quire_access_t *a, const char *doc_id, const char *user,
                              quire_role_t *ret_role);
/* Never blocks: the cached role, or QUIRE_ERR_NOT_FOUND when the cache has none. */
quire_err_t quire_access_role_cached(quire_access_t *a, const char *doc_id, const char *user,
                                     quire_role_t *ret_role);

/* For creating a document (POST /v1/docs, or a first write with create-on-write): makes user the
 * owner when the document has no members and no read-model row yet, and answers the user's role
 * afterwards — OWNER when the claim succeeded or the user already owned it; otherwise what
 * quire_access_role answers (so another user's document gives NONE or that user's share). */
quire_err_t quire_access_claim(quire_access_t *a, const char *doc_id, const char *user,
                               quire_role_t *ret_role);

/* Shares: sets user's role (VIEWER or EDITOR) in doc_id, granted by `by`. QUIRE_ERR_CONFLICT when
 * user is the owner (an owner's role never changes), QUIRE_ERR_INVALID for another role. */
quire_err_t quire_access_set_role(quire_access_t *a, const char *doc_id, const char *user,
                                  quire_role_t role, const char *by);
/* Removes user's membership. QUIRE_ERR_NOT_FOUND when not a member, QUIRE_ERR_CONFLICT for the
 * owner. */
quire_err_t quire_access_remove(quire_access_t *a, const char *doc_id, const char *user);

typedef struct quire_member_s {
    char user[QUIRE_USER_MAX + 1];
    quire_role_t role;
} quire_member_t;

/* The members of a document, owner first then by user id, at most max. *ret_members is malloc'd
 * (free() it; NULL when there are none). */
quire_err_t quire_access_members(quire_access_t *a, const char *doc_id, size_t max,
                                 quire_member_t **ret_members, size_t *ret_n);

typedef struct quire_member_doc_s {
    char doc_id[129];
    quire_role_t role;
    int64_t version;       /* -1 until the read model has the document */
    int64_t updated_at_ms; /* -1 likewise */
} quire_member_doc_t;

/* The documents user is a member of (deleted ones left out), most recently updated first, at
 * most max. *ret_docs is malloc'd (free() it; NULL when there are none). */
quire_err_t quire_access_documents(quire_access_t *a, const char *user, size_t max,
                                   quire_member_doc_t **ret_docs, size_t *ret_n);

/* ---- sessions ------------------------------------------------------------------------------- */

/* QUIRE_OK when the session may still be used (active, or not a login session at all: bearer
 * tokens), QUIRE_ERR_UNAUTHENTICATED when it was revoked or has ended. now_s is wall-clock time
 * (the session's absolute end is compared with it). Cached. */
quire_err_t quire_access_session(quire_access_t *a, const char *session, int64_t now_s);

/* ---- client ids ----------------------------------------------------------------------------- */

/* The ingest hook (ingest_conf_t.check_clients, opaque = the quire_access_t): binds every
 * unbound client of ranges in doc_id to actor and answers QUIRE_OK when all are then actor's,
 * QUIRE_ERR_SPOOFED when any is another user's (nothing is bound then... except what a concurrent
 * writer bound), QUIRE_ERR_UNAVAILABLE when PostgreSQL cannot be asked. Client ids above
 * INT64_MAX cannot be bound and give QUIRE_ERR_SPOOFED. */
quire_err_t quire_access_check_clients(void *access, const char *doc_id, const char *actor,
                                       const yjs_client_range_t *ranges, size_t nranges);
/* Never blocks: QUIRE_OK when every client is cached as actor's, QUIRE_ERR_SPOOFED when one is
 * cached as another's, QUIRE_ERR_NOT_FOUND when some are not cached (call the blocking one). */
quire_err_t quire_access_clients_cached(quire_access_t *a, const char *doc_id, const char *actor,
                                        const yjs_client_range_t *ranges, size_t nranges);

/* ---- revocation ----------------------------------------------------------------------------- */

/* Applies a control message (docs/auth.md) to the caches: "session:<sid>" marks the session
 * revoked; "user:<user>" drops that user's cached sessions; "doc:<id>" drops the document's
 * cached roles; "member:<doc>:<user>" drops that role. Anything else is ignored. */
void quire_access_forget(quire_access_t *a, const char *subject);

#endif
