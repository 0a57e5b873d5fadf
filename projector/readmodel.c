/*
 * readmodel — see the header for the position rule every function here relies on.
 *
 * Each load is one REPEATABLE READ, READ ONLY transaction, so all its statements see one
 * snapshot: a projector batch committed in between is either wholly visible or not at all.
 * Updates are merged with the document-free engine (YJS_DECODE_SKIM: the projector validated
 * every event before indexing it; bounds are still checked).
 */
#include "readmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgval.h"
#include "yjs_update.h"

#define MS_OF(col) "(extract(epoch FROM " col ") * 1000)::int8"

const char *readmodel_engine_version(void)
{
    return "quire-yjs/" QUIRE_VERSION;
}

void readmodel_doc_deinit(readmodel_doc_t *d)
{
    if (!d)
        return;
    free(d->state);
    free(d->owner);
    free(d->content);
    memset(d, 0, sizeof *d);
}

static bool ok_result(PGresult *r)
{
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
}

static quire_err_t begin_snapshot(PGconn *pg)
{
    PGresult *r = PQexec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? QUIRE_OK : QUIRE_ERR_PG;
}

static void end_snapshot(PGconn *pg)
{
    PGresult *r = PQexec(pg, "ROLLBACK");
    PQclear(r);
}

static PGresult *query(PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 1);
    if (!ok_result(r)) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Merges base (may be NULL) and the update column of rows [0, n) of r. */
static quire_err_t merge_rows(const uint8_t *base, size_t base_len, const PGresult *r, int col,
                              uint8_t **ret_state, size_t *ret_len)
{
    int n = r ? PQntuples(r) : 0;
    size_t total = (size_t)n + 1, k = 0;
    const uint8_t **ups = malloc(total * sizeof *ups);
    size_t *lens = malloc(total * sizeof *lens);
    if (!ups || !lens) {
        free(ups);
        free(lens);
        return QUIRE_ERR_NOMEM;
    }
    if (base && base_len) {
        ups[k] = base;
        lens[k++] = base_len;
    }
    for (int i = 0; i < n; i++) {
        if (PQgetlength(r, i, col) == 0)
            continue; /* lifecycle events carry no update */
        ups[k] = (const uint8_t *)PQgetvalue(r, i, col);
        lens[k++] = (size_t)PQgetlength(r, i, col);
    }
    if (k == 1) {
        /* one stored state, nothing on top: it is already the merged update */
        size_t len0 = lens[0];
        uint8_t *copy = malloc(len0);
        if (copy)
            memcpy(copy, ups[0], len0);
        free(ups);
        free(lens);
        if (!copy)
            return QUIRE_ERR_NOMEM;
        *ret_state = copy;
        *ret_len = len0;
        return QUIRE_OK;
    }
    yjs_error_t e;
    quire_err_t err = yjs_update_merge(ups, lens, k, NULL, YJS_DECODE_SKIM, ret_state, ret_len, &e);
    free(ups);
    free(lens);
    if (err && err != QUIRE_ERR_NOMEM)
        err = QUIRE_ERR_MALFORMED;
    return err;
}

/* Columns of the event queries below. */
enum { EV_OFFSET, EV_PARTITION, EV_KIND, EV_UPDATE, EV_TIME, EV_ACTOR, EV_SIZE };
#define EVENT_COLS                                                                                 \
    "\"offset\", partition, kind, \"update\", " MS_OF("broker_time") ", actor, size::int8"

/* Columns of the snapshot queries below: the state and the read-model metadata at its point
 * (migrations/0020_snapshots.sql; rows without metadata are not used as a load's base). */
enum {
    SN_POSITION,
    SN_YDOC,
    SN_VERSION,
    SN_PARTITION,
    SN_COUNT,
    SN_BYTES,
    SN_OWNER,
    SN_FIRST,
    SN_TIME,
    SN_DELETED
};
#define SNAPSHOT_COLS                                                                              \
    "position, ydoc, version, partition, event_count, event_bytes, owner, " MS_OF(                 \
        "first_time") ", " MS_OF("broker_time") ", deleted"

