//! go-plugin start-up: magic cookie, protocol version, unix socket (or TCP), AutoMTLS,
//! the handshake line on stdout, and serving until Terraform says stop.
//!
//! Terraform starts the binary with a magic cookie and a list of protocol versions in
//! the environment, reads one `CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT` line from our
//! stdout, dials that address with gRPC and, when done, calls
//! `plugin.GRPCController/Shutdown`. Everything we print after that line on stdout is
//! only logged by Terraform; logs go to stderr (see [`crate::log`]).

use std::fmt;
use std::future::Future;
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, PrivateKeyDer, PrivatePkcs8KeyDer,
    SignatureVerificationAlgorithm, UnixTime,
};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::{Connected, Router};
use tonic::transport::Server;

use super::plugin_services::{Controller, HealthService, Stdio};
use super::proto::health::health_server::HealthServer;
use super::proto::plugin::grpc_controller_server::GrpcControllerServer;
use super::proto::plugin::grpc_stdio_server::GrpcStdioServer;
use super::proto::tfplugin6::provider_server::{Provider, ProviderServer};

/// The environment variable holding go-plugin's magic cookie.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// The value Terraform sets for every provider; its presence means Terraform started us.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin's own handshake version (the first field).
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol major version we speak (the second field).
pub const PROTOCOL_VERSION: u32 = 6;
/// Our knob (tests, benchmarks): `tcp` forces TCP instead of a unix socket.
pub const TRANSPORT_ENV: &str = "TF_PROVIDER_MRS_TRANSPORT";
/// The provider address printed in `--debug` mode's `TF_REATTACH_PROVIDERS`.
pub const DEBUG_PROVIDER_ADDRESS: &str = "terraform.local/mrs/mrs";
/// gRPC message limit in both directions: Terraform sends whole states and schemas in
/// one message, far beyond tonic's 4 MiB default.
pub const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;
/// go-plugin's default port range for TCP.
pub const DEFAULT_PORT_RANGE: (u16, u16) = (10_000, 25_000);

/// After shutdown starts, how long in-flight RPCs may take to finish before we exit
/// anyway. Terraform kills a plugin that has not exited 2 s after `Shutdown`.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);
/// A client that connects but never finishes the TLS handshake is dropped after this.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// go-plugin's server certificate lifetime (262980 hours, about 30 years).
const CERT_LIFETIME: Duration = Duration::from_secs(262_980 * 3600);
/// Backdating the certificate tolerates a client clock slightly behind ours.
const CERT_BACKDATE: Duration = Duration::from_secs(30);

/// The process-wide "stop serving" signal, shared by the gRPC controller, the signal
/// handler and the provider service.
///
/// It triggers on `GRPCController.Shutdown`, on SIGTERM, and (in `--debug` mode only)
/// on Ctrl-C. The provider service receives a clone through [`run_main`]; it should
/// derive its StopProvider token from [`Shutdown::child_token`] so that in-flight
/// operations also stop when the process is told to exit.
#[derive(Clone, Debug, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    /// A fresh, untriggered signal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts shutdown: stop accepting, finish in-flight RPCs, exit 0. Idempotent.
    pub fn trigger(&self) {
        self.0.cancel();
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Completes once shutdown has started.
    pub fn triggered(&self) -> impl Future<Output = ()> + Send + '_ {
        self.0.cancelled()
    }

    /// A token cancelled when shutdown starts, which can also be cancelled on its own
    /// (e.g. by StopProvider) without shutting the process down.
    pub fn child_token(&self) -> CancellationToken {
        self.0.child_token()
    }

    /// The underlying token, for `select!`s that want to own it.
    pub fn token(&self) -> CancellationToken {
        self.0.clone()
    }
}

/// Where to listen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A unix socket in a fresh private directory; TCP if that cannot be created.
    Unix,
    /// TCP on 127.0.0.1.
    Tcp,
}

