//! Builds the application from configuration and serves it until stopped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use ed25519_dalek::SigningKey;
use tokio::net::TcpListener;

use crate::config::{ServeArgs, StoreArgs};
use crate::domain::TenantName;
use crate::sequencer::Sequencer;
use crate::store::{self, Store};

/// Name of the tenant created on first start.
pub const DEFAULT_TENANT: &str = "default";

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Group commit in front of the store.
    pub sequencer: Arc<Sequencer>,
    /// The checkpoint signing key.
    pub signing_key: SigningKey,
    /// Configuration.
    pub config: Arc<AppConfig>,
}

/// The parts of the configuration handlers need.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Storage settings.
    pub store: StoreArgs,
}

/// Opens the store described by `args`.
pub async fn open_store(args: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    if args.database_url.is_none() {
        create_private_dir(&args.data_dir)?;
    }
    store::open(&args.effective_database_url())
        .await
        .with_context(|| format!("opening {}", args.describe()))
}

/// Opens the store, loads or creates the signing key, ensures the default tenant.
pub async fn build(args: &ServeArgs) -> anyhow::Result<AppState> {
    let store = open_store(&args.store).await?;
    let key_path = args.signing_key_path();
    let signing_key = crate::signing::load_or_create(&key_path)?;
    store
        .register_signing_key(signing_key.verifying_key().as_bytes())
        .await?;
    let default_tenant = TenantName::parse(DEFAULT_TENANT)?;
    store
        .ensure_tenant(&default_tenant, &args.store.origin_for(&default_tenant))
        .await?;
    let sequencer = Sequencer::new(store.clone(), signing_key.clone(), args.sequencer());
    Ok(AppState {
        store,
        sequencer,
        signing_key,
        config: Arc::new(AppConfig {
            max_body_bytes: args.max_body_bytes,
            store: args.store.clone(),
        }),
    })
}

/// Serves HTTP on `listener` until `shutdown` completes, then lets in-flight requests
/// and queued commits finish.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = crate::api::router(state.clone());
    let result = axum::serve(listener, router).with_graceful_shutdown(shutdown).await;
    state.sequencer.shutdown().await;
    result.context("HTTP server failed")
}

/// A running server (tests and the demo): its address and a handle to stop it.
pub struct RunningApp {
    /// HTTP address.
    pub addr: SocketAddr,
    /// State (store access for assertions).
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningApp {
    /// Base URL, e.g. `http://127.0.0.1:39123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.context("server task panicked")?
    }
}

/// Builds and starts the app on `args.listen` (port 0 picks a free port).
pub async fn spawn(args: &ServeArgs) -> anyhow::Result<RunningApp> {
    let state = build(args).await?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(state.clone(), listener, async move {
        let _ = stopped.await;
    }));
    Ok(RunningApp {
        addr,
        state,
        stop: Some(stop),
        task,
    })
}

/// Creates the data directory readable by its owner only (it holds content and the key).
fn create_private_dir(path: &std::path::Path) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(path)
        .with_context(|| format!("creating data directory {}", path.display()))
}
