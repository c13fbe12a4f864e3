-- Partners see aggregates only, for the areas shared with them, with groups of fewer than
-- suppression_k records suppressed.
ALTER TABLE organisations ADD COLUMN suppression_k INTEGER NOT NULL DEFAULT 3;

CREATE TABLE partner_areas (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    area_code TEXT NOT NULL,
    PRIMARY KEY (organisation_id, user_id, area_code)
);
