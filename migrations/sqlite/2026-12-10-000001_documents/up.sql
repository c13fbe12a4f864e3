-- The lägesbild and åtgärdsplan documents (lag 2023:196), as approved: each approval is a new
-- version of its kind and period, numbered from 1, with who approved it and when, and the
-- document as rendered then (HTML, CSV, XLSX), so that it reads the same for ever after.
CREATE TABLE plan_documents (
    organisation_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    period TEXT NOT NULL,
    version BIGINT NOT NULL,
    lang TEXT NOT NULL,
    analysis TEXT NOT NULL,
    partner_input TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_by_name TEXT NOT NULL,
    approved_at BIGINT NOT NULL,
    html TEXT NOT NULL,
    csv TEXT NOT NULL,
    xlsx BLOB NOT NULL,
    PRIMARY KEY (organisation_id, id),
    UNIQUE (organisation_id, kind, period, version)
);
