-- Each chunk's quality (a score from 0 to 1, and its flags as bits; see domain/chunk_quality.rs)
-- and each processed document's figures: what the chunk explorer and the analytics routes read.
-- Chunks stored before this have neither.
ALTER TABLE chunks ADD COLUMN quality_score double precision, ADD COLUMN quality_flags integer;
CREATE INDEX chunks_quality_score_idx ON chunks (quality_score);

CREATE TABLE processing_metrics (
    document_id         uuid PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    page_count          bigint NOT NULL,
    queue_time_ms       bigint NOT NULL,
    conversion_time_ms  bigint NOT NULL,
    chunking_time_ms    bigint NOT NULL,
    embedding_time_ms   bigint NOT NULL,
    total_time_ms       bigint NOT NULL,
    raw_size_bytes      bigint NOT NULL,
    markdown_size_chars bigint NOT NULL,
    total_chunks        bigint NOT NULL,
    avg_chunk_size      double precision NOT NULL,
    oversized_chunks    bigint NOT NULL,
    avg_quality_score   double precision NOT NULL,
    total_tokens        bigint NOT NULL,
    -- When the document finished processing.
    created_at          timestamptz NOT NULL
);
CREATE INDEX processing_metrics_created_at_idx ON processing_metrics (created_at);
