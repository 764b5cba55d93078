//! go-plugin's side services that Terraform's plugin client calls besides the provider:
//! `plugin.GRPCController`, `plugin.GRPCStdio` and `grpc.health.v1.Health`.

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::proto::health::health_check_response::ServingStatus;
use super::proto::health::health_server::Health;
use super::proto::health::{HealthCheckRequest, HealthCheckResponse};
use super::proto::plugin::grpc_controller_server::GrpcController;
use super::proto::plugin::grpc_stdio_server::GrpcStdio;
use super::proto::plugin::{Empty, StdioData};
use super::shutdown::Shutdown;

/// The service name go-plugin's client health-checks.
pub const PLUGIN_HEALTH_SERVICE: &str = "plugin";

/// `plugin.GRPCController`: Terraform calls `Shutdown` when it is done with the process.
#[derive(Clone, Debug)]
pub struct Controller {
    shutdown: Shutdown,
}

impl Controller {
    /// A controller whose `Shutdown` triggers `shutdown`.
    pub fn new(shutdown: Shutdown) -> Self {
        Self { shutdown }
    }
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        crate::log_debug!("plugin client asked the provider to shut down");
        // The server shuts down gracefully, so this reply still reaches the client
        // before the connection closes.
        self.shutdown.trigger();
        Ok(Response::new(Empty {}))
    }
}

/// `plugin.GRPCStdio`: go-plugin copies a Go plugin's redirected stdout/stderr through
/// this stream. Our logs already go to stderr, which Terraform reads directly, so the
/// stream carries nothing; it stays open until shutdown because the client treats an
/// early end as the plugin going away.
#[derive(Clone, Debug)]
pub struct Stdio {
    shutdown: Shutdown,
}

impl Stdio {
    /// A stdio service whose streams end at `shutdown`.
    pub fn new(shutdown: Shutdown) -> Self {
        Self { shutdown }
    }
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<BoxStream<StdioData>>, Status> {
        Ok(Response::new(open_until_shutdown(
            None,
            self.shutdown.clone(),
        )))
    }
}

/// `grpc.health.v1.Health`: SERVING for `plugin` and for the whole server (`""`) until
/// shutdown starts, NOT_SERVING after.
#[derive(Clone, Debug)]
pub struct HealthService {
    shutdown: Shutdown,
}

impl HealthService {
    /// A health service that reports NOT_SERVING once `shutdown` triggers.
    pub fn new(shutdown: Shutdown) -> Self {
        Self { shutdown }
    }

    fn status(&self, service: &str) -> ServingStatus {
        match service {
            "" | PLUGIN_HEALTH_SERVICE if self.shutdown.is_triggered() => ServingStatus::NotServing,
            "" | PLUGIN_HEALTH_SERVICE => ServingStatus::Serving,
            _ => ServingStatus::ServiceUnknown,
        }
    }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let status = self.status(&request.get_ref().service);
        Ok(Response::new(HealthCheckResponse {
            status: status as i32,
        }))
    }

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<BoxStream<HealthCheckResponse>>, Status> {
        // The status never changes while serving, so one message and an open stream is
        // the whole answer; the stream closes at shutdown.
        let status = self.status(&request.get_ref().service);
        let first = HealthCheckResponse {
            status: status as i32,
        };
        Ok(Response::new(open_until_shutdown(
            Some(first),
            self.shutdown.clone(),
        )))
    }
}

/// A response stream that yields `first` (if any), then nothing, and ends when the
/// process shuts down or the client goes away.
fn open_until_shutdown<T: Send + 'static>(first: Option<T>, shutdown: Shutdown) -> BoxStream<T> {
    let (tx, rx) = mpsc::channel::<Result<T, Status>>(1);
    tokio::spawn(async move {
        if let Some(item) = first {
            if tx.send(Ok(item)).await.is_err() {
                return;
            }
        }
        tokio::select! {
            _ = shutdown.triggered() => {}
            _ = tx.closed() => {}
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;

    fn check(svc: &HealthService, name: &str) -> i32 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(svc.check(Request::new(HealthCheckRequest {
            service: name.to_string(),
        })))
        .unwrap()
        .into_inner()
        .status
    }

    #[test]
    fn health_reports_plugin_and_server_serving_until_shutdown() {
        let shutdown = Shutdown::new();
        let svc = HealthService::new(shutdown.clone());
        assert_eq!(check(&svc, "plugin"), ServingStatus::Serving as i32);
        assert_eq!(check(&svc, ""), ServingStatus::Serving as i32);
        assert_eq!(check(&svc, "other"), ServingStatus::ServiceUnknown as i32);
        shutdown.trigger();
        assert_eq!(check(&svc, "plugin"), ServingStatus::NotServing as i32);
    }

    #[tokio::test]
    async fn watch_sends_once_then_ends_at_shutdown() {
        let shutdown = Shutdown::new();
        let svc = HealthService::new(shutdown.clone());
        let mut stream = svc
            .watch(Request::new(HealthCheckRequest {
                service: "plugin".into(),
            }))
            .await
            .unwrap()
            .into_inner();
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.status, ServingStatus::Serving as i32);
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(50), stream.next()).await;
        assert!(pending.is_err(), "stream must stay open while serving");
        shutdown.trigger();
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn controller_shutdown_triggers() {
        let shutdown = Shutdown::new();
        let ctl = Controller::new(shutdown.clone());
        ctl.shutdown(Request::new(Empty {})).await.unwrap();
        assert!(shutdown.is_triggered());
    }

    #[tokio::test]
    async fn stdio_stays_open_and_empty_until_shutdown() {
        let shutdown = Shutdown::new();
        let mut stream = Stdio::new(shutdown.clone())
            .stream_stdio(Request::new(Empty {}))
            .await
            .unwrap()
            .into_inner();
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(50), stream.next()).await;
        assert!(pending.is_err());
        shutdown.trigger();
        assert!(stream.next().await.is_none());
    }
}
