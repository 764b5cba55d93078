//! Drives the real `terraform` binary (1.0.3 from tools/, or `TERRAFORM_BIN`) in a throwaway
//! directory, with this crate's provider wired in through `dev_overrides`, so no
//! `terraform init` is needed.
//!
//! A missing tool is a failed test, never a skipped one: run `scripts/install-tools.sh`
//! (or `make tools`). `make test` (scripts/run-tests.py) runs every test that reaches
//! `terraform_bin` once more on the newest Terraform of the machine: each call records the
//! calling test's name in the file named by `MRS_TEST_TERRAFORM_LOG`.

// Each test file compiles its own copy of this module and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The provider's source address, as example configs write it in `required_providers`.
pub const MRS_SOURCE: &str = "terraform.local/mrs/mrs";
/// The null provider's source address (the Go provider the harness is proven against).
pub const NULL_SOURCE: &str = "registry.terraform.io/hashicorp/null";
/// The `terraform` block that selects this provider, then an empty `provider "mrs"`.
pub const MRS_HEADER: &str = r#"terraform {
  required_providers {
    mrs = {
      source = "terraform.local/mrs/mrs"
    }
  }
}

provider "mrs" {}
"#;

/// How long one terraform command may run before it is killed and the test fails.
/// `TF_TEST_TIMEOUT_SECS` overrides it.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Subcommands that accept `-no-color`; the harness adds it to these.
const NO_COLOR_COMMANDS: &[&str] = &[
    "apply", "console", "destroy", "import", "init", "output", "plan", "refresh", "show", "taint",
    "untaint", "validate", "test",
];

const INSTALL_HINT: &str = "run `scripts/install-tools.sh` (or `make tools`) first";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The pinned oldest Terraform the provider supports, as scripts/install-tools.sh installs it.
pub fn pinned_terraform_bin() -> PathBuf {
    manifest_dir().join("tools/bin/terraform")
}

/// The Terraform binary: `$TERRAFORM_BIN`, else `tools/bin/terraform` in the crate.
/// Panics (so the test fails) when it is not there.
pub fn terraform_bin() -> PathBuf {
    record_terraform_use();
    let bin = match std::env::var_os("TERRAFORM_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => manifest_dir().join("tools/bin/terraform"),
    };
    if !bin.is_file() {
        panic!(
            "terraform binary not found at {} (TERRAFORM_BIN is {:?}): {INSTALL_HINT}",
            bin.display(),
            std::env::var_os("TERRAFORM_BIN"),
        );
    }
    bin
}

/// Appends the running test's name to `$MRS_TEST_TERRAFORM_LOG`, so the test runner knows,
/// without a hand-kept list, which tests to run again on another Terraform. libtest names
/// each test's thread after the test; any other thread is written as `?` (the runner then
/// runs the whole test binary again).
fn record_terraform_use() {
    record_in_test_log("");
}

