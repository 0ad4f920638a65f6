//! Which IAM action and resource each CloudWatch Logs operation is, as AWS's Service
//! Authorization Reference for Logs names them (`logs:<Operation>`; a log group as
//! `arn:aws:logs:<region>:<account>:log-group:<name>:log-stream:` and a stream as
//! `…:log-group:<name>:log-stream:<stream>`, so that `log-group:<name>:*` covers both, as on
//! AWS; DescribeLogGroups on `…:log-group::log-stream:`), checked by the caller's
//! identity-based policies. Resource policies are not stored, so none are evaluated.

use crate::Logs;
use crate::error::LogsError;
use ignis_identity::{Authenticated, Decision};

/// The names a request may carry, read apart from its operation's own input.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Names {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: Option<String>,
    resource_arn: Option<String>,
    log_group_identifiers: Option<Vec<String>>,
}

impl Logs {
    /// `…:log-group:<group>:log-stream:<stream>`; a group given by its ARN keeps it.
    fn stream_arn(&self, group: &str, stream: &str) -> String {
        let group = match group.strip_prefix("arn:") {
            Some(_) => group.trim_end_matches(":*").to_string(),
            None => format!(
                "arn:aws:logs:{}:{}:log-group:{group}",
                self.region, self.account
            ),
        };
        format!("{group}:log-stream:{stream}")
    }

    /// The resources an operation acts on (each must be allowed).
    fn resources(&self, operation: &str, body: &[u8]) -> Vec<String> {
        let names: Names = serde_json::from_slice(body).unwrap_or_default();
        let group = names
            .log_group_name
            .as_deref()
            .or(names.log_group_identifier.as_deref())
            .unwrap_or_default();
        match operation {
            "DescribeLogGroups" => vec![self.stream_arn("", "")],
            "TagResource" | "UntagResource" | "ListTagsForResource" => {
                vec![names.resource_arn.unwrap_or_else(|| "*".into())]
            }
            "CreateLogStream" | "DeleteLogStream" | "PutLogEvents" | "GetLogEvents" => {
                vec![self.stream_arn(group, names.log_stream_name.as_deref().unwrap_or_default())]
            }
            "StartLiveTail" => names
                .log_group_identifiers
                .unwrap_or_default()
                .iter()
                .map(|g| self.stream_arn(g, ""))
                .collect(),
            _ => vec![self.stream_arn(group, "")],
        }
    }

    /// Whether the caller may make the request; Logs' AccessDeniedException if not.
    pub(crate) fn authorize(
        &self,
        operation: &str,
        body: &[u8],
        signed: &Authenticated,
    ) -> Result<(), LogsError> {
        let principal = &signed.principal;
        if principal.is_root() {
            return Ok(());
        }
        let action = format!("logs:{operation}");
        for resource in self.resources(operation, body) {
            match self
                .identity
                .decide(principal, signed.source_ip, &action, &resource, &[])
            {
                Decision::Allow => {}
                d => {
                    return Err(LogsError::Auth(
                        "AccessDeniedException",
                        principal.denial(&action, &resource, d == Decision::ExplicitDeny),
                    ));
                }
            }
        }
        Ok(())
    }
}
