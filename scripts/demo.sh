#!/usr/bin/env bash
# make demo: build the provider and tenancyd, start tenancyd on a fresh
# SQLite file, apply examples/quickstart, change the tenant behind
# Terraform's back, show the drift in `terraform plan`, repair it with
# `terraform apply`, and check that the next plan is empty.
# KEEP=1 leaves tenancyd running and prints its endpoint and token.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d -t tenancy-demo.XXXXXX)
server_pid=""

cleanup() {
  local rc=$?
  if [[ "${KEEP:-0}" == "1" && $rc -eq 0 ]]; then
    echo
    echo "tenancyd keeps running (pid $server_pid), its data in $work:"
    echo "  export TENANCY_ENDPOINT=$TENANCY_ENDPOINT"
    echo "  export TENANCY_TOKEN=$TENANCY_TOKEN"
    echo "  stop it with: kill $server_pid"
    return
  fi
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [[ $rc -ne 0 && -f "$work/tenancyd.log" ]]; then
    echo "demo failed; the last lines of the tenancyd log:" >&2
    tail -n 20 "$work/tenancyd.log" >&2
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Building the provider and tenancyd"
make --no-print-directory build

step "Starting tenancyd on a fresh SQLite database"
export TENANCY_BOOTSTRAP_TOKEN="tny_demo_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
"$root/bin/tenancyd" serve --listen 127.0.0.1:0 --database "sqlite://$work/tenancy.db" \
  --addr-file "$work/addr" --provisioning-delay 2s >"$work/tenancyd.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do [[ -s "$work/addr" ]] && break; sleep 0.1; done
[[ -s "$work/addr" ]] || { echo "tenancyd did not start" >&2; exit 1; }
export TENANCY_ENDPOINT="http://$(cat "$work/addr")"
export TENANCY_TOKEN="$TENANCY_BOOTSTRAP_TOKEN"
curl -fsS "$TENANCY_ENDPOINT/readyz" >/dev/null
echo "tenancyd listens on $TENANCY_ENDPOINT"

# Terraform uses the provider just built, without a registry.
cat >"$work/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "tenancyhq/tenancy" = "$root/bin"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/terraformrc"
export TF_IN_AUTOMATION=1
cp -r "$root/examples/quickstart" "$work/quickstart"
cd "$work/quickstart"

step "terraform apply: create the quickstart (the tenant provisions, then becomes active)"
terraform apply -auto-approve -no-color 2>&1 | grep -v -e 'Provider development overrides' -e 'dev_overrides' || true
terraform output -no-color tenant

step "Changing the tenant behind Terraform's back, through the API"
curl -fsS -X PATCH "$TENANCY_ENDPOINT/v1/tenants/acme" \
  -H "Authorization: Bearer $TENANCY_TOKEN" -H 'Content-Type: application/merge-patch+json' \
  -d '{"display_name": "Acme (renamed by hand)", "labels": {"team": "someone-else"}}' >/dev/null
echo 'display_name and labels.team changed by hand'

step "terraform plan: the drift shows"
set +e
terraform plan -detailed-exitcode -no-color >"$work/plan.txt" 2>&1
rc=$?
set -e
grep -v -e 'Provider development overrides' "$work/plan.txt" | sed -n '/Terraform will perform/,$p'
if [[ $rc -ne 2 ]]; then
  echo "expected the plan to show the drift (exit 2), got exit $rc" >&2
  exit 1
fi

step "terraform apply: repair the drift"
terraform apply -auto-approve -no-color 2>&1 | grep -e 'Apply complete' -e 'Modifying' -e 'Modifications complete'

step "terraform plan: nothing left to change"
terraform plan -detailed-exitcode -no-color >"$work/plan.txt" 2>&1 || {
  cat "$work/plan.txt"
  echo "expected an empty plan after the repair" >&2
  exit 1
}
grep -e 'No changes' "$work/plan.txt"

step "Done"
echo "tenancyd API: $TENANCY_ENDPOINT (run with KEEP=1 to keep it running)"
