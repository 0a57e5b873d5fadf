-- Answers to POST requests that carried an Idempotency-Key: a retry with the same key returns
-- the first answer instead of writing twice. Keyed by the authenticated actor, so one user's
-- keys can never replay another's answers. Rows older than a day may be deleted.
CREATE TABLE idempotency_keys (
    actor       text NOT NULL,
    key         text NOT NULL,
    doc_id      text NOT NULL,
    body_hash   bytea NOT NULL,
    status      integer NOT NULL,
    response    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
