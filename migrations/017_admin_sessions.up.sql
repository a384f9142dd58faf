-- A dashboard session opened with the configured admin password has no
-- token: it lives until it expires or the user logs out.
ALTER TABLE sessions ALTER COLUMN token_id DROP NOT NULL;
