//! One module per page.

pub mod cluster;
pub mod clusters;
pub mod job;
pub mod node;
pub mod not_found;
pub mod overview;
pub mod prepare_host;
pub mod settings;
pub mod setup;
pub mod signin;
