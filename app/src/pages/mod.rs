//! One module per page.

pub mod not_found;
pub mod overview;
pub mod setup;
pub mod signin;
