//! Access: who may use Berth and how they prove it — accounts, passwords, sign-in and sessions,
//! sign-in throttling, the first admin, grants, invite links, API tokens and shared dashboard links.

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
