-- The original service's format names, which its clients read and filter by.
UPDATE documents SET format = 'md' WHERE format = 'markdown';
UPDATE documents SET format = 'txt' WHERE format = 'text';

-- Every change a client may watch (`GET /api/events`), written by the database itself, so that
-- the writes of every process (servers, workers, the reconciler) are seen by every server. The
-- newest 10,000 are kept: a listener that far behind reloads its list anyway.
CREATE TABLE document_events (
    seq         bigserial   PRIMARY KEY,
    -- created, status, availability or deleted
    kind        text        NOT NULL,
    document_id uuid        NOT NULL,
    filename    text        NOT NULL,
    status      text        NOT NULL,
    is_active   boolean     NOT NULL,
    chunk_count integer     NOT NULL,
    fail_reason text,
    at          timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION record_document_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d documents;
    kinds text[];
    kind text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        d := NEW; kinds := ARRAY['created'];
    ELSIF TG_OP = 'DELETE' THEN
        d := OLD; kinds := ARRAY['deleted'];
    ELSE
        d := NEW; kinds := ARRAY[]::text[];
        IF NEW.status IS DISTINCT FROM OLD.status THEN kinds := array_append(kinds, 'status'); END IF;
        IF NEW.is_active IS DISTINCT FROM OLD.is_active THEN kinds := array_append(kinds, 'availability'); END IF;
    END IF;
    FOREACH kind IN ARRAY kinds LOOP
        INSERT INTO document_events (kind, document_id, filename, status, is_active, chunk_count, fail_reason)
        VALUES (kind, d.id, d.filename, d.status, d.is_active, d.chunk_count, d.fail_reason);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER documents_record_events AFTER INSERT OR UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION record_document_event();

CREATE FUNCTION prune_document_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM document_events WHERE seq < NEW.seq - 10000;
    RETURN NULL;
END
$$;

CREATE TRIGGER document_events_pruned AFTER INSERT ON document_events
    FOR EACH ROW EXECUTE FUNCTION prune_document_events();
