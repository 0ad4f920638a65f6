//! `ignis bench --authorization`: what enforcing IAM policies adds to a warm invoke, beside the
//! same invoke that skips evaluation, in the same run on the same node.
//!
//! One temporary node (`--iam enforce`, the default) gets a Python function that returns its
//! event, and an IAM user whose inline policy allows `lambda:InvokeFunction` on that function
//! (with a second, non-matching statement, as real policies have more than one). Two ways reach
//! the function:
//!
//! - **No evaluation**: signed with the account's root key. The root user is never evaluated,
//!   which is also the road of every key under `--iam off`;
//! - **Enforced**: signed with the user's key: its policies and the function's resource policy
//!   are evaluated for each invoke.
//!
//! Sequential warm invokes at concurrency 1, in turns alternating between the two so that each
//! meets the same moments of a shared host's load. Any failed invoke fails the command.

use crate::client::{Credentials, FunctionSpec, LambdaClient, http_client};
use crate::load::{Target, Via};
use crate::node::TempNode;
use crate::report::{
    HostInfo, Latency, TargetCheck, json_document, load_average, ms, ms_signed, p50_of,
    render_checks, render_first_errors, ways_errors, ways_table, zero_errors,
};
use crate::stats::diff_us;
use crate::{FUNCTION_TIMEOUT_S, MEMORY_SIZE_MB, Options, PAYLOAD, Plan, progress, warm_phases};
use anyhow::{Context, bail};
use bytes::Bytes;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

pub const OFF: &str = "No evaluation";
pub const ENFORCED: &str = "Enforced";
/// Turns each phase is split into.
const ROUNDS: usize = 10;
const SHORT_ROUNDS: usize = 2;
/// The goal: enforcement adds under 20 µs to the p50.
const GOAL_US: i64 = 20;
const HANDLER: &str = "lambda_function.handler";
const SOURCE: &str = "def handler(event, context):\n    return event\n";
const USER: &str = "bench-invoker";

/// Everything `--authorization` measured.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorizationReport {
    /// RFC 3339, UTC, when the run started.
    pub started_at: String,
    pub host: HostInfo,
    pub load_average_at_end: String,
    pub runtime: String,
    pub memory_size_mb: u32,
    pub payload: String,
    pub requests: usize,
    pub rounds: usize,
    pub short: bool,
    /// Sequential warm invokes: [`OFF`], [`ENFORCED`].
    pub sequential: Vec<(String, Latency)>,
}

/// `ignis bench --authorization [--short] [--json]`.
pub fn run(plan: &Plan, options: &Options, exe: &Path) -> anyhow::Result<()> {
    if options.endpoint.is_some() {
        bail!("--authorization starts its own node; it does not take --endpoint");
    }
    let runtime = crate::baseline::python_runtime("--authorization")?;
    let report = crate::async_runtime()?.block_on(execute(plan, exe, runtime))?;
    let json = plan.json.then(|| report.to_json());
    crate::print_checked(&report.render(), json, report.total_errors(), "invokes")
}

async fn execute(plan: &Plan, exe: &Path, runtime: String) -> anyhow::Result<AuthorizationReport> {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let host = HostInfo::probe();
    progress("authorization: starting a node");
    let node = TempNode::start(exe).await?;
    let result = measure(plan, &node, &runtime).await;
    let failed = !matches!(&result, Ok(s) if s.iter().all(|(_, l)| l.errors == 0));
    crate::stop_node(node, failed).await;
    Ok(AuthorizationReport {
        started_at,
        host,
        load_average_at_end: load_average(),
        runtime,
        memory_size_mb: MEMORY_SIZE_MB,
        payload: PAYLOAD.into(),
        requests: plan.requests,
        rounds: rounds(plan),
        short: plan.short,
        sequential: result?,
    })
}

