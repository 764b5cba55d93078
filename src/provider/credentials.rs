//! Where the keys come from: the shared configuration file and its profiles, the ECS
//! metadata service, and an IAM agency assumed on top of other keys; temporary keys are
//! renewed before they expire. Each source carries a label that names it (never a secret)
//! for messages.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::api::iam::{self, IamClient, IamError};
use crate::api::shown::{shorten, without_userinfo};
use crate::api::signer::TemporaryCredentials;
use crate::api::{ApiError, CredentialSource, Credentials, Secret, Tls};

/// KooCLI's configuration file, where `hcloud configure` writes profiles.
pub const DEFAULT_SHARED_CONFIG_FILE: &str = "~/.hcloud/config.json";

/// Renew this long before expiry at most; short-lived keys renew after two thirds of
/// their life, so a request signed just before renewal still arrives in time.
const MAX_RENEW_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Fixed keys: from the configuration, the environment or a profile.
#[derive(Debug)]
pub struct FixedKeys(pub Credentials);

#[async_trait::async_trait]
impl CredentialSource for FixedKeys {
    async fn credentials(&self) -> Result<Credentials, ApiError> {
        Ok(self.0.clone())
    }
}

/// How temporary keys are obtained again.
#[derive(Debug)]
enum Fetch {
    Metadata {
        endpoint: String,
        tls: Tls,
    },
    Agency {
        // Boxed: the client is large and the metadata variant is not.
        iam: Box<IamClient>,
        base: Arc<dyn CredentialSource>,
        domain_name: String,
        agency_name: String,
        duration: Duration,
        cancel: CancellationToken,
    },
}

#[derive(Debug)]
struct Held {
    keys: TemporaryCredentials,
    obtained_at: SystemTime,
}

impl Held {
    fn fresh(&self, now: SystemTime) -> bool {
        let life = self
            .keys
            .expires_at
            .duration_since(self.obtained_at)
            .unwrap_or_default();
        let margin = (life / 3).min(MAX_RENEW_MARGIN);
        now + margin < self.keys.expires_at
    }
}

/// Temporary keys, renewed when a request finds them close to expiry; concurrent requests
/// wait for one renewal instead of each asking.
#[derive(Debug)]
pub struct RenewingKeys {
    fetch: Fetch,
    /// Names the source in messages, e.g. "the ECS metadata service at http://…".
    label: String,
    held: tokio::sync::Mutex<Option<Held>>,
}

impl RenewingKeys {
    /// Keys of the ECS metadata service at `endpoint`; `tls` matters for https only.
    pub fn metadata(endpoint: &str, tls: Tls) -> RenewingKeys {
        let endpoint = endpoint.trim().trim_end_matches('/').to_string();
        RenewingKeys {
            label: format!(
                "the ECS metadata service at {}",
                without_userinfo(&endpoint)
            ),
            fetch: Fetch::Metadata { endpoint, tls },
            held: tokio::sync::Mutex::new(None),
        }
    }

