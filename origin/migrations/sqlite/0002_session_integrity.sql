-- edgetoken origin, schema version 2 (SQLite): session integrity (issue 12).
-- Independent of the key tables.

-- Bumped by every change that ends all of a user's sessions (password change, logout-all,
-- admin revocation). An operation that grants or extends a session reads it when its checks
-- begin and compares it inside the transaction that applies the grant: a password checked
-- against an old credential can never create a session after the change.
ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;
-- UTS #39 skeleton of the e-mail address: two addresses that look alike have the same one.
-- Filled at start for rows made before this version (computed in Rust, not SQL).
ALTER TABLE users ADD COLUMN email_skeleton TEXT;
CREATE INDEX users_email_skeleton ON users (email_skeleton);

-- SHA-256 of the session's device secret (the `__Host-device` cookie, or `X-Device-Secret`
-- for token clients). NULL for sessions made before this version: they get no grace.
ALTER TABLE sessions ADD COLUMN device_hash BLOB;
-- 1 for browser (cookie) sessions: every refresh must present the device secret.
ALTER TABLE sessions ADD COLUMN device_required INTEGER NOT NULL DEFAULT 0;

-- 1 when the rotation was made by a request that proved the device: only then may the
-- just-replaced token get the same successor within the grace.
ALTER TABLE refresh_tokens ADD COLUMN rotated_with_device INTEGER NOT NULL DEFAULT 0;

-- The `iat` of the newest access token minted for the session. Revocation windows and
-- cut-offs are computed from it, so they cover every token minted before them even when a
-- revocation waited for the write lock behind a refresh (0 for older rows: their tokens
-- had iat = last_seen_at, which the queries also take into account).
ALTER TABLE sessions ADD COLUMN last_iat INTEGER NOT NULL DEFAULT 0;
