DROP TABLE plan_history;
DROP TABLE measures;
DROP TABLE problems;
