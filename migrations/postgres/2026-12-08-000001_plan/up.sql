-- The action plan: problems seen in the picture and the measures taken against them (lag
-- 2023:196: lägesbild, åtgärdsplan, follow-up). Lists (areas by code, categories and activity
-- types and units by slug, problem ids, weekdays) are JSON arrays: a plan holds tens of items, read whole.
-- Each change raises `version` and keeps the version it replaced in `plan_history`.
CREATE TABLE problems (
    organisation_id TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    areas TEXT NOT NULL,
    categories TEXT NOT NULL,
    time_window TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, id)
);
CREATE TABLE measures (
    organisation_id TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    responsible_unit TEXT NOT NULL,
    status TEXT NOT NULL,
    areas TEXT NOT NULL,
    problems TEXT NOT NULL,
    categories TEXT NOT NULL,
    activity_types TEXT NOT NULL,
    shared_with TEXT NOT NULL,
    planned_start TEXT NOT NULL,
    planned_end TEXT,
    effort TEXT NOT NULL,
    decision TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, id)
);
-- Every version of every problem and measure, as the API showed it, with who made it and when.
CREATE TABLE plan_history (
    organisation_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, kind, item_id, version)
);
