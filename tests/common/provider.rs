//! Starts the real provider binary the way Terraform does, parses its handshake and opens
//! a gRPC channel to it.
//!
//! Typical use from any test file (`mod common;`):
//! ```ignore
//! let p = common::start_provider(common::StartOptions::mtls()).await;
//! let mut client = ProviderClient::new(p.channel.clone());
//! ```
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hyper_util::rt::TokioIo;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};

pub use terraform_provider_mrs::protocol::proto::{health, plugin, tfplugin6};

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-mrs");
/// go-plugin's magic cookie for Terraform providers.
pub const COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// How long to wait for the handshake line or an exit.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// A client certificate like the one Terraform generates for AutoMTLS: ECDSA P-256,
/// self-signed, CA:TRUE, both client and server auth.
#[derive(Clone)]
pub struct ClientIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl ClientIdentity {
    pub fn generate() -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "HashiCorp");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let cert = params.self_signed(&key).unwrap();
        Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// How to start the provider.
#[derive(Clone)]
pub struct StartOptions {
    /// Present a client certificate (AutoMTLS) and connect with it.
    pub mtls: bool,
    /// Ask for TCP instead of a unix socket (`TF_PROVIDER_MRS_TRANSPORT=tcp`).
    pub tcp: bool,
    /// Extra environment, applied last (may override the defaults).
    pub env: Vec<(String, String)>,
    /// Command-line arguments.
    pub args: Vec<String>,
}

impl StartOptions {
    /// Unix socket with AutoMTLS: what Terraform does.
    pub fn mtls() -> Self {
        Self {
            mtls: true,
            tcp: false,
            env: Vec::new(),
            args: Vec::new(),
        }
    }

    /// Unix socket, plaintext.
    pub fn plaintext() -> Self {
        Self {
            mtls: false,
            ..Self::mtls()
        }
    }

    /// TCP with AutoMTLS.
    pub fn tcp() -> Self {
        Self {
            tcp: true,
            ..Self::mtls()
        }
    }

    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
}

/// The parsed `CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT` line.
#[derive(Clone, Debug)]
pub struct Handshake {
    pub line: String,
    pub core: String,
    pub app: String,
    pub network: String,
    pub address: String,
    pub protocol: String,
    pub cert: String,
}

impl Handshake {
    pub fn parse(line: &str) -> Result<Self, String> {
        let fields: Vec<&str> = line.trim_end_matches(['\r', '\n']).split('|').collect();
        if fields.len() != 6 {
            return Err(format!("handshake needs 6 fields: {line:?}"));
        }
        Ok(Self {
            line: line.to_string(),
            core: fields[0].into(),
            app: fields[1].into(),
            network: fields[2].into(),
            address: fields[3].into(),
            protocol: fields[4].into(),
            cert: fields[5].into(),
        })
    }

    /// The server certificate as PEM, decoded from the CERT field.
    pub fn server_cert_pem(&self) -> Option<String> {
        if self.cert.is_empty() {
            return None;
        }
        let der = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&self.cert)
            .expect("CERT field is unpadded standard base64");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        Some(pem)
    }
}

/// A started provider process with a connected channel. Killed on drop if still alive.
pub struct RunningProvider {
    pub child: Child,
    pub handshake: Handshake,
    pub channel: Channel,
    pub identity: Option<ClientIdentity>,
    stdout_rest: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl RunningProvider {
    /// The socket's directory (unix transport only).
    pub fn socket_dir(&self) -> Option<PathBuf> {
        (self.handshake.network == "unix")
            .then(|| {
                Path::new(&self.handshake.address)
                    .parent()
                    .map(Path::to_path_buf)
            })
            .flatten()
    }

    /// Everything the provider wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Stdout lines after the handshake so far.
    pub fn stdout_after_handshake(&self) -> Vec<String> {
        self.stdout_rest.lock().unwrap().clone()
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, timeout)
    }

    /// Calls `GRPCController.Shutdown` and waits for the exit.
    pub async fn shutdown(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut ctl =
            plugin::grpc_controller_client::GrpcControllerClient::new(self.channel.clone());
        // The reply may race the server closing; the exit status is what counts.
        let _ = ctl.shutdown(plugin::Empty {}).await;
        self.wait_exit(timeout)
    }

    /// Sends a signal by name (e.g. "TERM") with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// A health client on the channel.
    pub fn health(&self) -> health::health_client::HealthClient<Channel> {
        health::health_client::HealthClient::new(self.channel.clone())
    }

    /// A tfplugin6 provider client on the channel, with Terraform-sized message limits.
    pub fn provider(&self) -> tfplugin6::provider_client::ProviderClient<Channel> {
        tfplugin6::provider_client::ProviderClient::new(self.channel.clone())
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20)
    }
}

