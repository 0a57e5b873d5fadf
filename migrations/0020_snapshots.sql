-- The compactor's snapshots (DESIGN §6): what loads, time travel and bootstrap need besides the
-- state.
--
-- A doc_snapshots row holds the document's state covering its events below `position` (the
-- offset after the document's latest covered event, `version`). The columns added here are the
-- read-model metadata at that point, so that a load or a bootstrap starting from a snapshot needs
-- no scan of the document's older events: its size in bytes of events, owner (first actor), the
-- broker time of its first event and whether it was deleted by then. NULL on rows written before
-- this migration: readers then fall back to the event index.
ALTER TABLE doc_snapshots
    ADD COLUMN event_bytes bigint,
    ADD COLUMN owner       text,
    ADD COLUMN first_time  timestamptz,
    ADD COLUMN deleted     boolean;

-- A read model bootstrapped from snapshots (`quire bootstrap`) indexes each partition's events
-- only from `floor` on; the older ones are in the log and in the snapshots, not in doc_events.
-- No row (the normal case: replayed or projected from the start) means floor 0. `quire verify`
-- compares the index from the floor on; `?at=` a point that no snapshot covers below the floor is
-- refused rather than answered wrongly.
CREATE TABLE index_floors (
    topic     text    NOT NULL,
    partition integer NOT NULL,
    floor     bigint  NOT NULL CHECK (floor >= 0),
    PRIMARY KEY (topic, partition)
);

-- Emptying the event index (quire replay) empties the floors with it.
CREATE FUNCTION index_floors_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM index_floors;
    RETURN NULL;
END
$$;
CREATE TRIGGER doc_events_truncate_floors AFTER TRUNCATE ON doc_events
    FOR EACH STATEMENT EXECUTE FUNCTION index_floors_clear();
