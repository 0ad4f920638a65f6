//! The function URL configuration API through the real router: answers as AWS gives them
//! (status, members, messages), ids and addresses, and the configurations going with their
//! alias and function.

mod harness;

use harness::{Answer, Harness, with_function};
use http::{Method, StatusCode};
use serde_json::json;

const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function";
const URL: &str = "/2021-10-31/functions";

/// `f` with version 1 and alias `live` routing to it.
async fn with_alias() -> Harness {
    let h = with_function().await;
    let a = h
        .call(
            Method::POST,
            "/2015-03-31/functions/f/aliases",
            r#"{"Name":"live","FunctionVersion":"1"}"#,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{a:?}");
    h
}

/// A call under the URL API's prefix.
async fn call(h: &Harness, method: Method, path: &str, body: &str) -> Answer {
    h.call(method, &format!("{URL}/{path}"), body).await
}

fn keys(a: &Answer) -> Vec<&str> {
    let mut k: Vec<&str> = a
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

fn assert_error(a: &Answer, status: u16, error_type: &str, message: &str) {
    assert_eq!(a.status.as_u16(), status, "{a:?}");
    assert_eq!(a.error_type(), error_type, "{a:?}");
    assert_eq!(a.message(), message, "{a:?}");
}

#[tokio::test]
async fn lifecycle_with_the_members_aws_answers_with() {
    let h = with_alias().await;
    let created = call(&h, Method::POST, "f/url", r#"{"AuthType":"NONE"}"#).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(
        keys(&created),
        ["AuthType", "CreationTime", "FunctionArn", "FunctionUrl"]
    );
    assert_eq!(created.json["FunctionArn"], format!("{ARN}:f"));
    let address = created.json["FunctionUrl"].as_str().unwrap();
    let id = address
        .strip_prefix("http://")
        .and_then(|r| r.strip_suffix(".lambda-url.us-east-1.localhost:9070/"))
        .unwrap();
    assert!(ignis_model::url::is_url_id(id), "{address}");

    let again = call(&h, Method::POST, "f/url", r#"{"AuthType":"NONE"}"#).await;
    assert_error(
        &again,
        409,
        "ResourceConflictException",
        &format!(
            "Failed to create function url config for [functionArn = {ARN}:f]. Error message:  FunctionUrlConfig exists for this Lambda function"
        ),
    );

    let got = call(&h, Method::GET, "f/url", "").await;
    assert_eq!(
        keys(&got),
        [
            "AuthType",
            "CreationTime",
            "FunctionArn",
            "FunctionUrl",
            "InvokeMode",
            "LastModifiedTime"
        ]
    );
    assert_eq!(got.json["InvokeMode"], "BUFFERED");
    assert_eq!(got.json["CreationTime"], created.json["CreationTime"]);

    let cors =
        json!({"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET"], "MaxAge": 60});
    let updated = call(
        &h,
        Method::PUT,
        "f/url",
        &json!({"AuthType": "AWS_IAM", "Cors": cors}).to_string(),
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK, "{updated:?}");
    assert_eq!(
        keys(&updated),
        [
            "AuthType",
            "Cors",
            "CreationTime",
            "FunctionArn",
            "FunctionUrl",
            "LastModifiedTime"
        ]
    );
    assert_eq!(updated.json["Cors"], cors);
    assert_eq!(updated.json["FunctionUrl"], address);
    assert_ne!(
        updated.json["LastModifiedTime"],
        got.json["LastModifiedTime"]
    );
    let streamed = call(
        &h,
        Method::PUT,
        "f/url",
        r#"{"InvokeMode":"RESPONSE_STREAM"}"#,
    )
    .await;
    assert_eq!(streamed.json["InvokeMode"], "RESPONSE_STREAM");
    assert_eq!(streamed.json["AuthType"], "AWS_IAM");
    assert_eq!(
        streamed.json["Cors"], cors,
        "an Update without Cors keeps it"
    );

    let alias = call(
        &h,
        Method::POST,
        "f/url?Qualifier=live",
        r#"{"AuthType":"NONE","InvokeMode":"BUFFERED"}"#,
    )
    .await;
    assert_eq!(alias.status, StatusCode::CREATED, "{alias:?}");
    assert_eq!(alias.json["FunctionArn"], format!("{ARN}:f:live"));
    assert_eq!(alias.json["InvokeMode"], "BUFFERED", "given, so shown");
    assert_ne!(alias.json["FunctionUrl"], address);

    let page = call(&h, Method::GET, "f/urls?MaxItems=1", "").await;
    assert_eq!(page.json["FunctionUrlConfigs"].as_array().unwrap().len(), 1);
    assert_eq!(
        page.json["FunctionUrlConfigs"][0]["FunctionArn"],
        format!("{ARN}:f")
    );
    let marker = page.json["NextMarker"].as_str().unwrap().to_string();
    let rest = call(
        &h,
        Method::GET,
        &format!("f/urls?MaxItems=1&Marker={marker}"),
        "",
    )
    .await;
    assert_eq!(
        rest.json["FunctionUrlConfigs"][0]["FunctionArn"],
        format!("{ARN}:f:live")
    );
    assert!(rest.json.get("NextMarker").is_none());

    // Deleting the unqualified URL leaves the alias's.
    let deleted = call(&h, Method::DELETE, "f/url", "").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = call(&h, Method::GET, "f/url", "").await;
    assert_error(
        &gone,
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    );
    let kept = call(&h, Method::GET, "f/url?Qualifier=live", "").await;
    assert_eq!(kept.status, StatusCode::OK);

    // The same function and qualifier get the same id back.
    let recreated = call(&h, Method::POST, "f/url", r#"{"AuthType":"NONE"}"#).await;
    assert_eq!(recreated.json["FunctionUrl"], address);

    // An alias's URL goes with the alias, every URL with the function.
    let a = h
        .call(Method::DELETE, "/2015-03-31/functions/f/aliases/live", "")
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let urls = call(&h, Method::GET, "f/urls", "").await;
    assert_eq!(urls.json["FunctionUrlConfigs"].as_array().unwrap().len(), 1);
    let a = h.call(Method::DELETE, "/2015-03-31/functions/f", "").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let urls = call(&h, Method::GET, "f/urls", "").await;
    assert_error(
        &urls,
        404,
        "ResourceNotFoundException",
        "Function does not exist",
    );
}

#[tokio::test]
async fn refusals_are_worded_per_operation_as_aws_words_them() {
    let h = with_alias().await;
    let version = "1 validation error detected: Value '1' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)";
    let latest = version.replace("'1'", "'$LATEST'");
    let none = r#"{"AuthType":"NONE"}"#;
    let cases: Vec<(Method, String, &str, u16, &str, String)> = vec![
        (Method::POST, "missing/url".into(), none, 404, "ResourceNotFoundException", "Function does not exist".into()),
        (Method::PUT, "missing/url".into(), "{}", 404, "ResourceNotFoundException", "Function does not exist".into()),
        (Method::GET, "missing/url".into(), "", 404, "ResourceNotFoundException", "The resource you requested does not exist.".into()),
        (Method::DELETE, "missing/url".into(), "", 404, "ResourceNotFoundException", "The resource you requested does not exist.".into()),
        (Method::GET, "missing/urls".into(), "", 404, "ResourceNotFoundException", "Function does not exist".into()),
        (Method::POST, format!("{ARN}:missing/url"), none, 404, "ResourceNotFoundException", "Function does not exist".into()),
        (Method::POST, "f/url?Qualifier=v1".into(), none, 404, "ResourceNotFoundException", "Function does not exist".into()),
        (Method::GET, "f/url?Qualifier=v1".into(), "", 404, "ResourceNotFoundException", "The resource you requested does not exist.".into()),
        (Method::PUT, "f/url?Qualifier=live".into(), "{}", 404, "ResourceNotFoundException", "The resource you requested does not exist.".into()),
        (Method::GET, "f/url".into(), "", 404, "ResourceNotFoundException", "The resource you requested does not exist.".into()),
        // A URL is never on a published version, nor on `$LATEST` by name.
        (Method::POST, "f/url?Qualifier=1".into(), none, 400, "ValidationException", version.into()),
        (Method::POST, "missing/url?Qualifier=1".into(), none, 400, "ValidationException", version.into()),
        (Method::GET, "f/url?Qualifier=%24LATEST".into(), "", 400, "ValidationException", latest.clone()),
        (Method::POST, "f:1/url".into(), none, 400, "ValidationException", version.into()),
        (Method::POST, "f:live-x/url?Qualifier=live".into(), none, 400, "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.".into()),
        (Method::GET, "arn:aws:lambda:eu-west-1:000000000000:function:f/url".into(), "", 404, "ResourceNotFoundException",
            "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')".into()),
        // The body's model constraints, all at once.
        (Method::POST, "f/url".into(), "{}", 400, "ValidationException",
            "1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null".into()),
        (Method::POST, "f/url".into(), r#"{"AuthType":"OPEN","InvokeMode":"STREAM","Cors":{"MaxAge":86401}}"#, 400, "ValidationException",
            "3 validation errors detected: Value 'OPEN' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]; Value '86401' at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to 86400; Value 'STREAM' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]".into()),
        (Method::POST, format!("{}/url", "a".repeat(141)), none, 400, "ValidationException",
            format!("1 validation error detected: Value '{}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 140", "a".repeat(141))),
        (Method::POST, "a.b/url".into(), none, 400, "ValidationException",
            "1 validation error detected: Value 'a.b' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?".into()),
        (Method::GET, format!("{}/url", "a".repeat(65)), "", 404, "ResourceNotFoundException", "The resource you requested does not exist.".into()),
        (Method::GET, "f/urls?MaxItems=51".into(), "", 400, "ValidationException",
            "1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 50".into()),
        (Method::POST, "f/url".into(), "{not json", 400, "InvalidRequestContentException", String::new()),
    ];
    for (method, path, body, status, error_type, message) in cases {
        let a = h.call(method.clone(), &format!("{URL}/{path}"), body).await;
        assert_eq!(a.status.as_u16(), status, "{method} {path}: {a:?}");
        assert_eq!(a.error_type(), error_type, "{method} {path}: {a:?}");
        if !message.is_empty() {
            assert_eq!(a.message(), message, "{method} {path}");
        }
    }
}
