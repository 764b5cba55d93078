//! The machine's processes as /proc tells them: enough to find a test's provider
//! processes, see whether one is still alive, and read its peak RSS.

use std::fs;

/// One line of /proc/PID/stat, the fields the tests use.
#[derive(Clone, Debug)]
pub struct Proc {
    pub pid: u32,
    /// The command name, cut by the kernel to 15 bytes.
    pub comm: String,
    /// `R`, `S`, `Z` (exited, not yet reaped), ...
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
}

impl Proc {
    /// The process `pid`, if it exists.
    pub fn of(pid: u32) -> Option<Proc> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid pgrp ..."; comm may hold spaces, so split after ')'.
        let (open, close) = (stat.find('(')?, stat.rfind(')')?);
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next()?.chars().next()?;
        let ppid = rest.next()?.parse().ok()?;
        let pgrp = rest.next()?.parse().ok()?;
        Some(Proc {
            pid,
            comm: stat[open + 1..close].to_string(),
            state,
            ppid,
            pgrp,
        })
    }

    /// Every process of the machine.
    pub fn all() -> Vec<Proc> {
        let Ok(dir) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter_map(Proc::of)
            .collect()
    }

    /// Whether this is a `terraform-provider-mrs` (or any provider) binary.
    pub fn is_provider(&self) -> bool {
        self.comm.starts_with("terraform-provi")
    }

    /// Whether `pid` still runs: it exists and has not exited (a zombie has).
    pub fn alive(pid: u32) -> bool {
        Proc::of(pid).is_some_and(|p| p.state != 'Z')
    }

    /// The peak resident set size (VmHWM) in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()?
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}