    pub fn agency(
        iam: IamClient,
        base: Arc<dyn CredentialSource>,
        domain_name: &str,
        agency_name: &str,
        duration: Duration,
        cancel: CancellationToken,
    ) -> RenewingKeys {
        RenewingKeys {
            label: format!(
                "agency {} of domain {} (IAM at {})",
                shorten(agency_name),
                shorten(domain_name),
                iam.endpoint()
            ),
            fetch: Fetch::Agency {
                iam: Box::new(iam),
                base,
                domain_name: domain_name.to_string(),
                agency_name: agency_name.to_string(),
                duration,
                cancel,
            },
            held: tokio::sync::Mutex::new(None),
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The current keys, renewed first when they are close to expiry.
    pub async fn current(&self) -> Result<Credentials, SourceError> {
        let mut held = self.held.lock().await;
        let now = SystemTime::now();
        if let Some(h) = held.as_ref().filter(|h| h.fresh(now)) {
            return Ok(h.keys.credentials.clone());
        }
        let renewing = held.is_some();
        let keys = self.obtain().await?;
        if renewing {
            crate::log_info!(
                "renewed temporary credentials",
                source = self.label,
                expires_at = crate::api::signer::format_iso8601(keys.expires_at)
            );
        }
        let credentials = keys.credentials.clone();
        *held = Some(Held {
            keys,
            obtained_at: now,
        });
        Ok(credentials)
    }

    async fn obtain(&self) -> Result<TemporaryCredentials, SourceError> {
        match &self.fetch {
            Fetch::Metadata { endpoint, tls } => {
                iam::metadata_credentials(endpoint, iam::METADATA_TIMEOUT, tls)
                    .await
                    .map_err(SourceError::Iam)
            }
            Fetch::Agency {
                iam,
                base,
                domain_name,
                agency_name,
                duration,
                cancel,
            } => {
                let base_keys = base
                    .credentials()
                    .await
                    .map_err(|e| SourceError::Base(e.to_string()))?;
                iam.assume_agency(&base_keys, domain_name, agency_name, *duration, cancel)
                    .await
                    .map_err(SourceError::Iam)
            }
        }
    }
}

#[async_trait::async_trait]
impl CredentialSource for RenewingKeys {
    async fn credentials(&self) -> Result<Credentials, ApiError> {
        self.current().await.map_err(|e| ApiError::Credentials {
            message: format!("cannot renew the temporary keys of {}: {e}", self.label),
        })
    }

    async fn refused(&self, used: &Credentials) -> bool {
        let mut held = self.held.lock().await;
        if let Some(h) = held.as_mut() {
            // Several requests refused at once: the first marks the keys due, once.
            let due = h.keys.expires_at == SystemTime::UNIX_EPOCH;
            if h.keys.credentials.access_key == used.access_key && !due {
                crate::log_warn!(
                    "temporary credentials refused before their expiry; renewing them",
                    source = self.label,
                    expires_at = crate::api::signer::format_iso8601(h.keys.expires_at)
                );
                // Due now: the next request obtains new keys (and logs the renewal).
                h.keys.expires_at = SystemTime::UNIX_EPOCH;
            }
        }
        true
    }
}

/// Why temporary keys could not be obtained.
#[derive(Debug)]
pub enum SourceError {
    Iam(IamError),
    /// The keys used to assume the agency failed (already a full sentence).
    Base(String),
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceError::Iam(e) => write!(f, "{e}"),
            SourceError::Base(m) => write!(f, "{m}"),
        }
    }
}

/// A profile of the shared configuration file, as KooCLI (`hcloud`) writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    #[serde(default)]
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    secret_access_key: String,
    #[serde(default)]
    security_token: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    project_id: String,
    #[serde(default)]
    agency_name: String,
    #[serde(default)]
    agency_domain_name: String,
}

#[derive(Debug, Deserialize)]
struct RawSharedConfig {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<RawProfile>,
}

/// What a profile gives: keys, and defaults for region, project and agency.
#[derive(Debug)]
pub struct Profile {
    pub name: String,
    pub credentials: Credentials,
    pub region: Option<String>,
    pub project_id: Option<String>,
    /// (agency domain name, agency name) when the profile assumes an agency.
    pub agency: Option<(String, String)>,
}

/// Why the shared configuration file gave no profile; each names the file, never a value.
#[derive(Debug, PartialEq, Eq)]
pub enum ProfileError {
    Unreadable {
        path: String,
        why: String,
    },
    Malformed {
        path: String,
        why: String,
    },
    NoSuchProfile {
        path: String,
        name: String,
        known: Vec<String>,
    },
    NoKeys {
        path: String,
        name: String,
        mode: String,
    },
}

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProfileError::Unreadable { path, why } => {
                write!(f, "The shared config file {path} cannot be read: {why}.")
            }
            ProfileError::Malformed { path, why } => write!(
                f,
                "The shared config file {path} is not a KooCLI configuration ({why}). It should be JSON like {{\"current\": \"default\", \"profiles\": [{{\"name\": \"default\", \"accessKeyId\": \"...\", \"secretAccessKey\": \"...\"}}]}}."
            ),
            ProfileError::NoSuchProfile { path, name, known } => {
                let known = if known.is_empty() {
                    "it has no profiles".to_string()
                } else {
                    format!("it has {}", known.iter().take(20).map(|k| shorten(k)).collect::<Vec<_>>().join(", "))
                };
                write!(f, "The shared config file {path} has no profile {}: {known}.", shorten(name))
            }
            ProfileError::NoKeys { path, name, mode } => write!(
                f,
                "Profile {} of the shared config file {path} (mode {}) has no accessKeyId and secretAccessKey. If `hcloud` encrypted them, run `hcloud configure set --cli-auth-encrypt=false` and configure the profile again.",
                shorten(name),
                shorten(mode)
            ),
        }
    }
}

/// `~/` expanded with HOME; other paths as given.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The most of the shared configuration file that is read: KooCLI writes a few KB, and a
/// file (or device, or pipe) that goes on is refused rather than held in memory.
pub const MAX_SHARED_CONFIG_FILE: usize = 1 << 20;

