//! Apps: Compose templates deployed to a cluster as swarm stacks — what an app is and reads as
//! (`app.rs`), how its objects are named (`plan.rs`), its jobs (`converge.rs`), versions and diffs
//! (`versions.rs`), drift and adoption (`drift.rs`), the workload policy every workload change
//! passes (`policy.rs`), the routes an app claims (`routes.rs`), what an update would do (`preview.rs`), blue-green releases (`release.rs`), their health between jobs (`health.rs`), the URLs CI calls to
//! redeploy, scale or roll back (`triggers.rs`, with the signatures and the limit in `trigger_auth.rs`), and the template catalog (`template.rs`).
//!
//! May import: `runtime/`, `audit/`, `engine/`, `store/`, the root files, and `clusters/` (apps run on
//! a cluster's nodes, named and labelled as the cluster's). Must not import `access/` or
//! `observe/`; `observe/` may use it (an alert rule names an app's services).

pub mod app;
pub(crate) mod converge;
pub(crate) mod drift;
pub(crate) mod health;
pub(crate) mod plan;
pub(crate) mod policy;
pub mod preview;
pub mod release;
pub(crate) mod routes;
pub mod template;
pub(crate) mod trigger_auth;
pub mod triggers;
pub(crate) mod versions;
