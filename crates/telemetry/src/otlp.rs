//! Records as OTLP's `ExportTraceServiceRequest`, with OpenTelemetry's FaaS and cloud semantic
//! conventions: the resource is the function (`service.name`, `faas.name`, `faas.version`,
//! `faas.max_memory`, `cloud.*`), the invocation's span carries `faas.invocation_id`,
//! `faas.coldstart`, `faas.trigger` and `cloud.resource_id`, and its children are named as
//! X-Ray names a Lambda function's subsegments (`Initialization`, `Invocation`, `Overhead`).

use crate::{Config, InvocationSpans};
use ignis_model::trace::SpanId;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message;
use std::time::{Duration, SystemTime};

pub(crate) const INIT: &str = "Initialization";
pub(crate) const INVOKE: &str = "Invocation";
pub(crate) const OVERHEAD: &str = "Overhead";

/// The protobuf body of one export request.
pub(crate) fn encode(config: &Config, records: &[InvocationSpans]) -> Vec<u8> {
    let request = ExportTraceServiceRequest {
        resource_spans: records.iter().map(|r| resource_spans(config, r)).collect(),
    };
    request.encode_to_vec()
}

fn resource_spans(config: &Config, r: &InvocationSpans) -> ResourceSpans {
    let resource = Resource {
        attributes: vec![
            kv("service.name", text(&r.function)),
            kv("cloud.provider", text("aws")),
            kv("cloud.platform", text("aws_lambda")),
            kv("cloud.region", text(&config.region)),
            kv("cloud.account.id", text(&config.account_id)),
            kv("faas.name", text(&r.function)),
            kv("faas.version", text(&r.version)),
            kv(
                "faas.max_memory",
                int(i64::from(r.memory_size_mb) * 1024 * 1024),
            ),
        ],
        ..Default::default()
    };
    let trace_id = r.trace.w3c().to_vec();
    let child = |id: SpanId, name: &str, start: SystemTime, end: SystemTime| Span {
        trace_id: trace_id.clone(),
        span_id: id.bytes().to_vec(),
        parent_span_id: r.span.bytes().to_vec(),
        name: name.to_string(),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: nanos(start),
        end_time_unix_nano: nanos(end.max(start)),
        ..Default::default()
    };
    let status = r.error.as_ref().map(|e| Status {
        message: e.clone(),
        code: status::StatusCode::Error as i32,
    });
    let mut spans = vec![Span {
        trace_id: trace_id.clone(),
        span_id: r.span.bytes().to_vec(),
        parent_span_id: r.parent.map(|p| p.bytes().to_vec()).unwrap_or_default(),
        name: r.function.clone(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: nanos(r.start),
        end_time_unix_nano: nanos(r.end.max(r.start)),
        attributes: vec![
            kv("faas.invocation_id", text(&r.request_id)),
            kv(
                "faas.coldstart",
                any_value::Value::BoolValue(r.init.is_some()),
            ),
            kv("faas.trigger", text(r.trigger.as_str())),
            kv("cloud.resource_id", text(&r.invoked_arn)),
        ],
        status,
        ..Default::default()
    }];
    if let Some((start, length)) = r.init {
        spans.push(child(SpanId::random(), INIT, start, start + length));
    }
    let mut overhead_from = r.start;
    if let Some((start, length)) = r.invoke {
        spans.push(child(r.invoke_span, INVOKE, start, start + length));
        overhead_from = start + length;
    }
    spans.push(child(SpanId::random(), OVERHEAD, overhead_from, r.end));
    ResourceSpans {
        resource: Some(resource),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "ignis".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.to_string())
}

fn int(i: i64) -> any_value::Value {
    any_value::Value::IntValue(i)
}

fn nanos(t: SystemTime) -> u64 {
    let d = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ignis_model::trace::{TraceRoot, Trigger};

    #[test]
    fn a_cold_start_is_four_spans_under_the_callers() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ms = Duration::from_millis;
        let parent = SpanId::parse("53995c3f42cd8ad8").unwrap();
        let root = TraceRoot::parse("1-5759e988-bd862e3fe1be46a994272793").unwrap();
        let r = InvocationSpans {
            trace: root,
            parent: Some(parent),
            span: SpanId::random(),
            invoke_span: SpanId::random(),
            function: "hello".into(),
            version: "3".into(),
            request_id: "rid".into(),
            invoked_arn: "arn:aws:lambda:r:1:function:hello:live".into(),
            memory_size_mb: 128,
            trigger: Trigger::Http,
            start: t0,
            end: t0 + ms(100),
            init: Some((t0 + ms(5), ms(60))),
            invoke: Some((t0 + ms(70), ms(20))),
            error: None,
        };
        let config = Config::new("http://c".into(), "eu-west-1".into(), "123".into());
        let bytes = encode(&config, std::slice::from_ref(&r));
        let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
        let rs = &decoded.resource_spans[0];
        let spans = &rs.scope_spans[0].spans;
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["hello", INIT, INVOKE, OVERHEAD]);
        let w3c = hex(&spans[0].trace_id);
        assert_eq!(w3c, "5759e988bd862e3fe1be46a994272793");
        assert!(spans.iter().all(|s| s.trace_id == spans[0].trace_id));
        assert_eq!(spans[0].parent_span_id, parent.bytes());
        assert!(
            spans[1..]
                .iter()
                .all(|s| s.parent_span_id == spans[0].span_id)
        );
        assert_eq!(spans[2].span_id, r.invoke_span.bytes());
        assert_eq!(spans[3].start_time_unix_nano, nanos(t0 + ms(90)));
        assert_eq!(spans[3].end_time_unix_nano, nanos(t0 + ms(100)));
        let attr = |kvs: &[KeyValue], k: &str| {
            kvs.iter()
                .find(|a| a.key == k)
                .and_then(|a| a.value.clone()?.value)
        };
        assert_eq!(
            attr(&spans[0].attributes, "faas.coldstart"),
            Some(any_value::Value::BoolValue(true))
        );
        assert_eq!(
            attr(&spans[0].attributes, "faas.trigger"),
            Some(text("http"))
        );
        let res = &rs.resource.as_ref().unwrap().attributes;
        assert_eq!(attr(res, "faas.version"), Some(text("3")));
        assert_eq!(attr(res, "cloud.region"), Some(text("eu-west-1")));
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }
}
