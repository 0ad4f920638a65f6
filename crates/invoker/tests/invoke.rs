//! Real invocations through an [`Invoker`] with the [`ProcessLauncher`]: real Python, Node.js and
//! shell runtimes speaking the Runtime API to the invoker.

use base64::Engine;
use ignis_invoker::{
    BoxFuture, EnvironmentProcess, Invocation, InvokeError, InvokeResult, Invoker, InvokerConfig,
    LaunchError, LaunchSpec, Launcher, ProcessLauncher, available_runtimes,
};
use ignis_logs::LogStore;
use ignis_model::trace::{TraceContext, TraceHeader};
use ignis_model::{Account, FunctionConfig, TracingMode};
use regex::Regex;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn account() -> Account {
    Account {
        id: "000000000000".into(),
        region: "eu-west-1".into(),
    }
}

struct Harness {
    invoker: Invoker,
    logs: LogStore,
    dir: tempfile::TempDir,
}

fn harness_with(tweak: impl FnOnce(&mut InvokerConfig)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let logs = LogStore::open(dir.path().join("logs"), 8 << 20).unwrap();
    let mut cfg = InvokerConfig::new(account(), dir.path().join("runtime"), logs.clone());
    cfg.function_env = vec![
        ("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:1".into()),
        ("AWS_ACCESS_KEY_ID".into(), "AKIDTEST".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "secret".into()),
    ];
    tweak(&mut cfg);
    let invoker = Invoker::new(cfg, Arc::new(ProcessLauncher::new())).unwrap();
    Harness { invoker, logs, dir }
}

fn harness() -> Harness {
    harness_with(|_| {})
}

impl Harness {
    /// A private copy of a fixture directory (the runtime may write `__pycache__` into it).
    fn code(&self, fixture: &str) -> PathBuf {
        let dest = self.dir.path().join("code").join(fixture);
        std::fs::create_dir_all(&dest).unwrap();
        for entry in std::fs::read_dir(Path::new(FIXTURES).join(fixture)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                let to = dest.join(entry.file_name());
                std::fs::copy(entry.path(), &to).unwrap();
            }
        }
        dest
    }

    async fn invoke(&self, f: &Arc<FunctionConfig>, code: &Path, payload: Value) -> InvokeResult {
        self.try_invoke(f, code, payload, true).await.unwrap()
    }

    async fn try_invoke(
        &self,
        f: &Arc<FunctionConfig>,
        code: &Path,
        payload: Value,
        tail_log: bool,
    ) -> Result<InvokeResult, InvokeError> {
        self.invoker
            .invoke(invocation(f, code, payload, tail_log))
            .await
    }
}

fn invocation(f: &Arc<FunctionConfig>, code: &Path, payload: Value, tail_log: bool) -> Invocation {
    Invocation {
        function: f.clone(),
        code_root: code.to_path_buf(),
        invoked_arn: account().function_arn(&f.name),
        request_id: uuid::Uuid::new_v4().to_string(),
        payload: payload.to_string().into(),
        client_context: None,
        cognito_identity: None,
        tail_log,
        opt_dir: None,
        lease: None,
        stream: None,
        trace: None,
        trigger: Default::default(),
    }
}

fn function(name: &str, runtime: &str, handler: Option<&str>) -> Arc<FunctionConfig> {
    Arc::new(FunctionConfig {
        runtime: Some(runtime.into()),
        handler: handler.map(str::to_string),
        timeout: 10,
        memory_size: 512,
        ..FunctionConfig::fixture(name)
    })
}

fn python(name: &str, handler: &str) -> Arc<FunctionConfig> {
    function(name, "python3.11", Some(handler))
}

fn with(f: &Arc<FunctionConfig>, change: impl FnOnce(&mut FunctionConfig)) -> Arc<FunctionConfig> {
    let mut c = (**f).clone();
    change(&mut c);
    Arc::new(c)
}

fn json_of(r: &InvokeResult) -> Value {
    serde_json::from_slice(&r.payload).unwrap_or_else(|e| {
        panic!(
            "payload is not JSON ({e}): {}",
            String::from_utf8_lossy(&r.payload)
        )
    })
}

