#!/usr/bin/env bash
# Builds the release files the Terraform Registry and `terraform init` expect, for one platform:
#   terraform-provider-mrs_{VERSION}_{OS}_{ARCH}.zip   holding terraform-provider-mrs_v{VERSION}
#   terraform-provider-mrs_{VERSION}_manifest.json     protocol_versions ["6.0"]
#   terraform-provider-mrs_{VERSION}_SHA256SUMS        every zip in the directory + the manifest
#   terraform-provider-mrs_{VERSION}_SHA256SUMS.sig    detached binary GPG signature of it
#   signing-key.asc                                    the public key, for the registry to publish
#   mirror/                                            the zips as a provider mirror (scripts/mirror.py)
#
# Environment:
#   MRS_RELEASE_GPG_KEY  the key (ID or fingerprint, in the caller's GNUPGHOME) to sign with.
#                        Unset: a throwaway key kept in target/release-gnupg, made on first
#                        use, good for tests and local registries only.
#   RELEASE_DIR          where the files go (default target/dist). Zips of other platforms
#                        already there (from CI) are kept and covered by SHA256SUMS.
#   RELEASE_TARGET       the Rust target triple (default: the host's); its OS/ARCH name
#                        the zip. Other platforms are built by .github/workflows/release.yml.
#   RELEASE_SKIP_BUILD=1 package an already built binary (CI builds in its own step).
#   RELEASE_BUILD_ONLY=1 build, print the binary's path and stop (CI's per-platform jobs).
#   SOURCE_DATE_EPOCH    the zip entries' mtime (default: the HEAD commit's time).
#   MIRROR_SOURCE        the address the mirror/ tree is laid out for
#                        (default terraform.local/mrs/mrs, as in examples/).
#
# Reproducible: the same commit and toolchain give the same binary and zip bytes. The
# build runs in its own target dir with source paths remapped, so neither the checkout's
# location nor the other builds in target/ change the bytes.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

die() {
    echo "release: error: $*" >&2
    exit 1
}

name=terraform-provider-mrs
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
    die "could not read a semantic version from Cargo.toml (got '${version}')"

host_triple="$(rustc -vV | sed -n 's/^host: //p')"
triple="${RELEASE_TARGET:-$host_triple}"

# The registry's OS and ARCH names (Go's GOOS/GOARCH) for each Rust target we release.
case "$triple" in
    x86_64-unknown-linux-gnu) os=linux arch=amd64 ;;
    aarch64-unknown-linux-gnu) os=linux arch=arm64 ;;
    i686-unknown-linux-gnu) os=linux arch=386 ;;
    armv7-unknown-linux-gnueabihf) os=linux arch=arm ;;
    x86_64-apple-darwin) os=darwin arch=amd64 ;;
    aarch64-apple-darwin) os=darwin arch=arm64 ;;
    x86_64-pc-windows-msvc) os=windows arch=amd64 ;;
    aarch64-pc-windows-msvc) os=windows arch=arm64 ;;
    x86_64-unknown-freebsd) os=freebsd arch=amd64 ;;
    *) die "no registry platform known for Rust target ${triple}" ;;
esac
exe=""
[[ "$os" == windows ]] && exe=".exe"

out="${RELEASE_DIR:-$root/target/dist}"
build_dir="${RELEASE_BUILD_DIR:-$root/target/release-build}"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"

# --- build -------------------------------------------------------------------------------
bin="${build_dir}/${triple}/release/${name}${exe}"
if [[ "${RELEASE_SKIP_BUILD:-0}" != 1 ]]; then
    # Build scripts (ring's, via cc) rerun when these change, and `cargo test` sets them
    # for the tests it runs: the release must not rebuild because a test called it.
    while read -r var; do
        unset "$var"
    done < <(compgen -e | grep -E '^(CARGO_(PKG_|MANIFEST_|CRATE_|BIN_|PRIMARY_|TARGET_TMPDIR)|OUT_DIR$)' || true)
    # Paths compiled into panic messages and debug info name the checkout and the cargo
    # home; map both to constants. With --target, RUSTFLAGS reach only the target's code,
    # not build scripts, which is all that ends up in the binary.
    export RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=${root}=/build/${name} --remap-path-prefix=${cargo_home}=/cargo"
    echo "release: building ${name} ${version} for ${triple}" >&2
    start=$SECONDS
    CARGO_TARGET_DIR="$build_dir" cargo build --locked --release --bin "$name" --target "$triple"
    echo "release: build took $((SECONDS - start)) s" >&2
