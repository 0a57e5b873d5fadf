/*
 * ydoc_int — the internals of ydoc (not a public header): the item store shared by the
 * integration (ydoc.c), the sync helpers (ydoc_sync.c) and rendering (ydoc_render.c).
 *
 * DESIGN
 *   Items. Every struct of the document (Item or GC) is a 52-byte yitem_t in one array, addressed
 *   by a 32-bit index (0 = none). Ids are (client index, 32-bit clock); the client index maps to
 *   the 53-bit client id through the client table. Items are run-length: one item holds a run of
 *   clocks (a typed word is one item), and items are split and merged exactly where Yjs splits and
 *   merges its structs, so the store has Yjs's struct layout (and encodes byte-identically).
 *
 *   Per client, an index of its items by clock: a directory of blocks of ≤ YBLK_CAP item indices
 *   (a two-level B+-tree), so finding the item that holds a clock is two binary searches and a
 *   split or merge moves at most one block. A per-client hint remembers the last hit: typing and
 *   most integration touch the same place again.
 *
 *   Content bytes live in a per-client buffer in clock order (strings as UTF-8, other contents as
 *   their wire encoding minus the count prefix). Consecutive items of one client are consecutive
 *   in that buffer, so merging two string items is an addition, not a copy, and splitting is
 *   arithmetic. Garbage-collected content leaves holes that the buffer is compacted over when they
 *   exceed an eighth of it.
 *
 *   Sequences. Each type has a list (yseq_t with key = NONE) and one yseq_t per map key; an item's
 *   `parent` is its sequence, so parentSub costs nothing per item. A sequence knows its first and
 *   last item (Yjs's _start and _map.get(key)); map keys of a type are chained in the order Yjs's
 *   _map first saw them.
 */
#ifndef YDOC_INT_H
#define YDOC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ydoc.h"
#include "yjs_buf.h"
#include "yjs_decode.h"
#include "yjs_ds.h"
#include "yjs_update.h"

#define YNONE      UINT32_MAX /* "no client" in an origin; "no key" in a sequence */
#define YBLK_CAP   62
#define YCLOCK_MAX (UINT32_MAX - 1)

/* yitem_t.ref: Yjs content refs (1..9) and GC. */
#define YREF_GC 0

/* yitem_t.flags */
enum {
    YF_DELETED = 1 << 0,
    YF_COUNTABLE = 1 << 1,
    YF_ASCII = 1 << 2,      /* string content is all ASCII: UTF-16 units = bytes */
    YF_LEAD_FFFD = 1 << 3,  /* string content starts with a U+FFFD not in the bytes */
    YF_TRAIL_FFFD = 1 << 4, /* string content ends with a U+FFFD not in the bytes */
    YF_FREE = 1 << 7,       /* slot on the free list */
};

typedef struct yitem_s {
    uint32_t client; /* client index */
    uint32_t clock;
    uint32_t len;
    uint32_t left, right; /* neighbours in the sequence (item indices, 0 = none) */
    uint32_t ocl, ock;    /* origin (client index or YNONE, clock) */
    uint32_t rcl, rck;    /* right origin */
    uint32_t parent;      /* sequence index */
    uint32_t coff;        /* content: offset in the client buffer; ContentType: type index */
    uint32_t cbytes;      /* content bytes in the client buffer */
    uint8_t ref;          /* content ref, YREF_GC for GC structs */
    uint8_t flags;
    uint16_t extra; /* ContentType: type ref; JSON/Any: 0 */
} yitem_t;

typedef struct yblk_s {
    uint32_t n;
    uint32_t idx[YBLK_CAP];
} yblk_t;

typedef struct yclient_s {
    uint64_t id;    /* the 53-bit Yjs client id */
    uint32_t state; /* next clock expected */
    uint32_t nblk;  /* blocks in use */
    uint32_t blkcap;
    uint32_t hint_b; /* last block found */
    uint32_t hint_o; /* and the offset in it */
    yblk_t **blk;    /* directory */
    uint32_t *first; /* first clock of each block */
    uint8_t *cbuf;   /* content bytes */
    uint32_t clen, ccap;
    uint32_t cgarbage;  /* bytes of cbuf no item refers to */
    uint32_t tx_before; /* state at the start of the current transaction */
    uint32_t tx_stamp;  /* transaction that recorded tx_before */
} yclient_t;

