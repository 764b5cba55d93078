//! The plugin process as Terraform starts it, black-box: the go-plugin start-up (magic
//! cookie, protocol versions, command line), the handshake line, the private socket
//! directory, TCP, AutoMTLS and who may connect, shutdown by GRPCController and by
//! signal, logging, and debug mode. The RPCs it serves are in provider_rpcs.rs.

mod common;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{
    check, cookie, health, plugin, serving, start_provider, ClientIdentity, StartOptions,
    EXIT_TIMEOUT,
};
use tokio_stream::StreamExt;

#[test]
fn without_cookie_it_explains_and_exits_1() {
    let (code, stdout, stderr) = common::run_to_exit(&[], &HashMap::new(), &[common::COOKIE_KEY]);
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty(), "nothing on stdout: {stdout:?}");
    assert!(stderr.contains("Terraform"), "stderr: {stderr}");
    assert!(stderr.contains("plugin"), "stderr: {stderr}");

    let wrong = HashMap::from([(common::COOKIE_KEY, "wrong")]);
    let (code, _, stderr) = common::run_to_exit(&[], &wrong, &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("Terraform"));
}

#[test]
fn protocol_5_only_is_refused() {
    let mut env = cookie();
    env.insert("PLUGIN_PROTOCOL_VERSIONS", "5");
    let (code, stdout, stderr) = common::run_to_exit(&[], &env, &[]);
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty());
    assert!(stderr.contains("protocol 6"), "stderr: {stderr}");
    assert!(
        stderr.contains("PLUGIN_PROTOCOL_VERSIONS=5"),
        "stderr: {stderr}"
    );
}

#[test]
fn malformed_client_cert_is_an_error_not_a_panic() {
    for pem in [
        "garbage",
        "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n",
    ] {
        let mut env = cookie();
        env.insert("PLUGIN_CLIENT_CERT", pem);
        let (code, stdout, stderr) = common::run_to_exit(&[], &env, &[]);
        assert_eq!(code, Some(1), "stderr: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains("PLUGIN_CLIENT_CERT"), "stderr: {stderr}");
        assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    }
}

#[test]
fn bad_port_variable_is_an_error() {
    let mut env = cookie();
    env.insert("PLUGIN_MIN_PORT", "eleven");
    let (code, _, stderr) = common::run_to_exit(&[], &env, &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("PLUGIN_MIN_PORT"), "stderr: {stderr}");
}

#[test]
fn unknown_argument_is_an_error() {
    let (code, _, stderr) = common::run_to_exit(&["--bogus"], &cookie(), &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("--bogus"), "stderr: {stderr}");
}

#[tokio::test]
async fn handshake_line_and_private_socket_dir() {
    let parent = std::env::temp_dir().join(format!("mrs-test-{}", std::process::id()));
    std::fs::create_dir_all(&parent).unwrap();
    let p = start_provider(
        StartOptions::mtls().with_env("PLUGIN_UNIX_SOCKET_DIR", parent.to_str().unwrap()),
    )
    .await;
    let h = &p.handshake;
    assert_eq!(h.core, "1");
    assert_eq!(h.app, "6");
    assert_eq!(h.network, "unix");
    assert_eq!(h.protocol, "grpc");
    assert!(!h.cert.is_empty());
    assert!(!h.cert.contains('='), "CERT must be unpadded: {}", h.cert);
    assert!(!h.line.contains('\n'));

    let dir = p.socket_dir().unwrap();
    assert_eq!(dir.parent(), Some(parent.as_path()));
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "socket dir mode {mode:o}");
    drop(p);
    let _ = std::fs::remove_dir_all(&parent);
}

#[tokio::test]
async fn mtls_health_reports_serving() {
    let p = start_provider(StartOptions::mtls()).await;
    assert_eq!(check(&p, "plugin").await.unwrap(), serving());
    assert_eq!(check(&p, "").await.unwrap(), serving());
    assert_eq!(
        check(&p, "something.else").await.unwrap(),
        health::health_check_response::ServingStatus::ServiceUnknown as i32
    );
}

