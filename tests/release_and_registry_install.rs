//! `make release` end to end: reproducible signed archives, a local HTTPS provider registry
//! (scripts/registry.py) from which the real Terraform 1.0.3 installs, verifies and pins the
//! provider, refuses a tampered archive or signature, and then plans against mrs-sim; and
//! the mirror layouts (scripts/mirror.py) that `terraform init` installs from.
//!
//! The release build is slow (LTO, one codegen unit): it happens once per run, shared by
//! every test here through a `OnceLock`, in its own target dir below target/.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use common::sim::Sim;
use common::terraform::TfWorkdir;

const NAME: &str = "terraform-provider-mrs";
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("release-test")
}

fn zip_name() -> String {
    format!("{NAME}_{VERSION}_linux_amd64.zip")
}

fn sums_name() -> String {
    format!("{NAME}_{VERSION}_SHA256SUMS")
}

/// Terraform wraps its messages to the terminal width; compare with single spaces.
fn squeezed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Two release directories from two `make release` runs of this commit, signed with a
/// key made for this run (passed in the way a releaser passes theirs).
struct Release {
    first: PathBuf,
    second: PathBuf,
    gnupg: PathBuf,
}

fn release() -> &'static Release {
    static RELEASE: OnceLock<Release> = OnceLock::new();
    RELEASE.get_or_init(|| {
        let dir = scratch();
        let _ = std::fs::remove_dir_all(&dir);
        let gnupg = dir.join("gnupg");
        std::fs::create_dir_all(&gnupg).expect("create GNUPGHOME");
        std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("chmod GNUPGHOME");
        let uid = "mrs release test <release-test@terraform-provider-mrs.invalid>";
        run(Command::new("gpg")
            .env("GNUPGHOME", &gnupg)
            .args([
                "--batch",
                "--quiet",
                "--passphrase",
                "",
                "--quick-generate-key",
            ])
            .args([uid, "rsa2048", "sign", "never"]));
        let make = |out: &Path| {
            run(Command::new("make")
                .arg("release")
                .current_dir(root())
                .env("GNUPGHOME", &gnupg)
                .env("MRS_RELEASE_GPG_KEY", uid)
                .env("RELEASE_DIR", out)
                .env_remove("SOURCE_DATE_EPOCH")
                .env_remove("RELEASE_TARGET"));
        };
        let (first, second) = (dir.join("first"), dir.join("second"));
        make(&first);
        make(&second);
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", &gnupg)
            .status();
        Release {
            first,
            second,
            gnupg,
        }
    })
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn read_string(path: &Path) -> String {
    String::from_utf8(read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The zip's SHA-256 as the signed SHA256SUMS gives it.
fn zip_sha256(dist: &Path) -> String {
    let sums = read_string(&dist.join(sums_name()));
    sums.lines()
        .find_map(|l| {
            let (hash, file) = l.split_once("  ")?;
            (file == zip_name()).then(|| hash.to_string())
        })
        .unwrap_or_else(|| panic!("{} not in SHA256SUMS:\n{sums}", zip_name()))
}

#[test]
fn make_release_twice_gives_identical_signed_files() {
    let r = release();
    let sums = read(&r.first.join(sums_name()));
    assert_eq!(
        sums,
        read(&r.second.join(sums_name())),
        "SHA256SUMS differ between two `make release` runs"
    );
    assert_eq!(
        read(&r.first.join(zip_name())),
        read(&r.second.join(zip_name())),
        "the zips differ between two `make release` runs"
    );
    let sums = String::from_utf8(sums).expect("SHA256SUMS is text");
    let listed: Vec<&str> = sums.lines().filter_map(|l| l.split("  ").nth(1)).collect();
    assert_eq!(
        listed,
        [zip_name(), format!("{NAME}_{VERSION}_manifest.json")],
        "{sums}"
    );

    let manifest: serde_json::Value = serde_json::from_slice(&read(
        &r.first.join(format!("{NAME}_{VERSION}_manifest.json")),
    ))
    .expect("manifest is JSON");
    assert_eq!(manifest["version"], 1);
    assert_eq!(
        manifest["metadata"]["protocol_versions"],
        serde_json::json!(["6.0"])
    );

    // One entry, the binary Terraform looks for, executable, with the commit's date.
    let listing = run(Command::new("unzip")
        .arg("-Z")
        .arg(r.first.join(zip_name())));
    let listing = String::from_utf8_lossy(&listing.stdout);
    let entries: Vec<&str> = listing
        .lines()
        .filter(|l| l.starts_with('-') || l.starts_with('d'))
        .collect();
    assert_eq!(entries.len(), 1, "{listing}");
    assert!(entries[0].starts_with("-rwxr-xr-x"), "{listing}");
    assert!(
        entries[0].ends_with(&format!(" {NAME}_v{VERSION}")),
        "{listing}"
    );

    // The published key alone verifies the signature.
    let verifier = scratch().join("verify-gnupg");
    let _ = std::fs::remove_dir_all(&verifier);
    std::fs::create_dir_all(&verifier).expect("create verifier GNUPGHOME");
    std::fs::set_permissions(
        &verifier,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod verifier GNUPGHOME");
    run(Command::new("gpg")
        .env("GNUPGHOME", &verifier)
        .args(["--batch", "--import"])
        .arg(r.first.join("signing-key.asc")));
    let verify = run(Command::new("gpg")
        .env("GNUPGHOME", &verifier)
        .args(["--batch", "--status-fd", "1", "--verify"])
        .arg(r.first.join(format!("{}.sig", sums_name())))
        .arg(r.first.join(sums_name())));
    let status = String::from_utf8_lossy(&verify.stdout);
    assert!(status.contains("[GNUPG:] GOODSIG "), "{status}");
    assert!(status.contains("[GNUPG:] VALIDSIG "), "{status}");
    let _ = Command::new("gpgconf")
        .args(["--kill", "gpg-agent"])
        .env("GNUPGHOME", &verifier)
        .status();
    assert!(r.gnupg.is_dir());
}

/// scripts/registry.py serving a release directory over HTTPS with its own CA.
struct Registry {
    child: Child,
    host: String,
    ca: PathBuf,
}

impl Registry {
    fn start(dist: &Path, tls_dir: &Path) -> Registry {
        let mut child = Command::new("python3")
            .arg(root().join("scripts/registry.py"))
            .arg("--dir")
            .arg(dist)
            .arg("--tls-dir")
            .arg(tls_dir)
            .arg("--mirror-dir")
            .arg(dist.join("mirror"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start scripts/registry.py");
        let stdout = child.stdout.take().expect("registry stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut next = || {
            lines
                .next()
                .and_then(Result::ok)
                .expect("a line from scripts/registry.py")
        };
        let ca_line = next();
        let ca = PathBuf::from(
            ca_line
                .strip_prefix("ca ")
                .unwrap_or_else(|| panic!("unexpected registry line {ca_line:?}")),
        );
        let listen = next();
        let host = listen
            .strip_prefix("listening on https://")
            .unwrap_or_else(|| panic!("unexpected registry line {listen:?}"))
            .to_string();
        Registry { child, host, ca }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A copy of the first release directory (mirror included) to serve or to tamper with.
fn copy_release(to: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(to);
    run(Command::new("cp").arg("-R").arg(&release().first).arg(to));
    to.to_path_buf()
}

/// Points `wd` at a CLI config with only direct installation: no dev_overrides, so the
/// provider Terraform runs is the one it installed.
fn install_directly(wd: &mut TfWorkdir, registry: &Registry) {
    let config = wd.path().join("direct.tfrc");
    std::fs::write(&config, "provider_installation {\n  direct {}\n}\n").expect("write CLI config");
    wd.set_env("TF_CLI_CONFIG_FILE", &config.to_string_lossy());
    wd.set_env("SSL_CERT_FILE", &registry.ca.to_string_lossy());
}

fn main_tf(source: &str, cluster: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    mrs = {{
      source  = "{source}"
      version = "{VERSION}"
    }}
  }}
}}

provider "mrs" {{}}

data "mrs_iam_sync_users" "c" {{
  cluster_id = "{cluster}"
}}

resource "mrs_iam_sync" "r" {{
  cluster_id = "{cluster}"
  user_names = ["bob"]
}}

output "synced_users" {{
  value = data.mrs_iam_sync_users.c.user_names
}}
"#
    )
}

#[test]
fn init_installs_from_the_local_https_registry_pins_the_zip_and_plans_against_mrs_sim() {
    let dist = copy_release(&scratch().join("served"));
    let registry = Registry::start(&dist, &scratch().join("served-tls"));
    let source = format!("{}/mrs/mrs", registry.host);

    let sim = Sim::start(&[]);
    sim.set_names("c-release", &["alice"], &["dev"]);
    let mut wd = sim.workdir();
    install_directly(&mut wd, &registry);
    wd.write_main_tf(&main_tf(&source, "c-release"));

    let init = wd.ok(&["init"]);
    let said = squeezed(&init.combined());
    // Terraform checked the signature with the key the registry published.
    assert!(
        said.contains(&format!(
            "Installed {source} v{VERSION} (self-signed, key ID "
        )),
        "{said}"
    );
    let lock = read_string(&wd.path().join(".terraform.lock.hcl"));
    assert!(lock.contains(&format!("provider \"{source}\"")), "{lock}");
    assert!(
        lock.contains(&format!("\"zh:{}\"", zip_sha256(&dist))),
        "the lock file does not pin the zip's hash:\n{lock}"
    );
    assert!(lock.contains("\"h1:"), "{lock}");

    let installed = wd.path().join(format!(
        ".terraform/providers/{source}/{VERSION}/linux_amd64/{NAME}_v{VERSION}"
    ));
    assert!(installed.is_file(), "{} missing", installed.display());

    // The installed provider, not a dev override, talks to mrs-sim: the data source is
    // read during plan and its answer shows up in the planned output.
    let plan = wd.ok(&["plan"]);
    let said = plan.combined();
    assert!(!said.contains("Provider development overrides"), "{said}");
    assert!(said.contains("mrs_iam_sync.r will be created"), "{said}");
    assert!(
        said.contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{said}"
    );
    assert!(said.contains("synced_users = ["), "{said}");
    assert!(said.contains("\"alice\""), "{said}");
}

#[test]
fn init_refuses_a_tampered_archive_and_a_tampered_signature() {
    let sim = Sim::start(&[]);
    let tampered = |what: &str, file: String, change: &dyn Fn(&mut Vec<u8>)| {
        let dist = copy_release(&scratch().join(format!("tampered-{what}")));
        let path = dist.join(file);
        let mut bytes = read(&path);
        change(&mut bytes);
        std::fs::write(&path, bytes).expect("write tampered file");
        let registry = Registry::start(&dist, &scratch().join(format!("tampered-{what}-tls")));
        let mut wd = sim.workdir();
        install_directly(&mut wd, &registry);
        wd.write_main_tf(&main_tf(&format!("{}/mrs/mrs", registry.host), "c1"));
        let out = wd.fail(&["init"]);
        assert!(
            !wd.path().join(".terraform.lock.hcl").exists(),
            "a lock file was written for a {what}"
        );
        squeezed(&out.combined())
    };

    // A byte of the binary inside the zip changed after SHA256SUMS was signed.
    let said = tampered("archive", zip_name(), &|b| {
        let mid = b.len() / 2;
        b[mid] ^= 0xff;
    });
    assert!(said.contains("Failed to install provider"), "{said}");
    assert!(
        said.contains("archive has incorrect checksum zh:")
            && said.contains(&format!("(expected zh:{})", zip_sha256(&release().first))),
        "{said}"
    );

    // The signature no longer matches SHA256SUMS.
    let said = tampered("signature", format!("{}.sig", sums_name()), &|b| {
        let last = b.len() - 1;
        b[last] ^= 0xff;
    });
    assert!(said.contains("Failed to install provider"), "{said}");
    assert!(
        said.contains("error checking signature: openpgp: invalid signature"),
        "{said}"
    );
}

#[test]
fn mirror_layout_installs_through_filesystem_and_network_mirrors() {
    let dist = copy_release(&scratch().join("mirrored"));
    let mirror = dist.join("mirror");
    let source = "terraform.local/mrs/mrs";
    let index: serde_json::Value =
        serde_json::from_slice(&read(&mirror.join(source).join("index.json"))).expect("index.json");
    assert_eq!(index["versions"][VERSION], serde_json::json!({}));
    let listed: serde_json::Value =
        serde_json::from_slice(&read(&mirror.join(source).join(format!("{VERSION}.json"))))
            .expect("VERSION.json");
    let archive = &listed["archives"]["linux_amd64"];
    assert_eq!(archive["url"], zip_name());
    let h1 = archive["hashes"][0]
        .as_str()
        .expect("an h1 hash")
        .to_string();
    assert!(h1.starts_with("h1:"), "{listed}");
    assert_eq!(
        archive["hashes"][1],
        format!("zh:{}", zip_sha256(&dist)),
        "{listed}"
    );

    let registry = Registry::start(&dist, &scratch().join("mirrored-tls"));
    let configs = [
        (
            "filesystem",
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
                mirror.display()
            ),
        ),
        (
            "network",
            format!(
                "provider_installation {{\n  network_mirror {{\n    url = \"https://{}/mirror/\"\n  }}\n}}\n",
                registry.host
            ),
        ),
    ];
    for (kind, cli_config) in configs {
        let mut wd = TfWorkdir::new();
        let config_path = wd.path().join(format!("{kind}.tfrc"));
        std::fs::write(&config_path, cli_config).expect("write CLI config");
        wd.set_env("TF_CLI_CONFIG_FILE", &config_path.to_string_lossy());
        wd.set_env("SSL_CERT_FILE", &registry.ca.to_string_lossy());
        wd.write_main_tf(&main_tf(source, "c1"));
        let init = wd.ok(&["init"]);
        let said = squeezed(&init.combined());
        // A network mirror's hashes are checked; a filesystem mirror is trusted as is.
        let how = if kind == "network" {
            "verified checksum"
        } else {
            "unauthenticated"
        };
        assert!(
            said.contains(&format!("Installed {source} v{VERSION} ({how})")),
            "{kind}: {said}"
        );
        // The h1: hash Terraform computes from the zip is the one the mirror publishes.
        let lock = read_string(&wd.path().join(".terraform.lock.hcl"));
        assert!(lock.contains(&format!("\"{h1}\"")), "{kind}: {lock}");
    }
}
