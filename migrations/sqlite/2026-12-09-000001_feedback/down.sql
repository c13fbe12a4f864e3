ALTER TABLE devices DROP COLUMN pulled_schema_version;
DROP TABLE feedback;
