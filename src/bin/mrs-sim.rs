//! mrs-sim: runs the local MRS IAM-synchronization API, with IAM's project list and
//! security tokens and the ECS metadata service (see `terraform_provider_mrs::sim`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use terraform_provider_mrs::sim::{self, Directory, SimConfig, SimState};

const USAGE: &str = "\
usage: mrs-sim [--listen ADDR] --access-key AK --secret-key SK [--sync-delay-ms N]
               [--clusters a,b] [--directory FILE] [--state-file FILE]
               [--projects REGION=ID,..] [--agencies DOMAIN/AGENCY,..]
               [--token-ttl-ms N] [--metadata]

  --listen ADDR        address to listen on (default 127.0.0.1:8080; port 0 picks one)
  --access-key AK      access key requests must be signed with (env HW_ACCESS_KEY)
  --secret-key SK      secret key (env HW_SECRET_KEY)
  --sync-delay-ms N    how long each synchronization runs (default 0). While one runs,
                       a POST or DELETE on that cluster is refused with HTTP 409
                       {\"error_code\":\"MRS.SIM.409\",\"error_msg\":\"a synchronization is
                       already running on this cluster\"}, as a cautious client must
                       expect of MRS (always on: MRS documents no queueing)
  --clusters a,b       the only cluster ids that exist (default: any)
  --directory FILE     IAM directory JSON: {\"users\": {\"alice\": [\"admins\"]}, \"groups\": [..]};
                       also what GET /v3/users?name=U and /v3/users/{id}/groups answer
  --state-file FILE    load synced names at start, save them after each change
  --projects R=ID,..   IAM projects by region name, for GET /v3/projects?name=R
  --agencies D/A,..    agencies (domain name / agency name) the access key may assume
  --token-ttl-ms N     every temporary key (agency, metadata) lives N ms (default: as
                       asked, 900 s to 24 h; metadata 1 h)
  --metadata           serve ECS metadata credentials at /openstack/latest/securitykey

The first line on stdout is `listening on http://HOST:PORT`. GET /_sim/requests lists
every call with its JSON body, so each POST's and DELETE's names can be checked.";

struct Args {
    listen: String,
    access_key: Option<String>,
    secret_key: Option<String>,
    sync_delay_ms: u64,
    clusters: Option<Vec<String>>,
    directory: Option<PathBuf>,
    state_file: Option<PathBuf>,
    projects: BTreeMap<String, String>,
    agencies: Vec<(String, String)>,
    token_ttl_ms: Option<u64>,
    metadata: bool,
}

enum Parsed {
    // Boxed: the flags are many and `Help` is nothing.
    Run(Box<Args>),
    Help,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut a = Args {
        listen: "127.0.0.1:8080".to_string(),
        access_key: None,
        secret_key: None,
        sync_delay_ms: 0,
        clusters: None,
        directory: None,
        state_file: None,
        projects: BTreeMap::new(),
        agencies: Vec::new(),
        token_ttl_ms: None,
        metadata: false,
    };
    while let Some(flag) = it.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (flag.clone(), None),
        };
        if name == "--help" || name == "-h" {
            return Ok(Parsed::Help);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--listen" => a.listen = value()?,
            "--access-key" => a.access_key = Some(value()?),
            "--secret-key" => a.secret_key = Some(value()?),
            "--sync-delay-ms" => {
                let v = value()?;
                a.sync_delay_ms = v
                    .parse()
                    .map_err(|_| format!("--sync-delay-ms {v:?} is not a whole number"))?;
            }
            "--clusters" => a.clusters = Some(list(&value()?)),
            "--directory" => a.directory = Some(PathBuf::from(value()?)),
            "--state-file" => a.state_file = Some(PathBuf::from(value()?)),
            "--projects" => {
                for pair in list(&value()?) {
                    let Some((region, id)) = pair.split_once('=') else {
                        return Err(format!("--projects {pair:?} is not REGION=PROJECT_ID"));
                    };
                    a.projects.insert(region.trim().into(), id.trim().into());
                }
            }
            "--agencies" => {
                for pair in list(&value()?) {
                    let Some((domain, agency)) = pair.split_once('/') else {
                        return Err(format!("--agencies {pair:?} is not DOMAIN/AGENCY"));
                    };
                    a.agencies
                        .push((domain.trim().into(), agency.trim().into()));
                }
            }
            "--token-ttl-ms" => {
                let v = value()?;
                a.token_ttl_ms = Some(
                    v.parse()
                        .map_err(|_| format!("--token-ttl-ms {v:?} is not a whole number"))?,
                );
            }
            "--metadata" => a.metadata = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Parsed::Run(Box::new(a)))
}

/// A comma-separated flag value, blanks dropped.
fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            // Without a SIGTERM handler, Ctrl-C still works.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("mrs-sim: {msg}");
    eprintln!("run `mrs-sim --help` for usage");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Run(a)) => a,
        Err(e) => return fail(&e),
    };
    let Some(access_key) =
        non_empty(args.access_key).or_else(|| non_empty(std::env::var("HW_ACCESS_KEY").ok()))
    else {
        return fail("an access key is required: --access-key or HW_ACCESS_KEY");
    };
    let Some(secret_key) =
        non_empty(args.secret_key).or_else(|| non_empty(std::env::var("HW_SECRET_KEY").ok()))
    else {
        return fail("a secret key is required: --secret-key or HW_SECRET_KEY");
    };
    let directory = match &args.directory {
        Some(p) => match Directory::load(p) {
            Ok(d) => d,
            Err(e) => return fail(&e),
        },
        None => Directory::Open,
    };
    let mut cfg = SimConfig::new(access_key, secret_key);
    cfg.sync_delay = Duration::from_millis(args.sync_delay_ms);
    cfg.clusters = args.clusters;
    cfg.directory = directory;
    cfg.state_file = args.state_file;
    cfg.projects = args.projects;
    cfg.agencies = args.agencies;
    cfg.token_ttl = args.token_ttl_ms.map(Duration::from_millis);
    cfg.metadata = args.metadata;
    let state = match SimState::new(cfg) {
        Ok(s) => s,
        Err(e) => return fail(&format!("cannot load state: {e}")),
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen on {}: {e}", args.listen)),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(&format!("cannot read the listening address: {e}")),
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on http://{addr}");
    let _ = out.flush();
    match sim::run(listener, state, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mrs-sim: server error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Result<Parsed, String> {
        parse(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_parse() {
        let Ok(Parsed::Run(a)) = args(&[
            "--listen=127.0.0.1:0",
            "--access-key",
            "AK",
            "--sync-delay-ms",
            "250",
            "--clusters",
            "a, b,",
        ]) else {
            unreachable!("valid flags")
        };
        assert_eq!(a.listen, "127.0.0.1:0");
        assert_eq!(a.access_key.as_deref(), Some("AK"));
        assert_eq!(a.sync_delay_ms, 250);
        assert_eq!(a.clusters, Some(vec!["a".to_string(), "b".to_string()]));
        let Ok(Parsed::Run(a)) = args(&[
            "--projects",
            "cn-north-4=p1, eu-west-101=p2",
            "--agencies=corp/ops",
            "--token-ttl-ms",
            "1500",
            "--metadata",
        ]) else {
            unreachable!("valid flags")
        };
        assert_eq!(
            a.projects.get("eu-west-101").map(String::as_str),
            Some("p2")
        );
        assert_eq!(a.agencies, vec![("corp".to_string(), "ops".to_string())]);
        assert_eq!(a.token_ttl_ms, Some(1500));
        assert!(a.metadata);
        assert!(matches!(args(&["--help"]), Ok(Parsed::Help)));
    }

    #[test]
    fn bad_flags_are_errors() {
        assert!(args(&["--sync-delay-ms", "soon"]).is_err());
        assert!(args(&["--listen"]).is_err());
        assert!(args(&["--bogus"]).is_err());
        assert!(args(&["--projects", "cn-north-4"]).is_err());
        assert!(args(&["--agencies", "ops"]).is_err());
        assert!(args(&["--token-ttl-ms", "-1"]).is_err());
    }
}
