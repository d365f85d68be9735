-- The failure code stays in fail_reason (clients switch on it); the explanation for people goes here.
ALTER TABLE documents ADD COLUMN fail_message text;
