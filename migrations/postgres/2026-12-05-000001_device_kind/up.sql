-- What a device is and what it runs: `kind` keeps dashboard sessions apart from phones,
-- `platform` is read from the browser's User-Agent at login ("Chrome · Android"), and `label` is
-- the name the device's user gave it ("Annas tjänstetelefon"), kept across logins of that user.
ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'phone';
ALTER TABLE devices ADD COLUMN platform TEXT;
ALTER TABLE devices ADD COLUMN label TEXT;
-- Dashboards registered before the kind existed named themselves "Dashboard (…)".
UPDATE devices SET kind = 'dashboard' WHERE name LIKE 'Dashboard (%';
