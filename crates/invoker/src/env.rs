//! The environment variables of a function's process, built in one place, as Lambda sets them
//! (spec §4.1).
//!
//! Precedence, lowest first: Lambda's unreserved defaults (`LANG`, `PATH`, `LD_LIBRARY_PATH`,
//! `NODE_PATH`/`PYTHONPATH`, `AWS_XRAY_CONTEXT_MISSING`, `AWS_LAMBDA_LOG_FORMAT`/`_LEVEL`), then the
//! server's per-node variables (`AWS_ENDPOINT_URL`, credentials), then the function's own
//! variables (a reserved key there is ignored), then the reserved variables, which nothing
//! overrides.

use crate::host::Resolved;
use ignis_model::function::RESERVED_ENV_KEYS;
use ignis_model::{Account, FunctionConfig};
use std::collections::BTreeMap;
use std::path::Path;

/// Lambda's default `PATH`, exactly (including the trailing slash of `/usr/bin/`).
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";
pub const DEFAULT_LANG: &str = "en_US.UTF-8";
pub const TZ: &str = ":UTC";
pub const INITIALIZATION_TYPE: &str = "on-demand";
/// `AWS_LAMBDA_INITIALIZATION_TYPE` of environments started ahead of use.
pub const PROVISIONED_INITIALIZATION_TYPE: &str = "provisioned-concurrency";

/// `AWS_LAMBDA_INITIALIZATION_TYPE`, also the `initializationType` of the platform's init records.
pub(crate) fn initialization_type(provisioned: bool) -> &'static str {
    if provisioned {
        PROVISIONED_INITIALIZATION_TYPE
    } else {
        INITIALIZATION_TYPE
    }
}

