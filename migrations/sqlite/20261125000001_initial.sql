-- The embedded store: documents, their bytes, chunks with vectors and a full-text index, and the
-- job queue, in one SQLite file. Ids are 16-byte UUID blobs; times are RFC 3339 text in UTC,
-- which sorts in time order.
CREATE TABLE documents (
    id                BLOB    PRIMARY KEY,
    filename          TEXT    NOT NULL,
    format            TEXT    NOT NULL,
    file_size         INTEGER NOT NULL CHECK (file_size >= 0),
    -- SHA-256 of the bytes: uploading the same file twice is refused.
    content_hash      BLOB    NOT NULL UNIQUE CHECK (length(content_hash) = 32),
    status            TEXT    NOT NULL DEFAULT 'PENDING'
                      CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')),
    fail_reason       TEXT,
    fail_message      TEXT,
    retry_count       INTEGER NOT NULL DEFAULT 0,
    is_active         INTEGER NOT NULL DEFAULT 1,
    chunk_count       INTEGER NOT NULL DEFAULT 0,
    processed_content TEXT,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
);

CREATE INDEX documents_status_idx ON documents (status);
CREATE INDEX documents_created_at_idx ON documents (created_at DESC);

CREATE TABLE document_files (
    document_id BLOB PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    bytes       BLOB NOT NULL
);

-- The integer rowid keys the full-text index; `id` is the chunk id clients see.
CREATE TABLE chunks (
    rowid       INTEGER PRIMARY KEY,
    id          BLOB    NOT NULL UNIQUE,
    document_id BLOB    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL,
    content     TEXT    NOT NULL,
    -- 384 little-endian f32; searched in memory (see adapters/sqlite/vectors.rs).
    embedding   BLOB    NOT NULL,
    page        INTEGER,
    heading     TEXT,
    breadcrumbs TEXT    NOT NULL DEFAULT '[]', -- a JSON array of strings
    char_start  INTEGER NOT NULL,
    char_end    INTEGER NOT NULL,
    token_count INTEGER NOT NULL,
    UNIQUE (document_id, chunk_index)
);

-- BM25 over the chunks' words: FTS5 keeps the statistics; Porter stemming like PostgreSQL's
-- English configuration. The text itself stays in `chunks` (external content).
CREATE VIRTUAL TABLE chunk_text USING fts5 (
    content, content = 'chunks', content_rowid = 'rowid',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER chunks_added AFTER INSERT ON chunks BEGIN
    INSERT INTO chunk_text (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER chunks_removed AFTER DELETE ON chunks BEGIN
    INSERT INTO chunk_text (chunk_text, rowid, content) VALUES ('delete', old.rowid, old.content);
END;

-- The in-process queue: one row per document with work to do. `due_at` (Unix ms) is when a
-- waiting job may start, or when an active job's lease runs out.
CREATE TABLE jobs (
    document_id BLOB    PRIMARY KEY,
    attempt     INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('waiting', 'active', 'failed')),
    due_at      INTEGER NOT NULL,
    reason      TEXT
);

CREATE INDEX jobs_due_idx ON jobs (state, due_at);
