-- Accounts, sessions and per-document access (DESIGN §7, docs/auth.md).
--
-- These tables are the identity plane, not the read model: nothing here is derived from the log,
-- and `quire replay` (which empties documents and doc_events) never touches them. Documents and
-- their owners survive losing PostgreSQL (the owner is the actor of a document's first event,
-- projected into documents.owner, and quire_access falls back to it when a document has no owner
-- row); accounts, sessions, shares and client-id bindings are account data and are backed up with
-- the database like any user store. Password hashes never go into the log: its retention is
-- infinite.

-- Users who log in with a password. Bearer tokens (`quire token issue`) need no row here.
CREATE TABLE users (
    user_id       text PRIMARY KEY CHECK (user_id ~ '^[A-Za-z0-9._@+-]{1,64}$'),
    password_hash text NOT NULL,            -- crypto_pwhash_str: "$argon2id$v=19$m=...,t=...,p=1$..."
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A login session = one refresh-token family. Its id is the `sid` claim of every access token
-- issued in it; revoking it (logout, refresh-token reuse, password change) ends the family.
CREATE TABLE sessions (
    sid            text PRIMARY KEY,
    user_id        text NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,    -- absolute end, whatever the refreshes
    revoked_at     timestamptz,
    revoked_reason text
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Refresh tokens, stored as SHA-256 of the token (the token itself never is). Each is used once:
-- using it records rotated_at and the hash of its successor.
CREATE TABLE refresh_tokens (
    token_hash     bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    sid            text NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    generation     integer NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    rotated_at     timestamptz,
    successor_hash bytea
);
CREATE INDEX refresh_tokens_sid ON refresh_tokens (sid);

-- Who may do what with a document: owner ⊃ editor ⊃ viewer. One owner per document.
CREATE TABLE doc_members (
    doc_id     text NOT NULL,
    user_id    text NOT NULL,
    role       text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    granted_by text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (doc_id, user_id)
) PARTITION BY HASH (doc_id);
CREATE UNIQUE INDEX doc_members_one_owner ON doc_members (doc_id) WHERE role = 'owner';
CREATE INDEX doc_members_user ON doc_members (user_id);

-- Yjs client ids bound to the user who first wrote structs with them, per document (a client id
-- names one Y.Doc instance, so it is per document). Insert-if-absent; never updated.
CREATE TABLE doc_clients (
    doc_id    text   NOT NULL,
    client_id bigint NOT NULL CHECK (client_id >= 0),
    user_id   text   NOT NULL,
    bound_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (doc_id, client_id)
) PARTITION BY HASH (doc_id);

DO $$
BEGIN
    FOR i IN 0..7 LOOP
        EXECUTE format('CREATE TABLE doc_members_p%s PARTITION OF doc_members FOR VALUES WITH (MODULUS 8, REMAINDER %s)', i, i);
        EXECUTE format('CREATE TABLE doc_clients_p%s PARTITION OF doc_clients FOR VALUES WITH (MODULUS 8, REMAINDER %s)', i, i);
    END LOOP;
END
$$;

-- Documents that existed before access control: their owner (the first event's actor) becomes
-- an owner row, so they are listed and shareable.
INSERT INTO doc_members (doc_id, user_id, role, granted_by, granted_at)
SELECT doc_id, owner, 'owner', owner, created_at FROM documents
WHERE owner IS NOT NULL AND lifecycle = 'active' AND owner ~ '^[A-Za-z0-9._@+-]{1,64}$'
ON CONFLICT DO NOTHING;