/// How [`serve`] listens and secures the connection; usually [`ServeOptions::from_env`].
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Preferred transport.
    pub transport: Transport,
    /// Parent of the socket's private directory; the system temp dir when `None`.
    pub unix_socket_dir: Option<PathBuf>,
    /// Inclusive TCP port range for the TCP transport.
    pub port_range: (u16, u16),
    /// Terraform's client certificate (PEM). `Some` turns on mutual TLS.
    pub client_cert_pem: Option<String>,
    /// `--debug` mode: print `TF_REATTACH_PROVIDERS` instead of the handshake line.
    pub debug: bool,
    /// Triggered to stop serving; [`serve`] triggers it itself on SIGTERM.
    pub shutdown: Shutdown,
}

impl ServeOptions {
    /// Options for a start by Terraform, from the process environment: checks the
    /// magic cookie and the protocol versions.
    pub fn from_env() -> Result<Self, ServeError> {
        Self::from_lookup(|name| std::env::var(name).ok(), false)
    }

    /// Options for `--debug`: no cookie needed, plaintext (a person's Terraform started
    /// separately has no client certificate for us).
    pub fn debug_from_env() -> Result<Self, ServeError> {
        Self::from_lookup(|name| std::env::var(name).ok(), true)
    }

    /// [`ServeOptions::from_env`] / [`ServeOptions::debug_from_env`] over any variable
    /// lookup. A variable set to the empty string counts as unset, as in go-plugin.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        debug: bool,
    ) -> Result<Self, ServeError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        if !debug && lookup(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
            return Err(ServeError::NotStartedByTerraform);
        }
        if !debug {
            if let Some(offered) = var("PLUGIN_PROTOCOL_VERSIONS") {
                if !offers_our_version(&offered) {
                    return Err(ServeError::ProtocolMismatch { offered });
                }
            }
        }

        let transport = match var(TRANSPORT_ENV).map(|v| v.trim().to_ascii_lowercase()) {
            None => Transport::Unix,
            Some(v) if v == "unix" => Transport::Unix,
            Some(v) if v == "tcp" => Transport::Tcp,
            Some(v) => {
                return Err(ServeError::BadEnv {
                    name: TRANSPORT_ENV,
                    reason: format!("{v:?} is neither \"unix\" nor \"tcp\""),
                })
            }
        };
        let port = |name: &'static str, default: u16| -> Result<u16, ServeError> {
            match var(name) {
                None => Ok(default),
                Some(v) => v.trim().parse::<u16>().map_err(|_| ServeError::BadEnv {
                    name,
                    reason: format!("{v:?} is not a port number"),
                }),
            }
        };
        let min = port("PLUGIN_MIN_PORT", DEFAULT_PORT_RANGE.0)?;
        let max = port("PLUGIN_MAX_PORT", DEFAULT_PORT_RANGE.1)?;
        if min > max {
            return Err(ServeError::BadEnv {
                name: "PLUGIN_MIN_PORT",
                reason: format!("{min} is above PLUGIN_MAX_PORT {max}"),
            });
        }

        Ok(Self {
            transport,
            unix_socket_dir: var("PLUGIN_UNIX_SOCKET_DIR").map(PathBuf::from),
            port_range: (min, max),
            client_cert_pem: if debug {
                None
            } else {
                var("PLUGIN_CLIENT_CERT")
            },
            debug,
            shutdown: Shutdown::new(),
        })
    }
}

/// Whether a `PLUGIN_PROTOCOL_VERSIONS` list includes ours. Entries that are not
/// numbers are skipped, as go-plugin does.
fn offers_our_version(list: &str) -> bool {
    list.split(',')
        .filter_map(|v| v.trim().parse::<u32>().ok())
        .any(|v| v == PROTOCOL_VERSION)
}

