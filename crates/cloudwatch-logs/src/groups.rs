//! Log groups: CreateLogGroup, DescribeLogGroups, DeleteLogGroup, retention policies, and tags
//! (by group name and by ARN).

use crate::validate;
use crate::{Logs, LogsError, now_ms, tokens};
use ignis_logs::{GroupChange, GroupInfo, GroupMeta};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    log_group_name: String,
    kms_key_id: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    log_group_class: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupNameInput {
    log_group_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    log_group_name_prefix: Option<String>,
    log_group_name_pattern: Option<String>,
    log_group_identifiers: Option<Vec<String>>,
    next_token: Option<String>,
    limit: Option<i64>,
    log_group_class: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionInput {
    log_group_name: String,
    retention_in_days: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagGroupInput {
    log_group_name: String,
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagGroupInput {
    log_group_name: String,
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagResourceInput {
    resource_arn: String,
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagResourceInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceInput {
    resource_arn: String,
}

const CLASSES: &[&str] = &["STANDARD", "INFREQUENT_ACCESS", "DELIVERY"];

fn class(value: Option<&str>) -> Result<(), LogsError> {
    match value {
        None | Some("STANDARD") => Ok(()),
        Some(c) if CLASSES.contains(&c) => Err(LogsError::InvalidParameter(format!(
            "logGroupClass {c} is not supported by Ignis; only STANDARD is."
        ))),
        Some(c) => Err(LogsError::InvalidParameter(format!(
            "1 validation error detected: Value '{c}' at 'logGroupClass' failed to satisfy \
             constraint: Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]"
        ))),
    }
}

pub async fn create(logs: &Logs, input: CreateInput) -> Result<Value, LogsError> {
    validate::group_name("logGroupName", &input.log_group_name)?;
    class(input.log_group_class.as_deref())?;
    if let Some(tags) = &input.tags {
        validate::tags(tags)?;
    }
    if input.kms_key_id.is_some() {
        return Err(LogsError::InvalidParameter(
            "kmsKeyId is not supported by Ignis: log groups are not encrypted with KMS keys."
                .into(),
        ));
    }
    let mut meta = GroupMeta::new(&input.log_group_name, now_ms());
    meta.tags = input.tags.unwrap_or_default();
    logs.store.create_group(meta).await?;
    Ok(json!({}))
}

/// The group's `LogGroup` shape.
fn shape(logs: &Logs, g: &GroupInfo) -> Value {
    let arn = logs.group_arn(&g.meta.name);
    let mut v = json!({
        "logGroupName": g.meta.name,
        "creationTime": g.meta.creation_ms,
        "metricFilterCount": 0,
        "arn": format!("{arn}:*"),
        "storedBytes": g.stored_bytes,
        "logGroupClass": "STANDARD",
        "logGroupArn": arn,
        "deletionProtectionEnabled": false,
    });
    if let Some(days) = g.meta.retention_days {
        v["retentionInDays"] = json!(days);
    }
    v
}

/// The group a name or an ARN (with or without `:*`) names, as a name.
pub(crate) fn identifier_name<'a>(logs: &Logs, id: &'a str) -> &'a str {
    let prefix = logs.group_arn("");
    match id.strip_prefix(prefix.as_str()) {
        Some(rest) => rest.strip_suffix(":*").unwrap_or(rest),
        None => id,
    }
}

pub async fn describe(logs: &Logs, input: DescribeInput) -> Result<Value, LogsError> {
    if let Some(p) = &input.log_group_name_prefix {
        validate::group_name("logGroupNamePrefix", p)?;
    }
    if input.log_group_name_prefix.is_some() && input.log_group_name_pattern.is_some() {
        return Err(LogsError::InvalidParameter(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
                .into(),
        ));
    }
    let limit = input.limit.unwrap_or(50);
    validate::range("limit", limit, 1, 50)?;
    class(input.log_group_class.as_deref())?;
    let after: Option<String> = tokens::decode_opt(input.next_token.as_deref())?;
    let wanted: Option<Vec<&str>> = input
        .log_group_identifiers
        .as_ref()
        .map(|ids| ids.iter().map(|id| identifier_name(logs, id)).collect());
    let mut page = Vec::new();
    let mut more = false;
    for g in logs.store.groups().await? {
        let name = g.meta.name.as_str();
        let keep = input
            .log_group_name_prefix
            .as_ref()
            .is_none_or(|p| name.starts_with(p.as_str()))
            && input
                .log_group_name_pattern
                .as_ref()
                .is_none_or(|p| name.contains(p.as_str()))
            && wanted.as_ref().is_none_or(|w| w.contains(&name))
            && after.as_ref().is_none_or(|a| name > a.as_str());
        if !keep {
            continue;
        }
        if page.len() as i64 == limit {
            more = true;
            break;
        }
        page.push(g);
    }
    let mut out = json!({"logGroups": page.iter().map(|g| shape(logs, g)).collect::<Vec<_>>()});
    if more && let Some(last) = page.last() {
        out["nextToken"] = json!(tokens::encode(&last.meta.name));
    }
    Ok(out)
}

pub async fn delete(logs: &Logs, input: GroupNameInput) -> Result<Value, LogsError> {
    validate::group_name("logGroupName", &input.log_group_name)?;
    logs.store.delete_group(&input.log_group_name).await?;
    Ok(json!({}))
}

async fn change(logs: &Logs, name: &str, change: GroupChange) -> Result<Value, LogsError> {
    validate::group_name("logGroupName", name)?;
    logs.store.change_group(name, change).await?;
    Ok(json!({}))
}

pub async fn put_retention(logs: &Logs, input: RetentionInput) -> Result<Value, LogsError> {
    let days = validate::retention(input.retention_in_days)?;
    change(
        logs,
        &input.log_group_name,
        GroupChange::Retention(Some(days)),
    )
    .await
}

pub async fn delete_retention(logs: &Logs, input: GroupNameInput) -> Result<Value, LogsError> {
    change(logs, &input.log_group_name, GroupChange::Retention(None)).await
}

/// At most 50 tags on a group, as AWS allows.
async fn add_tags(
    logs: &Logs,
    name: &str,
    tags: BTreeMap<String, String>,
    too_many: impl FnOnce() -> LogsError,
) -> Result<Value, LogsError> {
    validate::tags(&tags)?;
    let existing = group(logs, name).await?.meta.tags;
    let after = existing
        .keys()
        .chain(tags.keys())
        .collect::<std::collections::BTreeSet<_>>();
    if after.len() > 50 {
        return Err(too_many());
    }
    change(logs, name, GroupChange::Tag(tags)).await
}

pub(crate) async fn group(logs: &Logs, name: &str) -> Result<GroupInfo, LogsError> {
    logs.store
        .group(name)
        .await?
        .ok_or_else(LogsError::no_group)
}

pub async fn tag_log_group(logs: &Logs, input: TagGroupInput) -> Result<Value, LogsError> {
    validate::group_name("logGroupName", &input.log_group_name)?;
    add_tags(logs, &input.log_group_name, input.tags, || {
        LogsError::InvalidParameter("A resource can have no more than 50 tags.".into())
    })
    .await
}

pub async fn untag_log_group(logs: &Logs, input: UntagGroupInput) -> Result<Value, LogsError> {
    for k in &input.tags {
        validate::tag_key("tags", k)?;
    }
    change(logs, &input.log_group_name, GroupChange::Untag(input.tags)).await
}

pub async fn list_tags_log_group(logs: &Logs, input: GroupNameInput) -> Result<Value, LogsError> {
    validate::group_name("logGroupName", &input.log_group_name)?;
    Ok(json!({"tags": group(logs, &input.log_group_name).await?.meta.tags}))
}

/// The group an ARN names (`arn:aws:logs:<region>:<account>:log-group:<name>`).
fn arn_group<'a>(logs: &Logs, arn: &'a str) -> Result<&'a str, LogsError> {
    let prefix = logs.group_arn("");
    match arn.strip_prefix(prefix.as_str()) {
        Some(name) if !name.is_empty() && !name.ends_with(":*") => Ok(name),
        _ if arn.starts_with("arn:") => Err(LogsError::ResourceNotFound(format!(
            "The specified resource does not exist: {arn}"
        ))),
        _ => Err(LogsError::InvalidParameter(format!(
            "The specified resource ARN is invalid: {arn}"
        ))),
    }
}

pub async fn tag_resource(logs: &Logs, input: TagResourceInput) -> Result<Value, LogsError> {
    let name = arn_group(logs, &input.resource_arn)?;
    let arn = input.resource_arn.clone();
    add_tags(logs, name, input.tags, move || {
        LogsError::TooManyTags(format!("A resource can have no more than 50 tags: {arn}"))
    })
    .await
}

pub async fn untag_resource(logs: &Logs, input: UntagResourceInput) -> Result<Value, LogsError> {
    let name = arn_group(logs, &input.resource_arn)?;
    for k in &input.tag_keys {
        validate::tag_key("tagKeys", k)?;
    }
    change(logs, name, GroupChange::Untag(input.tag_keys)).await
}

pub async fn list_tags_for_resource(logs: &Logs, input: ResourceInput) -> Result<Value, LogsError> {
    let name = arn_group(logs, &input.resource_arn)?;
    Ok(json!({"tags": group(logs, name).await?.meta.tags}))
}
