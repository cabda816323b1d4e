//! `traceledger serve`.

use crate::app;
use crate::config::ServeArgs;

/// Runs the server until Ctrl-C / SIGTERM, then finishes in-flight commits.
pub async fn run(args: ServeArgs) -> anyhow::Result<i32> {
    match crate::os::raise_open_file_limit() {
        Ok(limit) => tracing::info!(
            soft = limit.soft,
            hard = limit.hard,
            previous_soft = limit.previous_soft,
            "open-file limit"
        ),
        Err(error) => tracing::warn!(%error, "cannot raise the open-file limit"),
    }
    let state = app::build(&args).await?;
    let (listener, grpc_listener) = app::bind(&args).await?;
    let addr = listener.local_addr()?;
    let grpc_addr = grpc_listener.local_addr()?;
    tracing::info!(%addr, %grpc_addr, store = %args.store.describe(), "traceledger listening");
    let location = match &args.store.database_url {
        Some(_) => "--database-url \"$TRACELEDGER_DATABASE_URL\"".to_string(),
        None => format!("--data-dir {}", args.store.data_dir.display()),
    };
    eprintln!(
        "traceledger listening on http://{addr} (OTLP/HTTP and API), OTLP/gRPC on {grpc_addr} ({})",
        args.store.describe()
    );
    eprintln!(
        "create an API key with:\n  traceledger keys create {location} --tenant {} --scope ingest --scope audit:read",
        app::DEFAULT_TENANT
    );
    app::serve(state, listener, grpc_listener, shutdown_signal()).await?;
    eprintln!("traceledger stopped");
    Ok(0)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight commits");
}