/// Why the provider could not start or keep serving. Each is printed for a person.
#[derive(Debug)]
pub enum ServeError {
    /// No (or a wrong) magic cookie: a person ran the binary.
    NotStartedByTerraform,
    /// Terraform does not speak protocol 6.
    ProtocolMismatch {
        /// The `PLUGIN_PROTOCOL_VERSIONS` value.
        offered: String,
    },
    /// An environment variable has a value we cannot use.
    BadEnv {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `PLUGIN_CLIENT_CERT` is not a usable PEM certificate.
    ClientCert(String),
    /// Building the TLS server configuration failed.
    Tls(String),
    /// No unix socket and no TCP port could be opened.
    Listen(String),
    /// Writing the handshake line failed (Terraform went away).
    Stdout(io::Error),
    /// Signal handlers could not be installed.
    Signal(io::Error),
    /// The gRPC server failed.
    Serve(tonic::transport::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::NotStartedByTerraform => f.write_str(NOT_A_COMMAND),
            ServeError::ProtocolMismatch { offered } => write!(
                f,
                "terraform-provider-mrs speaks Terraform plugin protocol {PROTOCOL_VERSION} \
                 only, but this Terraform offers PLUGIN_PROTOCOL_VERSIONS={offered}. \
                 Use Terraform 1.0 or newer."
            ),
            ServeError::BadEnv { name, reason } => {
                write!(f, "environment variable {name}: {reason}")
            }
            ServeError::ClientCert(why) => {
                write!(
                    f,
                    "PLUGIN_CLIENT_CERT is not a usable PEM certificate: {why}"
                )
            }
            ServeError::Tls(why) => write!(f, "cannot set up TLS: {why}"),
            ServeError::Listen(why) => write!(f, "cannot listen: {why}"),
            ServeError::Stdout(e) => write!(f, "cannot write the handshake to stdout: {e}"),
            ServeError::Signal(e) => write!(f, "cannot install signal handlers: {e}"),
            ServeError::Serve(e) => write!(f, "gRPC server failed: {e}"),
        }
    }
}

impl std::error::Error for ServeError {}

const NOT_A_COMMAND: &str = "\
terraform-provider-mrs is a Terraform provider plugin, not a command to run by hand:
Terraform starts it itself and talks to it over gRPC.

To use it, declare the provider in a Terraform configuration (a `provider \"mrs\" {}`
block and a `required_providers` entry pointing at it, or a `dev_overrides` entry in
the Terraform CLI configuration naming the directory that holds this binary), then run
`terraform plan` or `terraform apply`.

To attach a debugger, run this binary with --debug and export the
TF_REATTACH_PROVIDERS value it prints in the shell where you run Terraform.";

/// What the binary was asked to do on its command line.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Serve { debug: bool },
    Help,
    Version,
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut debug = false;
    for arg in args {
        match arg.as_str() {
            "--debug" | "-debug" => debug = true,
            "--help" | "-h" | "-help" => return Ok(Command::Help),
            "--version" | "-version" => return Ok(Command::Version),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Command::Serve { debug })
}

const USAGE: &str = "\
usage: terraform-provider-mrs [--debug]

Terraform starts this provider itself. Options for a person:
  --debug    serve without Terraform's handshake and print TF_REATTACH_PROVIDERS
  --version  print the version
  --help     print this help";

/// Writes to stderr without panicking when stderr is closed.
fn say(message: &dyn fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{message}");
}