/// Reads `profile` (default: the file's `current`) from the shared configuration file,
/// at most [`MAX_SHARED_CONFIG_FILE`] bytes of it; `cancel` (Terraform's stop) ends the
/// read at once, even one blocked on a pipe nobody writes.
pub async fn read_profile(
    path: &str,
    profile: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Profile, ProfileError> {
    let full = expand_home(path);
    // The path comes from the configuration or the environment: any length, any bytes.
    let shown = crate::shown::path(&full.display().to_string());
    let bytes = read_bounded(full, MAX_SHARED_CONFIG_FILE, cancel)
        .await
        .map_err(|why| ProfileError::Unreadable {
            path: shown.clone(),
            why,
        })?;
    parse_profile(&shown, &bytes, profile)
}

/// At most `limit` bytes of `path`, read on a thread of its own: an open or a read that
/// blocks (a FIFO) holds only that thread, which the process leaves behind when it exits.
pub async fn read_bounded(
    path: PathBuf,
    limit: usize,
    cancel: &CancellationToken,
) -> Result<Vec<u8>, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_reader = stop.clone();
    let spawned = std::thread::Builder::new()
        .name("read-config-file".into())
        .spawn(move || {
            let _ = tx.send(read_bounded_blocking(&path, limit, &stop_reader));
        });
    if let Err(e) = spawned {
        return Err(format!("no thread to read it ({e})"));
    }
    let r = tokio::select! {
        _ = cancel.cancelled() => Err("the read was stopped (Terraform is stopping the provider)".to_string()),
        r = rx => r.unwrap_or_else(|_| Err("the reading thread ended without an answer".into())),
    };
    // A reader still blocked stops at its next chunk.
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    r
}

