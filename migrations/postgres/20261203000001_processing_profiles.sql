-- Processing profiles (see domain/profiles.rs): named, immutable settings, one of them active;
-- each upload keeps the profile that was active when it arrived. `settings` is their JSON, in
-- which a missing setting takes its default. The default profile is created here.
CREATE TABLE processing_profiles (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text,
    is_active   boolean NOT NULL DEFAULT false,
    is_default  boolean NOT NULL DEFAULT false,
    is_archived boolean NOT NULL DEFAULT false,
    settings    text NOT NULL,
    created_at  timestamptz NOT NULL
);
-- At most one active profile, whatever the races.
CREATE UNIQUE INDEX processing_profiles_one_active_idx ON processing_profiles (is_active) WHERE is_active;

INSERT INTO processing_profiles (id, name, description, is_active, is_default, settings, created_at)
VALUES ('00000000-0000-4000-8000-000000000001', 'Default',
        'System default profile with balanced settings', true, true, '{}', now());

-- Documents uploaded before this have none, and are processed with the defaults.
ALTER TABLE documents
    ADD COLUMN processing_profile_id uuid REFERENCES processing_profiles (id) ON DELETE SET NULL;
CREATE INDEX documents_processing_profile_id_idx ON documents (processing_profile_id);
