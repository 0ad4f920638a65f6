//! The engine's streamed outcome, end to end with Ignis's Node.js bootstrap in a plain process:
//! chunks arrive as the function writes them, and an error after partial output ends the stream
//! as a function error.

use ignis_engine::{Engine, EngineParts, Mode, Outcome, Request};
use ignis_model::function::CodeRef;
use ignis_model::{Account, FunctionConfig, FunctionRef};
use std::io::Write;
use std::sync::Arc;

const HANDLER: &str = r#"
exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.write("partial-");
  await new Promise((r) => setTimeout(r, 50));
  if (event.fail) throw new Error("broke after partial");
  stream.write("rest");
  stream.end();
});
"#;

fn zip() -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("index.js", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(HANDLER.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

async fn engine(dir: &std::path::Path) -> Engine {
    let account = Account {
        id: "000000000000".into(),
        region: "us-east-1".into(),
    };
    let store = ignis_store::Store::open(&dir.join("metadata.db"), "node-test")
        .await
        .unwrap();
    let code = Arc::new(ignis_package::CodeStore::open(&dir.join("code")).unwrap());
    let stored = code.put(&zip(), &ignis_package::Limits::LAMBDA).unwrap();
    let config = FunctionConfig {
        runtime: Some("nodejs20.x".into()),
        handler: Some("index.handler".into()),
        code: CodeRef {
            sha256_hex: stored.digest.hex(),
            sha256_base64: stored.digest.base64(),
            size: stored.code_size,
            unzipped_size: stored.unzipped_size,
        },
        ..FunctionConfig::fixture("streams")
    };
    store
        .create_function(&config, &Default::default())
        .await
        .unwrap();
    let logs = ignis_logs::LogStore::open(dir.join("logs"), 1 << 20).unwrap();
    let invoker = ignis_invoker::Invoker::new(
        ignis_invoker::InvokerConfig::new(account.clone(), dir.join("runtime"), logs),
        Arc::new(ignis_invoker::ProcessLauncher::new()),
    )
    .unwrap();
    Engine::start(EngineParts {
        account,
        store,
        code,
        invoker,
        concurrency_limit: 1000,
        async_queue: ignis_engine::QueueBounds::UNBOUNDED,
    })
    .await
    .unwrap()
}

async fn stream(
    engine: &Engine,
    payload: &'static str,
) -> (
    Option<String>,
    Vec<bytes::Bytes>,
    ignis_engine::InvokeResult,
) {
    let target = engine
        .resolve(&FunctionRef::parse("streams").unwrap())
        .unwrap();
    let mut request = Request::new(
        uuid::Uuid::new_v4().to_string(),
        payload.into(),
        Mode::RequestResponse,
    );
    request.stream = true;
    let Outcome::Streaming(mut s) = engine.invoke(target, request).await.unwrap() else {
        panic!("a streamed request streams");
    };
    let content_type = s.content_type.await.ok().flatten();
    let mut chunks = Vec::new();
    while let Some(c) = s.chunks.recv().await {
        chunks.push(c);
    }
    (content_type, chunks, s.end.await.unwrap().unwrap())
}

#[tokio::test]
async fn chunks_stream_and_a_late_error_is_a_function_error() {
    let have_node = ignis_invoker::available_runtimes()
        .iter()
        .any(|r| r == "nodejs20.x");
    if !have_node {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must have nodejs20.x"
        );
        eprintln!("SKIPPED: nodejs20.x is not available on this host");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;

    let (content_type, chunks, end) = stream(&engine, "{}").await;
    // The bootstrap's default for a stream whose type the handler did not set.
    assert_eq!(content_type.as_deref(), Some("application/octet-stream"));
    assert_eq!(chunks.concat(), b"partial-rest");
    assert!(
        chunks.len() >= 2,
        "written in two parts, seen in two parts: {chunks:?}"
    );
    assert!(end.function_error.is_none(), "{end:?}");
    assert!(end.payload.is_empty());

    let (_, chunks, end) = stream(&engine, r#"{"fail":true}"#).await;
    assert_eq!(chunks.concat(), b"partial-");
    assert_eq!(end.function_error.as_deref(), Some("Unhandled"));
    let error: serde_json::Value = serde_json::from_slice(&end.payload).unwrap();
    assert_eq!(error["errorMessage"], "broke after partial");
}
