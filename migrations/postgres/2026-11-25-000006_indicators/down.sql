DROP TABLE indicator_values;
DROP TABLE indicators;
