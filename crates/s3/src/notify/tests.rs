use super::*;
use chrono::{TimeZone, Utc};
use s3s::dto::{QueueConfiguration, TopicConfiguration};

const F: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";
const G: &str = "arn:aws:lambda:us-east-1:123456789012:function:g:live";

fn rule(name: &str, value: &str) -> FilterRule {
    FilterRule {
        name: Some(FilterRuleName::from(name.to_string())),
        value: Some(value.into()),
    }
}

fn lambda(arn: &str, events: &[&str], rules: Vec<FilterRule>) -> LambdaFunctionConfiguration {
    LambdaFunctionConfiguration {
        events: events.iter().map(|e| e.to_string().into()).collect(),
        filter: (!rules.is_empty()).then_some(NotificationConfigurationFilter {
            key: Some(S3KeyFilter {
                filter_rules: Some(rules),
            }),
        }),
        id: None,
        lambda_function_arn: arn.into(),
    }
}

fn config(configs: Vec<LambdaFunctionConfiguration>) -> NotificationConfiguration {
    NotificationConfiguration {
        lambda_function_configurations: Some(configs),
        ..NotificationConfiguration::default()
    }
}

fn run(c: &NotificationConfiguration) -> Result<BucketNotifications, NotifyError> {
    futures_util::FutureExt::now_or_never(validate(c, |_| std::future::ready(DestinationCheck::Ok)))
        .expect("validation does no I/O of its own")
}

fn message(c: &NotificationConfiguration) -> String {
    run(c).unwrap_err().message
}

#[test]
fn a_valid_configuration_round_trips_with_generated_ids() {
    let mut with_id = lambda(G, &["s3:ObjectRemoved:*"], vec![]);
    with_id.id = Some("mine".into());
    let put = config(vec![
        lambda(
            F,
            &["s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"],
            vec![rule("prefix", "images/"), rule("Suffix", ".jpg")],
        ),
        with_id,
    ]);
    let stored = run(&put).unwrap();
    assert_eq!(stored.lambda.len(), 2);
    let id = &stored.lambda[0].id;
    // The base64 of a UUID's 36 characters.
    assert_eq!(id.len(), 48, "{id}");
    assert_eq!(stored.lambda[1].id, "mine");
    // Stored as JSON and read back unchanged.
    let json = serde_json::to_string(&stored).unwrap();
    assert_eq!(
        serde_json::from_str::<BucketNotifications>(&json).unwrap(),
        stored
    );
    let got = stored.to_dto();
    let mut expected = put.clone();
    let l = expected.lambda_function_configurations.as_mut().unwrap();
    l[0].id = Some(id.clone());
    l[0].filter = Some(NotificationConfigurationFilter {
        key: Some(S3KeyFilter {
            filter_rules: Some(vec![rule("Prefix", "images/"), rule("Suffix", ".jpg")]),
        }),
    });
    assert_eq!(got, expected);
    // Nothing put: notifications off.
    let off = run(&NotificationConfiguration::default()).unwrap();
    assert!(off.is_empty());
    assert_eq!(off.to_dto(), NotificationConfiguration::default());
}

#[test]
fn matching_configurations() {
    let stored = run(&config(vec![
        lambda(F, &["s3:ObjectCreated:*"], vec![rule("prefix", "in/")]),
        lambda(
            G,
            &["s3:ObjectRemoved:Delete"],
            vec![rule("suffix", ".txt")],
        ),
    ]))
    .unwrap();
    let f_id = stored.lambda[0].id.as_str();
    let g_id = stored.lambda[1].id.as_str();
    assert_eq!(
        stored.matching("ObjectCreated:Put", "in/a"),
        vec![(f_id, F)]
    );
    assert_eq!(
        stored.matching("s3:ObjectCreated:CompleteMultipartUpload", "in/a"),
        vec![(f_id, F)]
    );
    assert!(stored.matching("ObjectCreated:Put", "out/a").is_empty());
    assert_eq!(
        stored.matching("ObjectRemoved:Delete", "in/a.txt"),
        vec![(g_id, G)]
    );
    assert!(
        stored
            .matching("ObjectRemoved:DeleteMarkerCreated", "a.txt")
            .is_empty()
    );
    assert!(
        stored
            .matching("ObjectRemoved:Delete", "a.txt.gz")
            .is_empty()
    );
}

#[test]
fn events_and_arns_are_checked() {
    let bad = config(vec![lambda(F, &["s3:ObjectCreated:Nope"], vec![])]);
    let e = run(&bad).unwrap_err();
    assert_eq!(e.code, S3ErrorCode::InvalidArgument);
    assert_eq!(e.message, "The event is not supported for notifications");
    assert_eq!(
        e.arguments,
        vec![("Event".to_string(), "s3:ObjectCreated:Nope".to_string())]
    );
    // Events Ignis does not produce are refused too.
    assert_eq!(
        message(&config(vec![lambda(F, &["s3:ObjectRestore:Post"], vec![])])),
        "The event is not supported for notifications"
    );
    assert_eq!(
        run(&config(vec![lambda(F, &[], vec![])])).unwrap_err().code,
        S3ErrorCode::MalformedXML
    );
    assert_eq!(
        message(&config(vec![lambda(
            "arn:aws:sqs:us-east-1:123456789012:q",
            &["s3:ObjectCreated:*"],
            vec![]
        )])),
        "The ARN is not well formed"
    );
    let mut long = lambda(F, &["s3:ObjectCreated:*"], vec![]);
    long.id = Some("x".repeat(256));
    assert_eq!(
        message(&config(vec![long])),
        "ID length exceeded allowed limit of 255"
    );
}

