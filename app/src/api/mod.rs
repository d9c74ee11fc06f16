//! Server functions — one module per domain noun — and the DTOs they return.
//!
//! Each server function does three things: find the actor the request carries, call the domain, map
//! the answer to a DTO (or the error to an [`AppError`](crate::error::AppError)). Nothing else.

pub mod app;
pub mod cluster;
pub mod engine;
pub mod jobs;
pub mod list;
pub mod observe;
pub mod ram;
pub mod rebalance;
pub mod routing;
pub mod scaling;
pub mod session;
pub mod trigger;

#[cfg(feature = "ssr")]
pub mod ssr;
