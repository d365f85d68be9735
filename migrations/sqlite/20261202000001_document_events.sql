-- The original service's format names, which its clients read and filter by.
UPDATE documents SET format = 'md' WHERE format = 'markdown';
UPDATE documents SET format = 'txt' WHERE format = 'text';

-- Every change a client may watch (`GET /api/events`), written by the database itself, so that
-- the worker's writes are seen as the routes' are. The newest 10,000 are kept: a listener that
-- far behind reloads its list anyway.
CREATE TABLE document_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- created, status, availability or deleted
    kind        TEXT    NOT NULL,
    document_id BLOB    NOT NULL,
    filename    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    is_active   INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    fail_reason TEXT,
    at          TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TRIGGER documents_created AFTER INSERT ON documents BEGIN
    INSERT INTO document_events (kind, document_id, filename, status, is_active, chunk_count, fail_reason)
    VALUES ('created', new.id, new.filename, new.status, new.is_active, new.chunk_count, new.fail_reason);
END;

CREATE TRIGGER documents_deleted AFTER DELETE ON documents BEGIN
    INSERT INTO document_events (kind, document_id, filename, status, is_active, chunk_count, fail_reason)
    VALUES ('deleted', old.id, old.filename, old.status, old.is_active, old.chunk_count, old.fail_reason);
END;

-- One update may change both: an event for each.
CREATE TRIGGER documents_changed AFTER UPDATE OF status, is_active ON documents BEGIN
    INSERT INTO document_events (kind, document_id, filename, status, is_active, chunk_count, fail_reason)
    SELECT kind, new.id, new.filename, new.status, new.is_active, new.chunk_count, new.fail_reason
    FROM (SELECT 'status' AS kind WHERE new.status IS NOT old.status
          UNION ALL SELECT 'availability' WHERE new.is_active IS NOT old.is_active);
END;

CREATE TRIGGER document_events_pruned AFTER INSERT ON document_events BEGIN
    DELETE FROM document_events WHERE seq < new.seq - 10000;
END;