fn tail(r: &InvokeResult) -> String {
    let b64 = r.log_tail.as_deref().expect("a log tail");
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

fn report_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.starts_with("REPORT "))
        .expect("a REPORT line")
}

fn max_memory_used(report: &str) -> u64 {
    let re = Regex::new(r"Max Memory Used: (\d+) MB").unwrap();
    re.captures(report).unwrap()[1].parse().unwrap()
}

/// A tool, interpreter or binary this test needs is missing: skipped on a developer's machine,
/// a failure in CI (`CI=true`), where the suite must not pass vacuously.
fn missing(what: &str) {
    let ci = std::env::var("CI")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"));
    assert!(!ci, "CI=true, but {what}");
    eprintln!("SKIPPED: {what}");
}

fn have(runtime: &str) -> bool {
    let ok = available_runtimes().iter().any(|r| r == runtime);
    if !ok {
        missing(&format!(
            "{runtime} is not available on this host ({:?})",
            available_runtimes()
        ));
    }
    ok
}

#[tokio::test]
async fn python_handler_returns_the_event_with_logs_and_tail() {
    if !have("python3.11") {
        return;
    }
    let h = harness();
    let f = python("py-echo", "app.echo");
    let code = h.code("python");
    let r = h.invoke(&f, &code, json!({"name": "x", "n": [1, 2]})).await;
    assert_eq!(
        r.function_error,
        None,
        "{}",
        String::from_utf8_lossy(&r.payload)
    );
    assert_eq!(json_of(&r), json!({"name": "x", "n": [1, 2]}));
    assert_eq!(r.executed_version, "$LATEST");
    assert!(
        r.metrics.init_duration.is_some(),
        "first invoke is a cold start"
    );

    let text = tail(&r);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("START RequestId: "), "{text}");
    assert!(lines[0].ends_with(" Version: $LATEST"));
    assert!(text.contains("hello from handler"), "{text}");
    assert!(text.contains("END RequestId: "));
    let report = report_line(&text);
    let re = Regex::new(
        r"^REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d{2} ms\tBilled Duration: \d+ ms\tMemory Size: 512 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d{2} ms\t$",
    )
    .unwrap();
    assert!(re.is_match(report), "{report:?}");
    assert!(lines.last().unwrap().starts_with("REPORT "));

    // The same lines are in the function's log group, in one stream of this environment.
    let records = h
        .logs
        .read("/aws/lambda/py-echo", None, None)
        .await
        .unwrap();
    let messages: Vec<&str> = records.iter().map(|r| r.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("INIT_START Runtime Version: python:3.11"))
    );
    assert!(messages.iter().any(|m| m.starts_with("START RequestId:")));
    assert!(messages.contains(&"hello from handler"));
    assert!(messages.iter().any(|m| m.starts_with("REPORT RequestId:")));
    let streams = h.logs.list_streams("/aws/lambda/py-echo").await.unwrap();
    assert_eq!(streams.len(), 1);
    let stream_re = Regex::new(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$").unwrap();
    assert!(stream_re.is_match(&streams[0].name), "{}", streams[0].name);
}

#[tokio::test]
async fn node_handler_returns_the_event() {
    if !have("nodejs20.x") {
        return;
    }
    let h = harness();
    let f = function("node-echo", "nodejs20.x", Some("index.handler"));
    let code = h.code("node");
    let inv = invocation(&f, &code, json!({"hello": "node"}), true);
    let request_id = inv.request_id.clone();
    let r = h.invoker.invoke(inv).await.unwrap();
    assert_eq!(
        r.function_error,
        None,
        "{}",
        String::from_utf8_lossy(&r.payload)
    );
    let v = json_of(&r);
    assert_eq!(v["event"], json!({"hello": "node"}));
    assert_eq!(v["requestId"], request_id);
    assert!(v["node"].as_str().unwrap().starts_with("v20."));
    assert!(tail(&r).contains("hello from node"));
}

