-- edgetoken origin, schema version 1 (SQLite).
-- Times are INTEGER seconds since the Unix epoch. Ids are random base64url strings.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    not_before    INTEGER,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users (id),
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    -- min(absolute, last_seen + idle), or the revocation time: one column for cleanup.
    ends_at             INTEGER NOT NULL,
    sensitive           INTEGER NOT NULL DEFAULT 0,
    user_agent          TEXT NOT NULL DEFAULT '',
    ip                  TEXT NOT NULL DEFAULT '',
    revoked_at          INTEGER,
    revoked_reason      TEXT
);
-- "My sessions" (by user, newest first) and revoke-all-of-a-user.
CREATE INDEX sessions_user_last_seen ON sessions (user_id, last_seen_at);
-- Admin listing by recency.
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
-- Cleanup and "active/ended" filters.
CREATE INDEX sessions_ends_at ON sessions (ends_at);

CREATE TABLE refresh_tokens (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions (id),
    -- SHA-256 of the token; the token itself is never stored.
    token_hash   BLOB NOT NULL UNIQUE,
    -- Input of the keyed derivation, so the successor can be handed out again in the grace.
    nonce        BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    rotated_at   INTEGER,
    successor_id TEXT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_rotated ON refresh_tokens (rotated_at) WHERE rotated_at IS NOT NULL;

CREATE TABLE revocations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('sid', 'jti', 'user_not_before', 'global_not_before')),
    value      TEXT NOT NULL,
    revoked_at INTEGER NOT NULL,
    -- revoked_at + window (max access-token lifetime + clock tolerance).
    expires_at INTEGER NOT NULL
);
CREATE INDEX revocations_expires_at ON revocations (expires_at);

CREATE TABLE signing_keys (
    kid           TEXT PRIMARY KEY,
    private_key   BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    retired_at    INTEGER,
    publish_until INTEGER
);

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