/* The same columns with the state's size instead of the state (choosing a base first). */
#define SNAPSHOT_META_COLS                                                                         \
    "position, octet_length(ydoc)::int8, version, partition, event_count, event_bytes, "           \
    "owner, " MS_OF("first_time") ", " MS_OF("broker_time") ", deleted"

/* Fills d's metadata from row 0 of a snapshot query (base_len: the state's size). */
static void from_snapshot(const PGresult *s, size_t base_len, readmodel_doc_t *d)
{
    d->partition = pgval_i32(s, 0, SN_PARTITION);
    d->version = pgval_i64(s, 0, SN_VERSION);
    d->lifecycle = pgval_bool(s, 0, SN_DELETED) ? READMODEL_DELETED : READMODEL_ACTIVE;
    d->event_count = pgval_i64(s, 0, SN_COUNT);
    d->event_bytes = pgval_i64(s, 0, SN_BYTES);
    d->owner = pgval_dup(s, 0, SN_OWNER, NULL);
    d->created_ms = pgval_i64(s, 0, SN_FIRST);
    d->updated_ms = pgval_i64(s, 0, SN_TIME);
    d->base_kind = READMODEL_BASE_SNAPSHOT;
    d->base_position = pgval_i64(s, 0, SN_POSITION);
    d->base_len = base_len;
}

/*
 * The base is chosen on metadata first, then only its state is fetched: the newest snapshot
 * when there is no row, when it is ahead of the row, when it holds everything the row holds (same
 * latest event), or when it plus the events since it are fewer bytes than the row — a snapshot is
 * garbage-collected, the row's binary merge keeps deleted content and can be many times larger
 * (automerge-paper: 2.7 MB vs 0.27 MB). Otherwise the row.
 */
