ALTER TABLE activity_logs DROP COLUMN coarse_darkness;
ALTER TABLE observations DROP COLUMN coarse_darkness;
DROP TABLE retention_settings;