#[tokio::test]
async fn provider_service_is_reachable() {
    let p = start_provider(StartOptions::mtls()).await;
    let r = p
        .provider()
        .get_provider_schema(common::tfplugin6::get_provider_schema::Request {})
        .await;
    let schema = r.expect("GetProviderSchema answers over mTLS").into_inner();
    assert!(schema.resource_schemas.contains_key("mrs_iam_sync"));
}

#[tokio::test]
async fn client_without_certificate_is_refused() {
    let p = start_provider(StartOptions::mtls()).await;
    let h = &p.handshake;
    let refused = match common::connect_to(&h.network, &h.address, h.server_cert_pem(), None).await
    {
        Err(_) => true,
        Ok(channel) => health::health_client::HealthClient::new(channel)
            .check(health::HealthCheckRequest {
                service: "plugin".into(),
            })
            .await
            .is_err(),
    };
    assert!(refused, "a client without a certificate must not be served");
    // The legitimate client still works.
    assert_eq!(check(&p, "plugin").await.unwrap(), serving());
}

#[tokio::test]
async fn client_with_another_certificate_is_refused() {
    let p = start_provider(StartOptions::mtls()).await;
    let h = &p.handshake;
    let stranger = ClientIdentity::generate();
    let refused = match common::connect_to(
        &h.network,
        &h.address,
        h.server_cert_pem(),
        Some(&stranger),
    )
    .await
    {
        Err(_) => true,
        Ok(channel) => health::health_client::HealthClient::new(channel)
            .check(health::HealthCheckRequest {
                service: "plugin".into(),
            })
            .await
            .is_err(),
    };
    assert!(refused, "only Terraform's certificate may connect");
}

#[tokio::test]
async fn plaintext_without_client_cert() {
    let p = start_provider(StartOptions::plaintext()).await;
    assert_eq!(p.handshake.cert, "");
    assert!(p.handshake.line.ends_with("|grpc|"));
    assert_eq!(check(&p, "plugin").await.unwrap(), serving());
}

#[tokio::test]
async fn tcp_transport_with_mtls() {
    let p = start_provider(
        StartOptions::tcp()
            .with_env("PLUGIN_MIN_PORT", "21000")
            .with_env("PLUGIN_MAX_PORT", "21999"),
    )
    .await;
    assert_eq!(p.handshake.network, "tcp");
    let addr: std::net::SocketAddr = p.handshake.address.parse().unwrap();
    assert!(addr.ip().is_loopback());
    assert!((21000..=21999).contains(&addr.port()), "{addr}");
    assert_eq!(check(&p, "plugin").await.unwrap(), serving());
}

#[tokio::test]
async fn unusable_socket_dir_falls_back_to_tcp() {
    let p = start_provider(
        StartOptions::plaintext().with_env("PLUGIN_UNIX_SOCKET_DIR", "/nonexistent/mrs/dir"),
    )
    .await;
    assert_eq!(p.handshake.network, "tcp");
    assert_eq!(check(&p, "plugin").await.unwrap(), serving());
}

