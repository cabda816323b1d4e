//! The `traceledger` command line: one small file per command.

pub mod audit;
pub mod export;
pub mod keys;
pub mod serve;
pub mod verify;

use clap::{Parser, Subcommand};

/// traceledger: a signed, verifiable ledger of your LLM application's traces.
#[derive(Debug, Parser)]
#[command(name = "traceledger", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (OTLP/HTTP ingest, ledger and audit API).
    Serve(crate::config::ServeArgs),
    /// Manage API keys.
    Keys(keys::KeysArgs),
    /// Re-verify a whole store: chain, tree, checkpoints, commitments. Exit 1 naming every failure.
    Audit(audit::AuditArgs),
    /// Write a signed audit bundle from the store (no server needed).
    Export(export::ExportArgs),
    /// Verify an audit bundle offline (no server, no database). Exit 1 naming the first failure.
    Verify(verify::VerifyArgs),
}

/// Runs the parsed command; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Keys(args) => keys::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Verify(args) => verify::run(args),
        Command::Export(args) => export::run(args).await,
    }
}