fn read_bounded_blocking(
    path: &Path,
    limit: usize,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| e.kind().to_string())?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Err("the read was stopped".into());
        }
        let n = match f.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.kind().to_string()),
        };
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > limit {
            return Err(format!(
                "it is larger than {} KiB, far more than any KooCLI configuration (is it the right file?)",
                limit >> 10
            ));
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Reads `profile` out of the bytes of a shared configuration file (named `path` in errors).
pub fn parse_profile(
    path: &str,
    bytes: &[u8],
    profile: Option<&str>,
) -> Result<Profile, ProfileError> {
    // serde_json's messages can quote the offending value, which may be a key: only the
    // position and the kind of error are shown.
    let config: RawSharedConfig =
        serde_json::from_slice(bytes).map_err(|e| ProfileError::Malformed {
            path: path.to_string(),
            why: format!(
                "{} error at line {}, column {}",
                match e.classify() {
                    serde_json::error::Category::Io => "read",
                    serde_json::error::Category::Syntax => "JSON syntax",
                    serde_json::error::Category::Data => "unexpected value",
                    serde_json::error::Category::Eof => "unexpected end of file",
                },
                e.line(),
                e.column()
            ),
        })?;
    let name = profile
        .map(str::to_string)
        .or_else(|| non_empty(config.current.clone()))
        .unwrap_or_else(|| "default".to_string());
    let known: Vec<String> = config.profiles.iter().map(|p| p.name.clone()).collect();
    let Some(p) = config.profiles.into_iter().find(|p| p.name == name) else {
        return Err(ProfileError::NoSuchProfile {
            path: path.to_string(),
            name,
            known,
        });
    };
    let (Some(access_key), Some(secret)) = (
        non_empty(p.access_key_id),
        Some(p.secret_access_key).filter(|s| !s.trim().is_empty()),
    ) else {
        return Err(ProfileError::NoKeys {
            path: path.to_string(),
            name,
            mode: p.mode,
        });
    };
    let agency = match (non_empty(p.agency_domain_name), non_empty(p.agency_name)) {
        (Some(d), Some(a)) => Some((d, a)),
        _ => None,
    };
    Ok(Profile {
        name,
        credentials: Credentials {
            access_key,
            secret_key: Secret::new(secret.trim()),
            security_token: non_empty(p.security_token).map(Secret::new),
        },
        region: non_empty(p.region),
        project_id: non_empty(p.project_id),
        agency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{
      "current": "work",
      "profiles": [
        {"name": "default", "mode": "AKSK", "accessKeyId": "AK0", "secretAccessKey": "SK0"},
        {"name": "work", "mode": "AKSK", "accessKeyId": "AK1", "secretAccessKey": "SK-one",
         "securityToken": "", "region": "cn-north-4", "projectId": "p1",
         "agencyName": "ops", "agencyDomainName": "corp"},
        {"name": "sso", "mode": "SSO"}
      ]
    }"#;

    #[test]
    fn the_current_profile_is_the_default_and_others_are_chosen_by_name() {
        let p = parse_profile("f", FILE.as_bytes(), None);
        let Ok(p) = p else {
            unreachable!("valid: {p:?}")
        };
        assert_eq!(p.name, "work");
        assert_eq!(p.credentials.access_key, "AK1");
        assert!(p.credentials.security_token.is_none());
        assert_eq!(p.region.as_deref(), Some("cn-north-4"));
        assert_eq!(p.agency, Some(("corp".into(), "ops".into())));
        let p = parse_profile("f", FILE.as_bytes(), Some("default"));
        assert_eq!(
            p.map(|p| p.credentials.access_key).ok().as_deref(),
            Some("AK0")
        );
    }

    #[test]
    fn profile_errors_name_the_file_and_never_a_value() {
        let e = parse_profile("f", FILE.as_bytes(), Some("nope")).map(|_| ());
        assert!(
            matches!(&e, Err(ProfileError::NoSuchProfile { known, .. }) if known.len() == 3),
            "{e:?}"
        );
        // A 10 KB profile name is quoted by its start and its length.
        let long = "p".repeat(10_000);
        let e = parse_profile("f", FILE.as_bytes(), Some(&long)).map(|_| ());
        let text = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.contains("(10000 characters)") && text.len() < 300,
            "{text}"
        );
        let e = parse_profile("f", FILE.as_bytes(), Some("sso")).map(|_| ());
        assert!(matches!(e, Err(ProfileError::NoKeys { .. })), "{e:?}");
        for bad in [
            &br#"{"profiles": [{"name": "x", "secretAccessKey": 12345678}]}"#[..],
            br#"{"profiles": [ {"name": "SK-leak"#,
            b"not json",
        ] {
            let e = parse_profile("/x/config.json", bad, None).map(|_| ());
            let Err(e) = e else { unreachable!("malformed") };
            let text = e.to_string();
            assert!(matches!(e, ProfileError::Malformed { .. }), "{text}");
            assert!(text.contains("/x/config.json"), "{text}");
            assert!(
                !text.contains("12345678") && !text.contains("SK-leak"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn reads_are_bounded_and_end_on_stop() {
        let never = CancellationToken::new();
        let e = read_profile("/nonexistent/dir/config.json", None, &never)
            .await
            .map(|_| ());
        assert!(matches!(e, Err(ProfileError::Unreadable { .. })), "{e:?}");
        // An endless device: refused after the limit, naming the file and the limit.
        let e = read_profile("/dev/zero", None, &never).await.map(|_| ());
        let Err(ProfileError::Unreadable { path, why }) = e else {
            unreachable!("/dev/zero is endless: {e:?}")
        };
        assert_eq!(path, "\"/dev/zero\"");
        assert!(why.contains("larger than 1024 KiB"), "{why}");
        // A 10 KB path with an ESC: quoted short, escaped, never raw.
        let odd = format!("/tmp/\u{1b}[2J{}", "p".repeat(10_000));
        let text = read_profile(&odd, None, &never)
            .await
            .map(|_| ())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(text.len() < 600 && !text.contains('\u{1b}'), "{text}");
        assert!(
            text.contains("\\u{1b}") && text.contains("characters)"),
            "{text}"
        );
        // A FIFO nobody writes blocks its open; a stop ends the read at once.
        let dir = std::env::temp_dir().join(format!("mrs-fifo-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let fifo = dir.join("config.json");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.map(|s| s.success()).unwrap_or(false) {
            let stop = CancellationToken::new();
            let later = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                later.cancel();
            });
            let t0 = std::time::Instant::now();
            let e = read_profile(&fifo.display().to_string(), None, &stop)
                .await
                .map(|_| ());
            assert!(matches!(e, Err(ProfileError::Unreadable { .. })), "{e:?}");
            assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn renewal_margin_scales_with_the_lifetime() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let held = |life: Duration| Held {
            keys: TemporaryCredentials {
                credentials: Credentials {
                    access_key: "a".into(),
                    secret_key: Secret::new("s"),
                    security_token: None,
                },
                expires_at: t0 + life,
            },
            obtained_at: t0,
        };
        let h = held(Duration::from_secs(3));
        assert!(h.fresh(t0 + Duration::from_millis(1900)));
        assert!(!h.fresh(t0 + Duration::from_millis(2100)));
        let h = held(Duration::from_secs(3600));
        assert!(h.fresh(t0 + Duration::from_secs(3600 - 301)));
        assert!(!h.fresh(t0 + Duration::from_secs(3600 - 299)));
    }
}
