//! `sealwire relay`: the prekey directory and offline mailbox server (docs/RELAY.md).
//!
//! Modules: `http` (router, limits, timeouts, errors, request log), `auth` (signed
//! requests), `directory` and `mailbox` (routes), `storage` (backend trait, SQLite, and
//! PostgreSQL with feature `scale-out`), `notify` (long-poll wake-ups, local or NATS
//! JetStream), `log` (JSON lines without identities, addresses or sizes).

mod auth;
pub mod demo;
mod directory;
mod http;
mod log;
mod mailbox;
mod notify;
mod storage;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::CliResult;
use http::{AppState, Limits};
use notify::{LocalNotifier, Notifier};
use storage::sqlite::SqliteBackend;
use storage::Backend;

#[derive(Subcommand)]
pub enum RelayCommand {
    /// Run a relay: prekey directory and offline mailbox over HTTP (docs/RELAY.md).
    Serve(ServeArgs),
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8790")]
    listen: SocketAddr,
    /// SQLite database file (created if missing). Ignored with --postgres.
    #[arg(long, default_value = "relay.sqlite")]
    db: PathBuf,
    /// PostgreSQL instead of SQLite, for several relay processes sharing one database
    /// (libpq-style: "host=127.0.0.1 port=5432 user=relay dbname=relay").
    #[cfg(feature = "scale-out")]
    #[arg(long)]
    postgres: Option<String>,
    /// PostgreSQL schema holding the relay's tables (created if missing).
    #[cfg(feature = "scale-out")]
    #[arg(long, default_value = "sealwire_relay")]
    postgres_schema: String,
    /// NATS server with JetStream (e.g. nats://127.0.0.1:4222): delivery notifications
    /// between relay processes, for long-polling readers (`?wait=`).
    #[cfg(feature = "scale-out")]
    #[arg(long)]
    nats: Option<String>,
    /// Largest body of a bundle publication, bytes.
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    max_bundle_bytes: usize,
    /// Largest deposited message, bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    max_message_bytes: usize,
    /// Most messages waiting in one mailbox.
    #[arg(long, default_value_t = 10_000)]
    mailbox_max_messages: u64,
    /// Most bytes waiting in one mailbox.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    mailbox_max_bytes: u64,
    /// Whole-request timeout, seconds.
    #[arg(long, default_value_t = 30)]
    request_timeout: u64,
    /// Largest accepted difference between a request's timestamp and the relay's clock, seconds.
    #[arg(long, default_value_t = 300)]
    max_skew: u64,
    /// Tell owners to replenish when fewer one-time prekeys of a kind are left.
    #[arg(long, default_value_t = 10)]
    replenish_below: u64,
}

pub fn run(cmd: RelayCommand) -> CliResult {
    match cmd {
        RelayCommand::Serve(a) => serve(a),
    }
}

fn serve(a: ServeArgs) -> CliResult {
    if a.request_timeout == 0 || a.max_skew == 0 {
        return Err("--request-timeout and --max-skew must be positive".into());
    }
    let limits = Limits {
        max_bundle_bytes: a.max_bundle_bytes,
        max_message_bytes: a.max_message_bytes,
        max_other_bytes: 1024,
        mailbox_max_messages: a.mailbox_max_messages,
        mailbox_max_bytes: a.mailbox_max_bytes,
        request_timeout: Duration::from_secs(a.request_timeout),
        max_skew: a.max_skew,
        replenish_below: a.replenish_below,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        let (backend, notifier) = open_backend(&a).await?;
        run_server(a.listen, backend, notifier, limits).await
    })
}

async fn open_backend(a: &ServeArgs) -> Result<(Arc<dyn Backend>, Arc<dyn Notifier>), String> {
    let db = |e: storage::StoreError| format!("cannot open the relay database: {}", e.0);
    #[cfg(feature = "scale-out")]
    {
        let backend: Arc<dyn Backend> = match &a.postgres {
            Some(config) => Arc::new(storage::postgres::PostgresBackend::open(config, &a.postgres_schema).await.map_err(db)?),
            None => Arc::new(SqliteBackend::open(&a.db).map_err(db)?),
        };
        let notifier: Arc<dyn Notifier> = match &a.nats {
            Some(url) => Arc::new(
                notify::NatsNotifier::connect(url).await.map_err(|e| format!("cannot set up NATS notifications: {}", e.0))?,
            ),
            None => Arc::new(LocalNotifier::default()),
        };
        Ok((backend, notifier))
    }
    #[cfg(not(feature = "scale-out"))]
    {
        let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::open(&a.db).map_err(db)?);
        Ok((backend, Arc::new(LocalNotifier::default())))
    }
}

fn default_limits() -> Limits {
    Limits {
        max_bundle_bytes: 4 * 1024 * 1024,
        max_message_bytes: 256 * 1024,
        max_other_bytes: 1024,
        mailbox_max_messages: 10_000,
        mailbox_max_bytes: 64 * 1024 * 1024,
        request_timeout: Duration::from_secs(30),
        max_skew: 300,
        replenish_below: 10,
    }
}

/// A relay running inside this process (for `sealwire demo`): SQLite at `db`, listening on
/// 127.0.0.1 (any free port), logs silenced. Stopped gracefully by [`Embedded::stop`] or on drop.
pub struct Embedded {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<CliResult>>,
}

impl Embedded {
    pub fn start(db: &std::path::Path) -> CliResult<Self> {
        log::set_quiet(true);
        let backend: Arc<dyn Backend> =
            Arc::new(SqliteBackend::open(db).map_err(|e| format!("cannot open the relay database: {}", e.0))?);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let state = AppState { backend, notifier: Arc::new(LocalNotifier::default()), limits: default_limits() };
                axum::serve(listener, http::router(state))
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .map_err(|e| format!("embedded relay: {e}"))
            })
        });
        Ok(Self { url, stop: Some(tx), thread: Some(thread) })
    }

    /// Graceful stop: requests in flight finish, the database is closed.
    pub fn stop(mut self) -> CliResult {
        self.shutdown()
    }

    fn shutdown(&mut self) -> CliResult {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| "embedded relay thread failed".to_owned())?,
            None => Ok(()),
        }
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

async fn run_server(
    listen: SocketAddr,
    backend: Arc<dyn Backend>,
    notifier: Arc<dyn Notifier>,
    limits: Limits,
) -> CliResult {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let state = AppState { backend: Arc::clone(&backend), notifier: Arc::clone(&notifier), limits };
    let purge = tokio::spawn(purge_nonces(Arc::clone(&backend)));
    log::event(
        "info",
        "listening",
        &[
            ("listen", Value::from(bound.to_string())),
            ("backend", Value::from(backend.name())),
            ("notifications", Value::from(notifier.name())),
        ],
    );
    // The line scripts wait for (stdout): the bound address.
    println!("listening on http://{bound}");
    axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    purge.abort();
    log::event("info", "stopped", &[]);
    Ok(())
}

/// Every minute: forget request nonces whose timestamps can no longer pass the skew check.
async fn purge_nonces(backend: Arc<dyn Backend>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = backend.purge_nonces(auth::now_unix()).await {
            log::event("error", "store_error", &[("detail", Value::from(e.0))]);
        }
    }
}

/// SIGTERM or SIGINT: stop accepting, let requests in flight finish.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {},
        _ = tokio::signal::ctrl_c() => {},
    }
    log::event("info", "shutting_down", &[]);
}
