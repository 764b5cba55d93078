//! go-plugin start-up: the command line, the magic cookie and protocol version checks,
//! `run_main`, and the handshake (or `--debug` reattach) line on stdout.
//!
//! Terraform starts the binary with a magic cookie and a list of protocol versions in
//! the environment, reads one `CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT` line from our
//! stdout, dials that address with gRPC and, when done, calls
//! `plugin.GRPCController/Shutdown`. Everything we print after that line on stdout is
//! only logged by Terraform; logs go to stderr (see [`crate::log`]).

use std::fmt;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tonic::transport::Server;

use super::listen::{self, Transport, DEFAULT_PORT_RANGE};
use super::mtls::{ServerTls, TlsError};
use super::plugin_services::{Controller, HealthService, Stdio};
use super::proto::health::health_server::HealthServer;
use super::proto::plugin::grpc_controller_server::GrpcControllerServer;
use super::proto::plugin::grpc_stdio_server::GrpcStdioServer;
use super::proto::tfplugin6::provider_server::{Provider, ProviderServer};
use super::shutdown::{exit_when_parent_goes, install_signal_handlers, Shutdown};

/// The environment variable holding go-plugin's magic cookie.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// The value Terraform sets for every provider; its presence means Terraform started us.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin's own handshake version (the first field).
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol major version we speak (the second field).
pub const PROTOCOL_VERSION: u32 = 6;
/// gRPC message limit in both directions: Terraform sends whole states and schemas in
/// one message, far beyond tonic's 4 MiB default.
pub const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

/// The names of the provider being served, which the generic start-up prints and reads;
/// the binary's `main` fills it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PluginIdentity {
    /// The executable's name, e.g. `terraform-provider-example`: it prefixes messages
    /// and names the organization in our TLS certificate.
    pub binary_name: &'static str,
    /// What `--version` prints after the binary name.
    pub version: &'static str,
    /// The provider's local name in configurations, as in `provider "example" {}`.
    pub provider_name: &'static str,
    /// The provider's source address, the key of `--debug` mode's
    /// `TF_REATTACH_PROVIDERS`.
    pub source_address: &'static str,
    /// The variable that picks the transport (`unix` or `tcp`), for tests and benchmarks.
    pub transport_env: &'static str,
}

