-- The version of an organisation's areas: every import that changes them and every delete bumps
-- it, in the transaction that changes them, so a writer can tell whether the index it holds is
-- current.
ALTER TABLE organisations ADD COLUMN areas_version BIGINT NOT NULL DEFAULT 0;

-- Reassignment jobs are leased: the process running one (`owner`) renews `lease_until` (ms) with
-- every batch, and any process takes over a running job whose lease has run out.
ALTER TABLE area_jobs ADD COLUMN owner TEXT;
ALTER TABLE area_jobs ADD COLUMN lease_until BIGINT;
CREATE INDEX area_jobs_state ON area_jobs (state, lease_until);
