/*
 * ydoc — an integrated Yjs document in memory (the Yjs engine, part 2).
 *
 * What the projector, the gateway and the compactor hold per document: Yjs updates (v1) are
 * integrated into an item store exactly as Yjs 13.6 does it — YATA ordering of concurrent inserts
 * (origin, right origin, client id), deletes, map last-writer-wins, pending structs and deletes
 * whose dependencies are missing (held, bounded, integrated when the gap is filled), and garbage
 * collection of deleted content (Yjs's doc.gc: deleted content replaced, deleted children of
 * deleted types turned into GC structs, adjacent structs merged). From it: the state vector, the
 * state as an update (full or diffed against a state vector: SyncStep2), the part of an incoming
 * update the document does not have yet, and materialised content (Y.Text as a string and as a
 * formatting delta, XML fragments as Yjs's toString(), maps and arrays as toJSON()).
 *
 * Like the rest of lib/yjs: no I/O, never aborts on input, every input bounded by limits.
 *
 * OWNERSHIP AND THREADS
 *   - A ydoc_t is created with ydoc_new and freed with ydoc_destroy. It keeps no pointer into
 *     the updates given to it: every input buffer is borrowed for the duration of the call only.
 *   - Buffers returned through ret_* pointers are malloc'ed; the caller frees them with free().
 *     ret_* outputs are written only on success.
 *   - Strings returned by ydoc_root_name are borrowed from the document and stay valid until
 *     the next call that takes a non-const ydoc_t * (ydoc_apply, ydoc_trim, ydoc_destroy).
 *   - No globals: documents are independent. A document is thread-compatible, not thread-safe:
 *     one thread at a time — const functions included (lookups update internal search hints);
 *     different documents may be used by different threads freely.
 *
 * ERRORS (quire_err.h)
 *   QUIRE_ERR_EMPTY / _MALFORMED    the update or state vector is not valid (strict, as in
 *                                   yjs_decode.h); the document is unchanged.
 *   QUIRE_ERR_TOO_LARGE             the update exceeds limits.decode.max_update_bytes, or applying
 *                                   it could grow the document past limits.max_doc_bytes;
 *                                   unchanged.
 *   QUIRE_ERR_LIMIT                 counts over limits.decode; held structs or bytes would exceed
 *                                   max_pending_structs / max_pending_bytes; a clock of an
 *                                   integrated struct would reach 2^32 (see below); unchanged.
 *   QUIRE_ERR_MISSING_DEPS          only with YDOC_APPLY_NO_PENDING: the update would leave
 *                                   structs or deletes pending; unchanged.
 *   QUIRE_ERR_NOT_FOUND             ydoc_render: no root of that name.
 *   QUIRE_ERR_INVALID               a bad argument (NULL where a pointer is required, bad enum).
 *   QUIRE_ERR_NOMEM                 out of memory. Before the document is touched: unchanged.
 *                                   If an allocation fails half-way through an integration (the
 *                                   engine reserves memory first to make this unlikely), the
 *                                   document is marked broken and every later mutating call
 *                                   returns QUIRE_ERR_INTERNAL: destroy it and rebuild.
 *
 * CLOCKS: integrated structs must end below 2^32 per client (an honest client never gets near:
 * that is four billion characters typed by one client id). Held (pending) structs and delete
 * ranges use the full 53-bit range.
 *
 * EXACTNESS: the integrated document equals the Yjs document that received the same updates in
 * the same order — content, state vector, delete set, pending structs and deletes, and the
 * encoded state byte for byte. Deliberate differences: quire does not run Yjs's formatting
 * cleanup (a local edit a Yjs doc makes after remote changes that touch formatted text, which
 * clients broadcast as their own updates — the server document stays a pure function of the
 * log; until a client's cleanup arrives, toDelta may show a run split into two ops with equal
 * attributes where a Yjs doc shows one, and, rarely, with concurrent formatting, formatting a
 * Yjs doc's cleanup removed), and Y.Map key order in toJSON depends on integration
 * order in Yjs as in quire (YDOC_JSON_SORT_KEYS gives an order independent of history).
 */
#ifndef YDOC_H
#define YDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"
#include "yjs_decode.h"
#include "yjs_struct.h"
#include "yjs_update.h"

typedef struct ydoc_s ydoc_t;

