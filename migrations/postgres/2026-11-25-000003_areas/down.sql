DROP TABLE area_jobs;
DROP TABLE areas;
