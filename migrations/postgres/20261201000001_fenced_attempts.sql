-- Each attempt at processing a document: how many began since the upload (or the last retry),
-- the token its writes must carry, and when its lease runs out (its worker renews it while it
-- works). A PROCESSING document always has a lease; those of workers older than this migration
-- run out now, so their documents are picked up again.
ALTER TABLE documents
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN processing_token uuid,
    ADD COLUMN lease_until timestamptz;
UPDATE documents SET lease_until = now() WHERE status = 'PROCESSING';