#[test]
fn filter_rules_are_checked() {
    let with = |rules| message(&config(vec![lambda(F, &["s3:ObjectCreated:*"], rules)]));
    assert_eq!(
        with(vec![rule("prefix", "a"), rule("Prefix", "b")]),
        "Cannot specify more than one prefix rule in a filter."
    );
    assert_eq!(
        with(vec![rule("SUFFIX", "a"), rule("suffix", "b")]),
        "Cannot specify more than one suffix rule in a filter."
    );
    assert_eq!(
        with(vec![rule("contains", "a")]),
        "filter rule name must be either prefix or suffix"
    );
    assert_eq!(
        with(vec![rule("prefix", &"p".repeat(1025))]),
        "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation"
    );
}

#[test]
fn overlapping_configurations_are_refused() {
    let two =
        |a: LambdaFunctionConfiguration, b: LambdaFunctionConfiguration| run(&config(vec![a, b]));
    // Shared event type, no filters.
    let e = two(
        lambda(F, &["s3:ObjectRemoved:*"], vec![]),
        lambda(G, &["s3:ObjectRemoved:*"], vec![]),
    )
    .unwrap_err();
    assert_eq!(e.message, CONFIGURATIONS_OVERLAP);
    assert_eq!(
        e.arguments,
        vec![(
            "Event".to_string(),
            "s3:ObjectRemoved:*, s3:ObjectRemoved:*".to_string()
        )]
    );
    // A wildcard covers its family's events.
    assert_eq!(
        two(
            lambda(F, &["s3:ObjectCreated:*"], vec![]),
            lambda(G, &["s3:ObjectCreated:Put"], vec![]),
        )
        .unwrap_err()
        .message,
        CONFIGURATIONS_OVERLAP
    );
    // Filters that can both match one key.
    for (a, b) in [
        (vec![rule("prefix", "a/")], vec![rule("prefix", "a/b/")]),
        (vec![rule("suffix", ".jpg")], vec![rule("prefix", "x/")]),
        (vec![rule("suffix", ".jpg")], vec![]),
        (
            vec![rule("prefix", "a/"), rule("suffix", "g.jpg")],
            vec![rule("suffix", ".jpg")],
        ),
    ] {
        assert_eq!(
            two(
                lambda(F, &["s3:ObjectCreated:Put"], a.clone()),
                lambda(G, &["s3:ObjectCreated:*"], b.clone()),
            )
            .unwrap_err()
            .message,
            AMBIGUOUS,
            "{a:?} {b:?}"
        );
    }
    // Filters no key can match both of, or no shared event type: accepted.
    for (a, b) in [
        (vec![rule("prefix", "a/")], vec![rule("prefix", "b/")]),
        (vec![rule("suffix", ".jpg")], vec![rule("suffix", ".png")]),
        (
            vec![rule("prefix", "a/"), rule("suffix", ".jpg")],
            vec![rule("prefix", "a/"), rule("suffix", ".png")],
        ),
    ] {
        two(
            lambda(F, &["s3:ObjectCreated:*"], a),
            lambda(G, &["s3:ObjectCreated:*"], b),
        )
        .unwrap();
    }
    two(
        lambda(F, &["s3:ObjectCreated:*"], vec![]),
        lambda(G, &["s3:ObjectRemoved:*"], vec![]),
    )
    .unwrap();
}

#[test]
fn destinations_are_checked_through_the_callback() {
    let mut named = lambda(G, &["s3:ObjectRemoved:*"], vec![]);
    named.id = Some("gone".into());
    let put = config(vec![
        lambda(F, &["s3:ObjectCreated:Put"], vec![]),
        lambda(F, &["s3:ObjectCreated:Copy"], vec![]),
        named,
    ]);
    let mut asked = Vec::new();
    let e = futures_util::FutureExt::now_or_never(validate(&put, |arn| {
        asked.push(arn.to_string());
        std::future::ready(if arn == F {
            DestinationCheck::NotAuthorized
        } else {
            DestinationCheck::NotFound
        })
    }))
    .unwrap()
    .unwrap_err();
    // Each function is asked about once.
    assert_eq!(asked, vec![F.to_string(), G.to_string()]);
    assert_eq!(e.code, S3ErrorCode::InvalidArgument);
    assert_eq!(
        e.message,
        "Unable to validate the following destination configurations"
    );
    assert_eq!(
        e.arguments,
        vec![
            (
                format!("{F}, null"),
                format!("Not authorized to invoke function [{F}]")
            ),
            (
                format!("{F}, null"),
                format!("Not authorized to invoke function [{F}]")
            ),
            (
                format!("{G}, gone"),
                format!("The destination function does not exist [{G}]")
            ),
        ]
    );
    let s3: S3Error = e.into();
    assert_eq!(*s3.code(), S3ErrorCode::InvalidArgument);
    assert_eq!(
        s3.message(),
        Some("Unable to validate the following destination configurations")
    );
}

