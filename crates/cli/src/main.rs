//! `ignis`: the one binary. It parses flags and calls into `ignis-server` (and `ignis-bench` for
//! `ignis bench`); nothing else.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// jemalloc, not the system allocator: after a burst it hands freed memory back to the OS within
/// tens of seconds, where glibc's malloc kept most of it (a log storm with an unbounded queue:
/// 1.0 GB still held a minute later against 34 MiB; BENCHMARKS.md). Its decay times are left at
/// jemalloc's defaults (dirty pages 10 s, muzzy 0); `ignis up` turns on its background purging
/// thread (see [`return_memory_in_background`]).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Lets jemalloc purge unused dirty pages from a background thread, so that memory freed after a
/// burst goes back to the OS even when the server is idle (without it, purging only happens as a
/// side effect of later allocations). Only `ignis up` does this: `ignis __jail` forks and must
/// stay single-threaded, so background threads are never compiled in (no `malloc_conf`).
fn return_memory_in_background() {
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "could not start jemalloc's background purging thread");
    }
}

#[derive(Parser)]
#[command(
    name = "ignis",
    version,
    about = "A self-hosted, Lambda-compatible function platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a node listens and keeps its data; shared by the commands that need them.
#[derive(clap::Args)]
struct NodeArgs {
    /// Address the Lambda API listens on.
    #[arg(long, env = "IGNIS_LISTEN", default_value = "127.0.0.1:9070")]
    listen: SocketAddr,
    /// Data directory (metadata, code, logs, credentials). Default: ~/.local/share/ignis.
    #[arg(long, env = "IGNIS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Region this node serves.
    #[arg(long, env = "IGNIS_REGION", default_value = "us-east-1")]
    region: String,
}

impl NodeArgs {
    fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(ignis_server::default_data_dir)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run one node in the foreground on embedded defaults.
    Up {
        #[command(flatten)]
        node: NodeArgs,
        /// Account id used in every ARN.
        #[arg(long, env = "IGNIS_ACCOUNT_ID", default_value = "000000000000")]
        account_id: String,
        /// Root access key id (generated and stored in the data dir when unset).
        #[arg(long, env = "IGNIS_ACCESS_KEY_ID", hide_env_values = true)]
        access_key_id: Option<String>,
        /// Root secret access key.
        #[arg(long, env = "IGNIS_SECRET_ACCESS_KEY", hide_env_values = true)]
        secret_access_key: Option<String>,
        /// Seconds an idle execution environment is kept before it is stopped.
        #[arg(long, env = "IGNIS_IDLE_TIMEOUT", default_value_t = 600)]
        idle_timeout: u64,
        /// Account-wide concurrent executions; at least 100 always stay unreserved.
        #[arg(long, env = "IGNIS_CONCURRENCY_LIMIT", default_value_t = 1000,
              value_parser = clap::value_parser!(u32).range(100..))]
        concurrency_limit: u32,
        /// Seconds before the first retry of a failed asynchronous invocation (the second retry
        /// waits twice as long). Lambda waits about a minute.
        #[arg(long, env = "IGNIS_ASYNC_RETRY_DELAY", default_value_t = 60)]
        async_retry_delay: u64,
        #[command(flatten)]
        isolation: IsolationArg,
        /// Whether sandboxed functions can reach the network. The node's own API stays
        /// reachable at AWS_ENDPOINT_URL either way.
        #[arg(long, env = "IGNIS_FUNCTION_EGRESS", default_value = "on",
              value_parser = ["on", "off"])]
        function_egress: String,
        #[command(flatten)]
        front: Box<FrontArgs>,
        #[command(flatten)]
        ceilings: Box<CeilingArgs>,
        /// Export each sampled invocation's spans over OTLP/HTTP (protobuf) to this collector
        /// (a base URL such as http://127.0.0.1:4318, or one ending in /v1/traces). Unset:
        /// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then OTEL_EXPORTER_OTLP_ENDPOINT; none: nothing
        /// is exported.
        #[arg(long, value_name = "URL")]
        otlp_endpoint: Option<String>,
        /// `enforce`: every request is authorised by the account's IAM policies. `off`: a
        /// single-user development node where every valid key acts as its account's root
        /// user (functions still get only their execution role's credentials).
        #[arg(long, env = "IGNIS_IAM", default_value = "enforce",
              value_parser = ["enforce", "off"])]
        iam: String,
    },
    /// List the runtimes this host can run, and how functions would be isolated.
    Runtimes {
        #[command(flatten)]
        isolation: IsolationArg,
    },
    /// Print a function's logs (all its streams, oldest first).
    Logs {
        /// Function name.
        function: String,
        /// Keep printing new records as they arrive.
        #[arg(long, short)]
        follow: bool,
        /// Data directory of the node. Default: ~/.local/share/ignis.
        #[arg(long, env = "IGNIS_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Print each function's metered usage: requests and GB-seconds (billed duration × memory).
    Usage {
        /// Data directory of the node. Default: ~/.local/share/ignis.
        #[arg(long, env = "IGNIS_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Print `export` lines that point the AWS CLI and SDKs at a node: `eval "$(ignis env)"`.
    Env {
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Measure warm latency, throughput and cold starts through the Lambda API, each beside a
    /// baseline measured in the same run.
    Bench(BenchArgs),
    /// The sandbox helper a node starts for each execution environment (internal).
    #[command(name = "__jail", hide = true)]
    Jail {
        /// Only check whether this host can build sandboxes.
        #[arg(long)]
        probe: bool,
    },
}

#[derive(clap::Args)]
struct FrontArgs {
    /// Let sandboxed functions reach this host's loopback services at 10.0.2.2 (a database on
    /// the developer's localhost). RISK: every function can then reach whatever listens on the
    /// host's 127.0.0.1, which its operator may believe private. Ignis's own internal listeners
    /// stay unreachable either way.
    #[arg(long, env = "IGNIS_FUNCTION_HOST_ACCESS")]
    function_host_access: bool,
    /// Connections held at once (default: a quarter of the open-file limit, 64 to 16,384).
    #[arg(long, env = "IGNIS_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// Connections one client address, or one function, may hold (default: a quarter of
    /// --max-connections, at least 16).
    #[arg(long, env = "IGNIS_MAX_CONNECTIONS_PER_SOURCE",
          value_parser = clap::value_parser!(u64).range(1..))]
    max_connections_per_source: Option<u64>,
    /// Also serve function URLs (only them) on this address, so that URLs can be exposed
    /// without exposing the control API; the FunctionUrl the API prints then names its port.
    #[arg(long, env = "IGNIS_URL_LISTEN")]
    url_listen: Option<SocketAddr>,
    /// Serve the node's metrics to its operators on this address: `GET /metrics`, in the
    /// Prometheus text format, unauthenticated (only who can reach this address can read them).
    #[arg(long, env = "IGNIS_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
}

