DROP TABLE partner_areas;
ALTER TABLE organisations DROP COLUMN suppression_k;