#[test]
fn other_destinations_are_refused() {
    let queue = NotificationConfiguration {
        queue_configurations: Some(vec![QueueConfiguration {
            events: vec!["s3:ObjectCreated:*".to_string().into()],
            filter: None,
            id: None,
            queue_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        }]),
        ..NotificationConfiguration::default()
    };
    let e = run(&queue).unwrap_err();
    assert_eq!(e.code, S3ErrorCode::InvalidArgument);
    assert!(e.message.contains("Amazon SQS queues"), "{}", e.message);
    let topic = NotificationConfiguration {
        topic_configurations: Some(vec![TopicConfiguration {
            events: vec!["s3:ObjectCreated:*".to_string().into()],
            filter: None,
            id: None,
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
        }]),
        ..NotificationConfiguration::default()
    };
    assert!(
        run(&topic)
            .unwrap_err()
            .message
            .contains("Amazon SNS topics")
    );
    let bridge = NotificationConfiguration {
        event_bridge_configuration: Some(Default::default()),
        ..NotificationConfiguration::default()
    };
    assert!(run(&bridge).unwrap_err().message.contains("EventBridge"));
    // Empty lists are no destinations at all.
    let empty = NotificationConfiguration {
        queue_configurations: Some(vec![]),
        topic_configurations: Some(vec![]),
        ..NotificationConfiguration::default()
    };
    assert!(run(&empty).unwrap().is_empty());
}

/// The example in AWS's "Event message structure" (Amazon S3 User Guide), field for field.
#[test]
fn the_record_is_the_documented_one() {
    let facts = EventFacts {
        region: "us-west-2",
        time: Utc.timestamp_millis_opt(0).unwrap(),
        event_name: "s3:ObjectCreated:Put",
        principal_id: "AIDAJDPLRKLG7UEXAMPLE",
        source_ip: "127.0.0.1",
        request_id: "C3D13FE58DE4C810",
        host_id: "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        configuration_id: "testConfigRule",
        bucket: "mybucket",
        owner_principal_id: "A3NL1KOZZKExample",
        key: "HappyFace.jpg",
        size: 1024,
        etag: "d41d8cd98f00b204e9800998ecf8427e",
        version_id: Some("096fKKXTRTtl3on89fVO.nfljtsv6qko"),
        sequencer: "0055AED6DCD90281E5",
    };
    let expected = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-west-2","eventTime":"1970-01-01T00:00:00.000Z","eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AIDAJDPLRKLG7UEXAMPLE"},"requestParameters":{"sourceIPAddress":"127.0.0.1"},"responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},"s3":{"s3SchemaVersion":"1.0","configurationId":"testConfigRule","bucket":{"name":"mybucket","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},"arn":"arn:aws:s3:::mybucket"},"object":{"key":"HappyFace.jpg","size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e","versionId":"096fKKXTRTtl3on89fVO.nfljtsv6qko","sequencer":"0055AED6DCD90281E5"}}}]}"#;
    assert_eq!(String::from_utf8(event_record(&facts)).unwrap(), expected);

    // A delete carries the key and the sequencer only.
    let removed = EventFacts {
        event_name: "ObjectRemoved:Delete",
        time: Utc.timestamp_millis_opt(1_700_000_000_123).unwrap(),
        key: "red flower.jpg",
        version_id: None,
        ..facts
    };
    let v: serde_json::Value = serde_json::from_slice(&event_record(&removed)).unwrap();
    let r = &v["Records"][0];
    assert_eq!(r["eventName"], "ObjectRemoved:Delete");
    assert_eq!(r["eventTime"], "2023-11-14T22:13:20.123Z");
    assert_eq!(
        r["s3"]["object"],
        serde_json::json!({"key": "red+flower.jpg", "sequencer": "0055AED6DCD90281E5"})
    );
}

#[test]
fn keys_are_form_encoded_with_slashes_kept() {
    assert_eq!(url_encode_key("red flower.jpg"), "red+flower.jpg");
    assert_eq!(url_encode_key("year=2024/a+b.csv"), "year%3D2024/a%2Bb.csv");
    assert_eq!(url_encode_key("a-b_c.d*e~f(g)"), "a-b_c.d*e%7Ef%28g%29");
    assert_eq!(url_encode_key("é"), "%C3%A9");
}

#[test]
fn the_sequencer_only_grows() {
    let s = Sequencer::new();
    let mut last = s.next();
    for _ in 0..1000 {
        let next = s.next();
        assert_eq!(next.len(), 16);
        assert!(next.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(next > last, "{next} after {last}");
        last = next;
    }
}
