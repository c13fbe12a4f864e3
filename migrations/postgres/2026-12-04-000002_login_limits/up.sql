-- Login attempt limits, shared by every process on this database (GCRA): per key, the
-- theoretical arrival time of the next attempt in ms. A key is the SHA-256 of what it limits (an
-- account or a client address), so neither a username nor an address is stored.
CREATE TABLE login_limits (
    key TEXT PRIMARY KEY NOT NULL,
    tat_ms BIGINT NOT NULL
);
CREATE INDEX login_limits_tat ON login_limits (tat_ms);
