DROP TABLE auth_state;
DROP TABLE refresh_tokens;
DROP TABLE devices;
DROP TABLE users;
DROP TABLE units;
DROP TABLE organisations;