static quire_err_t load(PGconn *pg, const char *topic, const char *doc_id, bool own_txn,
                        readmodel_doc_t *ret)
{
    if (!pg || !topic || !doc_id || !ret)
        return QUIRE_ERR_INVALID;
    quire_err_t err = own_txn ? begin_snapshot(pg) : QUIRE_OK;
    if (err)
        return err;
    readmodel_doc_t d = {.version = -1, .partition = -1};
    PGresult *row = NULL, *tail = NULL, *off = NULL, *snap = NULL, *blob = NULL;
    const char *p1[] = {doc_id};
    row = query(pg,
                "SELECT partition, version, position, (lifecycle = 'deleted'), "
                "octet_length(ydoc)::int8, event_count, event_bytes, owner, " MS_OF(
                    "created_at") ", " MS_OF("updated_at") " FROM documents WHERE doc_id = $1",
                1, p1);
    snap = row ? query(pg,
                       "SELECT " SNAPSHOT_META_COLS " FROM doc_snapshots WHERE doc_id = $1 AND "
                       "event_bytes IS NOT NULL ORDER BY position DESC LIMIT 1",
                       1, p1)
               : NULL;
    if (!row || !snap) {
        err = QUIRE_ERR_PG;
        goto out;
    }
    bool has_row = PQntuples(row) == 1;
    int64_t position = 0, row_version = -1;
    if (has_row) {
        d.partition = pgval_i32(row, 0, 0);
        d.version = row_version = pgval_i64(row, 0, 1);
        position = pgval_i64(row, 0, 2);
        d.lifecycle = pgval_bool(row, 0, 3) ? READMODEL_DELETED : READMODEL_ACTIVE;
        d.event_count = pgval_i64(row, 0, 5);
        d.event_bytes = pgval_i64(row, 0, 6);
        d.owner = pgval_dup(row, 0, 7, NULL);
        d.created_ms = pgval_i64(row, 0, 8);
        d.updated_ms = pgval_i64(row, 0, 9);
        d.base_kind = READMODEL_BASE_ROW;
        d.base_position = position;
        d.base_len = (size_t)pgval_i64(row, 0, 4);
    }
    /* Bytes to read and merge either way: the snapshot plus the events the row holds beyond it,
     * against the row (the events after the row are read either way). */
    bool use_snap = PQntuples(snap) == 1 &&
                    (!has_row || pgval_i64(snap, 0, SN_POSITION) > position ||
                     pgval_i64(snap, 0, SN_VERSION) >= row_version ||
                     pgval_i64(snap, 0, SN_YDOC) + (d.event_bytes - pgval_i64(snap, 0, SN_BYTES)) <
                         (int64_t)d.base_len);
    /* with the same latest event, the row's stored content is the snapshot's content too */
    bool same_as_row = use_snap && has_row && pgval_i64(snap, 0, SN_VERSION) == row_version;
    if (use_snap) {
        free(d.owner);
        d.owner = NULL;
        from_snapshot(snap, (size_t)pgval_i64(snap, 0, SN_YDOC), &d);
        position = d.base_position;
    }
    bool has_base = has_row || use_snap;
    char posbuf[24];
    snprintf(posbuf, sizeof posbuf, "%lld", (long long)position);
    const char *p2[] = {doc_id, posbuf};
    if (use_snap)
        blob = query(pg,
                     "SELECT s.ydoc, (SELECT content::text FROM documents WHERE doc_id = $1) FROM "
                     "doc_snapshots s WHERE s.doc_id = $1 AND s.position = $2::int8",
                     2, p2);
    else if (has_row)
        blob = query(pg, "SELECT ydoc, content::text FROM documents WHERE doc_id = $1", 1, p1);
    tail = query(pg,
                 "SELECT " EVENT_COLS " FROM doc_events WHERE doc_id = $1 AND \"offset\" >= $2 "
                 "ORDER BY \"offset\"",
                 2, p2);
    if (!tail || (has_base && (!blob || PQntuples(blob) != 1))) {
        err = QUIRE_ERR_PG;
        goto out;
    }
    int nt = PQntuples(tail);
    if (!has_base && nt == 0) {
        err = QUIRE_ERR_NOT_FOUND;
        goto out;
    }
    for (int i = 0; i < nt; i++) {
        if (d.partition < 0)
            d.partition = pgval_i32(tail, i, EV_PARTITION);
        if (!has_base && i == 0) {
            d.created_ms = pgval_i64(tail, i, EV_TIME);
            d.owner = pgval_dup(tail, i, EV_ACTOR, NULL);
        }
        d.version = pgval_i64(tail, i, EV_OFFSET);
        d.updated_ms = pgval_i64(tail, i, EV_TIME);
        d.event_count++;
        d.event_bytes += pgval_i64(tail, i, EV_SIZE);
        d.tail_events++;
        d.tail_bytes += pgval_i64(tail, i, EV_SIZE);
        if (pgval_i16(tail, i, EV_KIND) == 2)
            d.lifecycle = READMODEL_DELETED;
    }
    char partbuf[16];
    snprintf(partbuf, sizeof partbuf, "%d", d.partition);
    const char *p3[] = {topic, partbuf};
    off = query(pg, "SELECT next_offset FROM projector_offsets WHERE topic = $1 AND partition = $2",
                2, p3);
    if (!off) {
        err = QUIRE_ERR_PG;
        goto out;
    }
    /* Without an offsets row (cannot happen while the invariant holds) the events themselves
     * bound what is covered. */
    d.next_offset = PQntuples(off) == 1 ? pgval_i64(off, 0, 0) : d.version + 1;
    err = merge_rows(has_base ? (const uint8_t *)PQgetvalue(blob, 0, 0) : NULL,
                     has_base ? (size_t)PQgetlength(blob, 0, 0) : 0, tail, EV_UPDATE, &d.state,
                     &d.state_len);
    if (err)
        goto out;
    if (has_row && (!use_snap || same_as_row) && nt == 0 && !PQgetisnull(blob, 0, 1))
        d.content = pgval_dup(blob, 0, 1, &d.content_len);
out:
    PQclear(row);
    PQclear(snap);
    PQclear(blob);
    PQclear(tail);
    PQclear(off);
    if (own_txn)
        end_snapshot(pg);
    if (err) {
        readmodel_doc_deinit(&d);
        return err;
    }
    *ret = d;
    return QUIRE_OK;
}

