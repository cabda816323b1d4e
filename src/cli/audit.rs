//! `traceledger audit`: re-verify a whole store offline; exit 1 if anything fails,
//! naming every failure (one line each, tenant and entry first).

use crate::app::open_store;
use crate::audit::fsck::{audit_store_report, StoreAudit};
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
    match audit_store_report(store.as_ref()).await {
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
        println!(
            "tenant {}: {} entries, {} checkpoints, {} contents verified ({} erased){verdict}",
            report.tenant, report.entries, report.checkpoints, report.contents, report.erased_contents
        );
    }
    let failed_logs = audit.tenants.iter().filter(|report| report.failure_count > 0).count();
    if audit.passed() {
        println!("audit: OK ({} logs)", audit.tenants.len());
    } else {
        println!(
            "audit: FAILED: {} failures in {failed_logs} of {} logs",
            audit.failure_count(),
            audit.tenants.len()
        );
    }
}
