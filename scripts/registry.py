#!/usr/bin/env python3
# Serves a release directory (scripts/release.sh output) over HTTPS as a Terraform provider
# registry, so a real `terraform init` can install, verify and pin the provider locally.
#
#   python3 scripts/registry.py --dir target/dist [--namespace mrs] [--listen 127.0.0.1:0]
#                               [--tls-dir DIR] [--mirror-dir target/dist/mirror]
#
# It makes its own CA and a server certificate for 127.0.0.1 and localhost with openssl
# (in --tls-dir, default a fresh temporary directory) and prints, one per line:
#   ca /path/to/ca.pem            -> give Terraform SSL_CERT_FILE=/path/to/ca.pem
#   listening on https://127.0.0.1:PORT
# Then the provider's source address is `127.0.0.1:PORT/NAMESPACE/mrs`.
#
# Protocol (developer.hashicorp.com, "Provider Registry Protocol"):
#   GET /.well-known/terraform.json                       {"providers.v1": "/v1/providers/"}
#   GET /v1/providers/NS/TYPE/versions                    versions, protocols, platforms
#   GET /v1/providers/NS/TYPE/VERSION/download/OS/ARCH    filename, URLs, shasum, signing key
#   GET /files/NAME                                       the release files themselves
#   GET /mirror/...                                       --mirror-dir as static files: the
#                                                         provider network mirror protocol
# The download answer's `shasum` comes from the signed SHA256SUMS, as a registry records it
# at publication, not from the zip on disk: a zip changed after signing is then caught.
# Files are read on every request, so a test can change them while the server runs.
import argparse
import http.server
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.parse

ZIP_RE = re.compile(r"^terraform-provider-([a-z0-9-]+)_([0-9A-Za-z.+-]+)_([a-z0-9]+)_([a-z0-9]+)\.zip$")
SUMS_RE = re.compile(r"^terraform-provider-([a-z0-9-]+)_([0-9A-Za-z.+-]+)_SHA256SUMS$")


def run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_tls(tls_dir):
    """A CA and a server certificate it signed, valid for 127.0.0.1 and localhost."""
    ca_key, ca_pem = os.path.join(tls_dir, "ca.key"), os.path.join(tls_dir, "ca.pem")
    key, csr, pem = (os.path.join(tls_dir, n) for n in ("server.key", "server.csr", "server.pem"))
    ext = os.path.join(tls_dir, "server.ext")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_pem, "-days", "2",
        "-subj", "/CN=mrs local registry CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    with open(ext, "w") as f:
        # Go checks the subjectAltName, never the CN.
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
        "-CAcreateserial", "-out", pem, "-days", "2", "-extfile", ext)
    return ca_pem, pem, key


def key_id(armor_path):
    """The signing key's long ID, as the registry protocol's `key_id` gives it."""
    with tempfile.TemporaryDirectory(prefix="mrs-registry-gpg-") as home:
        out = subprocess.run(
            ["gpg", "--batch", "--with-colons", "--import-options", "show-only", "--import", armor_path],
            check=True, capture_output=True, text=True, env={**os.environ, "GNUPGHOME": home},
        ).stdout
    for line in out.splitlines():
        fields = line.split(":")
        if fields[0] == "pub":
            return fields[4].upper()
    raise SystemExit(f"registry: no public key in {armor_path}")


