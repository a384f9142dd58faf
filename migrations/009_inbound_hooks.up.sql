-- Message ids of signed inbound triggers (POST /hooks/targets/{name}): a
-- replayed id is refused. Ids older than the signature tolerance can go.
CREATE TABLE inbound_hooks (
    target      text        NOT NULL,
    message_id  text        NOT NULL,
    received_at timestamptz NOT NULL,
    run_id      bigint,
    PRIMARY KEY (target, message_id)
);
CREATE INDEX inbound_hooks_received_at_idx ON inbound_hooks (received_at);