/* Document flags (ydoc_limits_t.flags). */
enum {
    /* Keep deleted content (Yjs `new Y.Doc({ gc: false })`): deleted items keep their content
     * and are encoded with it. For history / snapshot-at-version documents. */
    YDOC_NO_GC = 1 << 0,
};

typedef struct ydoc_limits_s {
    yjs_limits_t decode;          /* per update (and per state vector) */
    uint64_t max_pending_structs; /* structs held while their dependencies are missing */
    size_t max_pending_bytes;     /* encoded size of held structs + held delete ranges */
    size_t max_doc_bytes;         /* cap on ydoc_memory(); 0 = no cap */
    unsigned flags;               /* YDOC_NO_GC */
} ydoc_limits_t;

/* Update caps as YJS_LIMITS_DEFAULT, 65,536 pending structs, 8 MiB pending, 1 GiB document, GC. */
#define YDOC_LIMITS_DEFAULT                                                                        \
    {                                                                                              \
        .decode = YJS_LIMITS_DEFAULT, .max_pending_structs = UINT64_C(1) << 16,                    \
        .max_pending_bytes = (size_t)8 << 20, .max_doc_bytes = (size_t)1 << 30, .flags = 0         \
    }

/*
 * Creates an empty document. limits may be NULL (YDOC_LIMITS_DEFAULT); it is copied. The caller
 * owns *ret_doc and frees it with ydoc_destroy.
 */
quire_err_t ydoc_new(const ydoc_limits_t *limits, ydoc_t **ret_doc);

/* Frees a document and everything it holds. Accepts NULL. */
void ydoc_destroy(ydoc_t *doc);

/* ---------------------------------------------------------------------------------------- */
/* Applying updates */

/* ydoc_apply flags. YJS_DECODE_SKIM (yjs_decode.h) is accepted and has no effect: a document
 * always validates updates fully, because its item lengths are UTF-16 counts that only valid
 * UTF-8 makes consistent — and the full check costs about 2% of integration. */
enum {
    /* Refuse (QUIRE_ERR_MISSING_DEPS, document unchanged) an update that would add pending
     * structs or deletes instead of holding them. */
    YDOC_APPLY_NO_PENDING = 1 << 8,
};

/* What one ydoc_apply call did (ydoc_apply_t.status bits). 0 = a no-op: everything in the
 * update was already in the document (or already pending). */
enum {
    YDOC_APPLIED = 1 << 0,       /* the document changed: structs integrated or content deleted */
    YDOC_PENDING_ADDED = 1 << 1, /* structs or deletes of this update are now held */
    YDOC_PENDING_RESOLVED = 1 << 2, /* held structs or deletes of earlier calls got integrated */
    YDOC_PENDING_REMAINS = 1 << 3,  /* after the call, something is still held */
};

typedef struct ydoc_apply_s {
    unsigned status;          /* YDOC_APPLIED | YDOC_PENDING_* */
    uint64_t integrated;      /* clock units integrated by this call (incl. resolved ones) */
    uint64_t deleted;         /* clock units newly marked deleted by this call */
    uint64_t pending_structs; /* structs held after the call */
    size_t pending_bytes;     /* their encoded size + held delete ranges, after the call */
    uint64_t missing_clients; /* number of entries ydoc_missing reports after the call */
} ydoc_apply_t;

/*
 * Integrates update[0..len) (Yjs v1, borrowed for the call) into doc, as Y.applyUpdate does:
 * what can be integrated is; structs whose dependencies (an earlier clock of their client, their
 * origin, right origin or parent) are missing are held with the rest of their client's structs,
 * and delete ranges over content not yet received are held; both are retried when later updates
 * fill the gap. The update is validated completely, and the limits checked, before anything
 * changes: on any error the document is unchanged (but see QUIRE_ERR_NOMEM above).
 *
 * flags: 0 or YDOC_APPLY_NO_PENDING (YJS_DECODE_SKIM is ignored). ret_result and ret_error may be
 * NULL; ret_error is filled on failure (message, byte offset).
 */
quire_err_t ydoc_apply(ydoc_t *doc, const uint8_t *update, size_t len, unsigned flags,
                       ydoc_apply_t *ret_result, yjs_error_t *ret_error);

/* True while structs or delete ranges are held. */
bool ydoc_has_pending(const ydoc_t *doc);

