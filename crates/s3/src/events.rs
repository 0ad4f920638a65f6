//! Bucket notifications as the object store uses them: validating a configuration against the
//! functions it names, and turning an object change into the asynchronous invocations its
//! bucket's configuration asks for (committed by the caller with the change itself).

use crate::Objects;
use crate::errors::internal;
use crate::notify::{self, BucketNotifications, DestinationCheck, EventFacts};
use ignis_model::FunctionRef;
use ignis_model::trace::Trigger;
use ignis_store::{AsyncEvent, BucketRecord, ServiceRequest};
use s3s::S3Result;
use s3s::dto::{GetBucketNotificationConfigurationOutput, NotificationConfiguration};

/// The principal S3 invokes functions as.
pub const S3_PRINCIPAL: &str = "s3.amazonaws.com";

/// One change of one object.
pub struct Change<'a> {
    pub key: &'a str,
    /// Without `s3:`, e.g. `ObjectCreated:Put`.
    pub event: &'static str,
    /// Size and ETag of a created object (not given for a removal).
    pub size: Option<u64>,
    pub etag: Option<&'a str>,
    /// The request that made the change, and where it came from.
    pub request: &'a RequestFacts,
}

/// What an event record says about the request behind it.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    pub request_id: String,
    pub host_id: String,
    pub source_ip: String,
    /// Who made it (`userIdentity.principalId`).
    pub principal: String,
}

fn stored(bucket: &BucketRecord) -> BucketNotifications {
    bucket
        .notification
        .as_deref()
        .and_then(|json| match serde_json::from_str(json) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::error!(bucket = %bucket.name, error = %e, "stored notification configuration is unreadable");
                None
            }
        })
        .unwrap_or_default()
}

/// The asynchronous invocations `change` causes: one per matching configuration whose function
/// still exists (as on S3, a destination deleted since is not delivered to).
pub fn for_change(
    objects: &Objects,
    bucket: &BucketRecord,
    change: &Change<'_>,
    now_ms: i64,
) -> Vec<AsyncEvent> {
    let rules = stored(bucket);
    if rules.is_empty() {
        return Vec::new();
    }
    let event_name = format!("s3:{}", change.event);
    let mut events = Vec::new();
    for (id, arn) in rules.matching(&event_name, change.key) {
        let target = FunctionRef::parse(arn)
            .map_err(|e| e.to_string())
            .and_then(|r| objects.engine.resolve(&r).map_err(|e| e.to_string()));
        let target = match target {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(bucket = %bucket.name, function = %arn, error = %e, "notification not delivered: its function is gone");
                continue;
            }
        };
        let sequencer = objects.sequencer.next();
        let time = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
        let payload = notify::event_record(&EventFacts {
            region: &bucket.region,
            time,
            event_name: change.event,
            principal_id: &change.request.principal,
            source_ip: &change.request.source_ip,
            request_id: &change.request.request_id,
            host_id: &change.request.host_id,
            configuration_id: id,
            bucket: &bucket.name,
            owner_principal_id: &objects.account.id,
            key: change.key,
            size: change.size.unwrap_or(0),
            etag: change.etag.unwrap_or(""),
            version_id: None,
            sequencer: &sequencer,
        });
        let request_id = uuid::Uuid::new_v4().to_string();
        events.push(objects.engine.async_event(
            &target,
            request_id,
            payload,
            now_ms,
            (None, Trigger::Datasource),
        ));
    }
    events
}

/// Validates a configuration as S3 does — each destination must exist and let S3 invoke it for
/// this bucket and account — and returns the form to store (`None`: no configuration).
pub async fn configure(
    objects: &Objects,
    bucket: &BucketRecord,
    config: NotificationConfiguration,
) -> S3Result<Option<String>> {
    let source_arn = format!("arn:aws:s3:::{}", bucket.name);
    let rules = notify::validate(&config, |arn| {
        let arn = arn.to_string();
        let source_arn = source_arn.clone();
        async move { destination(objects, &arn, &source_arn).await }
    })
    .await?;
    if rules.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(&rules).map(Some).map_err(internal)
}

async fn destination(objects: &Objects, arn: &str, source_arn: &str) -> DestinationCheck {
    let Ok(function) = FunctionRef::parse(arn) else {
        return DestinationCheck::NotFound;
    };
    if !function.belongs_to(&objects.account) || objects.engine.resolve(&function).is_err() {
        return DestinationCheck::NotFound;
    }
    let function_arn = objects.account.function_arn(&function.name);
    let request = ServiceRequest {
        principal: S3_PRINCIPAL,
        action: "lambda:InvokeFunction",
        function_arn: &function_arn,
        source_arn: Some(source_arn),
        source_account: Some(&objects.account.id),
        ..Default::default()
    };
    let qualifier = function.qualifier.as_ref().map(|q| q.to_string());
    match objects
        .store
        .function_allows_service(&function.name, qualifier.as_deref(), &request)
        .await
    {
        Ok(true) => DestinationCheck::Ok,
        Ok(false) => DestinationCheck::NotAuthorized,
        Err(e) => {
            tracing::error!(error = ?e, "cannot read a function policy");
            DestinationCheck::NotAuthorized
        }
    }
}

/// What GetBucketNotificationConfiguration answers.
pub fn configuration(bucket: &BucketRecord) -> GetBucketNotificationConfigurationOutput {
    let dto = stored(bucket).to_dto();
    GetBucketNotificationConfigurationOutput {
        lambda_function_configurations: dto.lambda_function_configurations,
        ..Default::default()
    }
}