#[tokio::test]
async fn provided_shell_bootstrap_speaks_the_runtime_api() {
    if !Path::new("/usr/bin/curl").exists() && !Path::new("/bin/curl").exists() {
        missing("curl is not installed; the shell bootstrap needs it");
        return;
    }
    let h = harness();
    let f = function("shell", "provided.al2023", None);
    let code = h.code("provided");
    let first = h.invoke(&f, &code, json!({"a": 1})).await;
    assert_eq!(
        first.function_error,
        None,
        "{}",
        String::from_utf8_lossy(&first.payload)
    );
    let v = json_of(&first);
    assert_eq!(v["echo"], json!({"a": 1}));
    let text = tail(&first);
    assert!(text.contains("handling "), "{text}");
    // Output without a newline, written before the response, is still this invocation's.
    assert!(text.contains("\na partial line\nEND RequestId: "), "{text}");
    let second = h.invoke(&f, &code, json!({"a": 2})).await;
    assert_eq!(json_of(&second)["echo"], json!({"a": 2}));
    assert_eq!(json_of(&second)["pid"], v["pid"], "warm reuse");
}

#[tokio::test]
async fn provided_without_bootstrap_is_an_invalid_entrypoint() {
    let h = harness();
    let f = function("no-bootstrap", "provided.al2", None);
    let code = h.dir.path().join("empty");
    std::fs::create_dir_all(&code).unwrap();
    let inv = invocation(&f, &code, json!({}), true);
    let id = inv.request_id.clone();
    let r = h.invoker.invoke(inv).await.unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        json_of(&r),
        json!({
            "errorType": "Runtime.InvalidEntrypoint",
            "errorMessage": format!("RequestId: {id} Error: fork/exec /var/task/bootstrap: no such file or directory"),
        })
    );
    let text = tail(&r);
    assert!(
        report_line(&text).ends_with("Status: error\tError Type: Runtime.InvalidEntrypoint"),
        "{text}"
    );
}

#[tokio::test]
async fn warm_environments_are_reused() {
    if !have("python3.11") {
        return;
    }
    let h = harness();
    let f = python("warm", "app.info");
    let code = h.code("python");
    let a = h.invoke(&f, &code, json!({})).await;
    let b = h.invoke(&f, &code, json!({})).await;
    assert_eq!(json_of(&a)["pid"], json_of(&b)["pid"]);
    assert_eq!(json_of(&a)["loaded_at"], json_of(&b)["loaded_at"]);
    assert_eq!(
        json_of(&a)["env"]["AWS_LAMBDA_LOG_STREAM_NAME"],
        json_of(&b)["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
    );
    assert!(a.metrics.init_duration.is_some());
    assert!(
        b.metrics.init_duration.is_none(),
        "a warm invoke has no init"
    );
    assert!(!report_line(&tail(&b)).contains("Init Duration"));
    assert_eq!(h.invoker.environment_count(), 1);

    // A new revision that executes the same (a policy, a description) stays warm.
    let revised = with(&f, |c| {
        c.revision_id = "rev-2".into();
        c.description = "described".into();
    });
    h.invoker.supersede(&revised).await;
    let same = h.invoke(&revised, &code, json!({})).await;
    assert_eq!(json_of(&same)["pid"], json_of(&a)["pid"]);
    assert!(same.metrics.init_duration.is_none());

    // A change of what runs gets a fresh environment, and the old idle one stops at once.
    let changed = with(&f, |c| c.memory_size = 640);
    assert_eq!(h.invoker.idle_count(), 1);
    h.invoker.supersede(&changed).await;
    assert_eq!(
        h.invoker.idle_count(),
        0,
        "the superseded environment stopped"
    );
    let c = h.invoke(&changed, &code, json!({})).await;
    assert_ne!(json_of(&c)["pid"], json_of(&a)["pid"]);

    // Invalidation stops the idle ones: the next invoke is cold again.
    h.invoker.invalidate("warm").await;
    let d = h.invoke(&f, &code, json!({})).await;
    assert_ne!(json_of(&d)["pid"], json_of(&a)["pid"]);
    assert!(d.metrics.init_duration.is_some());
}

#[tokio::test]
async fn busy_environments_scale_out() {
    if !have("python3.11") {
        return;
    }
    let h = harness();
    let f = python("parallel", "app.sleep");
    let code = h.code("python");
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let invoker = h.invoker.clone();
        let inv = invocation(&f, &code, json!({"seconds": 1.5}), false);
        tasks.spawn(async move { invoker.invoke(inv).await.unwrap() });
    }
    let mut pids = HashSet::new();
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap();
        assert_eq!(
            r.function_error,
            None,
            "{}",
            String::from_utf8_lossy(&r.payload)
        );
        pids.insert(json_of(&r)["pid"].as_u64().unwrap());
    }
    let elapsed = started.elapsed();
    assert_eq!(pids.len(), 8, "one environment per concurrent request");
    assert!(
        elapsed < Duration::from_secs(4),
        "8 parallel 1.5 s invokes took {elapsed:?}"
    );
    assert_eq!(h.invoker.idle_count(), 8);
}

