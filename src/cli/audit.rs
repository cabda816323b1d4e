//! `traceledger audit`: re-verify a whole store offline; exit 1 if anything fails,
//! naming every failure (one line each, tenant and entry first).
//!
//! The signing keys checkpoints must verify with come from outside the database: the
//! public half of the key file (`--signing-key-file`, default
//! `<data-dir>/signing-key.pem` when it exists, as for `serve`) and any `--key`. With
//! none of them the audit fails instead of trusting the keys the store lists.

use std::path::PathBuf;

use crate::app::open_store;
use crate::audit::fsck::{audit_store_report, StoreAudit};
use crate::config::StoreArgs;

/// `traceledger audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Storage.
    #[command(flatten)]
    pub store: StoreArgs,
    /// A trusted verifier key `<origin>+<hex8>+<base64>` (as `GET /v1/keys` publishes it,
    /// obtained out of band); repeat for several. Checkpoints must verify with a trusted
    /// key; the keys listed in the database are never trusted for being there.
    #[arg(long = "key", value_name = "VERIFIER_KEY")]
    pub keys: Vec<String>,
    /// Trust the public half of this signing key file (PKCS#8 PEM). Default:
    /// `<data-dir>/signing-key.pem` when neither this nor `--key` is given and it exists.
    #[arg(long, env = "TRACELEDGER_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,
}

/// The trusted keys named by the flags, or why there are none.
fn trusted_keys(args: &AuditArgs) -> Result<Vec<ed25519_dalek::VerifyingKey>, String> {
    let mut trusted = Vec::new();
    for text in &args.keys {
        let key = crate::ledger::checkpoint::public_key_of_verifier_key(text.trim())
            .map_err(|error| format!("--key {text:?}: {error}"))?;
        trusted.push(key);
    }
    let key_file = match &args.signing_key_file {
        Some(path) => Some(path.clone()),
        None if args.keys.is_empty() => {
            let default = args.store.data_dir.join(crate::signing::KEY_FILE_NAME);
            default.exists().then_some(default)
        }
        None => None,
    };
    if let Some(path) = key_file {
        let key = crate::signing::load(&path).map_err(|error| format!("{error}"))?;
        trusted.push(key.verifying_key());
    }
    if trusted.is_empty() {
        return Err(format!(
            "no trusted signing key: {} does not exist; pass the key file with --signing-key-file FILE or the \
             published verifier key with --key VERIFIER_KEY (the audit does not trust the keys the database lists)",
            args.store.data_dir.join(crate::signing::KEY_FILE_NAME).display()
        ));
    }
    Ok(trusted)
}

/// Runs the audit.
pub async fn run(args: AuditArgs) -> anyhow::Result<i32> {
    if args.store.database_url.is_none() && !args.store.data_dir.join("traceledger.db").exists() {
        eprintln!("audit: FAILED: no store at {}", args.store.data_dir.display());
        return Ok(1);
    }
    let trusted = match trusted_keys(&args) {
        Ok(trusted) => trusted,
        Err(reason) => {
            println!("audit: FAILED: {reason}");
            return Ok(1);
        }
    };
    let store = open_store(&args.store).await?;
    match audit_store_report(store.as_ref(), &trusted).await {
        Ok(audit) => {
            print_audit(&audit);
            Ok(if audit.passed() { 0 } else { 1 })
        }
        Err(error) => {
            println!("audit: FAILED: store unreadable: {error}");
            Ok(1)
        }
    }
}

fn print_audit(audit: &StoreAudit) {
    for failure in &audit.failures {
        println!("audit: FAILED: {failure}");
    }
    for report in &audit.tenants {
        for failure in &report.failures {
            println!("audit: FAILED: tenant {}: {failure}", report.tenant);
        }
        if report.failures_not_shown() > 0 {
            println!(
                "audit: FAILED: tenant {}: and {} more failures (not shown)",
                report.tenant,
                report.failures_not_shown()
            );
        }
        let verdict = match report.failure_count {
            0 => String::new(),
            count => format!("; {count} failures"),
        };
        let unchecked = match report.outputs_not_rederived {
            0 => String::new(),
            count => format!(" (outputs of {count} entries not re-derived: content erased)"),
        };
        println!(
            "tenant {}: {} entries, {} checkpoints, {} contents verified ({} erased), {} index rows verified{unchecked}{verdict}",
            report.tenant,
            report.entries,
            report.checkpoints,
            report.contents,
            report.erased_contents,
            report.index_rows
        );
    }
    let failed_logs = audit.tenants.iter().filter(|report| report.failure_count > 0).count();
    if audit.passed() {
        println!("audit: OK ({} logs)", audit.tenants.len());
    } else {
        let store_wide = match audit.failures.len() {
            0 => String::new(),
            count => format!(", {count} store-wide"),
        };
        println!(
            "audit: FAILED: {} failures in {failed_logs} of {} logs{store_wide}",
            audit.failure_count(),
            audit.tenants.len()
        );
    }
}
