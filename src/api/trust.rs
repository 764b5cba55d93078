//! The machine's trusted CA certificates, found as Go programs on Linux find them (the
//! huaweicloud provider and Terraform among them): `SSL_CERT_FILE`, else the first system
//! bundle that exists; and every file of `SSL_CERT_DIR` (`:`-separated), else of the
//! system certificate directories. Companies behind a TLS-inspecting proxy install their
//! root there once, for every tool.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// The bundles Go's crypto/x509 tries on Linux, in its order; the first readable one wins.
const CERT_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
/// The directories Go reads every file of.
const CERT_DIRS: &[&str] = &["/etc/ssl/certs", "/etc/pki/tls/certs"];

/// A trust file larger than this is no certificate bundle (the system one is ~200 KB).
const MAX_FILE: u64 = 4 << 20;
/// At most this many files are read from all directories together.
const MAX_DIR_FILES: usize = 4096;

/// The machine's roots, read once per process: each client of a run trusts the same.
pub fn machine_roots() -> &'static [reqwest::Certificate] {
    static ROOTS: OnceLock<Vec<reqwest::Certificate>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let file = std::env::var_os("SSL_CERT_FILE").filter(|s| !s.is_empty());
        let dirs = std::env::var_os("SSL_CERT_DIR").filter(|s| !s.is_empty());
        let ders = load(
            file.map(PathBuf::from),
            dirs.map(|d| std::env::split_paths(&d).collect()),
        );
        // Trace, not debug: it lands inside whichever RPC first builds a client, where a
        // debug reader looks for that RPC's own lines.
        crate::log_trace!(
            "trusting the machine's CA certificates",
            certificates = ders.len()
        );
        ders.iter()
            .filter_map(|d| reqwest::Certificate::from_der(d).ok())
            .collect()
    })
}

/// The DER of every distinct usable certificate of `file` (else the first system bundle)
/// and of the files of `dirs` (else the system directories). Unreadable files, and
/// certificates TLS could not use as a root, are skipped, as Go skips them: one bad file
/// must not stop every call.
pub fn load(file: Option<PathBuf>, dirs: Option<Vec<PathBuf>>) -> Vec<Vec<u8>> {
    let mut found = Found::default();
    let files: Vec<PathBuf> = match file {
        Some(f) => vec![f],
        None => CERT_FILES.iter().map(PathBuf::from).collect(),
    };
    for f in &files {
        if let Some(pem) = read_small(f) {
            found.add_pem(&pem);
            break;
        }
    }
    let dirs: Vec<PathBuf> = dirs.unwrap_or_else(|| CERT_DIRS.iter().map(PathBuf::from).collect());
    let mut read = 0;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if read >= MAX_DIR_FILES {
                break;
            }
            read += 1;
            if let Some(pem) = read_small(&entry.path()) {
                found.add_pem(&pem);
            }
        }
    }
    found.ders
}

/// Certificates kept so far, each once (a directory holds a bundle's certificates again,
/// and hash-named links to each).
#[derive(Default)]
struct Found {
    seen: HashSet<Vec<u8>>,
    ders: Vec<Vec<u8>>,
}

impl Found {
    fn add_pem(&mut self, pem: &[u8]) {
        for der in CertificateDer::pem_slice_iter(pem).flatten() {
            let bytes = der.as_ref().to_vec();
            if self.seen.contains(&bytes) {
                continue;
            }
            // What the TLS library refuses as a root would make the client unbuildable.
            let mut probe = rustls::RootCertStore::empty();
            if probe.add(der).is_ok() {
                self.seen.insert(bytes.clone());
                self.ders.push(bytes);
            }
        }
    }
}

/// A regular file's bytes (links followed) when it is not too large; else nothing.
fn read_small(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    std::fs::read(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_ca_pem() -> String {
        let Ok(key) = rcgen::KeyPair::generate() else {
            unreachable!("a key pair")
        };
        let Ok(mut params) = rcgen::CertificateParams::new(Vec::<String>::new()) else {
            unreachable!("certificate parameters")
        };
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let Ok(cert) = params.self_signed(&key) else {
            unreachable!("a self-signed CA")
        };
        cert.pem()
    }

    #[test]
    fn the_file_and_directories_given_replace_the_system_ones() {
        let dir = std::env::temp_dir().join(format!("mrs-trust-{}", fastrand::u64(..)));
        let sub = dir.join("certs");
        let _ = std::fs::create_dir_all(&sub);
        let (a, b) = (test_ca_pem(), test_ca_pem());
        let _ = std::fs::write(
            dir.join("bundle.pem"),
            format!("{a}\nnot a certificate\n{a}"),
        );
        let _ = std::fs::write(sub.join("b.pem"), &b);
        let _ = std::fs::write(sub.join("junk.txt"), "junk");
        let only_file = load(Some(dir.join("bundle.pem")), Some(vec![]));
        assert_eq!(only_file.len(), 1, "one certificate, kept once");
        let both = load(
            Some(dir.join("missing.pem")),
            Some(vec![sub.clone(), dir.join("no-such-dir")]),
        );
        assert_eq!(both.len(), 1, "the directory's certificate");
        assert_ne!(both, only_file);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_system_bundle_is_found_where_go_looks() {
        // Every Linux this runs on has one of Go's bundles (the test image has Debian's).
        let any = CERT_FILES.iter().any(|f| Path::new(f).is_file());
        let roots = load(None, None);
        assert_eq!(any, !roots.is_empty(), "{} roots", roots.len());
    }
}
