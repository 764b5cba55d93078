//! Listening: a unix socket in a private 0700 directory (under PLUGIN_UNIX_SOCKET_DIR or
//! the temp dir), or TCP on 127.0.0.1 within a port range with TCP_NODELAY, and the
//! accept loop that hands connections (TLS-wrapped or not) to the gRPC server.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, Router};

use super::shutdown::{Shutdown, SHUTDOWN_GRACE};

/// go-plugin's default port range for TCP.
pub const DEFAULT_PORT_RANGE: (u16, u16) = (10_000, 25_000);
/// A client that connects but never finishes the TLS handshake is dropped after this.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to listen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A unix socket in a fresh private directory; TCP if that cannot be created.
    Unix,
    /// TCP on 127.0.0.1.
    Tcp,
}

/// A listening socket, and what to remove when done.
pub(super) enum Bound {
    Unix {
        listener: UnixListener,
        path: PathBuf,
        dir: PrivateDir,
    },
    Tcp {
        listener: TcpListener,
        addr: SocketAddr,
    },
}

impl Bound {
    /// The NETWORK and ADDRESS fields of the handshake line.
    pub(super) fn describe(&self) -> (&'static str, String) {
        match self {
            Bound::Unix { path, .. } => ("unix", path.display().to_string()),
            Bound::Tcp { addr, .. } => ("tcp", addr.to_string()),
        }
    }
}

/// Listens on a unix socket in a fresh private directory under `unix_socket_dir` (the
/// temp dir when `None`) if `transport` asks for one and that works, else on TCP.
pub(super) async fn bind(
    transport: Transport,
    unix_socket_dir: Option<&Path>,
    port_range: (u16, u16),
) -> io::Result<Bound> {
    if transport == Transport::Unix {
        let parent = unix_socket_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        match bind_unix(&parent) {
            Ok(bound) => return Ok(bound),
            // A too-long path or an unwritable directory: TCP still works.
            Err(e) => crate::log_warn!(
                "cannot create a unix socket, falling back to TCP",
                dir = parent.display(),
                error = e
            ),
        }
    }
    bind_tcp(port_range).await
}

fn bind_unix(parent: &Path) -> io::Result<Bound> {
    let dir = PrivateDir::create(parent)?;
    let path = dir.path().join("plugin.sock");
    // On error `dir` drops here and removes itself.
    let listener = UnixListener::bind(&path)?;
    Ok(Bound::Unix {
        listener,
        path,
        dir,
    })
}

async fn bind_tcp((min, max): (u16, u16)) -> io::Result<Bound> {
    // Starting at a random port in the range makes concurrent providers (Terraform
    // starts several) collide less often than go-plugin's walk from the bottom.
    let span = u32::from(max - min) + 1;
    let start = fastrand::u32(0..span);
    let mut last_error = None;
    for i in 0..span {
        let port = min + ((start + i) % span) as u16;
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(listener) => {
                let addr = listener.local_addr()?;
                return Ok(Bound::Tcp { listener, addr });
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!(
            "no free TCP port on 127.0.0.1 in {min}..={max}: {}",
            last_error.map_or_else(|| "empty range".to_string(), |e| e.to_string())
        ),
    ))
}

/// A fresh directory only we can enter (mode 0700), removed with its contents on drop,
/// so no other user can reach (or replace) the socket.
#[derive(Debug)]
pub(super) struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    pub(super) fn create(parent: &Path) -> io::Result<Self> {
        for _ in 0..32 {
            let path = parent.join(format!("plugin{:08x}", fastrand::u32(..)));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    let dir = Self { path };
                    // The umask can only remove bits, but make the mode exact anyway.
                    std::fs::set_permissions(&dir.path, std::fs::Permissions::from_mode(0o700))?;
                    return Ok(dir);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no unused directory name after 32 tries",
        ))
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            crate::log_debug!(
                "cannot remove the socket directory",
                dir = self.path.display(),
                error = e
            );
        }
    }
}

/// A listener whose accepted connections tonic can serve.
trait Accept: Send + Sync + 'static {
    type Io: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static;
    fn accept_io(&self) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

