//! `traceledger audit`: re-verify a whole store offline; exit 1 naming the first bad entry.

use crate::app::open_store;
use crate::audit::fsck::{audit_store, AuditFailure};
use crate::config::StoreArgs;

/// `traceledger audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Storage.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs the audit.
pub async fn run(args: AuditArgs) -> anyhow::Result<i32> {
    if args.store.database_url.is_none() && !args.store.data_dir.join("traceledger.db").exists() {
        eprintln!("audit: FAILED: no store at {}", args.store.data_dir.display());
        return Ok(1);
    }
    let store = open_store(&args.store).await?;
    match audit_store(store.as_ref()).await {
        Ok(reports) => {
            for report in &reports {
                println!(
                    "tenant {}: {} entries, {} checkpoints, {} contents verified ({} erased)",
                    report.tenant, report.entries, report.checkpoints, report.contents, report.erased_contents
                );
            }
            println!("audit: OK ({} logs)", reports.len());
            Ok(0)
        }
        Err(AuditFailure::Bad { tenant, what }) => {
            println!("audit: FAILED: tenant {tenant}: {what}");
            Ok(1)
        }
        Err(AuditFailure::Store(error)) => {
            println!("audit: FAILED: store unreadable: {error}");
            Ok(1)
        }
    }
}
