-- Observations, activity logs and the reference data that syncs down to phones, with the change
-- sequence that orders every sync, the quarantine for invalid pushes, and record history.

-- One row. `seq` is taken (incremented) inside every transaction that changes synced data, as
-- its first write, so commit order equals sequence order; `purged_through` is the highest
-- sequence of tombstones removed past the horizon.
CREATE TABLE sync_state (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq BIGINT NOT NULL,
    purged_through BIGINT NOT NULL
);
INSERT INTO sync_state (id, seq, purged_through) VALUES (1, 1, 0);

ALTER TABLE organisations ADD COLUMN bbox_min_lat DOUBLE PRECISION;
ALTER TABLE organisations ADD COLUMN bbox_min_lon DOUBLE PRECISION;
ALTER TABLE organisations ADD COLUMN bbox_max_lat DOUBLE PRECISION;
ALTER TABLE organisations ADD COLUMN bbox_max_lon DOUBLE PRECISION;

ALTER TABLE units ADD COLUMN server_seq BIGINT NOT NULL DEFAULT 1;

ALTER TABLE users ADD COLUMN scope_version BIGINT NOT NULL DEFAULT 0;

ALTER TABLE devices ADD COLUMN last_push_at TIMESTAMP;
ALTER TABLE devices ADD COLUMN last_pull_at TIMESTAMP;
ALTER TABLE devices ADD COLUMN clock_skew_ms BIGINT;
ALTER TABLE devices ADD COLUMN pending_count BIGINT;
ALTER TABLE devices ADD COLUMN pulled_scope_version BIGINT;
ALTER TABLE devices ADD COLUMN pulled_user_id TEXT;

CREATE TABLE categories (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    slug TEXT NOT NULL,
    label_sv TEXT NOT NULL,
    label_en TEXT NOT NULL,
    sort_order INTEGER NOT NULL,
    active BOOLEAN NOT NULL,
    server_seq BIGINT NOT NULL,
    UNIQUE (organisation_id, slug)
);
CREATE INDEX categories_seq ON categories (organisation_id, server_seq);

CREATE TABLE activity_types (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    slug TEXT NOT NULL,
    label_sv TEXT NOT NULL,
    label_en TEXT NOT NULL,
    sort_order INTEGER NOT NULL,
    active BOOLEAN NOT NULL,
    server_seq BIGINT NOT NULL,
    UNIQUE (organisation_id, slug)
);
CREATE INDEX activity_types_seq ON activity_types (organisation_id, server_seq);

CREATE TABLE observations (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    device_id TEXT NOT NULL,
    category TEXT NOT NULL,
    severity INTEGER NOT NULL,
    perceived_safety INTEGER NOT NULL,
    people_count INTEGER,
    age_band TEXT,
    note TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    accuracy_m DOUBLE PRECISION,
    observed_at BIGINT NOT NULL,
    observed_at_device BIGINT NOT NULL,
    clock_corrected BOOLEAN NOT NULL,
    needs_follow_up BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    review_comment TEXT,
    reviewed_by TEXT,
    reviewed_at BIGINT,
    area_code TEXT,
    cell TEXT,
    redacted BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    created_seq BIGINT NOT NULL,
    content_seq BIGINT NOT NULL,
    review_seq BIGINT NOT NULL,
    server_seq BIGINT NOT NULL,
    content_device_id TEXT NOT NULL,
    review_device_id TEXT,
    -- When the author's devices first got a version of it (a quarantined one, before it was stored).
    author_seen_seq BIGINT,
    PRIMARY KEY (organisation_id, id)
);
CREATE INDEX observations_seq ON observations (organisation_id, server_seq);
CREATE INDEX observations_user_seq ON observations (organisation_id, user_id, server_seq);
CREATE INDEX observations_observed ON observations (organisation_id, observed_at);

CREATE TABLE activity_logs (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    device_id TEXT NOT NULL,
    activity_type TEXT NOT NULL,
    unit TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    started_at_device BIGINT NOT NULL,
    ended_at_device BIGINT,
    clock_corrected BOOLEAN NOT NULL,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    area_code TEXT,
    cell TEXT,
    girls INTEGER NOT NULL,
    boys INTEGER NOT NULL,
    gender_other INTEGER NOT NULL,
    gender_unknown INTEGER NOT NULL,
    age_under_13 INTEGER NOT NULL,
    age_13_15 INTEGER NOT NULL,
    age_16_17 INTEGER NOT NULL,
    age_18_24 INTEGER NOT NULL,
    age_25_plus INTEGER NOT NULL,
    age_unknown INTEGER NOT NULL,
    note TEXT NOT NULL,
    redacted BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    created_seq BIGINT NOT NULL,
    content_seq BIGINT NOT NULL,
    server_seq BIGINT NOT NULL,
    content_device_id TEXT NOT NULL,
    author_seen_seq BIGINT,
    PRIMARY KEY (organisation_id, id)
);
CREATE INDEX activity_logs_seq ON activity_logs (organisation_id, server_seq);
CREATE INDEX activity_logs_user_seq ON activity_logs (organisation_id, user_id, server_seq);
CREATE INDEX activity_logs_started ON activity_logs (organisation_id, started_at);

-- Pushed records that could not be accepted, kept as received so nothing is lost; the next pull
-- sends them back to their author's devices with `sync_error`.
CREATE TABLE sync_quarantine (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    device_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    errors TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    server_seq BIGINT NOT NULL,
    -- The sequence of the first quarantined version: when the author's devices first got it.
    first_seq BIGINT NOT NULL,
    resolved_at BIGINT,
    -- How it was resolved: `stored` (a valid version was accepted) or `deleted`.
    resolution TEXT,
    PRIMARY KEY (organisation_id, table_name, record_id)
);
CREATE INDEX sync_quarantine_seq ON sync_quarantine (organisation_id, server_seq);

-- Every accepted change keeps the version it replaced.
CREATE TABLE record_history (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    server_seq BIGINT NOT NULL,
    changed_by TEXT NOT NULL,
    device_id TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    change TEXT NOT NULL,
    fields TEXT NOT NULL,
    previous TEXT NOT NULL
);
CREATE INDEX record_history_record ON record_history (organisation_id, table_name, record_id, server_seq);
