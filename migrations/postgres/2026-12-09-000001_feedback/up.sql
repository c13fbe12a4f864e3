-- Feedback (återkoppling) from coordinators to everyone who reports: a short text on one or
-- more areas, or on a measure, that syncs down to the phones of the whole organisation (the
-- `feedback` table of the sync protocol, schema version 2). `areas` is a JSON array of area
-- codes; for feedback on a measure it holds the measure's areas when the feedback was written,
-- and `measure_title` its title then. `created_seq` is the sequence number it was written
-- under, `server_seq` that of its last change. A deletion is a tombstone (`deleted_at`), sent down as a
-- delete until the tombstone horizon.
CREATE TABLE feedback (
    organisation_id TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    areas TEXT NOT NULL,
    measure_id TEXT,
    measure_title TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    created_seq BIGINT NOT NULL,
    server_seq BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, id)
);
CREATE INDEX feedback_seq ON feedback (organisation_id, server_seq);
-- The app schema version of a device's last complete pull: a device that pulls with a newer
-- schema (an updated app, with tables it did not have) gets a replacement snapshot, so that it
-- also receives what was written before its cursor. Devices that have pulled so far did so
-- with version 1.
ALTER TABLE devices ADD COLUMN pulled_schema_version BIGINT;
UPDATE devices SET pulled_schema_version = 1 WHERE pulled_scope_version IS NOT NULL;
