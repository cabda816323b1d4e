//! `traceledger verify FILE [--key VERIFIER_KEY] [--json]`: check an audit bundle offline
//! (no server, no database); exit 0 when everything verifies, 1 naming the first failure,
//! 2 when the file cannot be read.

use std::path::PathBuf;

use serde_json::json;

use crate::bundle::verify::{verify_bundle, VerificationReport};

/// `traceledger verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The bundle file (a DSSE envelope, JSON), as exported by `POST /v1/exports`.
    pub file: PathBuf,
    /// The log's verifier key `<origin>+<hex8>+<base64>`, obtained out of band (e.g. from
    /// `GET /v1/keys`). Without it the bundle is checked against the key it names itself,
    /// which only proves that whoever holds that key signed it.
    #[arg(long, value_name = "VERIFIER_KEY")]
    pub key: Option<String>,
    /// Print a machine-readable JSON report instead of the summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs the verification; returns the exit code.
pub fn run(args: VerifyArgs) -> anyhow::Result<i32> {
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(error) => {
            let message = format!("cannot read {}: {error}", args.file.display());
            if args.json {
                println!(
                    "{}",
                    json!({"ok": false, "error": {"code": "unreadable_file", "message": message}})
                );
            } else {
                eprintln!("verify: {message}");
            }
            return Ok(2);
        }
    };
    match verify_bundle(&bytes, args.key.as_deref()) {
        Ok(report) => {
            if args.json {
                let mut value = serde_json::to_value(&report)?;
                if let Some(object) = value.as_object_mut() {
                    object.insert("ok".into(), json!(true));
                }
                println!("{value}");
            } else {
                print_summary(&report);
            }
            Ok(0)
        }
        Err(error) => {
            if args.json {
                println!(
                    "{}",
                    json!({"ok": false, "error": {"code": error.code(), "message": error.to_string()}})
                );
            } else {
                println!("bundle INVALID: {error}");
            }
            Ok(1)
        }
    }
}

fn print_summary(report: &VerificationReport) {
    let key = if report.key_trusted {
        "key trusted"
    } else {
        "key UNTRUSTED (pass --key)"
    };
    println!(
        "bundle OK: {} entries, {} contents, {} traces whole, {} subjects, checkpoint size {}, {key}",
        report.entries, report.contents, report.traces, report.subjects, report.checkpoint_size
    );
    println!("  log          {}", report.origin);
    println!("  verifier key {}", report.verifier_key);
    println!("  root         {}", report.checkpoint_root);
    if let Some(size) = report.consistent_with_size {
        println!("  consistent with the signed checkpoint of size {size}");
    }
    println!("  exported at  {}", report.exported_at);
    for entry in &report.pipeline_entries {
        let label = [&entry.name, &entry.version, &entry.id]
            .iter()
            .filter_map(|part| part.as_deref())
            .collect::<Vec<_>>()
            .join(" ");
        println!("  {} #{} {label}", entry.entry_type, entry.index);
    }
}
