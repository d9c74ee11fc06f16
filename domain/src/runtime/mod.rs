//! Runtime: work that outlives a request — jobs and their claims, leases between replicas,
//! background loops — and idempotency keys for retried requests.

pub mod idempotency;
pub mod job;
pub(crate) mod lease;
