-- Each attempt at processing a document, as in the PostgreSQL schema: how many began since the
-- upload (or the last retry), the token its writes must carry, when its lease runs out, and when
-- it began. A PROCESSING document always has a lease (the store, when opened, ends those of the
-- process before it).
ALTER TABLE documents ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN processing_token BLOB;
ALTER TABLE documents ADD COLUMN lease_until TEXT;
ALTER TABLE documents ADD COLUMN processing_started_at TEXT;