impl Accept for UnixListener {
    type Io = UnixStream;
    async fn accept_io(&self) -> io::Result<UnixStream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

impl Accept for TcpListener {
    type Io = TcpStream;
    async fn accept_io(&self) -> io::Result<TcpStream> {
        let (stream, _) = self.accept().await?;
        // Without TCP_NODELAY every small gRPC frame waits for a delayed ACK; a plan
        // of a few hundred resources gets several times slower.
        if let Err(e) = stream.set_nodelay(true) {
            crate::log_warn!("cannot set TCP_NODELAY", error = e);
        }
        Ok(stream)
    }
}

/// The next connection, or `None` once shutdown starts. Accept errors (e.g. out of file
/// descriptors) are transient: wait a little and retry rather than stop serving.
async fn next_connection<A: Accept>(listener: &A, shutdown: &Shutdown) -> Option<A::Io> {
    loop {
        tokio::select! {
            _ = shutdown.triggered() => return None,
            accepted = listener.accept_io() => match accepted {
                Ok(io) => return Some(io),
                Err(e) => {
                    crate::log_warn!("accept failed", error = e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Serves `router` on the bound socket (through TLS when `tls` is given) until shutdown,
/// then removes the socket directory.
pub(super) async fn serve(
    bound: Bound,
    router: Router,
    tls: Option<TlsAcceptor>,
    shutdown: Shutdown,
) -> Result<(), tonic::transport::Error> {
    match bound {
        Bound::Unix { listener, dir, .. } => {
            let result = serve_on(router, listener, tls, shutdown).await;
            drop(dir);
            result
        }
        Bound::Tcp { listener, .. } => serve_on(router, listener, tls, shutdown).await,
    }
}

async fn serve_on<A: Accept>(
    router: Router,
    listener: A,
    tls: Option<TlsAcceptor>,
    shutdown: Shutdown,
) -> Result<(), tonic::transport::Error> {
    match tls {
        None => {
            let (tx, rx) = mpsc::channel::<io::Result<A::Io>>(16);
            let stop = shutdown.clone();
            tokio::spawn(async move {
                while let Some(io) = next_connection(&listener, &stop).await {
                    if tx.send(Ok(io)).await.is_err() {
                        break;
                    }
                }
            });
            run_router(router, ReceiverStream::new(rx), shutdown).await
        }
        Some(acceptor) => {
            let (tx, rx) = mpsc::channel::<io::Result<TlsStream<A::Io>>>(16);
            let stop = shutdown.clone();
            tokio::spawn(async move {
                while let Some(io) = next_connection(&listener, &stop).await {
                    // Handshakes run concurrently so one slow client cannot hold up
                    // the others.
                    let acceptor = acceptor.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io)).await
                        {
                            Ok(Ok(tls)) => {
                                let _ = tx.send(Ok(tls)).await;
                            }
                            Ok(Err(e)) => {
                                crate::log_warn!("TLS handshake failed", error = e)
                            }
                            Err(_) => crate::log_warn!("TLS handshake timed out"),
                        }
                    });
                }
            });
            run_router(router, ReceiverStream::new(rx), shutdown).await
        }
    }
}

async fn run_router<IO>(
    router: Router,
    incoming: ReceiverStream<io::Result<IO>>,
    shutdown: Shutdown,
) -> Result<(), tonic::transport::Error>
where
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
{
    let signal = shutdown.token();
    let serving =
        router.serve_with_incoming_shutdown(incoming, async move { signal.cancelled().await });
    tokio::select! {
        result = serving => result,
        // Graceful shutdown waits for every connection to close; a client that keeps
        // a stream open must not keep us past Terraform's kill deadline.
        _ = async {
            shutdown.triggered().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            crate::log_debug!("grace period over; exiting with connections still open");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_dir_is_0700_and_removed_on_drop() {
        let dir = PrivateDir::create(&std::env::temp_dir()).unwrap();
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("f"), b"x").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(dir);
        assert!(!path.exists());
    }
}
