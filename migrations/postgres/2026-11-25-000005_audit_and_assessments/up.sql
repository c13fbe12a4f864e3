-- Who exported what and who read raw observations: one row per export or read, written before
-- the first byte leaves; rows counted when the answer is complete.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    at BIGINT NOT NULL,
    -- The caller, or NULL for the command line.
    user_id TEXT,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    format TEXT,
    -- The filters as a JSON object.
    filters TEXT NOT NULL,
    row_count BIGINT,
    finished_at BIGINT
);
CREATE INDEX audit_log_org_at ON audit_log (organisation_id, at, id);

-- The follow-up assessment per period: green, yellow or red, with a comment.
CREATE TABLE followup_assessments (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    period TEXT NOT NULL,
    rating TEXT NOT NULL,
    comment TEXT NOT NULL,
    set_by TEXT NOT NULL REFERENCES users (id),
    set_at BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, period)
);

-- What the follow-up report is headed with: the assignment and who is responsible for it.
ALTER TABLE organisations ADD COLUMN assignment_title TEXT NOT NULL DEFAULT '';
ALTER TABLE organisations ADD COLUMN responsible TEXT NOT NULL DEFAULT '';

-- Exports read observations in (observed_at, id) order in keyset pages: with id in the index,
-- each page is a range read that stops at its limit instead of sorting what follows.
DROP INDEX observations_observed;
CREATE INDEX observations_observed ON observations (organisation_id, observed_at, id);
