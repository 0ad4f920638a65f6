//! The error mapping of every handler, through the real router without a socket: each case is
//! a request that must fail, and the status, `x-amzn-ErrorType` and message it must fail with.

mod harness;

use harness::{Harness, with_function};
use http::{Method, StatusCode};

const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function";

struct Case {
    method: Method,
    path: &'static str,
    body: &'static str,
    status: u16,
    error_type: &'static str,
    /// Text the message must contain.
    message: &'static str,
}

const fn case(
    method: Method,
    path: &'static str,
    body: &'static str,
    status: u16,
    error_type: &'static str,
    message: &'static str,
) -> Case {
    Case {
        method,
        path,
        body,
        status,
        error_type,
        message,
    }
}

const NOT_FOUND: &str = "ResourceNotFoundException";
const INVALID: &str = "InvalidParameterValueException";
const VALIDATION: &str = "ValidationException";
const BAD_JSON: &str = "InvalidRequestContentException";

fn cases() -> Vec<Case> {
    use Method as M;
    vec![
        // Functions.
        case(
            M::GET,
            "/2015-03-31/functions?MaxItems=0",
            "",
            400,
            VALIDATION,
            "maxItems",
        ),
        case(
            M::POST,
            "/2015-03-31/functions",
            "{not json",
            400,
            BAD_JSON,
            "json",
        ),
        case(
            M::POST,
            "/2015-03-31/functions",
            r#"{"FunctionName":"f","Role":"arn:aws:iam::000000000000:role/any","Runtime":"python3.11","Handler":"app.handler","Code":{}}"#,
            400,
            INVALID,
            "Please provide a source for function code.",
        ),
        case(
            M::GET,
            "/2015-03-31/functions/missing",
            "",
            404,
            NOT_FOUND,
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing",
        ),
        case(
            M::DELETE,
            "/2015-03-31/functions/missing",
            "",
            404,
            NOT_FOUND,
            "Function not found",
        ),
        case(
            M::GET,
            "/2015-03-31/functions/missing/configuration",
            "",
            404,
            NOT_FOUND,
            "Function not found",
        ),
        case(
            M::PUT,
            "/2015-03-31/functions/missing/configuration",
            "{}",
            404,
            NOT_FOUND,
            "Function not found",
        ),
        case(
            M::PUT,
            "/2015-03-31/functions/f/configuration",
            r#"{"MemorySize":1}"#,
            400,
            VALIDATION,
            "memorySize",
        ),
        case(
            M::PUT,
            "/2015-03-31/functions/missing/code",
            r#"{"ZipFile":"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}"#,
            404,
            NOT_FOUND,
            "Function not found",
        ),
        case(
            M::PUT,
            "/2015-03-31/functions/f/code",
            r#"{"ZipFile":"bm90IGEgemlw"}"#,
            400,
            INVALID,
            "zip",
        ),
        case(
            M::GET,
            "/2015-03-31/functions/not%20a%20name",
            "",
            400,
            VALIDATION,
            "functionName",
        ),
        // Invoke.
        case(
            M::POST,
            "/2015-03-31/functions/missing/invocations",
            "{}",
            404,
            NOT_FOUND,
            "Function not found",
        ),
        case(
            M::POST,
            "/2015-03-31/functions/f/invocations",
            "{not json",
            400,
            BAD_JSON,
            "json",
        ),
        case(
            M::POST,
            "/2015-03-31/functions/f/invocations?Qualifier=9",
            "{}",
            404,
            NOT_FOUND,
            "function:f:9",
        ),
        // InvokeWithResponseStream: failures before the stream are the usual errors.
        case(
            M::POST,
            "/2021-11-15/functions/missing/response-streaming-invocations",
            "{}",
            404,
            NOT_FOUND,
            "Function not found",
        ),
        case(
            M::POST,
            "/2021-11-15/functions/f/response-streaming-invocations",
            "{not json",
            400,
            BAD_JSON,
            "json",
        ),
        case(
            M::POST,
            "/2021-11-15/functions/f/response-streaming-invocations?Qualifier=9",
            "{}",
            404,
            NOT_FOUND,
            "function:f:9",
        ),
        case(
            M::POST,
            "/2014-11-13/functions/missing/invoke-async",
            "{}",
            404,
            NOT_FOUND,
            "Function not found",
        ),
        // Tags.
        case(
            M::GET,
            "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:missing",
            "",
            404,
            NOT_FOUND,
            "missing",
        ),
        case(
            M::POST,
            "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:f",
            r#"{"Tags":"x"}"#,
            400,
            BAD_JSON,
            "",
        ),
        case(
            M::DELETE,
            "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:missing?tagKeys=a",
            "",
            404,
            NOT_FOUND,
            "missing",
        ),
        // Versions.
        case(
            M::GET,
            "/2015-03-31/functions/missing/versions",
            "",
            404,
            NOT_FOUND,
            "Function not found",
        ),
        case(
            M::POST,
            "/2015-03-31/functions/missing/versions",
            "{}",
            404,
            NOT_FOUND,
            "Function not found",
        ),
        case(
            M::POST,
            "/2015-03-31/functions/f/versions",
            r#"{"RevisionId":"stale"}"#,
            412,
            "PreconditionFailedException",
            "does not match the latest Revision Id",
        ),
        // Aliases.
        case(
            M::GET,
            "/2015-03-31/functions/missing/aliases",
            "",
            404,
            NOT_FOUND,
            "Function not found",
        ),
        case(
            M::POST,
            "/2015-03-31/functions/f/aliases",
            r#"{"Name":"PROD","FunctionVersion":"7"}"#,
            404,
            NOT_FOUND,
            "7",
        ),
        case(
            M::GET,
            "/2015-03-31/functions/f/aliases/NOPE",
            "",
            404,
            NOT_FOUND,
            "NOPE",
        ),
        case(
            M::PUT,
            "/2015-03-31/functions/f/aliases/NOPE",
            "{}",
            404,
            NOT_FOUND,
            "NOPE",
        ),
        case(
            M::DELETE,
            "/2015-03-31/functions/missing/aliases/NOPE",
            "",
            404,
            NOT_FOUND,
            "missing",
        ),
        // Concurrency.
        case(
            M::PUT,
            "/2017-10-31/functions/missing/concurrency",
            r#"{"ReservedConcurrentExecutions":1}"#,
            404,
            NOT_FOUND,
            "Function not found",
        ),
        case(
            M::PUT,
            "/2017-10-31/functions/f/concurrency",
            r#"{"ReservedConcurrentExecutions":950}"#,
            400,
            INVALID,
            "UnreservedConcurrentExecution",
        ),
        case(
            M::GET,
            "/2019-09-30/functions/missing/concurrency",
            "",
            404,
            NOT_FOUND,
            "Function not found",
        ),
        case(
            M::DELETE,
            "/2017-10-31/functions/missing/concurrency",
            "",
            404,
            NOT_FOUND,
            "Function not found",
        ),
        case(
            M::GET,
            "/2019-09-30/functions/f/provisioned-concurrency",
            "",
            400,
            INVALID,
            "unpublished",
        ),
        case(
            M::PUT,
            "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=1",
            r#"{"ProvisionedConcurrentExecutions":0}"#,
            400,
            VALIDATION,
            "provisionedConcurrentExecutions",
        ),
        case(
            M::GET,
            "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=1",
            "",
            404,
            "ProvisionedConcurrencyConfigNotFoundException",
            "No Provisioned Concurrency Config found",
        ),
        case(
            M::DELETE,
            "/2019-09-30/functions/missing/provisioned-concurrency?Qualifier=1",
            "",
            404,
            NOT_FOUND,
            "missing",
        ),
        // Resource policies.
        case(
            M::GET,
            "/2015-03-31/functions/f/policy",
            "",
            404,
            NOT_FOUND,
            "The resource you requested does not exist.",
        ),
        case(
            M::POST,
            "/2015-03-31/functions/missing/policy",
            r#"{"StatementId":"s","Action":"lambda:InvokeFunction","Principal":"s3.amazonaws.com"}"#,
            404,
            NOT_FOUND,
            "missing",
        ),
        case(
            M::DELETE,
            "/2015-03-31/functions/f/policy/nope",
            "",
            404,
            NOT_FOUND,
            "No policy is associated with the given resource.",
        ),
        // Layers.
        case(
            M::GET,
            "/2018-10-31/layers?MaxItems=0",
            "",
            400,
            VALIDATION,
            "maxItems",
        ),
        case(
            M::GET,
            "/2018-10-31/layers/missing/versions/1",
            "",
            404,
            NOT_FOUND,
            "The resource you requested does not exist.",
        ),
        case(
            M::POST,
            "/2018-10-31/layers/l/versions",
            r#"{"Content":{}}"#,
            400,
            INVALID,
            "",
        ),
        case(
            M::GET,
            "/2018-10-31/layers/missing/versions/1/policy",
            "",
            404,
            NOT_FOUND,
            "",
        ),
        case(
            M::POST,
            "/2018-10-31/layers/missing/versions/1/policy",
            r#"{"StatementId":"s","Action":"lambda:GetLayerVersion","Principal":"*"}"#,
            404,
            NOT_FOUND,
            "",
        ),
        case(
            M::DELETE,
            "/2018-10-31/layers/missing/versions/1/policy/s",
            "",
            404,
            NOT_FOUND,
            "",
        ),
        // Code download URLs must carry a valid signature of their own.
        case(
            M::GET,
            "/_ignis/code/00",
            "",
            403,
            "AccessDeniedException",
            "",
        ),
        // Anything else.
        case(
            M::GET,
            "/2015-03-31/nothing-here",
            "",
            404,
            "UnknownOperationException",
            "Unknown operation",
        ),
    ]
}

