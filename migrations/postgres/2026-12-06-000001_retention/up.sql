-- Retention (gallring), per organisation: after how many months free text is removed, exact
-- positions are coarsened, earlier versions of records are pruned and audit entries go. NULL
-- keeps them. `last_run_at` lets one process of several claim the daily run.
CREATE TABLE retention_settings (
    organisation_id TEXT PRIMARY KEY NOT NULL,
    free_text_months INTEGER,
    position_months INTEGER,
    history_months INTEGER,
    audit_months INTEGER,
    updated_by TEXT,
    updated_at BIGINT NOT NULL,
    last_run_at BIGINT
);
-- A record whose position retention coarsened keeps whether it happened after dark where it
-- happened (the picture's flags), so the picture stays the same; NULL while the position is exact.
ALTER TABLE observations ADD COLUMN coarse_darkness INTEGER;
ALTER TABLE activity_logs ADD COLUMN coarse_darkness INTEGER;
