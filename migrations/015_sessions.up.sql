-- Dashboard sessions: a browser logs in with an API token and gets a
-- cookie; only the cookie's SHA-256 is kept. A session lives while its
-- token does: revoking the token ends its sessions.
CREATE TABLE sessions (
    id           bigserial   PRIMARY KEY,
    hash         bytea       NOT NULL UNIQUE,
    token_id     bigint      NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