/// One line in `$MRS_TEST_TERRAFORM_LOG`: the test's name, then `note` after a tab.
fn record_in_test_log(note: &str) {
    let Some(log) = std::env::var_os("MRS_TEST_TERRAFORM_LOG") else {
        return;
    };
    let current = thread::current();
    let name = match current.name() {
        Some(n) if n != "main" => n,
        _ => "?",
    };
    let line = if note.is_empty() {
        format!("{name}\n")
    } else {
        format!("{name}\t{note}\n")
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
    if let Err(e) = written {
        panic!("recording this test in {}: {e}", Path::new(&log).display());
    }
}

/// The version of the Terraform the tests drive (`terraform_bin`), as (major, minor,
/// patch); asked once per test binary.
pub fn version() -> (u32, u32, u32) {
    static VERSION: OnceLock<Result<(u32, u32, u32), String>> = OnceLock::new();
    let bin = terraform_bin();
    let found = VERSION.get_or_init(|| {
        let out = Command::new(&bin)
            .args(["version", "-json"])
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .map_err(|e| format!("running {} version: {e}", bin.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("`terraform version -json` printed {text:?}: {e}"))?;
        json["terraform_version"]
            .as_str()
            .and_then(parse_version)
            .ok_or_else(|| format!("no terraform_version in {json}"))
    });
    match found {
        Ok(v) => *v,
        Err(e) => panic!("{e}"),
    }
}

/// "1.11.4" (or "1.6.0-beta1") as (1, 11, 4).
pub fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let core = s.trim().trim_start_matches('v');
    let core = core.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

/// True when the Terraform the tests drive is `major.minor` or newer.
pub fn at_least(major: u32, minor: u32) -> bool {
    version() >= (major, minor, 0)
}

/// For a test of a feature of Terraform >= `major.minor`: true when this Terraform has it;
/// otherwise prints a line saying the test does nothing on this version (the test then
/// returns early; `make test` runs it again on the newest Terraform of the machine).
pub fn requires(major: u32, minor: u32, feature: &str) -> bool {
    if at_least(major, minor) {
        return true;
    }
    let (a, b, c) = version();
    let note = format!(
        "returned early on Terraform {a}.{b}.{c}: needs Terraform >= {major}.{minor} for {feature}"
    );
    println!("{note}");
    // libtest hides a passing test's output: the log tells the runner's summary.
    record_in_test_log(&note);
    false
}

/// The directory holding `terraform-provider-null` (for a `dev_overrides` entry).
pub fn null_provider_dir() -> PathBuf {
    let dir = manifest_dir().join("tools/null-provider");
    if !dir.join("terraform-provider-null").is_file() {
        panic!(
            "null provider not found in {}: {INSTALL_HINT}",
            dir.display()
        );
    }
    dir
}

/// The directory holding this crate's freshly built `terraform-provider-mrs`.
pub fn mrs_provider_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_terraform-provider-mrs"));
    bin.parent()
        .unwrap_or_else(|| panic!("provider binary path {} has no parent", bin.display()))
        .to_path_buf()
}

/// What one terraform command did.
#[derive(Debug)]
pub struct TfOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl TfOutput {
    /// The exit code; -1 when terraform was killed by a signal.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// stdout and stderr together, for `contains` checks that don't care which.
    pub fn combined(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The exit status and everything printed, under a heading.
    pub fn describe(&self, what: &str) -> String {
        format!(
            "{what} ({})\n----- stdout -----\n{}\n----- stderr -----\n{}\n------------------",
            self.status, self.stdout, self.stderr
        )
    }
}

/// A fresh directory to run terraform in, removed on drop unless the test failed
/// (or `TF_TEST_KEEP=1`), so a failure can be inspected.
///
/// Layout: `<tmp>/work` is terraform's working directory (main.tf, state);
/// `<tmp>/cli.tfrc` the CLI config; `<tmp>/home` the HOME terraform sees, so nothing in
/// the user's ~/.terraform.d or ~/.terraformrc changes what a test does.
pub struct TfWorkdir {
    root: PathBuf,
    work: PathBuf,
    cli_config: PathBuf,
    overrides: BTreeMap<String, PathBuf>,
    env: BTreeMap<String, String>,
}

impl TfWorkdir {
    /// A workdir whose CLI config overrides `terraform.local/mrs/mrs` with this crate's
    /// provider binary.
    pub fn new() -> Self {
        Self::with_overrides(&[])
    }

    /// Like `new`, plus more `dev_overrides` entries: (source address, directory holding
    /// `terraform-provider-<type>`).
    pub fn with_overrides(extra: &[(&str, &Path)]) -> Self {
        let root = make_temp_dir();
        let work = root.join("work");
        let home = root.join("home");
        for d in [&work, &home] {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("creating {}: {e}", d.display()));
        }
        let mut overrides = BTreeMap::new();
        overrides.insert(MRS_SOURCE.to_string(), mrs_provider_dir());
        for (addr, dir) in extra {
            overrides.insert((*addr).to_string(), dir.to_path_buf());
        }
        let wd = TfWorkdir {
            cli_config: root.join("cli.tfrc"),
            root,
            work,
            overrides,
            env: BTreeMap::new(),
        };
        wd.write_cli_config();
        wd
    }

    /// A fresh, empty workdir with the same `dev_overrides` and environment: another
    /// Terraform user pointed at the same providers and API (e.g. to import into).
    pub fn fresh_like(&self) -> Self {
        let extra: Vec<(&str, &Path)> = self
            .overrides
            .iter()
            .map(|(addr, dir)| (addr.as_str(), dir.as_path()))
            .collect();
        let mut wd = Self::with_overrides(&extra);
        for (k, v) in &self.env {
            wd.set_env(k, v);
        }
        wd
    }

    /// Terraform's working directory.
    pub fn path(&self) -> &Path {
        &self.work
    }

    /// The CLI config file passed as `TF_CLI_CONFIG_FILE`.
    pub fn cli_config_path(&self) -> &Path {
        &self.cli_config
    }

    /// Sets an environment variable for every later terraform command (and so for the
    /// providers it starts), e.g. `HW_ACCESS_KEY` or `HW_MRS_ENDPOINT`.
    pub fn set_env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.insert(key.to_string(), value.to_string());
        self
    }

    /// Builder form of `set_env`.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.set_env(key, value);
        self
    }

    /// Adds or replaces a `dev_overrides` entry and rewrites the CLI config.
    pub fn add_override(&mut self, source: &str, dir: &Path) -> &mut Self {
        self.overrides.insert(source.to_string(), dir.to_path_buf());
        self.write_cli_config();
        self
    }

    /// Writes `main.tf`, replacing any previous one.
    pub fn write_main_tf(&self, contents: &str) {
        self.write_file("main.tf", contents);
    }

    /// Writes a file (relative to the working directory), creating parent directories.
    pub fn write_file(&self, rel: &str, contents: &str) {
        let path = self.work.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
        }
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// Runs `terraform ARGS...` (with `-no-color` added where the subcommand takes it)
    /// and returns whatever happened. Panics only if terraform cannot be started or
    /// runs past the timeout.
    pub fn run(&self, args: &[&str]) -> TfOutput {
        let (child, full) = self.start(args);
        let out = wait_with_timeout(child, timeout());
        match out {
            Ok(out) => out,
            Err(out) => panic!(
                "{}",
                out.describe(&format!(
                    "terraform {} timed out after {:?} in {}",
                    full.join(" "),
                    timeout(),
                    self.work.display()
                ))
            ),
        }
    }

    /// Starts `terraform ARGS...` like `run` but returns at once, so a test can act while
    /// it runs (e.g. interrupt it); finish with `TfChild::wait`.
    pub fn spawn(&self, args: &[&str]) -> TfChild {
        let (child, full) = self.start(args);
        TfChild {
            child: Some(child),
            what: full.join(" "),
        }
    }

    fn start<'a>(&self, args: &[&'a str]) -> (Child, Vec<&'a str>) {
        let mut full: Vec<&str> = args.to_vec();
        if let Some(sub) = args.first() {
            if NO_COLOR_COMMANDS.contains(sub) && !args.contains(&"-no-color") {
                full.insert(1, "-no-color");
            }
        }
        let bin = terraform_bin();
        let mut cmd = Command::new(&bin);
        cmd.args(&full)
            .current_dir(&self.work)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Settings in the caller's environment that would change what terraform does.
        for (key, _) in std::env::vars_os() {
            if let Some(k) = key.to_str() {
                if k.starts_with("TF_") && !k.starts_with("TF_LOG") {
                    cmd.env_remove(k);
                }
            }
        }
        cmd.env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_INPUT", "0")
            .env("HOME", self.root.join("home"))
            .envs(&self.env);
        // Its own process group, so a timeout can kill the providers it started too.
        cmd.process_group(0);

        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        (child, full)
    }

    /// Runs terraform and panics, showing all output, unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> TfOutput {
        let out = self.run(args);
        if !out.status.success() {
            panic!(
                "{}",
                out.describe(&format!(
                    "terraform {} failed in {}",
                    args.join(" "),
                    self.work.display()
                ))
            );
        }
        out
    }

    /// Runs terraform and panics, showing all output, if it exits 0.
    pub fn fail(&self, args: &[&str]) -> TfOutput {
        let out = self.run(args);
        if out.status.success() {
            panic!(
                "{}",
                out.describe(&format!(
                    "terraform {} succeeded but was expected to fail, in {}",
                    args.join(" "),
                    self.work.display()
                ))
            );
        }
        out
    }

    /// The current state as `terraform show -json` prints it.
    pub fn state_json(&self) -> serde_json::Value {
        let out = self.ok(&["show", "-json"]);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}",
                out.describe(&format!("terraform show -json printed invalid JSON: {e}"))
            )
        })
    }

    /// `terraform plan -detailed-exitcode`: 0 = no changes, 2 = changes. Panics, showing
    /// the output, on anything else (an error); use `run` to look at a failing plan.
    pub fn plan_exit_code(&self) -> i32 {
        let out = self.run(&["plan", "-detailed-exitcode"]);
        match out.code() {
            0 | 2 => out.code(),
            _ => panic!(
                "{}",
                out.describe(&format!(
                    "terraform plan -detailed-exitcode failed in {}",
                    self.work.display()
                ))
            ),
        }
    }

    fn write_cli_config(&self) {
        let mut s = String::from("provider_installation {\n  dev_overrides {\n");
        for (addr, dir) in &self.overrides {
            s.push_str(&format!(
                "    \"{}\" = \"{}\"\n",
                hcl_escape(addr),
                hcl_escape(&dir.to_string_lossy())
            ));
        }
        s.push_str("  }\n  direct {}\n}\n");
        std::fs::write(&self.cli_config, s)
            .unwrap_or_else(|e| panic!("writing {}: {e}", self.cli_config.display()));
    }
}

