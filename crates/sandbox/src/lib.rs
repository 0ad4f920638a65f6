//! Ignis's sandbox: what makes an execution environment an isolated, limited process tree on
//! Linux, without a container daemon.
//!
//! This crate owns
//! - the jailer ([`jail`]): the `ignis __jail` helper process that unshares the mount, PID, IPC,
//!   UTS and network namespaces, builds the environment's read-only root ([`mounts`]), joins its
//!   cgroup, drops to an unprivileged user with no capabilities and `no_new_privs`, installs the
//!   seccomp filter ([`seccomp`]) and execs the runtime;
//! - cgroups v1 and v2 behind one interface ([`cgroup`]): limits, freezing, peak memory, OOM
//!   kills;
//! - the limits computed from a function's configuration ([`limits`]);
//! - the `/tmp` images ([`scratch`]) and the parts made ahead of time, off the cold-start path
//!   ([`prewarm`]: network namespaces with slirp4netns, detached `/tmp` mounts);
//! - the typed set-up messages between the server and the jailer ([`proto`], [`spec`]) and the
//!   server's side of building environments ([`factory`]);
//! - the host probe that decides whether sandboxes can be built here ([`probe`]);
//! - the block of uids a node reserves for its environments ([`uids`]).
//!
//! It is synchronous (no tokio): the invoker calls it from blocking threads. It does not own the
//! Runtime API, the pool of environments, or what runs inside (program, arguments, variables
//! come from the invoker). All `unsafe` code of Ignis is in the private `sys` module.

#![deny(unsafe_code)]

pub mod cgroup;
pub mod factory;
pub mod jail;
pub mod limits;
pub mod mounts;
pub mod prewarm;
pub mod probe;
pub mod procview;
pub mod proto;
pub mod scratch;
pub mod seccomp;
pub mod spec;
mod sys;
pub mod uids;

pub use cgroup::{Cgroup, CgroupPaths, NodeCeilings, NodeCgroup};
pub use factory::{Environment, Factory, FactoryConfig, StartError};
pub use limits::Limits;
pub use spec::{RootSpec, SetupSpec, TmpSpec};