/// The whole `main`: parses the command line and environment, builds the runtime, calls
/// `make_provider` with the process [`Shutdown`] signal, and serves until told to stop.
/// Every failure is a message on stderr and exit status 1.
pub fn run_main<S, F>(make_provider: F) -> ExitCode
where
    S: Provider,
    F: FnOnce(Shutdown) -> S,
{
    // Arguments that are not UTF-8 are unknown arguments, not a panic.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let debug = match parse_args(&args) {
        Ok(Command::Serve { debug }) => debug,
        Ok(Command::Help) => {
            let _ = writeln!(io::stdout().lock(), "{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            let _ = writeln!(
                io::stdout().lock(),
                "terraform-provider-mrs {}",
                env!("CARGO_PKG_VERSION")
            );
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            say(&format_args!("terraform-provider-mrs: {why}\n\n{USAGE}"));
            return ExitCode::FAILURE;
        }
    };

    let opts = if debug {
        ServeOptions::debug_from_env()
    } else {
        ServeOptions::from_env()
    };
    let opts = match opts {
        Ok(opts) => opts,
        Err(e) => {
            say(&e);
            return ExitCode::FAILURE;
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say(&format_args!(
                "terraform-provider-mrs: cannot start the async runtime: {e}"
            ));
            return ExitCode::FAILURE;
        }
    };
    let shutdown = opts.shutdown.clone();
    let result = runtime.block_on(async move {
        let provider = make_provider(shutdown);
        serve(ProviderServer::new(provider), opts).await
    });
    // A provider task still stuck after shutdown must not keep the process alive past
    // Terraform's patience.
    runtime.shutdown_timeout(Duration::from_millis(200));

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::log_error!("provider stopped with an error", error = e);
            say(&format_args!("terraform-provider-mrs: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// Listens, prints the handshake (or the reattach line in debug mode), serves the
/// provider plus go-plugin's controller, stdio and health services, and returns once
/// shutdown has been triggered and in-flight RPCs are done (or the grace period is
/// over). The socket directory is removed before returning.
pub async fn serve<S>(provider: ProviderServer<S>, opts: ServeOptions) -> Result<(), ServeError>
where
    S: Provider,
{
    let shutdown = opts.shutdown.clone();
    install_signal_handlers(&shutdown, opts.debug)?;

    let tls = match &opts.client_cert_pem {
        Some(pem) => Some(ServerTls::new(pem)?),
        None => None,
    };
    let cert_field = tls.as_ref().map(|t| t.cert_field()).unwrap_or_default();

    let bound = bind(&opts).await?;
    let (network, address) = bound.describe();

    if opts.debug {
        print_reattach(network, &address)?;
    } else {
        let line = handshake_line(network, &address, &cert_field);
        let mut out = io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(ServeError::Stdout)?;
    }
    crate::log_info!(
        "provider serving",
        network = network,
        address = address,
        tls = tls.is_some()
    );

    let router = Server::builder()
        .add_service(
            provider
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        )
        .add_service(HealthServer::new(HealthService::new(shutdown.clone())))
        .add_service(GrpcControllerServer::new(Controller::new(shutdown.clone())))
        .add_service(GrpcStdioServer::new(Stdio::new(shutdown.clone())));

    let acceptor = tls.map(|t| t.acceptor);
    let result = match bound {
        Bound::Unix { listener, dir, .. } => {
            let r = serve_on(router, listener, acceptor, shutdown.clone()).await;
            dir.remove();
            r
        }
        Bound::Tcp { listener, .. } => serve_on(router, listener, acceptor, shutdown.clone()).await,
    };
    crate::log_debug!("provider stopped serving");
    result
}

/// `1|6|unix|/tmp/plugin123/plugin.sock|grpc|CERT`.
fn handshake_line(network: &str, address: &str, cert: &str) -> String {
    format!("{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|{network}|{address}|grpc|{cert}")
}

/// The `TF_REATTACH_PROVIDERS` JSON for `--debug`.
fn reattach_json(network: &str, address: &str, pid: u32) -> String {
    serde_json::json!({
        DEBUG_PROVIDER_ADDRESS: {
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": network, "String": address },
        }
    })
    .to_string()
}

fn print_reattach(network: &str, address: &str) -> Result<(), ServeError> {
    let json = reattach_json(network, address, std::process::id());
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "terraform-provider-mrs is serving in debug mode. In the shell where you run \
         Terraform, export:\n\n\tTF_REATTACH_PROVIDERS='{json}'\n\n\
         Terraform then uses this process instead of starting the provider. \
         Stop it with Ctrl-C."
    )
    .and_then(|()| out.flush())
    .map_err(ServeError::Stdout)
}

/// SIGTERM stops serving. SIGINT is ignored, as go-plugin does, because Terraform gets
/// Ctrl-C too and winds the provider down itself (StopProvider, then Shutdown); dying
/// on it would lose the state of an apply in flight. In `--debug` mode there is no
/// Terraform in charge, so Ctrl-C stops serving.
fn install_signal_handlers(shutdown: &Shutdown, debug: bool) -> Result<(), ServeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(ServeError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Signal)?;
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.triggered() => break,
                _ = term.recv() => {
                    crate::log_debug!("SIGTERM: shutting down");
                    shutdown.trigger();
                }
                _ = int.recv() => {
                    if debug {
                        shutdown.trigger();
                    } else {
                        crate::log_debug!("ignoring SIGINT; Terraform stops the provider itself");
                    }
                }
            }
        }
    });
    Ok(())
}

