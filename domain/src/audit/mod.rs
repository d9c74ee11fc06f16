//! Audit: the operation history. `operation.rs` writes it — `Berth::mutate` authorizes, runs and
//! records one row per attempt, `Berth::finish` records the attempts it does not run; the store
//! appends each row with its link in the hash chain (`store/audit.rs`). `history.rs` reads it
//! (filtered, grant-scoped, CSV) and verifies the chain. `refusals.rs` records the refusals anyone
//! can cause, bounded per source.
//!
//! May import: `engine/`, `store/` and the root files. Must not import `runtime/` or a product
//! folder: everything above records through it.

pub mod history;
pub mod operation;
pub mod refusals;