/// Node-wide ceilings; an invocation that would need more is throttled (429), never started to
/// be killed.
#[derive(clap::Args)]
struct CeilingArgs {
    /// MB of memory all environments together may reserve (their MemorySize) [default: the
    /// host's memory less the larger of 512 MiB and 10 %].
    #[arg(long, env = "IGNIS_MAX_MEMORY", value_name = "MB",
          value_parser = clap::value_parser!(u64).range(128..))]
    max_memory: Option<u64>,
    /// Processes and threads of all sandboxed environments together (each may have 1,024)
    /// [default: the smaller of pid_max and threads-max, less the larger of 4,096 and a quarter].
    #[arg(long, env = "IGNIS_MAX_PIDS", value_parser = clap::value_parser!(u64).range(1024..))]
    max_pids: Option<u64>,
    /// MB of /tmp (EphemeralStorage) all sandboxed environments together may reserve
    /// [default: the data directory's free disk less the larger of 1 GiB and 10 %].
    #[arg(long, env = "IGNIS_MAX_TMP_DISK", value_name = "MB",
          value_parser = clap::value_parser!(u64).range(512..))]
    max_tmp_disk: Option<u64>,
    /// Payload bytes the asynchronous queue holds for the whole node [default: 1 GiB].
    #[arg(long, env = "IGNIS_MAX_ASYNC_QUEUE_BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    max_async_queue_bytes: Option<u64>,
    /// Payload bytes the asynchronous queue holds for one function [default: 64 MiB].
    #[arg(long, env = "IGNIS_MAX_ASYNC_QUEUE_BYTES_PER_FUNCTION",
          value_parser = clap::value_parser!(u64).range(1..))]
    max_async_queue_bytes_per_function: Option<u64>,
    /// MB of S3 object content the node stores (objects and uploads in progress) [default: the
    /// data directory's free disk less the larger of 1 GiB and 10 %].
    #[arg(long, env = "IGNIS_MAX_OBJECT_STORAGE", value_name = "MB",
          value_parser = clap::value_parser!(u64).range(1..))]
    max_object_storage: Option<u64>,
}