/// A listening socket, and what to remove when done.
enum Bound {
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
    fn describe(&self) -> (&'static str, String) {
        match self {
            Bound::Unix { path, .. } => ("unix", path.display().to_string()),
            Bound::Tcp { addr, .. } => ("tcp", addr.to_string()),
        }
    }
}

async fn bind(opts: &ServeOptions) -> Result<Bound, ServeError> {
    if opts.transport == Transport::Unix {
        let parent = opts
            .unix_socket_dir
            .clone()
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
    bind_tcp(opts.port_range).await
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

async fn bind_tcp((min, max): (u16, u16)) -> Result<Bound, ServeError> {
    // Starting at a random port in the range makes concurrent providers (Terraform
    // starts several) collide less often than go-plugin's walk from the bottom.
    let span = u32::from(max - min) + 1;
    let start = fastrand::u32(0..span);
    let mut last_error = None;
    for i in 0..span {
        let port = min + ((start + i) % span) as u16;
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(listener) => {
                let addr = listener
                    .local_addr()
                    .map_err(|e| ServeError::Listen(e.to_string()))?;
                return Ok(Bound::Tcp { listener, addr });
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(ServeError::Listen(format!(
        "no free TCP port on 127.0.0.1 in {min}..={max}: {}",
        last_error.map_or_else(|| "empty range".to_string(), |e| e.to_string())
    )))
}

/// A fresh directory only we can enter (mode 0700), removed with its contents on drop,
/// so no other user can reach (or replace) the socket.
#[derive(Debug)]
pub(crate) struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    pub(crate) fn create(parent: &Path) -> io::Result<Self> {
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

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn remove(self) {
        drop(self)
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

/// The AutoMTLS server side: our fresh certificate and the acceptor that demands
/// Terraform's client certificate.
struct ServerTls {
    acceptor: TlsAcceptor,
    cert_der: CertificateDer<'static>,
}

impl ServerTls {
    fn new(client_cert_pem: &str) -> Result<Self, ServeError> {
        let client_certs = parse_client_certs(client_cert_pem)?;
        let (cert_der, key_der) = generate_server_cert()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = PinnedClientCert {
            allowed: client_certs,
            algorithms: client_signature_algorithms(),
        };
        // TLS 1.3 only: there a P-521 key always signs with ecdsa_secp521r1_sha512, which
        // we can verify. Under TLS 1.2 Go would pick ECDSA-P256-SHA256 with its P-521
        // key, a combination no verifier here implements. Terraform's Go has spoken
        // TLS 1.3 by default since Go 1.13.
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| ServeError::Tls(e.to_string()))?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(vec![cert_der.clone()], key_der)
            .map_err(|e| ServeError::Tls(e.to_string()))?;
        // gRPC runs over HTTP/2; newer grpc-go clients refuse a TLS server without ALPN.
        config.alpn_protocols = vec![b"h2".to_vec()];
        // One process serves one Terraform connection and go-plugin's client keeps no
        // session cache, so a resumption ticket could never be used: send none.
        config.send_tls13_tickets = 0;
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert_der,
        })
    }

    /// The CERT field: DER, standard base64 without padding (go-plugin's encoding).
    fn cert_field(&self) -> String {
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(self.cert_der.as_ref())
    }
}

fn parse_client_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, ServeError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServeError::ClientCert(e.to_string()))?;
    if certs.is_empty() {
        return Err(ServeError::ClientCert(
            "no \"BEGIN CERTIFICATE\" block found".into(),
        ));
    }
    Ok(certs)
}

/// A self-signed ECDSA P-256 certificate for "localhost", as go-plugin makes. It is not
/// a CA: it is only ever the end entity that Terraform pins.
fn generate_server_cert() -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), ServeError> {
    let tls_err = |e: rcgen::Error| ServeError::Tls(format!("cannot generate certificate: {e}"));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(tls_err)?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string()]).map_err(tls_err)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "terraform-provider-mrs");
    // rcgen's dates are `time` values; build them from the epoch so we need no `time`
    // dependency of our own.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + now.saturating_sub(CERT_BACKDATE);
    params.not_after = epoch + now + CERT_LIFETIME;
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.serial_number = Some(rcgen::SerialNumber::from_slice(
        &fastrand::u64(1..).to_be_bytes(),
    ));
    let cert = params.self_signed(&key).map_err(tls_err)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key_der))
}