async fn measure(
    plan: &Plan,
    node: &TempNode,
    runtime: &str,
) -> anyhow::Result<Vec<(String, Latency)>> {
    let root = Arc::new(LambdaClient::new(
        http_client(1),
        node.endpoint(),
        node.credentials().clone(),
    )?);
    let spec = FunctionSpec {
        name: crate::function_name("authorization"),
        runtime: runtime.into(),
        handler: HANDLER.into(),
        zip: crate::package::zip(&[("lambda_function.py", SOURCE.as_bytes(), 0o644)])?,
        memory_size: MEMORY_SIZE_MB,
        timeout_s: FUNCTION_TIMEOUT_S,
    };
    root.create_function(&spec)
        .await
        .context("creating the function")?;
    let function_arn = root.get_configuration(&spec.name).await?["FunctionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Action": "logs:*", "Resource": "*" },
            { "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn },
        ],
    });
    let user: Credentials = root
        .create_user_key(USER, &policy.to_string())
        .await
        .context("creating the IAM user")?;
    let enforced = Arc::new(LambdaClient::new(http_client(1), node.endpoint(), user)?);
    let mut targets = Vec::new();
    for (way, client) in [(OFF, &root), (ENFORCED, &enforced)] {
        let target = Target {
            client: client.clone(),
            function: spec.name.as_str().into(),
            payload: Bytes::from_static(PAYLOAD.as_bytes()),
            expected: Arc::new(serde_json::from_str(PAYLOAD).expect("the payload is JSON")),
            via: Via::Invoke,
        };
        if let Err(e) = target.invoke_once().await {
            bail!("the first {way} invoke failed: {e}");
        }
        targets.push(target);
    }
    let rounds = rounds(plan);
    progress(format!(
        "authorization: {} sequential invokes each way, in {rounds} turns",
        plan.requests
    ));
    let figures = warm_phases(&targets, plan, rounds).await;
    if let Err(e) = root.delete_function(&spec.name).await {
        progress(format!("authorization: deleting {} failed: {e}", spec.name));
    }
    Ok([OFF, ENFORCED]
        .into_iter()
        .map(String::from)
        .zip(figures)
        .collect())
}

fn rounds(plan: &Plan) -> usize {
    if plan.short { SHORT_ROUNDS } else { ROUNDS }
}

/// `us` beside `base_us`, in milliseconds.
fn added(us: u64, base_us: u64) -> String {
    ms_signed(diff_us(us, base_us))
}

impl AuthorizationReport {
    pub fn total_errors(&self) -> u64 {
        ways_errors(&self.sequential)
    }

    /// The goal: enforcement under 20 µs at p50.
    pub fn targets(&self) -> Vec<TargetCheck> {
        let mut out = Vec::new();
        let (base, p50) = (
            p50_of(&self.sequential, OFF),
            p50_of(&self.sequential, ENFORCED),
        );
        if let (Some(base), Some(p50)) = (base, p50) {
            let added_us = diff_us(p50, base);
            out.push(TargetCheck {
                target: format!("{ENFORCED} adds under {GOAL_US} µs to the p50 of {OFF}"),
                measured: format!("{} vs {} ms: {added_us:+} µs", ms(p50), ms(base)),
                met: added_us < GOAL_US,
            });
        }
        out.push(zero_errors(self.total_errors()));
        out
    }

    pub fn to_json(&self) -> String {
        json_document(self, self.targets(), self.total_errors())
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "ignis bench --authorization, {}", self.started_at);
        out.push_str(&self.host.render(&self.load_average_at_end));
        let _ = writeln!(
            out,
            "one temporary node (--iam enforce); function {} returning its event, MemorySize {} MB{}",
            self.runtime,
            self.memory_size_mb,
            if self.short { "; --short" } else { "" },
        );
        let _ = writeln!(
            out,
            "{OFF}: signed by the root user (never evaluated, as every key under --iam off)\n\
             {ENFORCED}:      signed by an IAM user whose inline policy allows the invoke\n\
             each way in {} turns alternating between them",
            self.rounds
        );
        let _ = writeln!(
            out,
            "\nSequential warm invokes, concurrency 1, {} each way, body {} (ms)",
            self.requests, self.payload
        );
        out.push_str(&ways_table(
            &self.sequential,
            OFF,
            ["p50 vs off", "p99 vs off"],
            added,
        ));
        let _ = writeln!(out, "\nTarget: enforcement under {GOAL_US} µs at p50");
        out.push_str(&render_checks(&self.targets()));
        out.push_str(&render_first_errors(
            self.sequential.iter().map(|(w, l)| (w.clone(), l)),
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{host, latency};

    fn report(enforced_p50: u64) -> AuthorizationReport {
        AuthorizationReport {
            started_at: "2026-01-01T00:00:00Z".into(),
            host: host(),
            load_average_at_end: "1.00 0.50 0.25".into(),
            runtime: "python3.11".into(),
            memory_size_mb: 1769,
            payload: PAYLOAD.into(),
            requests: 100,
            rounds: 2,
            short: true,
            sequential: vec![
                (OFF.into(), latency(1000, 2000, 0)),
                (ENFORCED.into(), latency(enforced_p50, 2000, 0)),
            ],
        }
    }

    #[test]
    fn the_goal_is_twenty_microseconds_at_p50() {
        let met = report(1015).targets();
        assert!(met[0].met, "{:?}", met[0]);
        assert_eq!(met[0].measured, "1.015 vs 1.000 ms: +15 µs");
        let not = report(1020).targets();
        assert!(!not[0].met, "{:?}", not[0]);
    }

    #[test]
    fn rendering_names_both_ways() {
        let text = report(1010).render();
        for needle in [
            "ignis bench --authorization, 2026-01-01T00:00:00Z",
            "[met]     Enforced adds under 20 µs to the p50 of No evaluation",
            "signed by the root user",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }
}
