//! Lambda's wire format: the JSON shapes of the control-plane API, the header names, and
//! [`LambdaApiError`], the one type that becomes an error response.
//!
//! Member names and casing follow botocore's service model for `lambda` 2015-03-31. This crate
//! converts between the wire and `ignis-model`; it holds no state and does no I/O.

pub mod alias;
pub mod error;
pub mod eventstream;
pub mod function;
pub mod headers;
pub mod invoke_config;
pub mod layer;
pub mod policy;
pub mod url;

pub use error::LambdaApiError;