#[tokio::test]
async fn a_timeout_kills_the_environment_and_the_next_invoke_works() {
    if !have("python3.11") {
        return;
    }
    let h = harness();
    let f = with(&python("slow", "app.sleep"), |c| c.timeout = 1);
    let code = h.code("python");
    let inv = invocation(&f, &code, json!({"seconds": 30}), true);
    let id = inv.request_id.clone();
    let started = Instant::now();
    let r = h.invoker.invoke(inv).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let v = json_of(&r);
    assert_eq!(v["errorType"], "Sandbox.Timedout");
    let re = Regex::new(&format!(
        r"^RequestId: {id} Error: Task timed out after 1\.\d\d seconds$"
    ))
    .unwrap();
    assert!(re.is_match(v["errorMessage"].as_str().unwrap()), "{v}");
    let text = tail(&r);
    let line_re = Regex::new(&format!(
        r"(?m)^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {id} Task timed out after 1\.\d\d seconds$"
    ))
    .unwrap();
    assert!(line_re.is_match(&text), "{text}");
    assert!(report_line(&text).ends_with("\tStatus: timeout"), "{text}");
    assert_eq!(
        h.invoker.environment_count(),
        0,
        "the timed-out environment is gone"
    );

    let ok = h.invoke(&f, &code, json!({"seconds": 0})).await;
    assert_eq!(ok.function_error, None);
}

#[tokio::test]
async fn a_runtime_that_exits_is_an_exit_error() {
    if !have("python3.11") {
        return;
    }
    let h = harness();
    let f = python("crash", "app.crash");
    let code = h.code("python");
    let inv = invocation(&f, &code, json!({}), true);
    let id = inv.request_id.clone();
    let r = h.invoker.invoke(inv).await.unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        json_of(&r),
        json!({
            "errorType": "Runtime.ExitError",
            "errorMessage": format!("RequestId: {id} Error: Runtime exited with error: exit status 1"),
        })
    );
    let text = tail(&r);
    assert!(text.contains("about to exit"), "{text}");
    assert!(report_line(&text).ends_with("Status: error\tError Type: Runtime.ExitError"));

    // The next invoke gets a fresh environment (and works).
    let echo = python("crash", "app.echo");
    let ok = h.invoke(&echo, &code, json!({"after": "crash"})).await;
    assert_eq!(json_of(&ok), json!({"after": "crash"}));
}

#[tokio::test]
async fn a_handler_exception_is_a_function_error() {
    if !have("python3.11") {
        return;
    }
    let h = harness();
    let f = python("raises", "app.fail");
    let code = h.code("python");
    let r = h.invoke(&f, &code, json!({})).await;
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let v = json_of(&r);
    assert_eq!(v["errorType"], "ValueError");
    assert_eq!(v["errorMessage"], "boom");
    // The environment survives a handled error.
    assert!(!report_line(&tail(&r)).contains("Status:"));
    assert_eq!(h.invoker.idle_count(), 1);
}

#[tokio::test]
async fn an_import_error_fails_init() {
    if !have("python3.11") {
        return;
    }
    let h = harness();
    let f = python("broken", "broken.handler");
    let code = h.code("python");
    let r = h.invoke(&f, &code, json!({})).await;
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let v = json_of(&r);
    assert_eq!(v["errorType"], "Runtime.ImportModuleError");
    assert!(
        v["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Unable to import module 'broken'"),
        "{v}"
    );
    let text = tail(&r);
    assert!(text.contains("INIT_REPORT Init Duration: "), "{text}");
    assert!(text.contains("START RequestId: "));
    assert!(report_line(&text).ends_with("Status: error\tError Type: Runtime.ImportModuleError"));
    assert_eq!(
        h.invoker.environment_count(),
        0,
        "a failed environment is discarded"
    );
}