/*
 * What held structs wait for, as Yjs's store.pendingStructs.missing: per client, the first clock
 * that is missing. Writes up to cap ids to ret_ids (may be NULL when cap is 0), sorted by client;
 * returns how many there are. A client listed here whose clock never arrives means the held
 * structs can never integrate: callers refuse or quarantine such updates (see
 * YDOC_APPLY_NO_PENDING). Held delete ranges wait for the content they delete and are not listed.
 */
size_t ydoc_missing(const ydoc_t *doc, yjs_id_t *ret_ids, size_t cap);

/*
 * Everything held, as one update (held structs merged, held delete ranges), like yffi's
 * pending_update + pending_ds. *ret_update = NULL, *ret_len = 0 when nothing is held.
 */
quire_err_t ydoc_pending_update(const ydoc_t *doc, uint8_t **ret_update, size_t *ret_len);

/* ---------------------------------------------------------------------------------------- */
/* State, sync */

/* The document's state vector, encoded (Y.encodeStateVector(doc)): clients descending. */
quire_err_t ydoc_state_vector(const ydoc_t *doc, uint8_t **ret_sv, size_t *ret_len);

/*
 * The document as an update, Y.encodeStateAsUpdate(doc, sv): every struct at or beyond the
 * (encoded) state vector sv[0..sv_len), the whole delete set, plus held deletes and held structs
 * diffed against sv — the SyncStep2 answer to a SyncStep1 carrying sv. sv NULL / sv_len 0 means
 * the empty state vector: the full state. A malformed sv: QUIRE_ERR_MALFORMED. Byte-identical to
 * Yjs for a document Yjs built from the same updates in the same order, whenever their content is
 * encoded the way Yjs writes it (see lib/yjs/README.md).
 */
quire_err_t ydoc_encode_state(const ydoc_t *doc, const uint8_t *sv, size_t sv_len,
                              uint8_t **ret_update, size_t *ret_len, yjs_error_t *ret_error);

/*
 * What update[0..len) adds to doc, without changing doc: its structs not covered by the
 * document's state vector (cut at the boundary, as Yjs cuts a struct it integrates with an
 * offset), and its delete ranges minus the parts over content the document has already deleted.
 * On success *ret_update is that update, or NULL with *ret_len = 0 when the update adds nothing —
 * a reconnecting client's full SyncStep2 that the log already holds. Applying the result to doc
 * has exactly the effect of applying update. Structs the document holds as pending are kept in
 * the result (two copies of one struct may differ, and which one integrates is Yjs's choice; see
 * ydoc_sync.c). The update is validated fully (flags: 0; YJS_DECODE_SKIM is ignored).
 */
quire_err_t ydoc_novel(const ydoc_t *doc, const uint8_t *update, size_t len, unsigned flags,
                       uint8_t **ret_update, size_t *ret_len, yjs_error_t *ret_error);

/* ---------------------------------------------------------------------------------------- */
/* Content */

/* The type of a root. Updates do not record root types; ydoc infers them (ydoc_root_type). */
typedef enum ydoc_type_e {
    YDOC_TYPE_AUTO = 0, /* ydoc_render: infer; ydoc_root_name: nothing to infer from */
    YDOC_TYPE_TEXT,     /* Y.Text */
    YDOC_TYPE_XML,      /* Y.XmlFragment */
    YDOC_TYPE_MAP,      /* Y.Map */
    YDOC_TYPE_ARRAY,    /* Y.Array */
} ydoc_type_t;

/*
 * How to render a root:
 *   YDOC_FORMAT_JSON    toJSON() as JSON text: text and XML as a JSON string, map / array as
 *                       JSON (what ydoc_content_json puts in each member);
 *   YDOC_FORMAT_STRING  toString(): text and XML as the raw UTF-8 string (not JSON-quoted); maps
 *                       and arrays as JSON;
 *   YDOC_FORMAT_DELTA   Y.Text toDelta() as JSON ([{"insert": "…", "attributes": {…}}, …]);
 *                       for other types as YDOC_FORMAT_JSON.
 */
typedef enum ydoc_format_e {
    YDOC_FORMAT_JSON = 0,
    YDOC_FORMAT_STRING,
    YDOC_FORMAT_DELTA,
} ydoc_format_t;

/* Rendering flags. */
enum {
    /* Y.Map keys and root names in UTF-16 code unit order (as JavaScript sorts strings) instead
     * of Yjs's order of first integration, which depends on the order updates arrived in. Use it
     * wherever the output must depend on the document only (the read model). */
    YDOC_JSON_SORT_KEYS = 1 << 0,
};

