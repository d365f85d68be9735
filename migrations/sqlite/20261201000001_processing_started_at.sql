-- When the current attempt began (NULL unless PROCESSING), as in the PostgreSQL schema.
ALTER TABLE documents ADD COLUMN processing_started_at TEXT;
