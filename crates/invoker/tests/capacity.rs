//! Admission against the node's ceilings, with real Python runtimes as plain processes: an
//! environment that would pass a ceiling is never started; idle ones are retired to make room.

use ignis_invoker::{
    Ceilings, Invocation, InvokeError, Invoker, InvokerConfig, ProcessLauncher, Resource,
    available_runtimes,
};
use ignis_logs::LogStore;
use ignis_model::{Account, FunctionConfig};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const MB: u64 = 1 << 20;

fn have_python() -> bool {
    let ok = available_runtimes().iter().any(|r| r == "python3.11");
    if !ok {
        let ci = std::env::var("CI")
            .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"));
        assert!(!ci, "CI=true, but python3.11 is not available");
        eprintln!("SKIPPED: python3.11 is not available");
    }
    ok
}

fn account() -> Account {
    Account {
        id: "000000000000".into(),
        region: "us-east-1".into(),
    }
}

fn code(dir: &Path) -> PathBuf {
    let dest = dir.join("code");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::copy(
        Path::new(FIXTURES).join("python/app.py"),
        dest.join("app.py"),
    )
    .unwrap();
    dest
}

fn function(name: &str, memory_size: u32) -> Arc<FunctionConfig> {
    Arc::new(FunctionConfig {
        runtime: Some("python3.11".into()),
        handler: Some("app.sleep".into()),
        timeout: 10,
        memory_size,
        ..FunctionConfig::fixture(name)
    })
}

fn invocation(f: &Arc<FunctionConfig>, code: &Path, payload: Value) -> Invocation {
    Invocation {
        function: f.clone(),
        code_root: code.to_path_buf(),
        invoked_arn: account().function_arn(&f.name),
        request_id: uuid::Uuid::new_v4().to_string(),
        payload: payload.to_string().into(),
        client_context: None,
        cognito_identity: None,
        tail_log: false,
        opt_dir: None,
        lease: None,
        stream: None,
        trace: None,
        trigger: Default::default(),
    }
}

#[tokio::test]
async fn environments_past_the_memory_ceiling_are_refused_then_make_room() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = LogStore::open(dir.path().join("logs"), 8 << 20).unwrap();
    let mut cfg = InvokerConfig::new(account(), dir.path().join("runtime"), logs);
    cfg.ceilings = Ceilings {
        memory_bytes: Some(1024 * MB),
        ..Ceilings::default()
    };
    let invoker = Invoker::new(cfg, Arc::new(ProcessLauncher::new())).unwrap();
    let code = code(dir.path());
    let busy = function("busy", 512);
    let other = function("other", 512);

    // Two busy 512 MB environments fill the 1,024 MB ceiling.
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let (invoker, inv) = (
            invoker.clone(),
            invocation(&busy, &code, json!({"seconds": 2})),
        );
        running.spawn(async move { invoker.invoke(inv).await });
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while invoker.environment_count() < 2 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(invoker.capacity().1.memory_bytes, 1024 * MB);
    // A third is refused before anything starts: nothing is idle to retire.
    let refused = invoker
        .invoke(invocation(&other, &code, json!({"seconds": 0})))
        .await;
    assert!(
        matches!(
            refused,
            Err(InvokeError::NodeCapacity {
                resource: Resource::Memory
            })
        ),
        "{refused:?}"
    );
    assert_eq!(invoker.environment_count(), 2);
    while let Some(r) = running.join_next().await {
        assert_eq!(r.unwrap().unwrap().function_error, None);
    }
    assert_eq!(invoker.idle_count(), 2);
    // Larger than the ceiling itself: refused, and nothing idle is retired for it.
    let huge = function("huge", 2048);
    assert!(matches!(
        invoker
            .invoke(invocation(&huge, &code, json!({"seconds": 0})))
            .await,
        Err(InvokeError::NodeCapacity {
            resource: Resource::Memory
        })
    ));
    assert_eq!(invoker.idle_count(), 2);
    // Idle now: the oldest idle environment is retired for the newcomer.
    let r = invoker
        .invoke(invocation(&other, &code, json!({"seconds": 0})))
        .await
        .unwrap();
    assert_eq!(r.function_error, None);
    assert_eq!(invoker.environment_count(), 2);
    assert_eq!(invoker.capacity().1.memory_bytes, 1024 * MB);
    invoker.shutdown().await;
    assert_eq!(invoker.capacity().1.memory_bytes, 0);
}