impl Drop for RunningProvider {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The command Terraform would run: cookie, `PLUGIN_PROTOCOL_VERSIONS=6`, no inherited
/// go-plugin variables, logging from the test's own environment only if asked.
pub fn provider_command(opts: &StartOptions, identity: Option<&ClientIdentity>) -> Command {
    let mut cmd = Command::new(BINARY);
    cmd.args(&opts.args)
        .env(COOKIE_KEY, COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .env_remove("PLUGIN_CLIENT_CERT")
        .env_remove("PLUGIN_UNIX_SOCKET_DIR")
        .env_remove("TF_PROVIDER_MRS_TRANSPORT")
        .env_remove("TF_LOG")
        .env_remove("TF_LOG_PROVIDER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(id) = identity {
        cmd.env("PLUGIN_CLIENT_CERT", &id.cert_pem);
    }
    if opts.tcp {
        cmd.env("TF_PROVIDER_MRS_TRANSPORT", "tcp");
    }
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    cmd
}

/// Starts the provider, reads its handshake line and connects (mTLS when asked).
pub async fn start_provider(opts: StartOptions) -> RunningProvider {
    let identity = opts.mtls.then(ClientIdentity::generate);
    let mut child = provider_command(&opts, identity.as_ref())
        .spawn()
        .expect("start provider binary");
    let (first_line, stdout_rest, stderr) = capture_output(&mut child);
    let line = match first_line.recv_timeout(STARTUP_TIMEOUT) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "no handshake line; stderr:\n{}",
                stderr.lock().unwrap().clone()
            );
        }
    };
    let handshake = Handshake::parse(&line).unwrap();
    let channel = connect(&handshake, identity.as_ref())
        .await
        .unwrap_or_else(|e| panic!("connect to {handshake:?}: {e}"));
    RunningProvider {
        child,
        handshake,
        channel,
        identity,
        stdout_rest,
        stderr,
    }
}

/// The first stdout line (on a channel), later stdout lines, and all of stderr.
pub type CapturedOutput = (
    mpsc::Receiver<String>,
    Arc<Mutex<Vec<String>>>,
    Arc<Mutex<String>>,
);

/// Drains the child's stdout and stderr on threads (so the pipes never fill): the first
/// stdout line arrives on the channel, later lines and stderr accumulate.
pub fn capture_output(child: &mut Child) -> CapturedOutput {
    let (tx, rx) = mpsc::channel();
    let rest = Arc::new(Mutex::new(Vec::new()));
    let stderr_text = Arc::new(Mutex::new(String::new()));
    if let Some(stdout) = child.stdout.take() {
        let rest = rest.clone();
        std::thread::spawn(move || {
            let mut first = true;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if first {
                    first = false;
                    let _ = tx.send(line);
                } else {
                    rest.lock().unwrap().push(line);
                }
            }
        });
    }
    if let Some(mut stderr) = child.stderr.take() {
        let text = stderr_text.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                text.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }
    (rx, rest, stderr_text)
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects to a handshake's address: TLS (trusting the CERT field, presenting
/// `identity` if given) when CERT is set, plaintext otherwise.
pub async fn connect(
    handshake: &Handshake,
    identity: Option<&ClientIdentity>,
) -> Result<Channel, BoxError> {
    connect_to(
        &handshake.network,
        &handshake.address,
        handshake.server_cert_pem(),
        identity,
    )
    .await
}

/// [`connect`] with the pieces given separately (e.g. to try a wrong identity).
pub async fn connect_to(
    network: &str,
    address: &str,
    server_cert_pem: Option<String>,
    identity: Option<&ClientIdentity>,
) -> Result<Channel, BoxError> {
    let mut endpoint = match &server_cert_pem {
        Some(_) => Endpoint::from_static("https://localhost"),
        None => Endpoint::from_static("http://localhost"),
    }
    .connect_timeout(Duration::from_secs(5));
    if let Some(pem) = server_cert_pem {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(pem))
            .domain_name("localhost");
        if let Some(id) = identity {
            tls = tls.identity(Identity::from_pem(&id.cert_pem, &id.key_pem));
        }
        endpoint = endpoint.tls_config(tls)?;
    }
    let address = address.to_string();
    let channel = match network {
        "unix" => {
            endpoint
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = address.clone();
                    async move {
                        let stream = tokio::net::UnixStream::connect(path).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(stream))
                    }
                }))
                .await?
        }
        "tcp" => {
            endpoint
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let addr = address.clone();
                    async move {
                        let stream = tokio::net::TcpStream::connect(addr).await?;
                        stream.set_nodelay(true)?;
                        Ok::<_, std::io::Error>(TokioIo::new(stream))
                    }
                }))
                .await?
        }
        other => return Err(format!("unknown network {other:?}").into()),
    };
    Ok(channel)
}

/// Runs the binary to completion with the given environment changes (no handshake
/// expected) and returns (exit code, stdout, stderr). Kills it after the start-up
/// timeout so a provider that serves by mistake fails the test instead of hanging it.
pub fn run_to_exit(
    args: &[&str],
    set: &HashMap<&str, &str>,
    remove: &[&str],
) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(BINARY);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for k in remove {
        cmd.env_remove(k);
    }
    for (k, v) in set {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("run provider binary");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(STARTUP_TIMEOUT) {
        Ok(Ok(out)) => (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        other => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("provider did not exit by itself: {other:?}");
        }
    }
}

/// How long a provider may take to exit after Shutdown or a signal.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// The health status of a serving plugin.
pub fn serving() -> i32 {
    health::health_check_response::ServingStatus::Serving as i32
}

/// Asks the plugin's health service about `service`.
pub async fn check(p: &RunningProvider, service: &str) -> Result<i32, tonic::Status> {
    p.health()
        .check(health::HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .map(|r| r.into_inner().status)
}

/// The environment that carries go-plugin's magic cookie, as Terraform sets it.
pub fn cookie() -> HashMap<&'static str, &'static str> {
    HashMap::from([(COOKIE_KEY, COOKIE_VALUE)])
}
