//! `ignis`: the one binary. It parses flags and calls into `ignis-server`; nothing else.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

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
    },
    /// Print `export` lines that point the AWS CLI and SDKs at a node: `eval "$(ignis env)"`.
    Env {
        #[command(flatten)]
        node: NodeArgs,
    },
}

fn main() -> ExitCode {
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
        Command::Up {
            node,
            account_id,
            access_key_id,
            secret_access_key,
        } => {
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
            }))?;
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
    }
}
