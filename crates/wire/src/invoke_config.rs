//! Shapes of the asynchronous invocation configuration API: Put-, Get-, Update-, Delete- and
//! ListFunctionEventInvokeConfig(s) (botocore's `lambda` model, API version `2019-09-25`).

use ignis_model::ValidationError;
use ignis_model::invoke_config::{EventInvokeConfig, MAX_EVENT_AGE, MAX_RETRIES, MIN_EVENT_AGE};
use serde::{Deserialize, Serialize};

/// `DestinationArn`'s length bound in the model.
const MAX_DESTINATION: usize = 350;

/// `OnSuccess` and `OnFailure`: one destination ARN, absent when none is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationShape {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// `DestinationConfig`. AWS answers both members, empty when not set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    #[serde(default)]
    pub on_success: Option<DestinationShape>,
    #[serde(default)]
    pub on_failure: Option<DestinationShape>,
}

/// The body of Put- and UpdateFunctionEventInvokeConfig.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfigRequest {
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_in_seconds: Option<i64>,
    pub destination_config: Option<DestinationConfig>,
}

fn range(field: &'static str, value: i64, min: u32, max: u32, found: &mut Vec<ValidationError>) {
    if value < i64::from(min) {
        found.push(ValidationError::Constraint {
            field,
            value: value.to_string(),
            constraint: format!("Member must have value greater than or equal to {min}"),
        });
    } else if value > i64::from(max) {
        found.push(ValidationError::Constraint {
            field,
            value: value.to_string(),
            constraint: format!("Member must have value less than or equal to {max}"),
        });
    }
}

impl EventInvokeConfigRequest {
    /// Whether it sets nothing at all (AWS refuses that).
    pub fn is_empty(&self) -> bool {
        self.maximum_retry_attempts.is_none()
            && self.maximum_event_age_in_seconds.is_none()
            && self.destination_config.is_none()
    }

    /// The destination ARNs it sets, `(on_success, on_failure)`; an empty string is none.
    pub fn destinations(&self) -> (Option<&str>, Option<&str>) {
        fn pick(d: &Option<DestinationShape>) -> Option<&str> {
            d.as_ref()
                .and_then(|d| d.destination.as_deref())
                .filter(|d| !d.is_empty())
        }
        match &self.destination_config {
            Some(c) => (pick(&c.on_success), pick(&c.on_failure)),
            None => (None, None),
        }
    }

    /// The model's constraints on the body's members.
    pub fn violations(&self) -> Vec<ValidationError> {
        let mut found = Vec::new();
        if let Some(n) = self.maximum_retry_attempts {
            range("maximumRetryAttempts", n, 0, MAX_RETRIES, &mut found);
        }
        if let Some(n) = self.maximum_event_age_in_seconds {
            range(
                "maximumEventAgeInSeconds",
                n,
                MIN_EVENT_AGE,
                MAX_EVENT_AGE,
                &mut found,
            );
        }
        let c = self.destination_config.clone().unwrap_or_default();
        for (field, d) in [
            ("destinationConfig.onSuccess.destination", &c.on_success),
            ("destinationConfig.onFailure.destination", &c.on_failure),
        ] {
            if let Some(arn) = d.as_ref().and_then(|d| d.destination.as_deref())
                && arn.chars().count() > MAX_DESTINATION
            {
                found.push(ValidationError::Constraint {
                    field,
                    value: arn.to_string(),
                    constraint: format!(
                        "Member must have length less than or equal to {MAX_DESTINATION}"
                    ),
                });
            }
        }
        found
    }
}

/// `FunctionEventInvokeConfig`, as every operation answers it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionEventInvokeConfig {
    /// A `timestamp` in the model: seconds since the epoch in the REST-JSON protocol.
    pub last_modified: f64,
    pub function_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
    pub destination_config: DestinationConfig,
}

impl FunctionEventInvokeConfig {
    /// The wire form of a stored configuration, its function named by `function_arn`.
    pub fn from_config(c: &EventInvokeConfig, function_arn: String) -> FunctionEventInvokeConfig {
        let shape = |d: &Option<String>| {
            Some(DestinationShape {
                destination: d.clone(),
            })
        };
        FunctionEventInvokeConfig {
            last_modified: c.last_modified_ms as f64 / 1000.0,
            function_arn,
            maximum_retry_attempts: c.max_retries,
            maximum_event_age_in_seconds: c.max_event_age,
            destination_config: DestinationConfig {
                on_success: shape(&c.on_success),
                on_failure: shape(&c.on_failure),
            },
        }
    }
}

/// ListFunctionEventInvokeConfigs' answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionEventInvokeConfigsResponse {
    pub function_event_invoke_configs: Vec<FunctionEventInvokeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_is_checked() {
        let req: EventInvokeConfigRequest =
            serde_json::from_str(r#"{"MaximumRetryAttempts":3,"MaximumEventAgeInSeconds":59}"#)
                .unwrap();
        let found = req.violations();
        assert_eq!(found.len(), 2);
        let ok: EventInvokeConfigRequest =
            serde_json::from_str(r#"{"MaximumRetryAttempts":0,"MaximumEventAgeInSeconds":21600}"#)
                .unwrap();
        assert!(ok.violations().is_empty());
        let low: EventInvokeConfigRequest =
            serde_json::from_str(r#"{"MaximumRetryAttempts":-1,"MaximumEventAgeInSeconds":21601}"#)
                .unwrap();
        assert_eq!(low.violations().len(), 2);
    }

    #[test]
    fn unset_destinations_are_empty_objects() {
        let c = EventInvokeConfig {
            function: "f".into(),
            qualifier: "$LATEST".into(),
            last_modified_ms: 1500,
            max_retries: Some(1),
            max_event_age: None,
            on_success: None,
            on_failure: Some("arn:aws:sqs:us-east-1:123456789012:q".into()),
        };
        let v =
            serde_json::to_value(FunctionEventInvokeConfig::from_config(&c, "arn".into())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "LastModified": 1.5,
                "FunctionArn": "arn",
                "MaximumRetryAttempts": 1,
                "DestinationConfig": {
                    "OnSuccess": {},
                    "OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:q"}
                }
            })
        );
    }
}