/// How [`serve`] listens and secures the connection; usually [`ServeOptions::from_env`].
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Whose names the messages and the reattach line carry.
    pub plugin: PluginIdentity,
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
    pub fn from_env(plugin: &PluginIdentity) -> Result<Self, ServeError> {
        Self::from_lookup(plugin, |name| std::env::var(name).ok(), false)
    }

    /// Options for `--debug`: no cookie needed, plaintext (a person's Terraform started
    /// separately has no client certificate for us).
    pub fn debug_from_env(plugin: &PluginIdentity) -> Result<Self, ServeError> {
        Self::from_lookup(plugin, |name| std::env::var(name).ok(), true)
    }

    /// [`ServeOptions::from_env`] / [`ServeOptions::debug_from_env`] over any variable
    /// lookup. A variable set to the empty string counts as unset, as in go-plugin.
    pub fn from_lookup(
        plugin: &PluginIdentity,
        lookup: impl Fn(&str) -> Option<String>,
        debug: bool,
    ) -> Result<Self, ServeError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        if !debug && lookup(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
            return Err(ServeError::NotStartedByTerraform(*plugin));
        }
        if !debug {
            if let Some(offered) = var("PLUGIN_PROTOCOL_VERSIONS") {
                if !offers_our_version(&offered) {
                    return Err(ServeError::ProtocolMismatch {
                        binary_name: plugin.binary_name,
                        offered,
                    });
                }
            }
        }

        let transport_env = plugin.transport_env;
        let transport = match var(transport_env).map(|v| v.trim().to_ascii_lowercase()) {
            None => Transport::Unix,
            Some(v) if v == "unix" => Transport::Unix,
            Some(v) if v == "tcp" => Transport::Tcp,
            Some(v) => {
                return Err(ServeError::BadEnv {
                    name: transport_env,
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
            plugin: *plugin,
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
    NotStartedByTerraform(PluginIdentity),
    /// Terraform does not speak protocol 6.
    ProtocolMismatch {
        /// Our executable's name, for the message.
        binary_name: &'static str,
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
            ServeError::NotStartedByTerraform(plugin) => f.write_str(&not_a_command(plugin)),
            ServeError::ProtocolMismatch {
                binary_name,
                offered,
            } => write!(
                f,
                "{binary_name} speaks Terraform plugin protocol {PROTOCOL_VERSION} \
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

impl From<TlsError> for ServeError {
    fn from(e: TlsError) -> Self {
        match e {
            TlsError::ClientCert(why) => ServeError::ClientCert(why),
            TlsError::Setup(why) => ServeError::Tls(why),
        }
    }
}

fn not_a_command(plugin: &PluginIdentity) -> String {
    let PluginIdentity {
        binary_name,
        provider_name,
        ..
    } = plugin;
    format!(
        "\
{binary_name} is a Terraform provider plugin, not a command to run by hand:
Terraform starts it itself and talks to it over gRPC.

To use it, declare the provider in a Terraform configuration (a `provider \"{provider_name}\" {{}}`
block and a `required_providers` entry pointing at it, or a `dev_overrides` entry in
the Terraform CLI configuration naming the directory that holds this binary), then run
`terraform plan` or `terraform apply`.

To attach a debugger, run this binary with --debug and export the
TF_REATTACH_PROVIDERS value it prints in the shell where you run Terraform."
    )
}

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

fn usage(binary_name: &str) -> String {
    format!(
        "\
usage: {binary_name} [--debug]

Terraform starts this provider itself. Options for a person:
  --debug    serve without Terraform's handshake and print TF_REATTACH_PROVIDERS
  --version  print the version
  --help     print this help"
    )
}

/// Writes to stderr without panicking when stderr is closed.
fn say(message: &dyn fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{message}");
}

/// The whole `main`: parses the command line and environment, builds the runtime, calls
/// `make_provider` with the process [`Shutdown`] signal, and serves until told to stop.
/// Every failure is a message on stderr and exit status 1.
pub fn run_main<S, F>(plugin: &PluginIdentity, make_provider: F) -> ExitCode
where
    S: Provider,
    F: FnOnce(Shutdown) -> S,
{
    let binary_name = plugin.binary_name;
    // Arguments that are not UTF-8 are unknown arguments, not a panic.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let debug = match parse_args(&args) {
        Ok(Command::Serve { debug }) => debug,
        Ok(Command::Help) => {
            let _ = writeln!(io::stdout().lock(), "{}", usage(binary_name));
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            let _ = writeln!(io::stdout().lock(), "{binary_name} {}", plugin.version);
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            say(&format_args!(
                "{binary_name}: {why}\n\n{}",
                usage(binary_name)
            ));
            return ExitCode::FAILURE;
        }
    };

    let opts = if debug {
        ServeOptions::debug_from_env(plugin)
    } else {
        ServeOptions::from_env(plugin)
    };
    let opts = match opts {
        Ok(opts) => opts,
        Err(e) => {
            say(&e);
            return ExitCode::FAILURE;
        }
    };

    // One thread: each RPC's own work is small and Terraform waits on its answers, so a
    // pool of workers only added wake-ups across threads (a fifth of the provider's CPU
    // per plan walk, docs/benchmarks.md). Blocking work runs on threads of its own.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say(&format_args!(
                "{binary_name}: cannot start the async runtime: {e}"
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
            say(&format_args!("{binary_name}: {e}"));
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
    install_signal_handlers(&shutdown, opts.debug).map_err(ServeError::Signal)?;
    exit_when_parent_goes(opts.debug);

    let tls = match &opts.client_cert_pem {
        Some(pem) => Some(ServerTls::new(pem, opts.plugin.binary_name)?),
        None => None,
    };
    let cert_field = tls.as_ref().map(|t| t.cert_field()).unwrap_or_default();

    let bound = listen::bind(
        opts.transport,
        opts.unix_socket_dir.as_deref(),
        opts.port_range,
    )
    .await
    .map_err(|e| ServeError::Listen(e.to_string()))?;
    let (network, address) = bound.describe();

    if opts.debug {
        print_reattach(&opts.plugin, network, &address)?;
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

    let provider_addr = opts.plugin.source_address;
    let router = Server::builder()
        .trace_fn(move |req| super::server::rpc_span(req, provider_addr))
        .add_service(
            provider
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        )
        .add_service(HealthServer::new(HealthService::new(shutdown.clone())))
        .add_service(GrpcControllerServer::new(Controller::new(shutdown.clone())))
        .add_service(GrpcStdioServer::new(Stdio::new(shutdown.clone())));

    let result = listen::serve(bound, router, tls.map(|t| t.acceptor), shutdown)
        .await
        .map_err(ServeError::Serve);
    crate::log_debug!("provider stopped serving");
    result
}

/// `1|6|unix|/tmp/plugin123/plugin.sock|grpc|CERT`.
fn handshake_line(network: &str, address: &str, cert: &str) -> String {
    format!("{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|{network}|{address}|grpc|{cert}")
}

/// The `TF_REATTACH_PROVIDERS` JSON for `--debug`.
fn reattach_json(source_address: &str, network: &str, address: &str, pid: u32) -> String {
    let mut providers = serde_json::Map::new();
    providers.insert(
        source_address.to_string(),
        serde_json::json!({
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": network, "String": address },
        }),
    );
    serde_json::Value::Object(providers).to_string()
}

fn print_reattach(plugin: &PluginIdentity, network: &str, address: &str) -> Result<(), ServeError> {
    let json = reattach_json(plugin.source_address, network, address, std::process::id());
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{} is serving in debug mode. In the shell where you run \
         Terraform, export:\n\n\tTF_REATTACH_PROVIDERS='{json}'\n\n\
         Terraform then uses this process instead of starting the provider. \
         Stop it with Ctrl-C.",
        plugin.binary_name
    )
    .and_then(|()| out.flush())
    .map_err(ServeError::Stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const COOKIE: (&str, &str) = (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE);
    const TRANSPORT_ENV: &str = "TF_PROVIDER_EXAMPLE_TRANSPORT";
    const PLUGIN: PluginIdentity = PluginIdentity {
        binary_name: "terraform-provider-example",
        version: "1.2.3",
        provider_name: "example",
        source_address: "registry.example/acme/example",
        transport_env: TRANSPORT_ENV,
    };

    #[test]
    fn cookie_is_required_unless_debug() {
        let err = ServeOptions::from_lookup(&PLUGIN, lookup(&[]), false).unwrap_err();
        assert!(matches!(err, ServeError::NotStartedByTerraform(_)));
        assert!(err.to_string().contains("Terraform"));
        let wrong =
            ServeOptions::from_lookup(&PLUGIN, lookup(&[(MAGIC_COOKIE_KEY, "nope")]), false);
        assert!(matches!(wrong, Err(ServeError::NotStartedByTerraform(_))));
        assert!(ServeOptions::from_lookup(&PLUGIN, lookup(&[COOKIE]), false).is_ok());
        let debug = ServeOptions::from_lookup(&PLUGIN, lookup(&[]), true).unwrap();
        assert!(debug.debug);
    }

    #[test]
    fn protocol_versions() {
        let with = |v: &str| {
            ServeOptions::from_lookup(
                &PLUGIN,
                lookup(&[COOKIE, ("PLUGIN_PROTOCOL_VERSIONS", v)]),
                false,
            )
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
        let opts = ServeOptions::from_lookup(&PLUGIN, lookup(&[COOKIE]), false).unwrap();
        assert_eq!(opts.transport, Transport::Unix);
        assert_eq!(opts.port_range, DEFAULT_PORT_RANGE);
        assert!(opts.unix_socket_dir.is_none());
        assert!(opts.client_cert_pem.is_none());

        let opts = ServeOptions::from_lookup(
            &PLUGIN,
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
            ServeOptions::from_lookup(&PLUGIN, lookup(&all), false).unwrap_err()
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
            ServeOptions::from_lookup(&PLUGIN, lookup(&[("PLUGIN_CLIENT_CERT", "pem")]), true)
                .unwrap();
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
        let json = reattach_json(PLUGIN.source_address, "unix", "/tmp/p/plugin.sock", 42);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let p = &v["registry.example/acme/example"];
        assert_eq!(p["Protocol"], "grpc");
        assert_eq!(p["ProtocolVersion"], 6);
        assert_eq!(p["Pid"], 42);
        assert_eq!(p["Test"], true);
        assert_eq!(p["Addr"]["Network"], "unix");
        assert_eq!(p["Addr"]["String"], "/tmp/p/plugin.sock");
    }

    #[test]
    fn messages_name_the_plugin_they_were_given() {
        let err = ServeOptions::from_lookup(&PLUGIN, lookup(&[]), false).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("terraform-provider-example is a Terraform provider plugin"));
        assert!(text.contains("`provider \"example\" {}`"), "{text}");
        let mismatch = ServeOptions::from_lookup(
            &PLUGIN,
            lookup(&[COOKIE, ("PLUGIN_PROTOCOL_VERSIONS", "5")]),
            false,
        )
        .unwrap_err();
        assert!(mismatch
            .to_string()
            .starts_with("terraform-provider-example speaks Terraform plugin protocol 6"));
        assert!(
            usage(PLUGIN.binary_name).starts_with("usage: terraform-provider-example [--debug]")
        );
    }
}
