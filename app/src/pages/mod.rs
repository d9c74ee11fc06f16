//! One module per page.

pub mod account;
pub mod alerts;
pub mod app_jobs;
pub mod app_scaling;
pub mod app_triggers;
pub mod apps;
pub mod cluster;
pub mod clusters;
pub mod dashboard;
pub mod history;
pub mod invite;
pub mod job;
pub mod logs;
pub mod node;
pub mod not_found;
pub mod overview;
pub mod prepare_host;
pub mod rebalance;
pub mod routing;
pub mod settings;
pub mod setup;
pub mod signin;
pub mod templates;
pub mod users;
