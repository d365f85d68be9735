-- Processing profiles (see domain/profiles.rs): named, immutable settings, one of them active;
-- each upload keeps the profile that was active when it arrived. `settings` is their JSON, in
-- which a missing setting takes its default. The default profile is created here.
CREATE TABLE processing_profiles (
    id          BLOB    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT,
    is_active   INTEGER NOT NULL DEFAULT 0,
    is_default  INTEGER NOT NULL DEFAULT 0,
    is_archived INTEGER NOT NULL DEFAULT 0,
    settings    TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);
-- At most one active profile, whatever the races.
CREATE UNIQUE INDEX processing_profiles_one_active_idx ON processing_profiles (is_active) WHERE is_active;

INSERT INTO processing_profiles (id, name, description, is_active, is_default, settings, created_at)
VALUES (X'00000000000040008000000000000001', 'Default',
        'System default profile with balanced settings', 1, 1, '{}',
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

-- Documents uploaded before this have none, and are processed with the defaults.
ALTER TABLE documents
    ADD COLUMN processing_profile_id BLOB REFERENCES processing_profiles (id) ON DELETE SET NULL;
CREATE INDEX documents_processing_profile_id_idx ON documents (processing_profile_id);
