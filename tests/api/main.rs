//! The API test suite: real HTTP against a real server and a real database.

mod area_lifecycle;
mod areas;
mod auth_login;
mod cli;
mod crash;
mod cursor;
mod dashboard;
mod demo;
mod errors;
mod field_app;
mod fleet;
mod followup;
mod health;
mod helpers;
mod indicators;
mod migrations;
mod nul;
mod picture;
mod records;
mod revocation;
mod shared_client;
mod spec;
mod sync;
mod tenancy;
mod tokens;
mod users_admin;