fi
[[ -f "$bin" ]] || die "no binary at ${bin}"
if [[ "${RELEASE_BUILD_ONLY:-0}" == 1 ]]; then
    echo "$bin"
    exit 0
fi

# --- signing key -------------------------------------------------------------------------
command -v gpg >/dev/null 2>&1 || die "gpg is required (Debian: apt-get install gnupg)"
local_key=0
if [[ -n "${MRS_RELEASE_GPG_KEY:-}" ]]; then
    key="$MRS_RELEASE_GPG_KEY"
else
    # A local throwaway key: never committed (target/ is ignored), never a release key.
    export GNUPGHOME="$root/target/release-gnupg"
    if ! gpg --batch --list-secret-keys "${name} local test key" >/dev/null 2>&1; then
        mkdir -p "$GNUPGHOME"
        chmod 0700 "$GNUPGHOME"
        echo "release: making a throwaway signing key in ${GNUPGHOME} (local and test use only)" >&2
        # RSA: the key types the Terraform Registry accepts are RSA and DSA.
        gpg --batch --quiet --passphrase '' --quick-generate-key \
            "${name} local test key <local-test@${name}.invalid>" rsa3072 sign never
    fi
    key="${name} local test key"
    local_key=1
fi

# --- package -----------------------------------------------------------------------------
epoch="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}"
mkdir -p "$out"
zip_name="${name}_${version}_${os}_${arch}.zip"
manifest_name="${name}_${version}_manifest.json"
sums_name="${name}_${version}_SHA256SUMS"

python3 - "$bin" "${name}_v${version}${exe}" "$epoch" "${out}/${zip_name}.partial" <<'PY'
# One entry, fixed mtime and mode, no extra fields: the same binary always gives the
# same zip bytes.
import sys, time, zipfile
src, entry, epoch, dest = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
# DOS time has two-second steps and starts at 1980.
when = time.gmtime(max(epoch, 315532800))[:6]
info = zipfile.ZipInfo(entry, date_time=when)
info.create_system = 3  # Unix, so external_attr carries the mode
info.external_attr = (0o100755 & 0xFFFF) << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f:
    data = f.read()
with zipfile.ZipFile(dest, "w") as z:
    z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
PY
mv -f "${out}/${zip_name}.partial" "${out}/${zip_name}"

printf '{\n  "version": 1,\n  "metadata": {\n    "protocol_versions": ["6.0"]\n  }\n}\n' >"${out}/${manifest_name}"

# Every platform's zip of this version in the directory, sorted, plus the manifest.
(
    cd "$out"
    LC_ALL=C ls -1 "${name}_${version}_"*.zip "$manifest_name" | LC_ALL=C sort | xargs sha256sum
) >"${out}/${sums_name}.partial"
mv -f "${out}/${sums_name}.partial" "${out}/${sums_name}"

rm -f "${out}/${sums_name}.sig"
gpg --batch --yes --quiet --local-user "$key" --digest-algo SHA256 \
    --output "${out}/${sums_name}.sig" --detach-sign "${out}/${sums_name}"
gpg --batch --yes --armor --export "$key" >"${out}/signing-key.asc.partial"
[[ -s "${out}/signing-key.asc.partial" ]] || die "could not export the public key of '${key}'"
mv -f "${out}/signing-key.asc.partial" "${out}/signing-key.asc"

# The agent gpg started for the throwaway home would otherwise outlive us; a releaser's
# own agent is theirs to keep.
if [[ "$local_key" == 1 ]]; then
    gpgconf --kill gpg-agent 2>/dev/null || true
fi

# The same zips as a filesystem / network mirror, for `terraform providers mirror` users.
python3 "$root/scripts/mirror.py" --dir "$out" --out "${out}/mirror" \
    --source "${MIRROR_SOURCE:-terraform.local/mrs/mrs}"

echo "release: ${out}/${zip_name} ($(stat -c %s "${out}/${zip_name}") bytes)" >&2
cat "${out}/${sums_name}"
