-- Storages, notifiers and targets created through the API. spec holds the
-- item's fields without its secrets; secrets holds those (JSON) encrypted
-- with lifeboat's age recipients, so a copy of this database alone reveals
-- no database password, S3 key or webhook secret.
CREATE TABLE managed_items (
    kind       text        NOT NULL CHECK (kind IN ('storage', 'notifier', 'target')),
    name       text        NOT NULL,
    spec       jsonb       NOT NULL,
    secrets    bytea,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (kind, name)
);

-- Bumped with every change, in the same transaction: each process polls
-- it and reloads its catalog when it moves.
CREATE TABLE catalog_version (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint  NOT NULL
);
INSERT INTO catalog_version (version) VALUES (0);
