-- The read model (DESIGN §5): derived from quire.doc-updates, rebuilt by replay.
--
-- Positions: a row of `documents` holds the merged Yjs state of every event of its document below
-- `position` in its partition. The projector indexes every event in `doc_events` at once, in the
-- same transaction that advances `projector_offsets.next_offset`; a hot document's `ydoc` may be
-- rewritten later (at most every few hundred ms). So, read in one snapshot, a document row plus
-- its `doc_events` at offsets >= documents.position cover the partition up to next_offset.
--
-- Every table keyed by document is hash-partitioned by document id (never by organisation).

CREATE TABLE projector_offsets (
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL CHECK (next_offset >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

CREATE TABLE documents (
    doc_id       text    NOT NULL,
    lifecycle    text    NOT NULL DEFAULT 'active' CHECK (lifecycle IN ('active', 'deleted')),
    partition    integer NOT NULL,
    version      bigint  NOT NULL,          -- offset of the document's latest applied event
    position     bigint  NOT NULL,          -- ydoc covers this partition's events below it
    ydoc         bytea   NOT NULL,          -- merged Yjs state (update v1)
    content      jsonb   NOT NULL DEFAULT '{}'::jsonb, -- materialised roots
    content_hash bytea,
    event_count  bigint  NOT NULL DEFAULT 0,
    event_bytes  bigint  NOT NULL DEFAULT 0,
    owner        text,
    created_at   timestamptz NOT NULL,      -- broker time of the first event
    updated_at   timestamptz NOT NULL,      -- broker time of the latest event
    engine       text    NOT NULL,          -- Yjs engine version that produced ydoc/content
    PRIMARY KEY (doc_id)
) PARTITION BY HASH (doc_id);

CREATE TABLE doc_events (
    doc_id      text     NOT NULL,
    partition   integer  NOT NULL,
    "offset"    bigint   NOT NULL,
    event_id    bytea    NOT NULL,
    kind        smallint NOT NULL,          -- 0 update, 1 create, 2 delete (DocEvent.kind)
    broker_time timestamptz NOT NULL,       -- LogAppendTime (I6: server time only)
    actor       text     NOT NULL,          -- authenticated user (I6)
    origin      text,
    size        integer  NOT NULL,          -- bytes of the Yjs update
    "update"    bytea    NOT NULL,
    PRIMARY KEY (doc_id, "offset"),
    UNIQUE (doc_id, event_id)
) PARTITION BY HASH (doc_id);
CREATE INDEX doc_events_time ON doc_events (doc_id, broker_time);

CREATE TABLE doc_snapshots (
    doc_id       text    NOT NULL,
    partition    integer NOT NULL,
    position     bigint  NOT NULL,          -- the state covers the partition's events below this
    version      bigint  NOT NULL,          -- offset of the document's latest covered event
    broker_time  timestamptz NOT NULL,      -- broker time of that event
    ydoc         bytea   NOT NULL,
    content_hash bytea   NOT NULL,
    event_count  bigint  NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published    boolean NOT NULL DEFAULT false, -- outbox: sent to quire.doc-snapshots
    PRIMARY KEY (doc_id, position)
) PARTITION BY HASH (doc_id);
CREATE INDEX doc_snapshots_unpublished ON doc_snapshots (created_at) WHERE NOT published;

CREATE TABLE quarantine (
    id          bigserial PRIMARY KEY,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint  NOT NULL,
    doc_id      text,
    event_id    bytea,
    reason      text    NOT NULL,
    engine      text    NOT NULL,           -- engine version whose rule refused it
    payload     bytea,
    at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, partition, "offset")
);

DO $$
BEGIN
    FOR i IN 0..7 LOOP
        EXECUTE format('CREATE TABLE documents_p%s PARTITION OF documents FOR VALUES WITH (MODULUS 8, REMAINDER %s)', i, i);
        EXECUTE format('CREATE TABLE doc_events_p%s PARTITION OF doc_events FOR VALUES WITH (MODULUS 8, REMAINDER %s)', i, i);
        EXECUTE format('CREATE TABLE doc_snapshots_p%s PARTITION OF doc_snapshots FOR VALUES WITH (MODULUS 8, REMAINDER %s)', i, i);
    END LOOP;
END
$$;
