//! Connection hygiene for both listeners (HTTP and OTLP/gRPC): a cap on open
//! connections, per-connection deadlines, and the HTTP accept loop.
//!
//! Every accepted TCP connection is admitted by its listener's [`ConnectionTracker`] and
//! wrapped in a [`TrackedStream`], which notes when bytes arrive, when a write waits on
//! the peer, and (through [`InFlightGuard`]s taken by the services) whether a request is
//! being handled. A small watchdog task per connection closes it — the stream's next
//! read or write fails, so hyper or tonic drops it and its file descriptor — when a
//! deadline passes (see [`ConnectionState::deadline`]):
//!
//! * **header read**: a new connection must deliver a complete request head (HTTP/2:
//!   its connection preface) within `header_read_timeout`; on a kept-alive HTTP/1
//!   connection, so must the next request once its first byte arrived. A client that
//!   connects and sends nothing, or trickles a header, is closed.
//! * **idle**: a connection with nothing in flight (HTTP/1 keep-alive; HTTP/2 or gRPC with
//!   no open stream) is closed after `idle_timeout`.
//! * **write stall**: a connection whose peer does not read what is written to it for
//!   `idle_timeout` is closed.
//! * **request**: a handler must answer within `request_timeout`, receiving its body
//!   included (HTTP: [`ConnectionService`] answers 408 when the body had not all arrived,
//!   else 503 with `Retry-After`; gRPC: tonic's server timeout, `CANCELLED`).
//!
//! **Cap**: each listener serves at most `max_connections`. When all are taken, a new
//! connection closes the one that has been idle longest (never-served ones first) and
//! takes its place; if every connection has a request in flight, the new one is closed at
//! once. So idle or half-open sockets cannot exhaust file descriptors or lock out real
//! clients, and the accept queue keeps moving.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Most concurrent HTTP/2 streams per connection (HTTP port with prior knowledge, and gRPC).
pub const MAX_CONCURRENT_STREAMS: u32 = 100;

/// How long a new connection waits for the slot of the idle connection it evicted.
const EVICTION_WAIT: Duration = Duration::from_secs(5);

/// File descriptors kept free of connections when the cap is fitted to the open-file
/// limit: database files and pool connections, the runtime, listeners, the key file.
pub const RESERVED_FDS: u64 = 64;

/// Per-listener connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time to deliver a complete request head.
    pub header_read_timeout: Duration,
    /// Time a connection may stay with nothing in flight, or stalled on a write.
    pub idle_timeout: Duration,
    /// Time to answer a request, receiving its body included.
    pub request_timeout: Duration,
    /// Most open connections per listener.
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// Lowers `max_connections` so that `listeners` listeners at their cap fit in the
    /// soft open-file limit (less [`RESERVED_FDS`]); at least 1.
    pub fn fitted_to_open_files(mut self, soft_limit: Option<u64>, listeners: u64) -> Self {
        if let Some(soft) = soft_limit {
            let per_listener = soft.saturating_sub(RESERVED_FDS) / listeners.max(1);
            let fitted = usize::try_from(per_listener).unwrap_or(usize::MAX).max(1);
            self.max_connections = self.max_connections.min(fitted);
        }
        self.max_connections = self.max_connections.clamp(1, u32::MAX as usize);
        self
    }
}

/// Why the server closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// No complete request head within the header-read timeout.
    HeaderRead,
    /// Nothing in flight for the idle timeout.
    Idle,
    /// The peer did not read for the idle timeout.
    WriteStall,
    /// Closed to make room for a new connection at the cap.
    Evicted,
    /// Closed with nothing in flight when the server stops.
    Shutdown,
}

impl CloseReason {
    fn as_str(self) -> &'static str {
        match self {
            CloseReason::HeaderRead => "header read timeout",
            CloseReason::Idle => "idle timeout",
            CloseReason::WriteStall => "write stalled",
            CloseReason::Evicted => "evicted at the connection cap",
            CloseReason::Shutdown => "server stopping",
        }
    }

    fn to_io_error(self) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, self.as_str())
    }
}

mod http;
mod state;
mod stream;
mod tracker;

pub use http::*;
pub use state::*;
pub use stream::*;
pub use tracker::*;

#[cfg(test)]
mod tests;
