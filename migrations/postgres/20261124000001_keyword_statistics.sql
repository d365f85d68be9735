-- Corpus statistics for BM25 keyword ranking: how many chunks hold each lexeme, and how many
-- chunks (and tokens) there are. Kept by triggers so every write path, cascades included,
-- keeps them true. (TRUNCATE bypasses them: the schema never truncates chunks.)
CREATE TABLE chunk_lexemes (
    lexeme text   PRIMARY KEY,
    chunks bigint NOT NULL
);

CREATE TABLE chunk_totals (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    chunks    bigint  NOT NULL,
    tokens    bigint  NOT NULL
);

INSERT INTO chunk_totals (chunks, tokens)
SELECT count(*), coalesce(sum(token_count), 0) FROM chunks;
INSERT INTO chunk_lexemes (lexeme, chunks)
SELECT word, ndoc FROM ts_stat('SELECT search_vector FROM chunks');

CREATE FUNCTION count_chunk_statistics() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The totals row is locked first by every change, so concurrent writers queue on it
    -- instead of locking lexeme rows in clashing orders.
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE chunk_totals SET chunks = chunks - (SELECT count(*) FROM removed),
                                tokens = tokens - (SELECT coalesce(sum(token_count), 0) FROM removed);
        INSERT INTO chunk_lexemes (lexeme, chunks)
        SELECT v.lexeme, -count(*) FROM removed, unnest(removed.search_vector) v
        GROUP BY v.lexeme ORDER BY v.lexeme
        ON CONFLICT (lexeme) DO UPDATE SET chunks = chunk_lexemes.chunks + excluded.chunks;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE chunk_totals SET chunks = chunks + (SELECT count(*) FROM added),
                                tokens = tokens + (SELECT coalesce(sum(token_count), 0) FROM added);
        INSERT INTO chunk_lexemes (lexeme, chunks)
        SELECT v.lexeme, count(*) FROM added, unnest(added.search_vector) v
        GROUP BY v.lexeme ORDER BY v.lexeme
        ON CONFLICT (lexeme) DO UPDATE SET chunks = chunk_lexemes.chunks + excluded.chunks;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER chunks_added AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION count_chunk_statistics();
CREATE TRIGGER chunks_removed AFTER DELETE ON chunks
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION count_chunk_statistics();
CREATE TRIGGER chunks_changed AFTER UPDATE ON chunks
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION count_chunk_statistics();