/// Everything the variables are computed from.
pub(crate) struct EnvInputs<'a> {
    pub function: &'a FunctionConfig,
    pub account: &'a Account,
    pub runtime: &'a Resolved,
    /// `host:port` of the environment's Runtime API.
    pub runtime_api: &'a str,
    pub log_stream: &'a str,
    /// `LAMBDA_TASK_ROOT`: the code root (there is no `/var/task` mount in plain-process mode).
    pub task_root: &'a Path,
    /// `LAMBDA_RUNTIME_DIR`: the directory holding this runtime's bootstrap.
    pub runtime_dir: &'a Path,
    /// Where the function's layers appear (`/opt` in a sandbox; their host directory, or
    /// nothing, in plain-process mode).
    pub opt_dir: Option<&'a Path>,
    /// The server's variables for every function (its endpoint).
    pub node_env: &'a [(String, String)],
    /// The execution role's credentials, when the node hands them out.
    pub credentials: Option<&'a crate::RoleCredentials>,
    /// Started ahead of use for provisioned concurrency (else on demand).
    pub provisioned: bool,
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The complete environment of the function's process.
pub(crate) fn build_environment(i: &EnvInputs<'_>) -> Vec<(String, String)> {
    let f = i.function;
    let rt = s(i.runtime_dir);
    let task = s(i.task_root);
    let opt = i.opt_dir.map_or_else(|| "/opt".to_string(), s);
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };

    // Unreserved defaults.
    set("LANG", DEFAULT_LANG.into());
    let mut path = DEFAULT_PATH.to_string();
    if opt != "/opt" {
        path.push_str(&format!(":{opt}/bin"));
    }
    if let Some(dir) = i.runtime.interpreter_dir() {
        let dir = s(dir);
        let listed = DEFAULT_PATH
            .split(':')
            .any(|p| p.trim_end_matches('/') == dir.trim_end_matches('/'));
        if !listed {
            path.push(':');
            path.push_str(&dir);
        }
    }
    set("PATH", path);
    set(
        "LD_LIBRARY_PATH",
        format!("/lib64:/usr/lib64:{rt}:{rt}/lib:{task}:{task}/lib:{opt}/lib"),
    );
    match i.runtime {
        // Lambda puts a layer's `python` and `python/lib/python3.N/site-packages` on the path.
        Resolved::Python { minor, .. } => set(
            "PYTHONPATH",
            format!("{rt}:{opt}/python/lib/python3.{minor}/site-packages:{opt}/python"),
        ),
        Resolved::Node { major, .. } => set(
            "NODE_PATH",
            format!(
                "{opt}/nodejs/node{major}/node_modules:{opt}/nodejs/node_modules:{rt}/node_modules"
            ),
        ),
        Resolved::Provided => {}
    }
    set("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into());
    set(
        "AWS_LAMBDA_LOG_FORMAT",
        f.logging.log_format.as_str().into(),
    );
    if let Some(level) = f.logging.effective_application_level() {
        set("AWS_LAMBDA_LOG_LEVEL", level.into());
    }

    // The node's variables, then the function's own (never a reserved key).
    for (k, v) in i.node_env {
        set(k, v.clone());
    }
    for (k, v) in f.environment.iter().flatten() {
        if !RESERVED_ENV_KEYS.contains(&k.as_str()) {
            set(k, v.clone());
        }
    }

    // Reserved: nothing overrides these.
    if let Some(handler) = &f.handler {
        set("_HANDLER", handler.clone());
    }
    for (k, v) in i.credentials.iter().flat_map(|c| c.variables()) {
        set(k, v);
    }
    set("AWS_REGION", i.account.region.clone());
    set("AWS_DEFAULT_REGION", i.account.region.clone());
    if let Some(runtime) = &f.runtime
        && !matches!(i.runtime, Resolved::Provided)
    {
        set("AWS_EXECUTION_ENV", format!("AWS_Lambda_{runtime}"));
    }
    set("AWS_LAMBDA_FUNCTION_NAME", f.name.clone());
    set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory_size.to_string());
    set("AWS_LAMBDA_FUNCTION_VERSION", f.version.clone());
    set(
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        initialization_type(i.provisioned).into(),
    );
    set("AWS_LAMBDA_LOG_GROUP_NAME", f.logging.log_group.clone());
    set("AWS_LAMBDA_LOG_STREAM_NAME", i.log_stream.to_string());
    set("AWS_LAMBDA_RUNTIME_API", i.runtime_api.to_string());
    set("LAMBDA_TASK_ROOT", task);
    set("LAMBDA_RUNTIME_DIR", rt);
    set("TZ", TZ.into());

    env.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ignis_model::LogFormat;
    use std::collections::HashMap;

    fn function(runtime: &str) -> FunctionConfig {
        FunctionConfig {
            runtime: Some(runtime.into()),
            memory_size: 256,
            environment: Some(BTreeMap::from([
                ("GREETING".to_string(), "hi".to_string()),
                ("LANG".to_string(), "C.UTF-8".to_string()),
                ("AWS_REGION".to_string(), "mars-1".to_string()),
                (
                    "AWS_ENDPOINT_URL".to_string(),
                    "http://elsewhere".to_string(),
                ),
            ])),
            ..FunctionConfig::fixture("hello")
        }
    }

    fn build(f: &FunctionConfig, runtime: &Resolved) -> HashMap<String, String> {
        let account = Account {
            id: "000000000000".into(),
            region: "eu-west-1".into(),
        };
        let node_env = vec![(
            "AWS_ENDPOINT_URL".to_string(),
            "http://127.0.0.1:9000".to_string(),
        )];
        let credentials = crate::RoleCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: "token".into(),
            expires: std::time::SystemTime::now(),
        };
        let inputs = EnvInputs {
            function: f,
            account: &account,
            runtime,
            runtime_api: "127.0.0.1:4567",
            log_stream: "2024/05/06/[$LATEST]0123456789abcdef0123456789abcdef",
            task_root: Path::new("/data/code/abc"),
            runtime_dir: Path::new("/data/runtime/python"),
            opt_dir: None,
            node_env: &node_env,
            credentials: Some(&credentials),
            provisioned: false,
        };
        let vars = build_environment(&inputs);
        let map: HashMap<_, _> = vars.iter().cloned().collect();
        assert_eq!(map.len(), vars.len(), "no duplicate keys");
        map
    }

    #[test]
    fn python_environment_is_lambdas() {
        let py = Resolved::Python {
            minor: 11,
            exe: "/opt/py/bin/python3.11".into(),
        };
        let env = build(&function("python3.11"), &py);
        let get = |k: &str| env.get(k).map(String::as_str);
        assert_eq!(get("_HANDLER"), Some("app.handler"));
        assert_eq!(get("AWS_REGION"), Some("eu-west-1"));
        assert_eq!(get("AWS_DEFAULT_REGION"), Some("eu-west-1"));
        assert_eq!(get("AWS_EXECUTION_ENV"), Some("AWS_Lambda_python3.11"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_NAME"), Some("hello"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some("256"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_VERSION"), Some("$LATEST"));
        assert_eq!(get("AWS_LAMBDA_INITIALIZATION_TYPE"), Some("on-demand"));
        assert_eq!(get("AWS_LAMBDA_LOG_GROUP_NAME"), Some("/aws/lambda/hello"));
        assert_eq!(
            get("AWS_LAMBDA_LOG_STREAM_NAME"),
            Some("2024/05/06/[$LATEST]0123456789abcdef0123456789abcdef")
        );
        assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:4567"));
        assert_eq!(get("LAMBDA_TASK_ROOT"), Some("/data/code/abc"));
        assert_eq!(get("LAMBDA_RUNTIME_DIR"), Some("/data/runtime/python"));
        assert_eq!(
            get("PYTHONPATH"),
            Some("/data/runtime/python:/opt/python/lib/python3.11/site-packages:/opt/python")
        );
        assert_eq!(get("TZ"), Some(":UTC"));
        assert_eq!(
            get("PATH"),
            Some("/usr/local/bin:/usr/bin/:/bin:/opt/bin:/opt/py/bin")
        );
        assert_eq!(
            get("LD_LIBRARY_PATH"),
            Some(
                "/lib64:/usr/lib64:/data/runtime/python:/data/runtime/python/lib:/data/code/abc:/data/code/abc/lib:/opt/lib"
            )
        );
        assert_eq!(get("AWS_XRAY_CONTEXT_MISSING"), Some("LOG_ERROR"));
        assert_eq!(get("AWS_LAMBDA_LOG_FORMAT"), Some("Text"));
        assert_eq!(get("AWS_LAMBDA_LOG_LEVEL"), None);
        assert_eq!(get("NODE_PATH"), None);
        // The role's credentials are there; the user's unreserved values win over defaults and
        // the node's endpoint, but a reserved key of the user's is ignored.
        assert_eq!(get("AWS_ACCESS_KEY_ID"), Some("ASIAEXAMPLE"));
        assert_eq!(get("AWS_SESSION_TOKEN"), Some("token"));
        assert_eq!(get("GREETING"), Some("hi"));
        assert_eq!(get("LANG"), Some("C.UTF-8"));
        assert_eq!(get("AWS_ENDPOINT_URL"), Some("http://elsewhere"));
        // Nothing of the server's own environment leaks in.
        assert_eq!(get("HOME"), None);
    }

    #[test]
    fn node_and_provided_differ_where_lambda_does() {
        let node = Resolved::Node {
            major: 20,
            exe: "/usr/bin/node".into(),
        };
        let mut f = function("nodejs20.x");
        f.logging.log_format = LogFormat::Json;
        f.logging.application_log_level = Some("DEBUG".into());
        let env = build(&f, &node);
        assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_nodejs20.x");
        assert_eq!(
            env["NODE_PATH"],
            "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/data/runtime/python/node_modules"
        );
        // /usr/bin is already on Lambda's PATH.
        assert_eq!(env["PATH"], DEFAULT_PATH);
        assert_eq!(env["AWS_LAMBDA_LOG_FORMAT"], "JSON");
        assert_eq!(env["AWS_LAMBDA_LOG_LEVEL"], "DEBUG");
        assert!(!env.contains_key("PYTHONPATH"));

        let mut f = function("provided.al2023");
        f.handler = None;
        let env = build(&f, &Resolved::Provided);
        assert!(!env.contains_key("AWS_EXECUTION_ENV"));
        assert!(!env.contains_key("_HANDLER"));
        assert_eq!(env["PATH"], DEFAULT_PATH);
    }
}