#[tokio::test]
async fn controller_shutdown_exits_0_and_removes_socket_dir() {
    let mut p = start_provider(StartOptions::mtls()).await;
    let dir = p.socket_dir().unwrap();
    assert!(dir.exists());
    let started = std::time::Instant::now();
    let status = p
        .shutdown(EXIT_TIMEOUT)
        .await
        .expect("exits after Shutdown");
    assert!(status.success(), "{status:?}; stderr: {}", p.stderr());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(!dir.exists(), "socket dir {dir:?} must be removed");
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_exits() {
    let mut p = start_provider(StartOptions::mtls()).await;
    // go-plugin's client keeps a stdio stream and may watch health; both must end at
    // shutdown instead of holding the process open.
    let mut stdio = plugin::grpc_stdio_client::GrpcStdioClient::new(p.channel.clone())
        .stream_stdio(plugin::Empty {})
        .await
        .unwrap()
        .into_inner();
    let mut watch = p
        .health()
        .watch(health::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(watch.next().await.unwrap().unwrap().status, serving());
    let idle = tokio::time::timeout(Duration::from_millis(200), stdio.next()).await;
    assert!(idle.is_err(), "stdio yields nothing while serving");

    let status = p.shutdown(EXIT_TIMEOUT).await.expect("exits");
    assert!(status.success());
    let ended = tokio::time::timeout(Duration::from_secs(2), stdio.next()).await;
    assert!(
        matches!(ended, Ok(None) | Ok(Some(Err(_)))),
        "stdio ends: {ended:?}"
    );
}

#[tokio::test]
async fn sigterm_exits_0_and_sigint_is_ignored() {
    let mut p = start_provider(StartOptions::mtls()).await;
    let dir = p.socket_dir().unwrap();
    p.signal("INT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(p.child.try_wait().unwrap().is_none(), "SIGINT is ignored");
    assert_eq!(check(&p, "plugin").await.unwrap(), serving());

    p.signal("TERM");
    let status = p.wait_exit(EXIT_TIMEOUT).expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}; stderr: {}", p.stderr());
    assert!(!dir.exists());
}

#[tokio::test]
async fn logs_are_hclog_json_with_microsecond_timestamps() {
    let mut p = start_provider(StartOptions::mtls().with_env("TF_LOG", "debug")).await;
    p.shutdown(EXIT_TIMEOUT).await.expect("exits");
    std::thread::sleep(Duration::from_millis(100));
    let stderr = p.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty(), "TF_LOG=debug produces log lines");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["@module"], "provider");
        assert!(v["@level"].is_string());
        let ts = v["@timestamp"].as_str().unwrap();
        let frac = ts.split('.').nth(1).unwrap();
        assert_eq!(frac.len(), "123456Z".len(), "{ts}");
    }
}

#[tokio::test]
async fn quiet_without_tf_log() {
    let mut p = start_provider(StartOptions::mtls()).await;
    p.shutdown(EXIT_TIMEOUT).await.expect("exits");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(p.stderr(), "");
    assert!(p.stdout_after_handshake().is_empty());
}

#[tokio::test]
async fn debug_mode_prints_reattach_config() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(common::BINARY)
        .arg("--debug")
        .env_remove(common::COOKIE_KEY)
        .env_remove("PLUGIN_CLIENT_CERT")
        .env_remove("TF_PROVIDER_MRS_TRANSPORT")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = loop {
        match rx.recv_timeout(common::STARTUP_TIMEOUT) {
            Ok(l) if l.contains("TF_REATTACH_PROVIDERS=") => break l,
            Ok(_) => continue,
            Err(e) => {
                let _ = child.kill();
                panic!("no TF_REATTACH_PROVIDERS line: {e}");
            }
        }
    };
    let json = line
        .split_once("TF_REATTACH_PROVIDERS='")
        .and_then(|(_, rest)| rest.strip_suffix('\''))
        .unwrap_or_else(|| panic!("quoted JSON: {line}"));
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 1);
    let (_addr, cfg) = obj.iter().next().unwrap();
    assert_eq!(cfg["Protocol"], "grpc");
    assert_eq!(cfg["ProtocolVersion"], 6);
    assert_eq!(cfg["Pid"], child.id());
    assert_eq!(cfg["Test"], true);
    assert_eq!(cfg["Addr"]["Network"], "unix");
    let path = cfg["Addr"]["String"].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&path).exists());

    // Plaintext, reachable.
    let channel = common::connect_to("unix", &path, None, None).await.unwrap();
    let status = health::health_client::HealthClient::new(channel)
        .check(health::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, serving());

    // In debug mode Ctrl-C stops it.
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = common::wait_exit(&mut child, EXIT_TIMEOUT);
    if status.is_none() {
        let _ = child.kill();
    }
    assert!(status.expect("exits on Ctrl-C").success());
    assert!(!std::path::Path::new(&path).exists());
}
