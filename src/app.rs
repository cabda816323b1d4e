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
use crate::state::{AppConfig, AppState};
use crate::store::{self, Store};

/// Name of the tenant created on first start.
pub const DEFAULT_TENANT: &str = "default";

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
    let signing_key = signing_key_for(store.as_ref(), &args.signing_key_path()).await?;
    store
        .register_signing_key(signing_key.verifying_key().as_bytes())
        .await?;
    let default_tenant = TenantName::parse(DEFAULT_TENANT)?;
    let origin = args.store.origin_for(&default_tenant);
    // Fail at start, not at the first checkpoint, if the prefix makes an invalid key name.
    crate::ledger::checkpoint::LogSigner::new(&origin, signing_key.clone())
        .with_context(|| format!("--origin-prefix {:?}", args.store.origin_prefix))?;
    store.ensure_tenant(&default_tenant, &origin).await?;
    let sequencer = Sequencer::new(store.clone(), signing_key.clone(), args.sequencer());
    let connections = fitted_connection_limits(args);
    Ok(AppState {
        store,
        sequencer,
        signing_key,
        config: Arc::new(AppConfig {
            max_body_bytes: args.max_body_bytes,
            limits: args.limits(),
            grpc_max_message_bytes: args.grpc_max_message_bytes,
            store: args.store.clone(),
            connections,
        }),
        public: Arc::default(),
        ingest: crate::intake::admission::IngestControl::new(args.ingest_memory_budget_bytes),
    })
}

/// The signing key for `store`: the key file at `key_path`, or a new one written there
/// if the store has no signed log yet. A store whose logs another key signed is refused
/// (the key file was lost or another one given): minting or switching keys silently would
/// let anyone with the database re-sign a forged log, and rotation (a key-rotation entry
/// signed by the old key) does not exist yet.
async fn signing_key_for(store: &dyn Store, key_path: &std::path::Path) -> anyhow::Result<SigningKey> {
    let registered = || async {
        let keys = store.signing_keys().await?;
        anyhow::Ok(
            keys.iter()
                .map(|key| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.encode(&key.public_key)
                })
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    if !key_path.exists() {
        if store.has_checkpoints().await? {
            anyhow::bail!(
                "no signing key at {}, but this store holds logs signed by another key (registered public keys: {}). \
                 Restore the key file from your backup to {} or pass it with --signing-key-file \
                 (TRACELEDGER_SIGNING_KEY_FILE); traceledger does not create a new key for a store with signed logs",
                key_path.display(),
                registered().await?,
                key_path.display()
            );
        }
        return Ok(crate::signing::load_or_create(key_path)?);
    }
    let signing_key = crate::signing::load(key_path)?;
    let public_key = signing_key.verifying_key();
    let known = store
        .signing_keys()
        .await?
        .iter()
        .any(|key| key.public_key == public_key.as_bytes());
    if !known && store.has_checkpoints().await? {
        anyhow::bail!(
            "signing key {} is not the key that signed this store's logs (registered public keys: {}). \
             Pass the key file that signed them with --signing-key-file (TRACELEDGER_SIGNING_KEY_FILE); \
             switching keys needs a key-rotation entry signed by the old key, which traceledger does not write yet",
            key_path.display(),
            registered().await?
        );
    }
    Ok(signing_key)
}

/// The configured connection limits, the cap lowered so that both listeners at their
/// cap fit in the open-file limit.
fn fitted_connection_limits(args: &ServeArgs) -> crate::connections::ConnectionLimits {
    let configured = args.connection_limits();
    let soft_limit = crate::os::open_file_soft_limit();
    let fitted = configured.fitted_to_open_files(soft_limit, 2);
    if fitted.max_connections < configured.max_connections {
        tracing::warn!(
            configured = configured.max_connections,
            max_connections = fitted.max_connections,
            open_file_limit = soft_limit,
            "--max-connections lowered to fit the open-file limit"
        );
    }
    tracing::info!(
        max_connections = fitted.max_connections,
        header_read_timeout = ?fitted.header_read_timeout,
        idle_timeout = ?fitted.idle_timeout,
        request_timeout = ?fitted.request_timeout,
        "connections per listener"
    );
    fitted
}

/// Binds the HTTP and gRPC listeners.
pub async fn bind(args: &ServeArgs) -> anyhow::Result<(TcpListener, TcpListener)> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let grpc_listener = TcpListener::bind(args.grpc_listen)
        .await
        .with_context(|| format!("binding {}", args.grpc_listen))?;
    Ok((listener, grpc_listener))
}