typedef struct ytype_s {
    uint32_t item;      /* the item holding the ContentType; 0 for a root */
    uint32_t name;      /* root: key id of its name */
    uint32_t list;      /* sequence of the list part (always present) */
    uint32_t map_first; /* first map-key sequence (Yjs _map order), 0 = none */
    uint32_t map_last;
    uint64_t length;  /* visible countable units of the list (Yjs _length) */
    uint8_t type_ref; /* yjs_type_ref_t, 0xff for roots */
    uint8_t live;
} ytype_t;

typedef struct yseq_s {
    uint32_t type;
    uint32_t key;   /* key id, YNONE for the list */
    uint32_t first; /* leftmost item */
    uint32_t last;  /* rightmost item */
    uint32_t next;  /* next map key of the type */
} yseq_t;

/* u64 → u32 open-addressing map (linear probing, backward-shift deletion). */
typedef struct yhmap_s {
    uint64_t *keys;
    uint32_t *vals; /* 0 = empty slot */
    uint32_t cap;   /* power of two or 0 */
    uint32_t n;
} yhmap_t;

/* Interned strings (root names, map keys). */
typedef struct ykeys_s {
    uint8_t *bytes;
    size_t len, cap;
    uint32_t *off; /* key id → offset; key ids start at 1 */
    uint32_t *klen;
    uint32_t n, kcap;
    uint32_t *slots; /* hash table of key ids */
    uint32_t scap;
} ykeys_t;

/* A set of item indices, cleared in O(1) by bumping a generation. */
typedef struct yset_s {
    uint32_t *key, *gen;
    uint32_t cap, n, g;
} yset_t;

enum {
    YS_GROUPS, /* the update's client groups */
    YS_GROUPS2,
    YS_RANGES,
    YS_CUR,
    YS_ORDER,
    YS_STACK,
    YS_REST,
    YS_MISSING,
    YS_CURMAP_K,
    YS_CURMAP_V,
    YS_SIM_K,
    YS_SIM_V,
    YS_TX_DS,
    YS_TX_MS,
    YS_TX_CHG,
    YS_TX_WORK,
    YS_STASH,
    YS_STASH_DS,
    YS_NSLOTS
};

struct ydoc_s {
    ydoc_limits_t limits;
    bool broken;
    uint32_t tx;

    yitem_t *it;
    uint32_t nit, itcap, itfree, nlive;

    yclient_t *cl;
    uint32_t ncl, clcap;
    size_t cmem;   /* bytes of all clients' blocks, block directories and content buffers */
    yhmap_t clmap; /* client id → client index + 1 */

    ytype_t *ty;
    uint32_t nty, tycap, tyfree;
    yseq_t *sq;
    uint32_t nsq, sqcap, sqfree;
    yhmap_t seqmap;  /* (type << 32 | key) → seq index */
    yhmap_t rootmap; /* key id → type index */
    uint32_t *roots; /* root type indices in order of creation */
    uint32_t nroots, rootcap;

    ykeys_t keys;

    /* pending structs: a v1 update; missing: client id → clock */
    uint8_t *pend;
    size_t pend_len;
    uint64_t pend_structs;
    yjs_id_t *missing;
    size_t nmissing, missingcap;
    /* pending delete ranges (client ids, 53-bit) */
    yjs_ds_range_t *pds;
    size_t npds, pdscap;

    /* scratch arrays reused by every call (see yd_borrow) */
    void *scratch[YS_NSLOTS];
    size_t scratch_cap[YS_NSLOTS];
    yset_t set_before, set_conflicting; /* YATA's itemsBeforeOrigin and conflictingItems */
};

/* Scratch: ydoc_apply needs a dozen small arrays per call; they are borrowed from the document
 * and returned (kept up to YD_SCRATCH_KEEP bytes each), so a call allocates nothing in the
 * common case. A slot borrowed twice gives NULL the second time (the borrower allocates). */
#define YD_SCRATCH_KEEP ((size_t)1 << 20)
#define YD_STASH        16

static inline void *yd_borrow(ydoc_t *d, int slot, size_t *ret_cap_bytes)
{
    void *p = d->scratch[slot];
    *ret_cap_bytes = d->scratch_cap[slot];
    d->scratch[slot] = NULL;
    d->scratch_cap[slot] = 0;
    return p;
}

