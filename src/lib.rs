//! lagesbild: offline field reports, the shared situational picture and follow-up counts for
//! municipal safety work.

pub mod accounts;
pub mod auth;
pub mod backup;
pub mod basemap;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod export;
pub mod jobs;
pub mod metrics;
pub mod photos;
pub mod picture;
pub mod reports;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
