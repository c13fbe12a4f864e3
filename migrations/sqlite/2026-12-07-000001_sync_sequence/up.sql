-- SQLite has one writer at a time: sequence numbers stay in sync_state (see the PostgreSQL
-- migration of the same name). Kept so both backends list the same migrations.
SELECT 1;