/*
 * Materialised content: a JSON object with one member per root (roots with at least one
 * integrated struct, in order of first integration, or sorted with YDOC_JSON_SORT_KEYS), each
 * rendered as its inferred type's toJSON() (YDOC_FORMAT_JSON). NUL-terminated; *ret_len excludes
 * the NUL. Strings are UTF-8; a lone UTF-16 surrogate (a string Yjs holds but UTF-8 cannot) is
 * written as a \udXXX escape, as JSON.stringify does.
 */
quire_err_t ydoc_content_json(const ydoc_t *doc, unsigned flags, char **ret_json, size_t *ret_len);

/*
 * Renders root `name` (name[0..name_len), UTF-8) as `type` (YDOC_TYPE_AUTO: inferred) in
 * `format`. NUL-terminated output. QUIRE_ERR_NOT_FOUND when the document has no such root.
 * Rendering a root as a type it is not follows Yjs: e.g. a text root read as an array gives its
 * UTF-16 code units.
 */
quire_err_t ydoc_render(const ydoc_t *doc, const char *name, size_t name_len, ydoc_type_t type,
                        ydoc_format_t format, unsigned flags, char **ret, size_t *ret_len);

/*
 * The inferred type of root `name` (YDOC_TYPE_AUTO when it has nothing to infer from or does not
 * exist). Rules, in order, over the root's items (deleted ones included while they keep content):
 *   1. items with a map key (parentSub), and no list items        → YDOC_TYPE_MAP
 *   2. string, format or embed content in the list                → YDOC_TYPE_TEXT
 *   3. XmlElement / XmlText / XmlHook children                    → YDOC_TYPE_XML
 *   4. any other content (any, JSON, binary, subdocs, other types) → YDOC_TYPE_ARRAY
 *   5. only content-free deleted items (garbage-collected)        → YDOC_TYPE_AUTO,
 *      rendered as "" (what both an emptied Y.Text and an emptied XmlFragment give).
 * Ambiguous by nature: Y.Text vs Y.XmlText roots (rendered as Y.Text), Y.XmlElement roots
 * (rendered as a fragment of their children), a Y.Text holding only embedded Yjs types
 * (rendered as an array), and emptied roots (rule 5). lib/yjs/README.md has the details.
 */
ydoc_type_t ydoc_root_type(const ydoc_t *doc, const char *name, size_t name_len);

/* The number of roots (as listed by ydoc_content_json). */
size_t ydoc_root_count(const ydoc_t *doc);

/* Root i (0 ≤ i < ydoc_root_count) in order of first integration: its name (borrowed, see
 * OWNERSHIP; not NUL-terminated) and, when ret_type is not NULL, its inferred type. */
const char *ydoc_root_name(const ydoc_t *doc, size_t i, size_t *ret_len, ydoc_type_t *ret_type);

/* Y.Text / Y.Array `length` of root `name`: its visible countable units (UTF-16 code units of a
 * text, elements of an array; map entries are not counted). 0 when absent. */
uint64_t ydoc_root_length(const ydoc_t *doc, const char *name, size_t name_len);

/* ---------------------------------------------------------------------------------------- */
/* Memory */

/* The document's heap footprint in bytes: every allocation it holds, slack included. */
size_t ydoc_memory(const ydoc_t *doc);

typedef struct ydoc_stats_s {
    uint64_t clients;         /* clients with integrated structs */
    uint64_t structs;         /* structs in the store (items + GC structs, after merging) */
    uint64_t items_deleted;   /* of which deleted (content-free once garbage-collected) */
    uint64_t gc_structs;      /* of which GC structs */
    uint64_t roots;           /* roots */
    size_t content_bytes;     /* bytes of content held (strings, any, JSON, ...) */
    size_t content_garbage;   /* bytes of content freed by GC but not yet compacted */
    uint64_t pending_structs; /* held structs */
    size_t pending_bytes;     /* held structs + deletes, encoded */
    size_t memory;            /* ydoc_memory() */
} ydoc_stats_t;

/* Counters describing the document. */
void ydoc_stats(const ydoc_t *doc, ydoc_stats_t *ret_stats);

/* Compacts content storage and returns slack memory to the allocator (for an idle document).
 * The document's content is unchanged. QUIRE_ERR_NOMEM leaves it as it was. */
quire_err_t ydoc_trim(ydoc_t *doc);

#endif
