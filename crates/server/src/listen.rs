//! Accepting connections with bounds: how many at once, how long a client may take to send a
//! request's headers, and how long a connection may sit without moving a byte. Without them a
//! client that opens sockets and sends nothing (or one byte a minute) holds file descriptors
//! until the process runs out.
//!
//! Every accepted socket gets `TCP_NODELAY`: responses are streamed in chunks, and the last
//! small write of each would otherwise wait for the client's delayed ACK (about 40 ms a page
//! on a keep-alive connection).

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// Bounds on connections (README, "Limits").
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections served at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Time to complete the TLS handshake and to send a request's line and headers.
    pub header_read_timeout: Duration,
    /// Time a connection may go without moving a byte either way (an idle keep-alive
    /// connection, or a client that stopped reading a response) before it is closed.
    pub idle_timeout: Duration,
    /// Time in-flight requests get to finish when the server stops.
    pub drain_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Largest request head (request line and headers) read; beyond it the connection answers 431.
/// The router refuses long URLs and headers earlier with OData errors
/// ([`crate::MAX_URL_BYTES`], [`crate::MAX_HEADER_BYTES`]); this bounds what is buffered.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Serves `app` on `listener` until `shutdown` completes, then lets in-flight requests finish
/// for at most [`ConnectionLimits::drain_timeout`]. `upgrade` turns an accepted socket into the
/// stream to speak HTTP on (a TLS handshake, or the socket itself).
pub async fn serve<U, F, IO>(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    upgrade: U,
    shutdown: impl Future<Output = ()>,
) where
    U: Fn(TcpStream) -> F + Clone + Send + 'static,
    F: Future<Output = io::Result<IO>> + Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // out of file descriptors or similar: wait instead of spinning
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = socket.set_nodelay(true);
        let (app, limits, upgrade) = (app.clone(), limits.clone(), upgrade.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            let Ok(Ok(io)) =
                tokio::time::timeout(limits.header_read_timeout, upgrade(socket)).await
            else {
                return;
            };
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(req)
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(READ_BUFFER_BYTES);
            let io = TokioIo::new(IdleTimeout::new(io, limits.idle_timeout));
            let _ = watcher.watch(http.serve_connection(io, service)).await;
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.drain_timeout) => {
            tracing::warn!("stopping with requests still in flight after the drain timeout");
        }
    }
}

/// A stream that fails with `TimedOut` once no byte has moved either way for `limit` while
/// something waits on it.
struct IdleTimeout<IO> {
    inner: IO,
    limit: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<IO> IdleTimeout<IO> {
    fn new(inner: IO, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }

    fn moved(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.limit);
    }

    /// `Pending`, or the time-out error once the deadline has passed.
    fn waiting<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no data moved within the idle timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for IdleTimeout<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.waiting(cx),
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                if result.as_ref().is_ok_and(|n| *n > 0) {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.waiting(cx),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                if result.as_ref().is_ok_and(|n| *n > 0) {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.waiting(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => self.waiting(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = ready!(Pin::new(&mut self.inner).poll_shutdown(cx));
        Poll::Ready(result)
    }
}
