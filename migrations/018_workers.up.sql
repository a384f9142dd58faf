-- Each lifeboat process that works jobs beats here; a stage whose worker
-- stopped beating is noticed within a minute or two (jobs/liveness.go).
-- queue is the process's own sandbox queue: verify jobs wait there for the
-- sandbox that process holds.
CREATE TABLE workers (
	id         text PRIMARY KEY,
	host       text NOT NULL,
	pid        integer NOT NULL,
	queue      text,
	started_at timestamptz NOT NULL DEFAULT now(),
	beat_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workers_queue ON workers (queue);

-- One row: this installation's id, in the names of its scratch databases on
-- a shared restore server, so two installations never collide.
CREATE TABLE installation (
	one        boolean PRIMARY KEY DEFAULT true CHECK (one),
	id         text NOT NULL DEFAULT substr(md5(random()::text || clock_timestamp()::text), 1, 8),
	created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO installation DEFAULT VALUES;