#[tokio::test]
async fn every_handler_maps_its_failures_to_lambdas_errors() {
    let h = with_function().await;
    let mut wrong = Vec::new();
    for c in cases() {
        let a = h.call(c.method.clone(), c.path, c.body).await;
        if a.status.as_u16() != c.status
            || a.error_type() != c.error_type
            || !a.message().contains(c.message)
        {
            wrong.push(format!(
                "{} {} -> {} {} {:?} (wanted {} {} containing {:?})",
                c.method,
                c.path,
                a.status,
                a.error_type(),
                a.json,
                c.status,
                c.error_type,
                c.message
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn unsigned_and_badly_signed_requests_are_refused() {
    let h = Harness::new().await;
    let a = h
        .call_with(Method::GET, "/2015-03-31/functions", "", &[], false)
        .await;
    assert_eq!(
        (a.status.as_u16(), a.error_type()),
        (403, "MissingAuthenticationTokenException")
    );
    let forged = "AWS4-HMAC-SHA256 Credential=AKIAIGNISHARNESS0001/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00";
    let a = h
        .call_with(
            Method::GET,
            "/2015-03-31/functions",
            "",
            &[
                ("authorization", forged),
                ("x-amz-date", "20260101T000000Z"),
            ],
            false,
        )
        .await;
    assert_eq!(a.status.as_u16(), 403, "{a:?}");
    assert!(
        a.error_type() == "InvalidSignatureException" || a.error_type() == "SignatureDoesNotMatch",
        "{a:?}"
    );
}

/// A signed POST of `{}` to `path` with `X-Amz-Invocation-Type: invocation_type`.
async fn invoke_as(h: &Harness, path: &str, invocation_type: &str) -> harness::Answer {
    h.call_with(
        Method::POST,
        path,
        "{}",
        &[("x-amz-invocation-type", invocation_type)],
        true,
    )
    .await
}

#[tokio::test]
async fn invoke_dry_runs_and_refuses_unknown_invocation_types() {
    let h = with_function().await;
    let a = invoke_as(&h, "/2015-03-31/functions/f/invocations", "DryRun").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{a:?}");
    assert_eq!(a.headers["x-amz-executed-version"], "$LATEST");
    let path = format!("/2015-03-31/functions/{ARN}:f/invocations");
    let a = invoke_as(&h, &path, "Sometimes").await;
    assert_eq!((a.status.as_u16(), a.error_type()), (400, INVALID), "{a:?}");
    assert_eq!(a.message(), "Unsupported invocation type: Sometimes");
}

#[tokio::test]
async fn invoke_with_response_stream_dry_runs_and_takes_no_event_invocations() {
    let h = with_function().await;
    let path = "/2021-11-15/functions/f/response-streaming-invocations?Qualifier=1";
    let a = invoke_as(&h, path, "DryRun").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{a:?}");
    assert_eq!(a.headers["x-amz-executed-version"], "1");
    let a = invoke_as(&h, path, "Event").await;
    assert_eq!((a.status.as_u16(), a.error_type()), (400, INVALID), "{a:?}");
    assert_eq!(a.message(), "Unsupported invocation type: Event");
    let big = format!("\"{}\"", "x".repeat(6_291_456));
    let a = h.call(Method::POST, path, &big).await;
    assert_eq!(
        (a.status.as_u16(), a.error_type()),
        (413, "RequestEntityTooLargeException"),
        "{a:?}"
    );
}
