//! Audit: the operation history — one row per attempt, chained by hashes — its reading and
//! verification, and the bounded recording of refusals anyone can cause.

pub mod history;
pub mod operation;
pub mod refusals;
