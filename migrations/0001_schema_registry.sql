-- The Avro schema registry of record (kafka.md §12): every schema version quire has written to
-- Kafka, by the id carried in the Confluent wire-format header of each event.
CREATE TABLE avro_schemas (
    id          integer PRIMARY KEY,
    subject     text NOT NULL,
    version     integer NOT NULL,
    schema_json text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subject, version)
);
