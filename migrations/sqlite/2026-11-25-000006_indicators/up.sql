-- Indicators: the measures a follow-up reports against (survey results such as "share who feel
-- safe outdoors after dark"), each with its target rule, and their values per year and group.
CREATE TABLE indicators (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    slug TEXT NOT NULL,
    name_sv TEXT NOT NULL,
    name_en TEXT NOT NULL,
    source TEXT NOT NULL,
    -- `percent`, `score`, `count`…
    unit TEXT NOT NULL,
    -- A JSON list of group slugs the values are broken down by, e.g. ["boys","girls"]; [] for none.
    groups TEXT NOT NULL,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('maintain_or_improve', 'at_least', 'at_most')),
    -- The threshold of `at_least` and `at_most`; null for `maintain_or_improve`.
    target_value DOUBLE PRECISION,
    higher_is_better BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (organisation_id, slug)
);

-- One value per indicator, year and group; `group_key` is '' for the whole population.
CREATE TABLE indicator_values (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    indicator_id TEXT NOT NULL REFERENCES indicators (id),
    year INTEGER NOT NULL,
    group_key TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    note TEXT,
    recorded_by TEXT REFERENCES users (id),
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (indicator_id, year, group_key)
);
CREATE INDEX indicator_values_org ON indicator_values (organisation_id, indicator_id);