quire_err_t readmodel_load(PGconn *pg, const char *topic, const char *doc_id, readmodel_doc_t *ret)
{
    return load(pg, topic, doc_id, true, ret);
}

quire_err_t readmodel_load_in(PGconn *pg, const char *topic, const char *doc_id,
                              readmodel_doc_t *ret)
{
    return load(pg, topic, doc_id, false, ret);
}

quire_err_t readmodel_load_at(PGconn *pg, const char *doc_id, const readmodel_point_t *at,
                              readmodel_doc_t *ret, bool *ret_deleted_now)
{
    if (!pg || !doc_id || !at || !ret)
        return QUIRE_ERR_INVALID;
    quire_err_t err = begin_snapshot(pg);
    if (err)
        return err;
    readmodel_doc_t d = {.version = -1, .partition = -1};
    PGresult *pt = NULL, *snap = NULL, *tail = NULL, *cnt = NULL;
    char buf[24], vbuf[24], basebuf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)(at->by_time ? at->time_ms : at->offset));
    /* The row's position and lifecycle first: the delete events after that position are then an
     * index range the planner sees (a subquery there made it scan every event of the doc). */
    const char *p0[] = {doc_id};
    cnt = query(pg,
                "SELECT COALESCE((SELECT position FROM documents WHERE doc_id = $1), 0), "
                "COALESCE((SELECT lifecycle = 'deleted' FROM documents WHERE doc_id = $1), false)",
                1, p0);
    if (!cnt) {
        err = QUIRE_ERR_PG;
        goto out;
    }
    char rowpos[24];
    snprintf(rowpos, sizeof rowpos, "%lld", (long long)pgval_i64(cnt, 0, 0));
    bool row_deleted = pgval_bool(cnt, 0, 1);
    PQclear(cnt);
    cnt = NULL;
    const char *p1[] = {doc_id, buf, rowpos};
    /* The document's latest event at or before the point (index scans, never the history), the
     * lifecycle today (the row, and delete events after its position), and the event index's
     * floor in the document's partition (index_floors: bootstrapped read models). */
#define AT_REST                                                                                    \
    "EXISTS (SELECT 1 FROM doc_events WHERE doc_id = $1 AND kind = 2 AND \"offset\" >= "           \
    "$3::int8), "                                                                                  \
    "COALESCE((SELECT max(floor) FROM index_floors WHERE partition = (SELECT partition FROM "      \
    "doc_events WHERE doc_id = $1 LIMIT 1)), 0)"
    pt = query(pg,
               /* the latest indexed event at or before the point — or the latest event a
                * snapshot covers, for documents whose older events a bootstrap left unindexed */
               at->by_time ? "SELECT GREATEST((SELECT \"offset\" FROM doc_events WHERE doc_id = $1 "
                             "AND broker_time <= timestamptz 'epoch' + $2::int8 * interval '1 ms' "
                             "ORDER BY broker_time DESC, \"offset\" DESC LIMIT 1), (SELECT "
                             "max(version) FROM doc_snapshots WHERE doc_id = $1 AND broker_time <= "
                             "timestamptz 'epoch' + $2::int8 * interval '1 ms')), " AT_REST
                           : "SELECT GREATEST((SELECT max(\"offset\") FROM doc_events WHERE doc_id "
                             "= $1 AND \"offset\" <= $2::int8), (SELECT max(version) FROM "
                             "doc_snapshots WHERE doc_id = $1 AND version <= $2::int8)), " AT_REST,
               3, p1);