/// ring's signature algorithms plus ECDSA P-521/SHA-512: go-plugin's AutoMTLS client key
/// is P-521, which ring does not implement, so without it Terraform's Go client finds no
/// common signature scheme and sends no certificate at all.
fn client_signature_algorithms() -> rustls::crypto::WebPkiSupportedAlgorithms {
    static ALGORITHMS: OnceLock<rustls::crypto::WebPkiSupportedAlgorithms> = OnceLock::new();
    *ALGORITHMS.get_or_init(|| {
        let ring = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        let mut all = ring.all.to_vec();
        all.push(&EcdsaP521Sha512);
        let mut mapping = ring.mapping.to_vec();
        mapping.insert(
            0,
            (SignatureScheme::ECDSA_NISTP521_SHA512, &[&EcdsaP521Sha512]),
        );
        // Built once per process; the rustls API wants 'static slices.
        rustls::crypto::WebPkiSupportedAlgorithms {
            all: Vec::leak(all),
            mapping: Vec::leak(mapping),
        }
    })
}

/// ECDSA over P-521 with SHA-512 (RustCrypto `p521`), for Terraform's client key.
#[derive(Debug)]
struct EcdsaP521Sha512;

impl SignatureVerificationAlgorithm for EcdsaP521Sha512 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        use p521::ecdsa::signature::Verifier as _;
        let key =
            p521::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let signature =
            p521::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        key.verify(message, &signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        rustls::pki_types::alg_id::ECDSA_P521
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        rustls::pki_types::alg_id::ECDSA_SHA512
    }
}