class Release:
    """What the release directory holds now, read fresh for every request."""

    def __init__(self, root, namespace):
        self.root = root
        self.namespace = namespace

    def sums(self, ptype, version):
        """{zip filename: sha256 hex} from the version's SHA256SUMS, or None."""
        path = os.path.join(self.root, f"terraform-provider-{ptype}_{version}_SHA256SUMS")
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        out = {}
        for line in lines:
            parts = line.split()
            if len(parts) == 2:
                out[parts[1]] = parts[0]
        return out

    def protocols(self, ptype, version):
        path = os.path.join(self.root, f"terraform-provider-{ptype}_{version}_manifest.json")
        try:
            with open(path) as f:
                return json.load(f)["metadata"]["protocol_versions"]
        except (OSError, ValueError, KeyError, TypeError):
            return ["6.0"]

    def versions(self, ptype):
        found = []
        for name in sorted(os.listdir(self.root)):
            m = SUMS_RE.match(name)
            if not m or m.group(1) != ptype:
                continue
            version = m.group(2)
            platforms = []
            for zip_name in sorted(self.sums(ptype, version) or {}):
                z = ZIP_RE.match(zip_name)
                if z and z.group(1) == ptype and z.group(2) == version:
                    platforms.append({"os": z.group(3), "arch": z.group(4)})
            found.append({"version": version, "protocols": self.protocols(ptype, version),
                          "platforms": platforms})
        return found


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "mrs-local-registry"

    def log_message(self, fmt, *args):
        sys.stderr.write("registry: " + (fmt % args) + "\n")

    def send_json(self, status, body):
        data = json.dumps(body, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def not_found(self):
        self.send_json(404, {"errors": ["Not Found"]})

    def send_file(self, path, content_type):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return self.not_found()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def base(self):
        return f"https://{self.headers.get('Host') or self.server.host_port}"

    def do_GET(self):
        release = self.server.release
        path = urllib.parse.urlsplit(self.path).path
        parts = [p for p in path.split("/") if p]
        if path == "/.well-known/terraform.json":
            return self.send_json(200, {"providers.v1": "/v1/providers/"})
        if parts[:1] == ["files"] and len(parts) == 2 and not parts[1].startswith("."):
            kind = "application/zip" if parts[1].endswith(".zip") else "application/octet-stream"
            return self.send_file(os.path.join(release.root, parts[1]), kind)
        if parts[:1] == ["mirror"] and self.server.mirror_dir:
            if any(p in (".", "..") or p.startswith(".") for p in parts[1:]):
                return self.not_found()
            kind = "application/json" if path.endswith(".json") else "application/zip"
            return self.send_file(os.path.join(self.server.mirror_dir, *parts[1:]), kind)
        if parts[:2] != ["v1", "providers"] or len(parts) < 5 or parts[2] != release.namespace:
            return self.not_found()
        ptype = parts[3]
        if len(parts) == 5 and parts[4] == "versions":
            versions = release.versions(ptype)
            if not versions:
                return self.not_found()
            return self.send_json(200, {"versions": versions})
        if len(parts) == 8 and parts[5] == "download":
            version, os_, arch = parts[4], parts[6], parts[7]
            sums = release.sums(ptype, version)
            filename = f"terraform-provider-{ptype}_{version}_{os_}_{arch}.zip"
            if not sums or filename not in sums:
                return self.not_found()
            sums_name = f"terraform-provider-{ptype}_{version}_SHA256SUMS"
            armor_path = os.path.join(release.root, "signing-key.asc")
            try:
                with open(armor_path) as f:
                    armor = f.read()
            except OSError:
                return self.send_json(500, {"errors": ["no signing-key.asc in the release directory"]})
            return self.send_json(200, {
                "protocols": release.protocols(ptype, version),
                "os": os_,
                "arch": arch,
                "filename": filename,
                "download_url": f"{self.base()}/files/{filename}",
                "shasums_url": f"{self.base()}/files/{sums_name}",
                "shasums_signature_url": f"{self.base()}/files/{sums_name}.sig",
                "shasum": sums[filename],
                "signing_keys": {"gpg_public_keys": [{
                    "key_id": self.server.key_id,
                    "ascii_armor": armor,
                    "trust_signature": "",
                    "source": "",
                    "source_url": None,
                }]},
            })
        return self.not_found()


def main():
    p = argparse.ArgumentParser(description="A local HTTPS provider registry for a release directory.")
    p.add_argument("--dir", required=True, help="the release directory (scripts/release.sh output)")
    p.add_argument("--namespace", default="mrs")
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT; port 0 picks a free one")
    p.add_argument("--tls-dir", help="where the CA and server certificate are written")
    p.add_argument("--mirror-dir", help="also serve this provider mirror tree under /mirror/")
    args = p.parse_args()

    root = os.path.abspath(args.dir)
    if not os.path.isfile(os.path.join(root, "signing-key.asc")):
        raise SystemExit(f"registry: {root} has no signing-key.asc; run scripts/release.sh first")
    for tool in ("openssl", "gpg"):
        if shutil.which(tool) is None:
            raise SystemExit(f"registry: {tool} is required")
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"registry: --listen wants HOST:PORT, got {args.listen!r}")
    tls_dir = args.tls_dir or tempfile.mkdtemp(prefix="mrs-registry-tls-")
    os.makedirs(tls_dir, exist_ok=True)
    ca_pem, cert, key = make_tls(tls_dir)

    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.release = Release(root, args.namespace)
    server.mirror_dir = os.path.abspath(args.mirror_dir) if args.mirror_dir else None
    server.key_id = key_id(os.path.join(root, "signing-key.asc"))
    server.host_port = f"{host}:{server.server_address[1]}"
    print(f"ca {ca_pem}", flush=True)
    print(f"listening on https://{server.host_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
