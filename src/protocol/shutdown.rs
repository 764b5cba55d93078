//! The process-wide "stop serving" signal and the OS signals that trigger it.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// After shutdown starts, how long in-flight RPCs may take to finish before we exit
/// anyway. Terraform kills a plugin that has not exited 2 s after `Shutdown`.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// The process-wide "stop serving" signal, shared by the gRPC controller, the signal
/// handler and the provider service.
///
/// It triggers on `GRPCController.Shutdown`, on SIGTERM, and (in `--debug` mode only)
/// on Ctrl-C. The provider service receives a clone through
/// `cli::run_main`; it should derive its StopProvider token from
/// [`Shutdown::child_token`] so that in-flight operations also stop when the process is
/// told to exit.
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

/// SIGTERM stops serving. SIGINT is ignored, as go-plugin does, because Terraform gets
/// Ctrl-C too and winds the provider down itself (StopProvider, then Shutdown); dying
/// on it would lose the state of an apply in flight. In `--debug` mode there is no
/// Terraform in charge, so Ctrl-C stops serving.
pub(crate) fn install_signal_handlers(shutdown: &Shutdown, debug: bool) -> io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
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

/// How often the provider checks that Terraform, its parent, is still there.
const PARENT_CHECK: Duration = Duration::from_millis(200);

/// Exits the process when Terraform is gone. A Terraform killed with SIGKILL sends no
/// Shutdown and no signal: the provider is reparented and, as Go providers do, would
/// linger with its waits and retries, still calling MRS for nobody. Once the parent
/// changes, nothing can receive an answer, so the process exits at once: no new API call
/// starts (one already on the wire may finish on the server's side). Not in `--debug`
/// mode, where no Terraform started the process.
pub(crate) fn exit_when_parent_goes(debug: bool) {
    let parent = std::os::unix::process::parent_id();
    // Started by init (or a subreaper that is already the parent): nothing to watch.
    if debug || parent == 1 {
        return;
    }
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PARENT_CHECK).await;
            if std::os::unix::process::parent_id() != parent {
                crate::log_warn!(
                    "Terraform is gone (the parent process changed); exiting",
                    parent = parent
                );
                std::process::exit(1);
            }
        }
    });
}
