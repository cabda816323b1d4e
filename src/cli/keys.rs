//! `traceledger keys create`: prints a new API key once. Works with the server running
//! (the database serializes writers) or stopped.

use crate::app::open_store;
use crate::config::StoreArgs;
use crate::domain::{Scope, TenantName};

/// `traceledger keys ...`
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    /// The action.
    #[command(subcommand)]
    pub action: KeysAction,
}

/// Key actions.
#[derive(Debug, clap::Subcommand)]
pub enum KeysAction {
    /// Create an API key for a tenant and print it on stdout (the only time it is shown).
    Create(CreateArgs),
}

/// `traceledger keys create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Storage.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Tenant the key belongs to (created if missing).
    #[arg(long)]
    pub tenant: String,
    /// Scope to grant; repeat for several: ingest, audit:read, audit:content, export, admin.
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
}

/// Runs the key command.
pub async fn run(args: KeysArgs) -> anyhow::Result<i32> {
    match args.action {
        KeysAction::Create(create) => create_key(create).await,
    }
}

async fn create_key(args: CreateArgs) -> anyhow::Result<i32> {
    let tenant_name = TenantName::parse(&args.tenant)?;
    let mut scopes = Vec::new();
    for text in &args.scopes {
        for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
            let scope: Scope = part.parse()?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
    }
    let store = open_store(&args.store).await?;
    let tenant = match store.tenant_by_name(&tenant_name).await? {
        Some(tenant) => tenant,
        None => {
            let tenant = store
                .ensure_tenant(&tenant_name, &args.store.origin_for(&tenant_name))
                .await?;
            eprintln!("created tenant {} (log {})", tenant.name, tenant.origin);
            tenant
        }
    };
    let key = crate::auth::generate_key();
    store.insert_api_key(&tenant, &key.id, &key.hash, &scopes).await?;
    let scope_list: Vec<&str> = scopes.iter().map(Scope::as_str).collect();
    eprintln!(
        "API key {} for tenant {} with scopes [{}] (shown once; store it now):",
        key.id,
        tenant.name,
        scope_list.join(", ")
    );
    println!("{}", key.secret);
    Ok(0)
}
