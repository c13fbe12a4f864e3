ALTER TABLE organisations DROP COLUMN responsible;
ALTER TABLE organisations DROP COLUMN assignment_title;
DROP TABLE followup_assessments;
DROP TABLE audit_log;
