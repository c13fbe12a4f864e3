DROP INDEX observations_observed;
CREATE INDEX observations_observed ON observations (organisation_id, observed_at);
ALTER TABLE organisations DROP COLUMN responsible;
ALTER TABLE organisations DROP COLUMN assignment_title;
DROP TABLE followup_assessments;
DROP TABLE audit_log;