impl CeilingArgs {
    fn config(&self) -> ignis_server::CeilingConfig {
        ignis_server::CeilingConfig {
            max_memory_mb: self.max_memory,
            max_pids: self.max_pids,
            max_tmp_disk_mb: self.max_tmp_disk,
            max_async_queue_bytes: self.max_async_queue_bytes,
            max_async_queue_bytes_per_function: self.max_async_queue_bytes_per_function,
            max_object_storage_mb: self.max_object_storage,
        }
    }
}

#[derive(clap::Args)]
struct IsolationArg {
    /// How execution environments are isolated: `sandbox` (namespaces + cgroups; needs root),
    /// `process` (plain processes: NO isolation), or `auto` (sandbox when this host allows it,
    /// else process, with a warning).
    #[arg(long = "isolation", env = "IGNIS_ISOLATION", default_value = "auto",
          value_parser = ["auto", "sandbox", "process"])]
    mode: String,
}

impl IsolationArg {
    fn mode(&self) -> anyhow::Result<ignis_server::Isolation> {
        self.mode.parse().map_err(anyhow::Error::msg)
    }
}

#[derive(clap::Args)]
struct BenchArgs {
    /// A running node; credentials then come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
    /// AWS_REGION. Default: start a temporary node.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Workers in the throughput phase [default: 16].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Sequential warm invokes measured [default: 2000, 50 with --short].
    #[arg(long, value_name = "N")]
    requests: Option<usize>,
    /// Length of the throughput phase [default: 10, 2 with --short].
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Cold starts per runtime [default: 10, 2 with --short].
    #[arg(long, value_name = "K")]
    cold_starts: Option<usize>,
    /// Which of python, node, native to run [default: all this host can run].
    #[arg(long, value_delimiter = ',')]
    runtimes: Option<Vec<String>>,
    /// CI mode: a few seconds in total.
    #[arg(long)]
    short: bool,
    /// Print the results as JSON on stdout (the table goes to stderr).
    #[arg(long)]
    json: bool,
    /// Measure what sandboxes add to cold starts: a sandboxed and a plain-process node in the
    /// same run (needs root) [runtimes default: python, native].
    #[arg(long)]
    isolation_overhead: bool,
    /// Start N idle sandboxed Python environments (128 MB) and report the memory Ignis uses per
    /// environment (needs root).
    #[arg(long, value_name = "N")]
    idle_envs: Option<usize>,
    /// Soak: SECS of mixed load at 80 % of the node's measured capacity with a hostile function
    /// in the mix, sampling the server's memory and descriptors; fails on any error of the
    /// well-behaved functions.
    #[arg(long, value_name = "SECS")]
    soak: Option<f64>,
    /// S3: PUT/GET throughput of 1 MiB and 100 MiB objects beside a disk copy of the same bytes,
    /// and the time from an upload's answer to the start of the function it notifies.
    #[arg(long)]
    s3: bool,
    /// Function URLs: warm requests to the native no-op function through its URL (POST with
    /// the payload, GET without) beside the same function through Invoke, sequential and at
    /// concurrency 1 and --concurrency.
    #[arg(long)]
    urls: bool,
    /// Observability: warm invokes of a Python function with LogFormat JSON beside Text, and on
    /// a node exporting spans over OTLP (to a receiver in the bench) beside one that does not.
    #[arg(long)]
    observability: bool,
    /// Authorization: warm invokes signed by an IAM user whose policies are evaluated, beside
    /// the same invokes signed by the root user, who is never evaluated (as under --iam off).
    #[arg(long)]
    authorization: bool,
    /// SQS: SendMessageBatch and ReceiveMessage+DeleteMessageBatch messages/s with
    /// --concurrency clients, and Event invokes' time to their 202 at 1,000/s, each beside the
    /// same node with its data directory on tmpfs.
    #[arg(long)]
    sqs: bool,
}

