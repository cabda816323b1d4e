//! `traceledger export`: write a signed audit bundle from the store, without the server.

use std::path::PathBuf;

use crate::app::open_store;
use crate::config::StoreArgs;
use crate::domain::TenantName;
use crate::provenance::export::{export, ExportRequest, Exporter};

/// `traceledger export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Storage.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The signing key (default `<data-dir>/signing-key.pem`); it signs the bundle.
    #[arg(long, env = "TRACELEDGER_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,
    /// Tenant whose log is exported.
    #[arg(long, default_value = crate::app::DEFAULT_TENANT)]
    pub tenant: String,
    /// The output text in question.
    #[arg(long)]
    pub output: Option<String>,
    /// SHA-256 (hex) of the output text.
    #[arg(long)]
    pub output_sha256: Option<String>,
    /// Trace id(s); repeat for several.
    #[arg(long = "trace-id")]
    pub trace_ids: Vec<String>,
    /// Spans starting at or after (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Spans starting before (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// Spans linked to this pipeline version.
    #[arg(long)]
    pub pipeline_version_id: Option<String>,
    /// Prove against the checkpoint of this tree size (plus a consistency proof to the newest).
    #[arg(long)]
    pub checkpoint_size: Option<u64>,
    /// Do not reveal contents (by default the CLI, which has the database, reveals them).
    #[arg(long)]
    pub no_content: bool,
    /// Where to write the bundle.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

/// Runs the export.
pub async fn run(args: ExportArgs) -> anyhow::Result<i32> {
    let tenant_name = TenantName::parse(&args.tenant)?;
    let store = open_store(&args.store).await?;
    let key_path = args
        .signing_key_file
        .clone()
        .unwrap_or_else(|| args.store.data_dir.join(crate::signing::KEY_FILE_NAME));
    let signing_key = crate::signing::load(&key_path)?;
    let Some(tenant) = store.tenant_by_name(&tenant_name).await? else {
        eprintln!("export: no tenant {tenant_name}");
        return Ok(1);
    };
    let request = ExportRequest {
        output: args.output.clone(),
        output_sha256: args.output_sha256.clone(),
        trace_id: None,
        trace_ids: args.trace_ids.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        pipeline_version_id: args.pipeline_version_id.clone(),
        checkpoint_size: args.checkpoint_size,
    };
    let exporter = Exporter {
        store: store.as_ref(),
        signing_key: &signing_key,
        tenant: &tenant,
        principal: format!("cli:{}", whoami()),
        reveal_content: !args.no_content,
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} traces {pos}/{len} {wide_bar} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let result = match export(&exporter, &request, &progress).await {
        Ok(result) => result,
        Err(error) => {
            bar.abandon();
            eprintln!("export: {error}");
            return Ok(1);
        }
    };
    bar.finish_and_clear();
    std::fs::write(&args.out, &result.bundle)?;
    eprintln!(
        "wrote {}: {} traces, {} entries, {} subjects ({} bytes); check it with `traceledger verify {}`",
        args.out.display(),
        result.traces,
        result.entries,
        result.subjects,
        result.bundle.len(),
        args.out.display()
    );
    Ok(0)
}

fn whoami() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}
