//! Apps: Compose templates deployed to a cluster as swarm stacks, their versions, drift and
//! adoption, the workload policy every workload change passes, their health between jobs, and the
//! template catalog.

pub mod app;
pub(crate) mod converge;
pub(crate) mod drift;
pub(crate) mod health;
pub(crate) mod plan;
pub(crate) mod policy;
pub mod template;
pub(crate) mod versions;
