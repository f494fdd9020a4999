-- edgetoken origin, schema version 3 (SQLite): signing-key lifecycle (issue 11).
-- Independent of the session tables: touches signing_keys only.
--
-- States: next (published, not yet signing), active (signs; at most one), retired
-- (published until publish_until), withdrawn (compromised: never published, key wiped).

ALTER TABLE signing_keys ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
    CHECK (state IN ('next', 'active', 'retired', 'withdrawn'));
-- When the key starts (or started) signing. Version-1 keys started at creation.
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER;
ALTER TABLE signing_keys ADD COLUMN withdrawn_at INTEGER;

UPDATE signing_keys SET activates_at = created_at;
UPDATE signing_keys SET state = 'retired' WHERE retired_at IS NOT NULL;
-- Version 1 could leave two unretired keys after two nodes started on an empty database
-- at once: the newest stays active, the others are retired and stay published for two
-- days (longer than any allowed access ttl + tolerance + filter ttl). The keeper is the
-- newest 'active' row and is never updated here, so the subqueries stay stable.
UPDATE signing_keys
SET state = 'retired',
    retired_at = (SELECT created_at FROM signing_keys WHERE state = 'active' ORDER BY created_at DESC, rowid DESC LIMIT 1),
    publish_until = (SELECT created_at FROM signing_keys WHERE state = 'active' ORDER BY created_at DESC, rowid DESC LIMIT 1) + 172800
WHERE state = 'active'
  AND rowid <> (SELECT rowid FROM signing_keys WHERE state = 'active' ORDER BY created_at DESC, rowid DESC LIMIT 1);

-- At most one active and one next key, whatever the callers do.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';
