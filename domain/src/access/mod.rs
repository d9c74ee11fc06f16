//! Access: who may use Berth and how they prove it — accounts (`accounts.rs`, `user.rs`),
//! passwords (`password.rs`), sign-in, sessions and their throttling (`session.rs`,
//! `throttle.rs`), the first admin (`bootstrap.rs`), grants, invite links, API tokens and shared
//! dashboard links (`grants.rs`, `invites.rs`, `tokens.rs`, `shares.rs`). Who may do what is
//! decided in `crate::authz` (at the root: every layer authorizes).
//!
//! May import: `runtime/`, `audit/`, `engine/`, `store/`, the root files, and of the other product
//! folders `clusters/` and `observe/` (a shared dashboard shows a cluster, its alerts and charts).
//! Must not import `apps/`, nor be imported by another product folder.

pub mod accounts;
pub mod bootstrap;
pub mod grants;
pub mod invites;
pub mod password;
pub mod session;
pub mod shares;
pub mod throttle;
pub mod tokens;
pub mod user;
