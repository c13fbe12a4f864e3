DROP INDEX area_jobs_state;
ALTER TABLE area_jobs DROP COLUMN lease_until;
ALTER TABLE area_jobs DROP COLUMN owner;
ALTER TABLE organisations DROP COLUMN areas_version;