impl Default for TfWorkdir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TfWorkdir {
    fn drop(&mut self) {
        let keep = std::env::var("TF_TEST_KEEP").is_ok_and(|v| v == "1");
        if thread::panicking() || keep {
            eprintln!("terraform workdir kept: {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// A terraform command started by `TfWorkdir::spawn`. Dropping it unwaited kills its
/// process group, so a failing test leaves no terraform or provider behind.
pub struct TfChild {
    child: Option<Child>,
    what: String,
}

impl TfChild {
    /// Terraform's process id (also its process group id).
    pub fn id(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Sends a signal (e.g. "INT") to terraform's whole process group, as a terminal's
    /// Ctrl-C does. Terraform 1.0.3 runs under panicwrap, whose outer process ignores
    /// SIGINT, so signalling the pid alone would do nothing; providers ignore SIGINT and
    /// hear of it from terraform (StopProvider).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), "--", &format!("-{}", self.id())])
            .status()
            .unwrap_or_else(|e| panic!("running kill: {e}"));
        assert!(status.success(), "kill -{sig} {} failed", self.id());
    }

    /// Waits up to `limit` for terraform to exit; panics, showing its output, if it
    /// does not.
    pub fn wait(mut self, limit: Duration) -> TfOutput {
        let child = self.child.take().expect("a TfChild is waited once");
        match wait_with_timeout(child, limit) {
            Ok(out) => out,
            Err(out) => panic!(
                "{}",
                out.describe(&format!(
                    "terraform {} did not exit within {limit:?}",
                    self.what
                ))
            ),
        }
    }
}

impl Drop for TfChild {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The users and groups a request body (or a state) lists, each sorted.
pub fn names_of(body: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    (
        sorted_strings(&body["user_names"]),
        sorted_strings(&body["group_names"]),
    )
}

/// The strings of a JSON array, sorted; empty for anything that is not an array.
pub fn sorted_strings(v: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Finds a resource (e.g. `null_resource.a`, `module.m.x.y`, `data.d.e`) in the state
/// JSON of `terraform show -json`, searching child modules too.
pub fn state_resource<'a>(
    state: &'a serde_json::Value,
    address: &str,
) -> Option<&'a serde_json::Value> {
    fn walk<'a>(module: &'a serde_json::Value, address: &str) -> Option<&'a serde_json::Value> {
        let found = module["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["address"] == address));
        found.or_else(|| {
            module["child_modules"]
                .as_array()
                .and_then(|ms| ms.iter().find_map(|m| walk(m, address)))
        })
    }
    walk(&state["values"]["root_module"], address)
}

fn hcl_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn timeout() -> Duration {
    std::env::var("TF_TEST_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT)
}

fn make_temp_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::temp_dir();
    for _ in 0..100 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("mrs-tf-{}-{n}-{nanos:x}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("creating temp dir {}: {e}", dir.display()),
        }
    }
    panic!("could not create a fresh temp dir in {}", base.display());
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for terraform; on timeout kills its whole process group and returns Err with
/// what it printed so far.
fn wait_with_timeout(mut child: Child, limit: Duration) -> Result<TfOutput, TfOutput> {
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < limit => thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                timed_out = true;
                // The group id is the child's pid (process_group(0)).
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.kill();
                break child.wait().expect("waiting for killed terraform");
            }
            Err(e) => panic!("waiting for terraform: {e}"),
        }
    };
    let out = TfOutput {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if timed_out {
        Err(out)
    } else {
        Ok(out)
    }
}

/// `text` with every run of whitespace as one space: Terraform wraps diagnostics at its
/// terminal width, so a test compares word by word.
pub fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Owned strings, for comparing name lists.
pub fn v(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}