fn main() -> ExitCode {
    // The sandbox helper starts on every cold start: straight to it, before anything else.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == ignis_sandbox::jail::SUBCOMMAND)
        && std::env::args_os().len() == 2
    {
        ignis_sandbox::jail::main();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IGNIS_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ignis: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Jail { probe: true } => ignis_sandbox::jail::probe(),
        Command::Jail { probe: false } => ignis_sandbox::jail::main(),
        Command::Up {
            node,
            account_id,
            access_key_id,
            secret_access_key,
            idle_timeout,
            concurrency_limit,
            async_retry_delay,
            isolation,
            function_egress,
            front,
            ceilings,
            otlp_endpoint,
            iam,
        } => {
            return_memory_in_background();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(ignis_server::up(ignis_server::NodeConfig {
                listen: node.listen,
                data_dir: node.data_dir(),
                region: node.region,
                account_id,
                access_key_id,
                secret_access_key,
                idle_timeout: Duration::from_secs(idle_timeout),
                concurrency_limit,
                async_retry_base: Duration::from_secs(async_retry_delay),
                isolation: isolation.mode()?,
                function_egress: function_egress == "on",
                function_host_access: front.function_host_access,
                max_connections: front.max_connections.map(|n| n as usize),
                max_connections_per_source: front.max_connections_per_source.map(|n| n as usize),
                url_listen: front.url_listen,
                metrics_listen: front.metrics_listen,
                ceilings: ceilings.config(),
                otlp_endpoint: ignis_server::traces_endpoint(
                    otlp_endpoint.as_deref(),
                    std::env::var(ignis_server::OTLP_TRACES_ENDPOINT_ENV)
                        .ok()
                        .as_deref(),
                    std::env::var(ignis_server::OTLP_ENDPOINT_ENV)
                        .ok()
                        .as_deref(),
                ),
                iam: if iam == "off" {
                    ignis_server::IamMode::Off
                } else {
                    ignis_server::IamMode::Enforce
                },
            }))?;
            Ok(())
        }
        Command::Runtimes { isolation } => {
            print!("{}", ignis_server::runtimes_report(isolation.mode()?));
            Ok(())
        }
        Command::Logs {
            function,
            follow,
            data_dir,
        } => {
            let data_dir = data_dir.unwrap_or_else(ignis_server::default_data_dir);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(ignis_server::print_logs(&data_dir, &function, follow))?;
            Ok(())
        }
        Command::Usage { data_dir } => {
            let data_dir = data_dir.unwrap_or_else(ignis_server::default_data_dir);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            print!(
                "{}",
                runtime.block_on(ignis_server::usage_report(&data_dir))?
            );
            Ok(())
        }
        Command::Env { node } => {
            let data_dir = node.data_dir();
            let creds = ignis_server::Credentials::from_env_or_data_dir(&data_dir)?;
            print!(
                "{}",
                ignis_server::env_lines(node.listen, &node.region, &creds)
            );
            Ok(())
        }
        Command::Bench(a) => ignis_bench::run(bench_options(a)),
    }
}

/// What `ignis bench` was asked for.
fn bench_options(a: BenchArgs) -> ignis_bench::Options {
    ignis_bench::Options {
        endpoint: a.endpoint,
        concurrency: a.concurrency,
        requests: a.requests,
        duration_secs: a.duration,
        cold_starts: a.cold_starts,
        runtimes: a.runtimes,
        short: a.short,
        json: a.json,
        ignis_exe: None,
        noop_exe: None,
        isolation_overhead: a.isolation_overhead,
        idle_envs: a.idle_envs,
        soak_secs: a.soak,
        s3: a.s3,
        urls: a.urls,
        observability: a.observability,
        authorization: a.authorization,
        sqs: a.sqs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(args: &[&str]) -> ignis_bench::Options {
        let cli = Cli::try_parse_from(["ignis", "bench"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Bench(a) => bench_options(a),
            _ => panic!("not the bench command"),
        }
    }

    #[test]
    fn bench_modes() {
        let o = bench(&["--urls", "--short", "--json"]);
        assert!(o.urls && o.short && o.json);
        assert!(!o.s3);
        let o = bench(&["--s3"]);
        assert!(o.s3 && !o.urls);
        let o = bench(&["--sqs", "--short"]);
        assert!(o.sqs && o.short && !o.s3);
        let o = bench(&["--urls", "--concurrency", "8", "--requests", "300"]);
        assert_eq!((o.concurrency, o.requests), (Some(8), Some(300)));
        let o = bench(&[]);
        assert!(!o.urls && !o.s3 && o.soak_secs.is_none());
    }
}
