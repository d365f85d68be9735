-- Documents, their original bytes, and their embedded chunks.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE documents (
    id              uuid PRIMARY KEY,
    filename        text        NOT NULL,
    format          text        NOT NULL,
    file_size       bigint      NOT NULL CHECK (file_size >= 0),
    -- SHA-256 of the bytes: uploading the same file twice is refused.
    content_hash    bytea       NOT NULL UNIQUE CHECK (length(content_hash) = 32),
    status          text        NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')),
    fail_reason     text,
    retry_count     integer     NOT NULL DEFAULT 0,
    is_active       boolean     NOT NULL DEFAULT true,
    chunk_count     integer     NOT NULL DEFAULT 0,
    processed_content text,
    -- When the current PROCESSING attempt started: a stale one is picked up again.
    processing_started_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX documents_status_idx ON documents (status);
CREATE INDEX documents_created_at_idx ON documents (created_at DESC);

-- The uploaded bytes live in the database so every runtime (server, worker, Lambda) reaches them.
CREATE TABLE document_files (
    document_id uuid  PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    bytes       bytea NOT NULL
);
-- Uploads are mostly compressed already (PDF, OOXML zips): skip TOAST's futile compression pass.
ALTER TABLE document_files ALTER COLUMN bytes SET STORAGE EXTERNAL;

CREATE TABLE chunks (
    id           uuid    PRIMARY KEY,
    document_id  uuid    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    chunk_index  integer NOT NULL,
    content      text    NOT NULL,
    embedding    vector(384) NOT NULL,
    page         integer,
    heading      text,
    breadcrumbs  text[]  NOT NULL DEFAULT '{}',
    char_start   integer NOT NULL,
    char_end     integer NOT NULL,
    token_count  integer NOT NULL,
    search_vector tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    UNIQUE (document_id, chunk_index)
);

CREATE INDEX chunks_embedding_hnsw_idx ON chunks USING hnsw (embedding vector_cosine_ops);
CREATE INDEX chunks_search_vector_idx ON chunks USING gin (search_vector);