#undef AT_REST
    if (!pt) {
        err = QUIRE_ERR_PG;
        goto out;
    }
    bool deleted_now = row_deleted || pgval_bool(pt, 0, 1);
    int64_t floor = pgval_i64(pt, 0, 2);
    if (PQgetisnull(pt, 0, 0)) {
        err = QUIRE_ERR_NOT_FOUND;
        goto out;
    }
    d.version = pgval_i64(pt, 0, 0);
    d.next_offset = d.version + 1;
    snprintf(vbuf, sizeof vbuf, "%lld", (long long)d.version);
    /* The nearest snapshot that covers nothing beyond the point: its latest covered event is at
     * or before the point's (the compactor fills them). */
    const char *p2[] = {doc_id, vbuf};
    snap = query(pg,
                 "SELECT " SNAPSHOT_COLS " FROM doc_snapshots WHERE doc_id = $1 AND version <= "
                 "$2::int8 ORDER BY version DESC, position DESC LIMIT 1",
                 2, p2);
    if (!snap) {
        err = QUIRE_ERR_PG;
        goto out;
    }
    bool has_snap = PQntuples(snap) == 1;
    if (!has_snap && floor > 0) {
        /* A bootstrapped index starts at the floor: documents older than it (their row counts
         * more events than are indexed) cannot be rebuilt from the start. */
        const char *pm[] = {doc_id};
        cnt = query(pg,
                    "SELECT COALESCE((SELECT event_count FROM documents WHERE doc_id = $1) > "
                    "(SELECT count(*) FROM doc_events WHERE doc_id = $1), false)",
                    1, pm);
        if (!cnt) {
            err = QUIRE_ERR_PG;
            goto out;
        }
        bool missing = pgval_bool(cnt, 0, 0);
        PQclear(cnt);
        cnt = NULL;
        if (missing) {
            err = QUIRE_ERR_UNAVAILABLE;
            goto out;
        }
    }
    bool meta = has_snap && !PQgetisnull(snap, 0, SN_BYTES);
    snprintf(basebuf, sizeof basebuf, "%lld",
             (long long)(has_snap ? pgval_i64(snap, 0, SN_POSITION) : 0));
    const char *p3[] = {doc_id, basebuf, vbuf};
    tail = query(pg,
                 "SELECT " EVENT_COLS " FROM doc_events WHERE doc_id = $1 AND \"offset\" >= $2 "
                 "AND \"offset\" <= $3 ORDER BY \"offset\"",
                 3, p3);
    if (!tail) {
        err = QUIRE_ERR_PG;
        goto out;
    }
    int nt = PQntuples(tail);
    if (has_snap && !meta) {
        /* A snapshot written before its metadata existed: count from the index (the old way). */
        const char *p4[] = {doc_id, vbuf};
        static const char count_sql[] =
            "SELECT count(*)::int8, COALESCE(sum(size), 0)::int8, " MS_OF(
                "min(broker_time)") ", " MS_OF("max(broker_time)") ", bool_or(kind = 2), "
                                                                   "min(partition), (SELECT actor "
                                                                   "FROM doc_events WHERE doc_id "
                                                                   "= $1 ORDER BY \"offset\" "
                                                                   "LIMIT 1) FROM doc_events "
                                                                   "WHERE doc_id = $1 AND "
                                                                   "\"offset\" <= $2::int8";
        cnt = query(pg, count_sql, 2, p4);
        if (!cnt) {
            err = QUIRE_ERR_PG;
            goto out;
        }
        d.event_count = pgval_i64(cnt, 0, 0);
        d.event_bytes = pgval_i64(cnt, 0, 1);
        d.created_ms = pgval_i64(cnt, 0, 2);
        d.updated_ms = pgval_i64(cnt, 0, 3);
        d.lifecycle = pgval_bool(cnt, 0, 4) ? READMODEL_DELETED : READMODEL_ACTIVE;
        d.partition = pgval_i32(cnt, 0, 5);
        d.owner = pgval_dup(cnt, 0, 6, NULL);
        d.base_kind = READMODEL_BASE_SNAPSHOT;
        d.base_position = pgval_i64(snap, 0, SN_POSITION);
        d.base_len = (size_t)PQgetlength(snap, 0, SN_YDOC);
        for (int i = 0; i < nt; i++) {
            d.tail_events++;
            d.tail_bytes += pgval_i64(tail, i, EV_SIZE);
        }
    } else {
        int64_t version = d.version;
        if (meta)
            from_snapshot(snap, (size_t)PQgetlength(snap, 0, SN_YDOC), &d);
        for (int i = 0; i < nt; i++) {
            if (d.partition < 0)
                d.partition = pgval_i32(tail, i, EV_PARTITION);
            if (!meta && i == 0) {
                d.created_ms = pgval_i64(tail, i, EV_TIME);
                d.owner = pgval_dup(tail, i, EV_ACTOR, NULL);
            }
            d.updated_ms = pgval_i64(tail, i, EV_TIME);
            d.event_count++;
            d.event_bytes += pgval_i64(tail, i, EV_SIZE);
            d.tail_events++;
            d.tail_bytes += pgval_i64(tail, i, EV_SIZE);
            if (pgval_i16(tail, i, EV_KIND) == 2)
                d.lifecycle = READMODEL_DELETED;
        }
        d.version = version;
    }
    d.next_offset = d.version + 1;
    err = merge_rows(has_snap ? (const uint8_t *)PQgetvalue(snap, 0, SN_YDOC) : NULL,
                     has_snap ? (size_t)PQgetlength(snap, 0, SN_YDOC) : 0, tail, EV_UPDATE,
                     &d.state, &d.state_len);