/// Serves HTTP on `listener` and OTLP/gRPC on `grpc_listener` until `shutdown`
/// completes (or either server fails), then lets in-flight requests and queued
/// commits finish. Both listeners apply `state.config.connections` (cap, header-read,
/// idle and request timeouts; see [`crate::connections`]).
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    grpc_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let stop_all = tokio_util_stop::Stop::new();
    let router = crate::api::router(state.clone());
    let http = crate::connections::serve_http(listener, router, state.config.connections, stop_all.wait());
    let grpc = crate::grpc::serve(state.clone(), grpc_listener, stop_all.wait());
    let trigger = {
        let stop_all = stop_all.clone();
        async move {
            shutdown.await;
            stop_all.trigger();
        }
    };
    let trigger = tokio::spawn(trigger);
    let (http_result, grpc_result) = tokio::join!(
        async {
            let result = http.await;
            stop_all.trigger();
            result
        },
        async {
            let result = grpc.await;
            stop_all.trigger();
            result
        },
    );
    trigger.abort();
    state.sequencer.shutdown().await;
    http_result.context("HTTP server failed")?;
    grpc_result.context("gRPC server failed")?;
    Ok(())
}

/// A one-shot, cloneable stop signal shared by the two servers.
mod tokio_util_stop {
    use std::sync::Arc;

    use tokio::sync::watch;

    /// Trigger once, wait anywhere.
    #[derive(Clone)]
    pub struct Stop(Arc<watch::Sender<bool>>);

    impl Stop {
        pub fn new() -> Self {
            Stop(Arc::new(watch::channel(false).0))
        }

        pub fn trigger(&self) {
            self.0.send_replace(true);
        }

        pub fn wait(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
            let mut receiver = self.0.subscribe();
            async move {
                let _ = receiver.wait_for(|stopped| *stopped).await;
            }
        }
    }
}

/// A running server (tests and the demo): its addresses and a handle to stop it.
pub struct RunningApp {
    /// HTTP address.
    pub addr: SocketAddr,
    /// OTLP/gRPC address.
    pub grpc_addr: SocketAddr,
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

/// Builds and starts the app on `args.listen` / `args.grpc_listen` (port 0 picks a free port).
pub async fn spawn(args: &ServeArgs) -> anyhow::Result<RunningApp> {
    let state = build(args).await?;
    let (listener, grpc_listener) = bind(args).await?;
    let addr = listener.local_addr()?;
    let grpc_addr = grpc_listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(state.clone(), listener, grpc_listener, async move {
        let _ = stopped.await;
    }));
    Ok(RunningApp {
        addr,
        grpc_addr,
        state,
        stop: Some(stop),
        task,
    })
}

/// Creates the data directory readable by its owner only (it holds content and the key);
/// refuses an existing one that group or others may access.
fn create_private_dir(path: &std::path::Path) -> anyhow::Result<()> {
    if path.exists() {
        return check_private_dir(path);
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

/// Refuses a data directory that is not a directory or that group or others may access
/// (they could read the database or swap files in it), like the signing key file.
#[cfg(unix)]
fn check_private_dir(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(path).with_context(|| format!("reading data directory {}", path.display()))?;
    if !metadata.is_dir() {
        anyhow::bail!("data directory {} is not a directory", path.display());
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        anyhow::bail!(
            "data directory {} has mode {mode:o}; it holds every tenant's content and lookup secret and must not be \
             accessible by group or others (chmod 700 {})",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_dir(_path: &std::path::Path) -> anyhow::Result<()> {
    Ok(())
}
