-- Each chunk's quality (a score from 0 to 1, and its flags as bits; see domain/chunk_quality.rs)
-- and each processed document's figures: what the chunk explorer and the analytics routes read.
-- Chunks stored before this have neither.
ALTER TABLE chunks ADD COLUMN quality_score REAL;
ALTER TABLE chunks ADD COLUMN quality_flags INTEGER;
CREATE INDEX chunks_quality_score_idx ON chunks (quality_score);

CREATE TABLE processing_metrics (
    document_id         BLOB PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    page_count          INTEGER NOT NULL,
    queue_time_ms       INTEGER NOT NULL,
    conversion_time_ms  INTEGER NOT NULL,
    chunking_time_ms    INTEGER NOT NULL,
    embedding_time_ms   INTEGER NOT NULL,
    total_time_ms       INTEGER NOT NULL,
    raw_size_bytes      INTEGER NOT NULL,
    markdown_size_chars INTEGER NOT NULL,
    total_chunks        INTEGER NOT NULL,
    avg_chunk_size      REAL    NOT NULL,
    oversized_chunks    INTEGER NOT NULL,
    avg_quality_score   REAL    NOT NULL,
    total_tokens        INTEGER NOT NULL,
    -- When the document finished processing (RFC 3339, UTC).
    created_at          TEXT    NOT NULL
);
CREATE INDEX processing_metrics_created_at_idx ON processing_metrics (created_at);