out:
    PQclear(pt);
    PQclear(snap);
    PQclear(tail);
    PQclear(cnt);
    end_snapshot(pg);
    if (err) {
        readmodel_doc_deinit(&d);
        return err;
    }
    *ret = d;
    if (ret_deleted_now)
        *ret_deleted_now = deleted_now;
    return QUIRE_OK;
}

quire_err_t readmodel_version(PGconn *pg, const char *doc_id, int64_t *ret_version,
                              readmodel_lifecycle_t *ret_lifecycle)
{
    const char *p[] = {doc_id};
    PGresult *r = PQexecParams(
        pg,
        "SELECT d.version, d.lifecycle = 'deleted', e.v, e.del FROM (SELECT 1) one "
        "LEFT JOIN documents d ON d.doc_id = $1 "
        "LEFT JOIN LATERAL (SELECT max(\"offset\") AS v, bool_or(kind = 2) AS del FROM doc_events "
        "WHERE doc_id = $1 AND \"offset\" >= COALESCE(d.position, 0)) e ON true",
        1, NULL, p, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        return QUIRE_ERR_PG;
    }
    quire_err_t err = QUIRE_OK;
    if (PQgetisnull(r, 0, 0) && PQgetisnull(r, 0, 2)) {
        err = QUIRE_ERR_NOT_FOUND;
    } else {
        int64_t v = PQgetisnull(r, 0, 2) ? pgval_i64(r, 0, 0) : pgval_i64(r, 0, 2);
        if (!PQgetisnull(r, 0, 0) && pgval_i64(r, 0, 0) > v)
            v = pgval_i64(r, 0, 0);
        *ret_version = v;
        *ret_lifecycle =
            pgval_bool(r, 0, 1) || pgval_bool(r, 0, 3) ? READMODEL_DELETED : READMODEL_ACTIVE;
    }
    PQclear(r);
    return err;
}
