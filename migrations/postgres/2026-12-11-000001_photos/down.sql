ALTER TABLE retention_settings DROP COLUMN photo_months;
DROP TABLE photo_chunks;
DROP TABLE photos;
DROP TABLE attachments;