static inline void yd_return(ydoc_t *d, int slot, void *p, size_t cap_bytes)
{
    free(d->scratch[slot]);
    if (!p || cap_bytes > YD_SCRATCH_KEEP) {
        free(p);
        p = NULL;
        cap_bytes = 0;
    }
    d->scratch[slot] = p;
    d->scratch_cap[slot] = cap_bytes;
}

/* ---- store access (ydoc.c) ---- */

static inline yitem_t *yd_item(const ydoc_t *d, uint32_t i)
{
    return &d->it[i];
}

/* The item holding (client index, clock), or 0 when the client has no such clock. */
uint32_t yd_find(const ydoc_t *d, uint32_t client, uint32_t clock);

/* The client index of a client id, or YNONE. */
uint32_t yd_client_index(const ydoc_t *d, uint64_t id);

/* Key bytes of key id k. */
static inline const uint8_t *yd_key(const ydoc_t *d, uint32_t k, size_t *ret_len)
{
    *ret_len = d->keys.klen[k];
    return d->keys.bytes + d->keys.off[k];
}

/* Key id of bytes, or 0 when never interned. */
uint32_t yd_key_find(const ydoc_t *d, const uint8_t *s, size_t len);

/* Content bytes of an item (for its content kind; see ydoc_int.h DESIGN). Only meaningful for
 * contents with bytes (ContentType keeps a type index in coff). */
static inline const uint8_t *yd_content(const ydoc_t *d, const yitem_t *it)
{
    const uint8_t *b = d->cl[it->client].cbuf;
    return b ? b + it->coff : (const uint8_t *)"";
}

/* ---- updates read once (ydoc.c), for ydoc_apply and ydoc_novel ---- */

typedef struct ygrp_s {
    uint64_t client;
    uint64_t n;        /* structs */
    uint64_t end;      /* clock after the last struct */
    size_t first;      /* index of its first struct in the stash (yupd_t.st) */
    yjs_decoder_t dec; /* positioned before the group header */
} ygrp_t;

/* An update decoded once: where its client groups and its delete set start. */
typedef struct yupd_s {
    ydoc_t *owner; /* scratch owner (NULL: plain malloc); slot for g */
    int slot;
    ygrp_t *g;
    size_t ng, gcap;
    yjs_decoder_t ds; /* positioned at the delete set */
    uint64_t nstructs, nranges;
    size_t content_bytes;
    /* Read with an owner: every struct integrates in order against the owner's current state
     * (no gap, no Skip, no dependency on another client's clocks it lacks, no repeated
     * client) and every delete range lies below the state after it — Yjs's loop then never
     * meets a missing dependency, and nothing can become pending. */
    bool simple;
    /* Small updates (the common case: one edit) keep their decoded structs and delete ranges,
     * so integration does not decode them again. Valid when n ≤ YD_STASH. */
    yjs_struct_t *st;
    size_t nst, stcap;
    yjs_ds_range_t *sd;
    size_t nsd, sdcap;
    yjs_client_range_t *r; /* clock ranges of the kept groups' structs (Skips excluded) */
    size_t nr, rcap;
} yupd_t;

/* Limits for re-reading what the document wrote itself (pending structs). */
extern const yjs_limits_t yd_internal_limits;

/* Validates update completely and records its client groups. */
quire_err_t yd_upd_read(ydoc_t *owner, int slot, const uint8_t *update, size_t len,
                        const yjs_limits_t *limits, unsigned flags, yupd_t *u,
                        yjs_error_t *ret_error);
/* Keeps the last group of every client, as Yjs's readClientsStructRefs (a Map) does. */
quire_err_t yd_upd_dedup(yupd_t *u);
void yd_upd_free(yupd_t *u);
/* Fills *e (may be NULL) and returns err. dec (may be NULL) supplies the message and offset. */
quire_err_t yd_set_err(yjs_error_t *e, quire_err_t err, const yjs_decoder_t *dec, const char *msg);

/* ---- rendering (ydoc_render.c) ---- */

/* Type inference of a type's content (see ydoc_root_type). */
ydoc_type_t yd_infer(const ydoc_t *d, uint32_t type);

#endif
