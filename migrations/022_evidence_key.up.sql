-- lifeboat's Ed25519 key for signing evidence reports, generated at first
-- use when the config names none. The private key is encrypted with age to
-- lifeboat's recipients (like managed secrets): a copy of this database
-- alone cannot sign a report. One key, shared by every process.
CREATE TABLE evidence_key (
    one            boolean     PRIMARY KEY DEFAULT true CHECK (one),
    key_id         text        NOT NULL,
    public_key     bytea       NOT NULL,
    sealed_private bytea       NOT NULL,
    created_at     timestamptz NOT NULL
);