/// Accepts exactly the client certificate(s) Terraform gave us in `PLUGIN_CLIENT_CERT`.
///
/// Terraform's client certificate is self-signed with CA:TRUE, which webpki refuses as
/// an end entity, so the usual chain verifier would reject every real Terraform.
/// Pinning the exact certificate is at least as strict as go-plugin's "signed by the
/// given CA" check for the only client that has it; the handshake signature is still
/// verified, so a peer must hold the private key.
#[derive(Debug)]
struct PinnedClientCert {
    allowed: Vec<CertificateDer<'static>>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: Go's client then sends its one certificate regardless of issuer.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self
            .allowed
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
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

async fn serve_on<A: Accept>(
    router: Router,
    listener: A,
    tls: Option<TlsAcceptor>,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
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
) -> Result<(), ServeError>
where
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
{
    let signal = shutdown.token();
    let serving =
        router.serve_with_incoming_shutdown(incoming, async move { signal.cancelled().await });
    tokio::select! {
        result = serving => result.map_err(ServeError::Serve),
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
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const COOKIE: (&str, &str) = (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE);

    #[test]
    fn cookie_is_required_unless_debug() {
        let err = ServeOptions::from_lookup(lookup(&[]), false).unwrap_err();
        assert!(matches!(err, ServeError::NotStartedByTerraform));
        assert!(err.to_string().contains("Terraform"));
        let wrong = ServeOptions::from_lookup(lookup(&[(MAGIC_COOKIE_KEY, "nope")]), false);
        assert!(matches!(wrong, Err(ServeError::NotStartedByTerraform)));
        assert!(ServeOptions::from_lookup(lookup(&[COOKIE]), false).is_ok());
        let debug = ServeOptions::from_lookup(lookup(&[]), true).unwrap();
        assert!(debug.debug);
    }

    #[test]
    fn protocol_versions() {
        let with = |v: &str| {
            ServeOptions::from_lookup(lookup(&[COOKIE, ("PLUGIN_PROTOCOL_VERSIONS", v)]), false)
        };
        assert!(with("6").is_ok());
        assert!(with("5,6").is_ok());
        assert!(with(" 5 , 6 ").is_ok());
        assert!(with("x,6").is_ok());
        assert!(with("").is_ok(), "empty means unset");
        let err = with("5").unwrap_err();
        assert!(matches!(err, ServeError::ProtocolMismatch { .. }));
        assert!(err.to_string().contains("protocol 6"));
        assert!(with("4,5,7").is_err());
    }

    #[test]
    fn ports_transport_and_dirs() {
        let opts = ServeOptions::from_lookup(lookup(&[COOKIE]), false).unwrap();
        assert_eq!(opts.transport, Transport::Unix);
        assert_eq!(opts.port_range, DEFAULT_PORT_RANGE);
        assert!(opts.unix_socket_dir.is_none());
        assert!(opts.client_cert_pem.is_none());

        let opts = ServeOptions::from_lookup(
            lookup(&[
                COOKIE,
                (TRANSPORT_ENV, "TCP"),
                ("PLUGIN_MIN_PORT", "20000"),
                ("PLUGIN_MAX_PORT", "20010"),
                ("PLUGIN_UNIX_SOCKET_DIR", "/run/x"),
                ("PLUGIN_CLIENT_CERT", "pem"),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(opts.transport, Transport::Tcp);
        assert_eq!(opts.port_range, (20_000, 20_010));
        assert_eq!(opts.unix_socket_dir.as_deref(), Some(Path::new("/run/x")));
        assert_eq!(opts.client_cert_pem.as_deref(), Some("pem"));

        let bad = |pairs: &[(&str, &str)]| {
            let mut all = vec![COOKIE];
            all.extend_from_slice(pairs);
            ServeOptions::from_lookup(lookup(&all), false).unwrap_err()
        };
        assert!(bad(&[("PLUGIN_MIN_PORT", "lots")])
            .to_string()
            .contains("PLUGIN_MIN_PORT"));
        assert!(bad(&[("PLUGIN_MAX_PORT", "70000")])
            .to_string()
            .contains("PLUGIN_MAX_PORT"));
        assert!(matches!(
            bad(&[("PLUGIN_MIN_PORT", "3000"), ("PLUGIN_MAX_PORT", "2000")]),
            ServeError::BadEnv { .. }
        ));
        assert!(bad(&[(TRANSPORT_ENV, "pigeon")])
            .to_string()
            .contains(TRANSPORT_ENV));
    }

    #[test]
    fn debug_mode_ignores_the_client_cert() {
        let opts =
            ServeOptions::from_lookup(lookup(&[("PLUGIN_CLIENT_CERT", "pem")]), true).unwrap();
        assert!(opts.client_cert_pem.is_none());
    }

    #[test]
    fn args() {
        let parse = |a: &[&str]| parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(parse(&[]), Ok(Command::Serve { debug: false }));
        assert_eq!(parse(&["--debug"]), Ok(Command::Serve { debug: true }));
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
        assert_eq!(parse(&["--version"]), Ok(Command::Version));
        assert!(parse(&["--frobnicate"]).is_err());
    }

    #[test]
    fn handshake_line_format() {
        assert_eq!(
            handshake_line("unix", "/tmp/plugin1/plugin.sock", "QUJD"),
            "1|6|unix|/tmp/plugin1/plugin.sock|grpc|QUJD"
        );
        assert_eq!(
            handshake_line("tcp", "127.0.0.1:10000", ""),
            "1|6|tcp|127.0.0.1:10000|grpc|"
        );
    }

    #[test]
    fn reattach_json_shape() {
        let json = reattach_json("unix", "/tmp/p/plugin.sock", 42);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let p = &v[DEBUG_PROVIDER_ADDRESS];
        assert_eq!(p["Protocol"], "grpc");
        assert_eq!(p["ProtocolVersion"], 6);
        assert_eq!(p["Pid"], 42);
        assert_eq!(p["Test"], true);
        assert_eq!(p["Addr"]["Network"], "unix");
        assert_eq!(p["Addr"]["String"], "/tmp/p/plugin.sock");
    }

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

    #[test]
    fn bad_pem_is_an_error() {
        assert!(matches!(
            parse_client_certs("not a pem"),
            Err(ServeError::ClientCert(_))
        ));
        let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_client_certs(broken),
            Err(ServeError::ClientCert(_))
        ));
        assert!(ServerTls::new("garbage").is_err());
    }

    fn client_cert() -> rcgen::CertifiedKey<rcgen::KeyPair> {
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap()
    }

    #[test]
    fn server_cert_and_field() {
        let client = client_cert();
        let tls = ServerTls::new(&client.cert.pem()).unwrap();
        let field = tls.cert_field();
        assert!(!field.contains('='), "no padding: {field}");
        let der = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&field)
            .unwrap();
        assert_eq!(der, tls.cert_der.as_ref());
        // Two starts, two different certificates.
        let again = ServerTls::new(&client.cert.pem()).unwrap();
        assert_ne!(again.cert_der, tls.cert_der);
    }

    #[test]
    fn p521_sha512_signatures_verify() {
        use p521::ecdsa::signature::Signer as _;
        let key = p521::ecdsa::SigningKey::from_slice(&[1u8; 66]).unwrap();
        let public = p521::ecdsa::VerifyingKey::from(&key).to_encoded_point(false);
        let signature: p521::ecdsa::Signature = key.sign(b"handshake transcript");
        let der = signature.to_der();
        let alg = EcdsaP521Sha512;
        assert!(alg
            .verify_signature(public.as_bytes(), b"handshake transcript", der.as_bytes())
            .is_ok());
        assert!(alg
            .verify_signature(public.as_bytes(), b"another transcript", der.as_bytes())
            .is_err());
        assert!(alg
            .verify_signature(b"not a key", b"handshake transcript", der.as_bytes())
            .is_err());
        assert!(alg
            .verify_signature(public.as_bytes(), b"handshake transcript", b"junk")
            .is_err());
        // Offered to the client, so Go's P-521 client certificate gets sent at all.
        assert!(client_signature_algorithms()
            .supported_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }

    #[test]
    fn verifier_pins_the_given_certificate() {
        let a = client_cert();
        let b = client_cert();
        let verifier = PinnedClientCert {
            allowed: parse_client_certs(&a.cert.pem()).unwrap(),
            algorithms: client_signature_algorithms(),
        };
        let now = UnixTime::now();
        assert!(verifier.verify_client_cert(a.cert.der(), &[], now).is_ok());
        assert!(verifier.verify_client_cert(b.cert.der(), &[], now).is_err());
        assert!(verifier.client_auth_mandatory());
    }
}
