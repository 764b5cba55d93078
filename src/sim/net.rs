//! The simulator's accept loop: counts connections, sets TCP_NODELAY, and lets a handler
//! drop its connection without answering (the "drop" fault), send bytes of its own in
//! place of the answer (malformed heads), or trickle the answer (the "trickle" fault).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// What a handler asked of its connection, shared with the connection's stream.
#[derive(Debug, Default)]
struct Control {
    kill: AtomicBool,
    /// Bytes to send instead of what the server writes next; then the connection closes.
    raw: Mutex<Option<Vec<u8>>>,
    /// Write the answer one byte per this interval.
    trickle: Mutex<Option<Duration>>,
}

/// Per-connection handle given to handlers as `ConnectInfo<ConnHandle>`.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    pub remote: SocketAddr,
    control: Arc<Control>,
}

impl ConnHandle {
    /// Makes the connection fail on its next write, so the client sees it closed with no answer.
    pub fn drop_connection(&self) {
        self.control.kill.store(true, Ordering::SeqCst);
    }

    /// Sends `bytes` in place of the answer the handler returns, then closes: a head no
    /// HTTP server would write.
    pub fn answer_raw(&self, bytes: Vec<u8>) {
        if let Ok(mut raw) = self.control.raw.lock() {
            *raw = Some(bytes);
        }
    }

    /// Writes the answer the handler returns one byte every `every`.
    pub fn trickle(&self, every: Duration) {
        if let Ok(mut t) = self.control.trickle.lock() {
            *t = Some(every);
        }
    }
}

impl Connected<IncomingStream<'_, SimListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        stream.remote_addr().clone()
    }
}

pub struct SimListener {
    inner: TcpListener,
    accepted: Arc<AtomicU64>,
}

impl SimListener {
    pub fn new(inner: TcpListener, accepted: Arc<AtomicU64>) -> SimListener {
        SimListener { inner, accepted }
    }
}

impl Listener for SimListener {
    type Io = SimConn;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (SimConn, ConnHandle) {
        loop {
            match self.inner.accept().await {
                Ok((stream, remote)) => {
                    // Small request/response exchanges: Nagle would add latency to each.
                    let _ = stream.set_nodelay(true);
                    self.accepted.fetch_add(1, Ordering::SeqCst);
                    let control = Arc::new(Control::default());
                    return (
                        SimConn {
                            stream,
                            control: control.clone(),
                            raw: None,
                            pause: None,
                        },
                        ConnHandle { remote, control },
                    );
                }
                // Accept errors (e.g. out of file descriptors) are transient; pause so a
                // persistent one does not spin the CPU.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<ConnHandle> {
        Ok(ConnHandle {
            remote: self.inner.local_addr()?,
            control: Arc::new(Control::default()),
        })
    }
}

/// A TCP stream that can be told to fail (closing the connection from the server side),
/// to send other bytes, or to write slowly.
pub struct SimConn {
    stream: TcpStream,
    control: Arc<Control>,
    /// Raw bytes being sent, and how many have gone.
    raw: Option<(Vec<u8>, usize)>,
    /// While trickling: the wait before the next byte.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl SimConn {
    fn killed(&self) -> bool {
        self.control.kill.load(Ordering::SeqCst)
    }

    fn trickle_every(&self) -> Option<Duration> {
        self.control.trickle.lock().ok().and_then(|t| *t)
    }

    /// Sends the raw bytes asked for, if any: Ready(Ok) once all went (and the connection
    /// is then dropped), Pending while the socket is full.
    fn poll_raw(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        if self.raw.is_none() {
            let asked = self.control.raw.lock().ok().and_then(|mut r| r.take());
            match asked {
                Some(bytes) => self.raw = Some((bytes, 0)),
                None => return Poll::Ready(Ok(false)),
            }
        }
        while let Some((bytes, sent)) = self.raw.as_mut() {
            if *sent >= bytes.len() {
                self.control.kill.store(true, Ordering::SeqCst);
                return Poll::Ready(Ok(true));
            }
            match Pin::new(&mut self.stream).poll_write(cx, &bytes[*sent..]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    // The client hung up, as a client refusing the head does.
                    self.control.kill.store(true, Ordering::SeqCst);
                    return Poll::Ready(Ok(true));
                }
                Poll::Ready(Ok(n)) => *sent += n,
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(true))
    }
}

fn dropped() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection dropped by fault",
    )
}

impl AsyncRead for SimConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(dropped()));
        }
        match self.poll_raw(cx) {
            Poll::Pending => return Poll::Pending,
            // What the server wrote is swallowed: the raw bytes were its answer.
            Poll::Ready(Ok(true)) => return Poll::Ready(Err(dropped())),
            Poll::Ready(Ok(false)) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
        }
        let Some(every) = self.trickle_every() else {
            return Pin::new(&mut self.stream).poll_write(cx, buf);
        };
        if let Some(pause) = self.pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.pause = None;
        }
        let one = &buf[..buf.len().min(1)];
        let r = Pin::new(&mut self.stream).poll_write(cx, one);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.pause = Some(Box::pin(tokio::time::sleep(every)));
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(dropped()));
        }
        let special = self.raw.is_some()
            || self.trickle_every().is_some()
            || self
                .control
                .raw
                .lock()
                .map(|r| r.is_some())
                .unwrap_or(false);
        if special {
            // One buffer at a time through `poll_write`, which knows the special cases.
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            return self.poll_write(cx, first);
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(dropped()));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
