//! The node's front door, shared by every service on its port: it accepts connections, bounds
//! what each one may hold, and serves HTTP/1.1 on them with an axum [`Router`].
//!
//! - **Connections** are admitted by [`admission`]: a cap for the node and a share per
//!   [`Source`] (a peer address, or a function reaching the API from its sandbox); idle
//!   connections make room for new ones, busy ones are never cut.
//! - **Time**: a request head must arrive within [`FrontConfig::header_timeout`] of the
//!   connection becoming ready for it (which is also how long an idle keep-alive connection is
//!   kept); a body must keep arriving ([`read_body`]'s idle timeout); a response must keep
//!   being read ([`FrontConfig::write_timeout`]).
//! - **Bytes**: bodies are read by the services through [`read_body`], within a byte limit, and
//!   bodies whose signature cannot be checked before they are read draw on a node-wide
//!   [`BodyBudget`].
//! - **Signatures**: [`signed`] is the one road of a SigV4-signed request from its head to its
//!   proven body and principal (`ignis-sigv4` verifies; the caller's lookup knows the keys).

mod admission;
mod body;
pub mod signed;

pub use admission::{Source, Stats};
pub use body::{BodyBudget, BodyError, Reservation, declared_length, read_body};

use admission::{Admission, BusyGuard};
use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How much the front holds.
#[derive(Debug, Clone)]
pub struct FrontConfig {
    /// Connections held at once, from every source.
    pub max_connections: usize,
    /// Connections one source may hold.
    pub per_source: usize,
    /// A request head must be complete this long after the connection is ready for it.
    pub header_timeout: Duration,
    /// A response write may wait this long for a client that stopped reading before the
    /// connection is given up.
    pub write_timeout: Duration,
    /// At shutdown, requests in flight get this long to finish.
    pub drain_timeout: Duration,
}

impl FrontConfig {
    /// Defaults for a process that may hold `descriptors` open files: a quarter of them for
    /// connections (the rest is for execution environments, logs and the store), a quarter of
    /// those per source.
    pub fn for_descriptors(descriptors: u64) -> FrontConfig {
        let max = usize::try_from(descriptors / 4)
            .unwrap_or(usize::MAX)
            .clamp(64, 16_384);
        FrontConfig {
            max_connections: max,
            per_source: (max / 4).max(16),
            header_timeout: Duration::from_secs(20),
            write_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// The front: one per node.
pub struct Front {
    config: FrontConfig,
    admission: Arc<Admission>,
    app: Router,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Front {
    pub fn new(config: FrontConfig, app: Router) -> Arc<Front> {
        Arc::new(Front {
            admission: Admission::new(config.max_connections, config.per_source),
            config,
            app,
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
        })
    }

    /// Connections held, refused and evicted so far.
    pub fn stats(&self) -> Stats {
        self.admission.stats()
    }

    /// Serves one connection that did not come through [`Front::serve`]'s listener (a
    /// function's connection to the API, accepted inside its sandbox).
    pub fn connection<I>(self: &Arc<Self>, io: I, source: Source)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if self.stop.is_cancelled() {
            return;
        }
        let Some(ticket) = self.admission.admit(source.clone()) else {
            return;
        };
        let front = self.clone();
        self.tasks.spawn(async move {
            front.run(io, ticket, source).await;
        });
    }

    /// Accepts and serves connections from `listener` until `shutdown` resolves, then lets
    /// requests in flight finish (within the drain timeout) and returns.
    pub async fn serve(
        self: &Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                () = &mut shutdown => break,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    self.connection(stream, Source::Peer(peer.ip()));
                }
                Err(e) => {
                    // Out of descriptors or a connection reset before it was accepted: wait a
                    // moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        drop(listener);
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(self.config.drain_timeout, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight at shutdown were cut");
        }
        Ok(())
    }

    /// Serves HTTP/1.1 on one admitted connection; each request carries its [`Source`] as an
    /// extension.
    async fn run<I>(self: Arc<Self>, io: I, ticket: admission::Ticket, source: Source)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let state = ticket.state.clone();
        let app = self.app.clone();
        let service =
            hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let guard = state.begin();
                let app = app.clone();
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(source.clone());
                async move {
                    let response = app
                        .oneshot(req)
                        .await
                        .unwrap_or_else(|e: Infallible| match e {});
                    Ok::<_, Infallible>(response.map(|body| {
                        Body::new(Guarded {
                            inner: body,
                            _busy: guard,
                        })
                    }))
                }
            });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.config.header_timeout);
        let mut io = tokio_io_timeout::TimeoutStream::new(io);
        io.set_write_timeout(Some(self.config.write_timeout));
        let conn = builder.serve_connection(TokioIo::new(Box::pin(io)), service);
        tokio::pin!(conn);
        let ended = tokio::select! {
            r = conn.as_mut() => Some(r),
            () = ticket.state.closed.notified() => None,
            () = self.stop.cancelled() => None,
        };
        match ended {
            Some(Err(e)) => tracing::debug!(error = %e, "connection ended with an error"),
            Some(Ok(())) => {}
            None => {
                // Closed to make room, or the node is stopping: finish what is in flight
                // (nothing, when evicted) and close.
                conn.as_mut().graceful_shutdown();
                let bound = if self.stop.is_cancelled() {
                    self.config.drain_timeout
                } else {
                    Duration::from_millis(500)
                };
                let _ = tokio::time::timeout(bound, conn).await;
            }
        }
        drop(ticket);
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its connection busy until it has been sent.
    struct Guarded {
        #[pin]
        inner: Body,
        _busy: BusyGuard,
    }
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
