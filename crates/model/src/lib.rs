//! Ignis's domain types: functions, their configuration and its validation, names, qualifiers and
//! ARNs, runtimes, function URLs, X-Ray trace ids and Lambda's limits.
//!
//! This crate does no I/O and knows nothing of HTTP or JSON wire shapes (those live in
//! `ignis-wire`). Everything here is pure and unit-tested beside the code.

pub mod alias;
pub mod arn;
pub mod function;
pub mod invoke_config;
pub mod layer;
pub mod limits;
pub mod runtime;
pub mod state;
pub mod time;
pub mod trace;
pub mod url;

pub use alias::Alias;
pub use arn::{Account, FunctionRef, Qualifier};
pub use function::{
    Architecture, FunctionConfig, LogFormat, LoggingConfig, TracingMode, ValidationError,
};
pub use runtime::{Runtime, RuntimeFamily};
pub use state::{FunctionState, UpdateStatus};
