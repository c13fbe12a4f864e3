-- Photos from the field. An attachment ties a photo to an observation: it is the `attachments`
-- table of the sync protocol (app schema version 3), pushed by the phone with the photo's
-- metadata as the phone knows it (the SHA-256 of the bytes it will upload, their type, size and
-- dimensions). The bytes travel on their own endpoint and may arrive later; `observation_user_id`
-- is the observation's reporter, who (with coordinators and admins) may see the photo.
-- A deletion is a tombstone until the tombstone horizon.
CREATE TABLE attachments (
    organisation_id TEXT NOT NULL,
    id TEXT NOT NULL,
    observation_id TEXT NOT NULL,
    observation_user_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    byte_size BIGINT NOT NULL,
    width INTEGER,
    height INTEGER,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT,
    created_seq BIGINT NOT NULL,
    server_seq BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, id)
);
CREATE INDEX attachments_seq ON attachments (organisation_id, server_seq);
CREATE INDEX attachments_observation ON attachments (organisation_id, observation_id);
CREATE INDEX attachments_sha256 ON attachments (organisation_id, sha256);
-- A photo whose bytes arrived, once per organisation and content hash (of the bytes uploaded):
-- the same photo attached twice is stored once. What is stored is the server's re-encoding
-- (JPEG, no metadata) and a thumbnail, in the photo store under keys derived from the hash.
CREATE TABLE photos (
    organisation_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    byte_size BIGINT NOT NULL,
    thumbnail_size BIGINT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, sha256)
);
-- The chunks of uploads under way: an upload resumes after the last chunk stored, on any server.
CREATE TABLE photo_chunks (
    organisation_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    start_offset BIGINT NOT NULL,
    data BLOB NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, sha256, start_offset)
);
-- Photos older than this (by their observation's time) are removed at the retention run, the
-- observation and every aggregate kept.
ALTER TABLE retention_settings ADD COLUMN photo_months INTEGER;