#[tokio::test]
async fn a_slow_init_is_tried_again_inside_the_invocation() {
    if !have("python3.11") {
        return;
    }
    // The init phase's limit runs out; Lambda starts the init again inside the invocation,
    // under the function's timeout, and the invocation succeeds.
    let h = harness_with(|c| c.init_timeout = Duration::from_millis(700));
    let f = python("slowinit", "slowinit.handler");
    let code = h.code("python");
    let r = h
        .invoker
        .invoke(invocation(&f, &code, json!({}), true))
        .await
        .unwrap();
    assert_eq!(r.function_error, None, "{}", tail(&r));
    assert_eq!(json_of(&r), json!("slow"));
    let text = tail(&r);
    let re = Regex::new(r"(?m)^START RequestId: \S+ Version: \$LATEST$").unwrap();
    assert_eq!(re.find_iter(&text).count(), 1, "{text}");
    let report = report_line(&text);
    assert!(!report.contains("Init Duration"), "{report}");
    let ms: f64 = Regex::new(r"\tDuration: ([0-9.]+) ms")
        .unwrap()
        .captures(report)
        .unwrap()[1]
        .parse()
        .unwrap();
    assert!(
        ms >= 3000.0,
        "the init's time is the invocation's: {report}"
    );
    assert!(
        h.invoker.environment_count() == 1,
        "the environment stays for the next invocation"
    );
}

#[tokio::test]
async fn an_init_longer_than_the_timeout_times_the_invocation_out() {
    if !have("python3.11") {
        return;
    }
    let h = harness_with(|c| c.init_timeout = Duration::from_millis(700));
    let f = with(&python("slowinit", "slowinit.handler"), |c| c.timeout = 2);
    let code = h.code("python");
    let inv = invocation(&f, &code, json!({}), true);
    let id = inv.request_id.clone();
    let r = h.invoker.invoke(inv).await.unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let v = json_of(&r);
    assert_eq!(v["errorType"], "Sandbox.Timedout");
    let re = Regex::new(&format!(
        r"^RequestId: {id} Error: Task timed out after 2\.\d\d seconds$"
    ))
    .unwrap();
    assert!(re.is_match(v["errorMessage"].as_str().unwrap()), "{v}");
    let text = tail(&r);
    assert!(
        text.contains("\tPhase: invoke\tStatus: timeout"),
        "the second init's INIT_REPORT: {text}"
    );
    assert!(report_line(&text).ends_with("Status: timeout"), "{text}");
    assert_eq!(h.invoker.environment_count(), 0);
}

#[tokio::test]
async fn an_oversized_response_is_refused() {
    if !have("python3.11") {
        return;
    }
    let h = harness();
    let f = python("big", "app.big");
    let code = h.code("python");
    let r = h.invoke(&f, &code, json!({})).await;
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        json_of(&r),
        json!({
            "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
            "errorType": "Function.ResponseSizeTooLarge",
        })
    );
}

