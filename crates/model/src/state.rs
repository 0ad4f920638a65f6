//! A function version's lifecycle, as AWS reports it in `State` and `LastUpdateStatus`.
//!
//! CreateFunction stores `$LATEST` as [`FunctionState::Pending`] and answers so; once the create
//! has committed (its code stored, its `/opt` built) the control plane turns it
//! [`FunctionState::Active`]. UpdateFunctionCode and UpdateFunctionConfiguration store
//! [`UpdateStatus::InProgress`] and answer so; it turns [`UpdateStatus::Successful`] once the
//! update has committed. Each transition is a stored write with a new RevisionId, as on AWS.

use serde::{Deserialize, Serialize};

/// The reason AWS gives for both `Pending` and `InProgress`.
pub const CREATING_REASON: &str = "The function is being created.";
/// The reason code AWS gives for both `Pending` and `InProgress`.
pub const CREATING_REASON_CODE: &str = "Creating";

/// `State` of a function version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FunctionState {
    /// Stored, not ready to run yet (`StateReasonCode: Creating`).
    Pending,
    /// Ready to run. Records written before states were stored decode as `Active`.
    #[default]
    Active,
}

impl FunctionState {
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionState::Pending => "Pending",
            FunctionState::Active => "Active",
        }
    }
}

/// `LastUpdateStatus` of a function version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum UpdateStatus {
    /// An update was stored and is not settled yet (`LastUpdateStatusReasonCode: Creating`).
    InProgress,
    /// Settled. Records written before update statuses were stored decode as `Successful`.
    #[default]
    Successful,
}

impl UpdateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateStatus::InProgress => "InProgress",
            UpdateStatus::Successful => "Successful",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_settled_states() {
        assert_eq!(FunctionState::default(), FunctionState::Active);
        assert_eq!(UpdateStatus::default(), UpdateStatus::Successful);
        assert_eq!(FunctionState::Pending.as_str(), "Pending");
        assert_eq!(UpdateStatus::InProgress.as_str(), "InProgress");
    }
}
