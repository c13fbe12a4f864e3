-- Areas: named (Multi)Polygons records are assigned to. Never deleted while records use them:
-- a removed area keeps its row with deleted_at set.
CREATE TABLE areas (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    id TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_code TEXT,
    -- GeoJSON geometry text, exact and simplified for phones.
    geometry TEXT NOT NULL,
    outline TEXT NOT NULL,
    min_lon DOUBLE PRECISION NOT NULL,
    min_lat DOUBLE PRECISION NOT NULL,
    max_lon DOUBLE PRECISION NOT NULL,
    max_lat DOUBLE PRECISION NOT NULL,
    vertices INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    server_seq BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, id)
);
CREATE UNIQUE INDEX areas_code ON areas (organisation_id, code);
CREATE INDEX areas_seq ON areas (organisation_id, server_seq);

-- Reassignments of records after the areas changed, resumable after a restart.
CREATE TABLE area_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    state TEXT NOT NULL,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL,
    changed BIGINT NOT NULL,
    -- The last (table, record id) processed.
    last_table TEXT,
    last_id TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX area_jobs_org ON area_jobs (organisation_id, created_at);