#[tokio::test]
async fn runtime_api_misuse_is_refused_and_changes_nothing() {
    if !have("python3.11") {
        return;
    }
    let h = harness();
    let f = python("misuse", "app.misuse");
    let code = h.code("python");
    let meet = h.dir.path().join("meet");
    std::fs::create_dir_all(&meet).unwrap();
    let a = invocation(&f, &code, json!({"dir": meet}), true);
    let b = invocation(&f, &code, json!({"dir": meet}), true);
    let (ida, idb) = (a.request_id.clone(), b.request_id.clone());
    let (ra, rb) = tokio::join!(h.invoker.invoke(a), h.invoker.invoke(b));
    for (r, me) in [(ra.unwrap(), ida), (rb.unwrap(), idb)] {
        assert_eq!(
            r.function_error,
            None,
            "{}",
            String::from_utf8_lossy(&r.payload)
        );
        // The caller got the runtime's first response, not the foreign "stolen" one.
        let v = json_of(&r);
        assert_eq!(v["me"], me);
        assert_eq!(
            v["unknown"],
            json!([
                400,
                r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#
            ])
        );
        assert_eq!(
            v["foreign"][0], 400,
            "another environment's id is unknown here: {v}"
        );
        assert_eq!(v["not_found"][0], 404);
    }
    // What the second response got is printed after the first ended the invocation: it reaches
    // the log stream, not necessarily the tail.
    let want = r#"first=202 second=403 second_body={"errorMessage":"Invalid state transition","errorType":"InvalidStateTransition"}"#;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let records = h.logs.read("/aws/lambda/misuse", None, None).await.unwrap();
        let seen = records.iter().filter(|r| r.message == want).count();
        if seen == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{seen} of 2 environments logged {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_environment_is_lambdas() {
    if !have("python3.11") {
        return;
    }
    let h = harness();
    let f = with(&python("envvars", "app.info"), |c| {
        c.memory_size = 256;
        c.environment = Some(BTreeMap::from([
            ("GREETING".to_string(), "hello".to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
            ("AWS_REGION".to_string(), "mars-1".to_string()),
        ]));
    });
    let code = h.code("python");
    let caller_trace = TraceContext::continue_from(
        Some(&TraceHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )),
        TracingMode::PassThrough,
        0,
        || false,
    );
    let inv = Invocation {
        invoked_arn: format!("{}:PROD", account().function_arn("envvars")),
        client_context: Some(r#"{"custom":{"k":"v"},"env":{},"client":{}}"#.into()),
        cognito_identity: Some(
            r#"{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}"#.into(),
        ),
        trace: Some(caller_trace.clone()),
        ..invocation(&f, &code, json!({}), false)
    };
    let id = inv.request_id.clone();
    let r = h.invoker.invoke(inv).await.unwrap();
    let v = json_of(&r);
    let env = &v["env"];
    let code_root = code.to_string_lossy();
    assert_eq!(v["cwd"], *code_root);
    assert_eq!(v["request_id"], id);
    assert_eq!(v["client_custom"], json!({"k": "v"}));
    assert_eq!(v["identity_id"], "id-1");
    assert_eq!(v["log_stream"], env["AWS_LAMBDA_LOG_STREAM_NAME"]);
    assert_eq!(
        v["arn"],
        format!("{}:PROD", account().function_arn("envvars"))
    );
    let remaining = v["remaining_ms"].as_u64().unwrap();
    assert!(remaining > 8_000 && remaining <= 10_000, "{remaining}");
    for (k, want) in [
        ("_HANDLER", "app.info"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11"),
        ("AWS_LAMBDA_FUNCTION_NAME", "envvars"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/envvars"),
        ("LAMBDA_TASK_ROOT", &code_root),
        ("TZ", ":UTC"),
        ("LANG", "C.UTF-8"),
        ("GREETING", "hello"),
        ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR"),
        ("AWS_LAMBDA_LOG_FORMAT", "Text"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ] {
        assert_eq!(env[k], want, "{k}: {env}");
    }
    let runtime_api = Regex::new(r"^127\.0\.0\.2:\d+$").unwrap();
    assert!(runtime_api.is_match(env["AWS_LAMBDA_RUNTIME_API"].as_str().unwrap()));
    let stream = Regex::new(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$").unwrap();
    assert!(stream.is_match(env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().unwrap()));
    assert!(
        env["PATH"]
            .as_str()
            .unwrap()
            .starts_with("/usr/local/bin:/usr/bin/:/bin:/opt/bin")
    );
    let runtime_dir = env["LAMBDA_RUNTIME_DIR"].as_str().unwrap();
    // The runtime dir first, then where Lambda looks for Python layers.
    assert_eq!(
        env["PYTHONPATH"],
        format!("{runtime_dir}:/opt/python/lib/python3.11/site-packages:/opt/python")
    );
    assert!(Path::new(runtime_dir).join("bootstrap.py").is_file());
    assert!(
        env["LD_LIBRARY_PATH"]
            .as_str()
            .unwrap()
            .starts_with("/lib64:/usr/lib64:")
    );
    // The caller's trace, continued; with no spans exported the parent is the caller's.
    assert_eq!(
        env["_X_AMZN_TRACE_ID"],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    );
    // Nothing of the server's own environment leaks in.
    assert!(
        env.get("HOME").is_none() && env.get("CARGO").is_none(),
        "{env}"
    );
}

#[tokio::test]
async fn max_memory_used_is_measured() {
    if !have("python3.11") {
        return;
    }
    let h = harness();
    let f = python("memory", "app.alloc");
    let code = h.code("python");
    let small = max_memory_used(report_line(&tail(&h.invoke(&f, &code, json!({})).await)));
    let big = max_memory_used(report_line(&tail(
        &h.invoke(&f, &code, json!({"mb": 100})).await,
    )));
    let again = max_memory_used(report_line(&tail(&h.invoke(&f, &code, json!({})).await)));
    assert!(
        small > 0 && small < 100,
        "an idle Python uses {small} MB (not the configured 512)"
    );
    assert!(
        big >= small + 90,
        "allocating 100 MB: {small} MB → {big} MB"
    );
    assert!(
        again < big - 50,
        "the peak is reset per invocation: {big} MB → {again} MB"
    );
}

#[tokio::test]
async fn idle_environments_are_reaped() {
    if !have("python3.11") {
        return;
    }
    let h = harness_with(|c| c.idle_timeout = Duration::from_millis(300));
    let f = python("reaped", "app.info");
    let code = h.code("python");
    let a = h.invoke(&f, &code, json!({})).await;
    assert_eq!(h.invoker.environment_count(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.invoker.environment_count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(h.invoker.environment_count(), 0);
    let b = h.invoke(&f, &code, json!({})).await;
    assert_ne!(json_of(&a)["pid"], json_of(&b)["pid"]);
    assert!(b.metrics.init_duration.is_some());
}

#[tokio::test]
async fn unavailable_runtimes_are_refused_with_the_available_ones() {
    let h = harness();
    let f = function("java", "java21", Some("x::y"));
    let err = h
        .try_invoke(&f, h.dir.path(), json!({}), false)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, InvokeError::RuntimeUnavailable { .. }));
    assert!(
        message.contains("java21") && message.contains("provided.al2023"),
        "{message}"
    );
}

#[tokio::test]
async fn shutdown_stops_busy_environments() {
    if !have("python3.11") {
        return;
    }
    let h = harness();
    let f = python("shutdown", "app.sleep");
    let code = h.code("python");
    let invoker = h.invoker.clone();
    let busy = tokio::spawn({
        let inv = invocation(&f, &code, json!({"seconds": 30}), false);
        async move { invoker.invoke(inv).await }
    });
    while h.invoker.environment_count() == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    h.invoker.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let r = busy.await.unwrap().unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(h.invoker.environment_count(), 0);
    let err = h.try_invoke(&f, &code, json!({}), false).await.unwrap_err();
    assert!(matches!(err, InvokeError::ShuttingDown));
}

/// A launcher that panics: the panic stays inside that invocation.
struct PanickingLauncher;

impl Launcher for PanickingLauncher {
    fn launch(
        &self,
        _spec: LaunchSpec,
    ) -> BoxFuture<'_, Result<Box<dyn EnvironmentProcess>, LaunchError>> {
        Box::pin(async { panic!("launcher exploded") })
    }
}

#[tokio::test]
async fn a_panic_inside_an_invocation_is_an_internal_error() {
    let dir = tempfile::tempdir().unwrap();
    let logs = LogStore::open(dir.path().join("logs"), 1 << 20).unwrap();
    let cfg = InvokerConfig::new(account(), dir.path().join("runtime"), logs);
    let invoker = Invoker::new(cfg, Arc::new(PanickingLauncher)).unwrap();
    let f = function("panics", "provided.al2023", None);
    for _ in 0..2 {
        let err = invoker
            .invoke(invocation(&f, dir.path(), json!({}), false))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, InvokeError::Internal(m) if m.contains("launcher exploded")),
            "{err}"
        );
    }
    assert_eq!(invoker.environment_count(), 0);
}
