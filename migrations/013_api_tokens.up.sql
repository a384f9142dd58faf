-- API tokens: "lbt_<key>_<secret>". The key is public and finds the row;
-- only the SHA-256 of the whole token is kept, compared in constant time.
-- A name is unique among live tokens so the CLI can revoke by name.
CREATE TABLE api_tokens (
    id           bigserial   PRIMARY KEY,
    name         text        NOT NULL,
    key          text        NOT NULL UNIQUE,
    hash         bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE UNIQUE INDEX api_tokens_live_name_idx ON api_tokens (name) WHERE revoked_at IS NULL;
