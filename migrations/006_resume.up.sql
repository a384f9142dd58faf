-- When a target was last resumed: the watchdog measures a resumed target's
-- window from then, so resuming after a long pause does not alarm at once.
ALTER TABLE target_state ADD COLUMN resumed_at timestamptz;
