//! Runtime: work that outlives a request — jobs, their steps and claims (`job.rs`), leases between
//! replicas and background loops (`lease.rs`: `Berth::every`, stopping), and idempotency keys for
//! retried REST requests (`idempotency.rs`). It knows no part of the product: what to do after
//! interrupted jobs is each part's, registered through `job::Recovery`.
//!
//! May import: `audit/` (a job records its attempt), `engine/`, `store/` and the root files. Must not
//! import a product folder.

pub mod idempotency;
pub mod job;
pub(crate) mod lease;
