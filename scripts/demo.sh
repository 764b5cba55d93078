#!/usr/bin/env bash
# The demo: build the provider and mrs-sim, start mrs-sim, and walk through
# init -> apply -> no-change plan -> edit -> apply -> data source -> destroy with the real
# Terraform, which finds the provider in a local filesystem mirror. Leaves nothing behind.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Building the provider and mrs-sim (release)"
cargo build --release --bins --quiet
bash scripts/install-tools.sh
terraform="$root/tools/bin/terraform"

work="$(mktemp -d "${TMPDIR:-/tmp}/mrs-demo.XXXXXX")"
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A filesystem mirror, as a published provider would be installed from.
mirror="$work/plugins/terraform.local/mrs/mrs/$version/linux_amd64"
mkdir -p "$mirror"
cp "$target_dir/release/terraform-provider-mrs" "$mirror/terraform-provider-mrs_v$version"
cat > "$work/terraformrc" <<EOT
provider_installation {
  filesystem_mirror {
    path    = "$work/plugins"
    include = ["terraform.local/*/*"]
  }
  direct {
    exclude = ["terraform.local/*/*"]
  }
}
EOT

step "Starting mrs-sim, the local MRS API (syncs take 1 s, like a small real cluster)"
export HW_ACCESS_KEY="DEMOACCESSKEY00000001" HW_SECRET_KEY="demo-secret-key-not-a-real-one"
"$target_dir/release/mrs-sim" --listen 127.0.0.1:0 --sync-delay-ms 1000 \
  --directory examples/demo/directory.json > "$work/sim.out" 2> "$work/sim.err" &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/sim.out" ] && break; sleep 0.05; done
sim_url="$(sed -n 's/^listening on //p' "$work/sim.out" | head -1)"
[ -n "$sim_url" ] || { cat "$work/sim.err" >&2; echo "demo: mrs-sim did not start" >&2; exit 1; }
echo "mrs-sim listens on $sim_url"

export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TF_INPUT=0
export HW_MRS_ENDPOINT="$sim_url" HW_PROJECT_ID="demoproject0001" HW_REGION_NAME="cn-north-4"
export TF_DATA_DIR="$work/.terraform"
cp examples/demo/main.tf examples/demo/terraform.tfvars "$work/"
cd "$work"
tf() { "$terraform" "$@"; }

step "terraform init: installs the provider from the local mirror and writes the lock file"
tf init -no-color | grep -E "Installing|Installed|lock file|initialized" || true
grep -A1 'provider "terraform.local/mrs/mrs"' .terraform.lock.hcl

step "terraform apply: syncs alice, bob and group ops (alice's group analysts comes along)"
tf apply -auto-approve -no-color | grep -E "Creating|Creation complete|Apply complete"
tf output -no-color

step "terraform plan: nothing changed, so nothing to do"
tf plan -no-color -detailed-exitcode | grep -E "No changes"

step "Editing terraform.tfvars: remove user bob, add group auditors"
cat > terraform.tfvars <<'EOT'
user_names  = ["alice"]
group_names = ["ops", "auditors"]
EOT
cat terraform.tfvars
tf plan -no-color | sed -n '/will be updated in-place/,/^Plan:/p'

step "terraform apply: one POST adds auditors, one DELETE cancels bob"
tf apply -auto-approve -no-color | grep -E "Modifications complete|Apply complete"

step "The data source shows what the cluster holds now"
tf output -no-color

step "terraform destroy: cancels exactly what this configuration manages"
tf destroy -auto-approve -no-color | grep -E "Destruction complete|Destroy complete"
python3 - "$sim_url" <<'EOT'
import json, sys, urllib.request
state = json.load(urllib.request.urlopen(sys.argv[1] + "/_sim/state"))
for c in state["clusters"]:
    print(f'{c["cluster_id"]} still holds users {c["user_names"]} and groups {c["group_names"]}'
          " (implicit groups are never cancelled)")
print(f'mrs-sim saw {state["counters"]["requests_total"]} signed API calls,'
      f' {state["counters"]["overlapping_requests"]} overlapping a running sync')
EOT

step "Stopping mrs-sim; the demo is over and left nothing behind"
