-- The dashboard lists a target's restores newest first (the target page)
-- and all restores newest first (the restores page, on the primary key).
CREATE INDEX restores_target_idx ON restores (target, id DESC);
