//! AWS managed policies that Lambda users attach by ARN (`arn:aws:iam::aws:policy/…`), with
//! AWS's documents (`policies/aws-managed.json`, loaded once).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::LazyLock;

/// One AWS managed policy, at its default version.
#[derive(Debug, Clone)]
pub struct AwsPolicy {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub description: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub default_version: String,
    /// The default version's document, compact JSON.
    pub document: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    policy_name: String,
    path: String,
    policy_id: String,
    description: String,
    create_date: DateTime<Utc>,
    update_date: DateTime<Utc>,
    default_version_id: String,
    document: serde_json::Value,
}

static POLICIES: LazyLock<Vec<AwsPolicy>> = LazyLock::new(|| {
    let entries: Vec<Entry> = serde_json::from_str(include_str!("../policies/aws-managed.json"))
        .expect("policies/aws-managed.json is valid");
    entries
        .into_iter()
        .map(|e| AwsPolicy {
            arn: format!("arn:aws:iam::aws:policy{}{}", e.path, e.policy_name),
            name: e.policy_name,
            path: e.path,
            id: e.policy_id,
            description: e.description,
            created: e.create_date,
            updated: e.update_date,
            default_version: e.default_version_id,
            document: e.document.to_string(),
        })
        .collect()
});

/// Every AWS managed policy this node knows, in name order.
pub fn all() -> impl Iterator<Item = &'static AwsPolicy> {
    let mut v: Vec<&AwsPolicy> = POLICIES.iter().collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v.into_iter()
}

/// The AWS managed policy with this ARN.
pub fn get(arn: &str) -> Option<&'static AwsPolicy> {
    POLICIES.iter().find(|p| p.arn == arn)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lambdas_policies_are_known_by_arn() {
        for arn in [
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "arn:aws:iam::aws:policy/AmazonS3FullAccess",
            "arn:aws:iam::aws:policy/AWSLambda_FullAccess",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::aws:policy/CloudWatchLogsFullAccess",
            "arn:aws:iam::aws:policy/IAMFullAccess",
        ] {
            let p = super::get(arn).unwrap_or_else(|| panic!("{arn}"));
            assert!(p.id.starts_with("ANPA"), "{arn}");
            assert!(p.document.contains("\"Statement\""));
        }
    }
}
