#!/usr/bin/env bash
# make demo: build the provider and tenancyd, start tenancyd on a fresh
# SQLite file, apply examples/quickstart (with a schema promoted from
# staging to production and a nightly backup), check that the next plan is empty
# and reports no drift and that `terraform plan -refresh-only
# -detailed-exitcode` exits 0, change the tenant and a production flag behind
# Terraform's back, show the drift (explained) and the promotion's preview in
# `terraform plan`, repair it with `terraform apply`, check that the next plan
# is empty, then preview a staging change and carry it to production in one
# apply.
# KEEP=1 leaves tenancyd running and prints the lines that point a shell at
# it and at the provider just built (TF_CLI_CONFIG_FILE with dev_overrides).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d -t tenancy-demo.XXXXXX)
server_pid=""

cleanup() {
  local rc=$?
  if [[ "${KEEP:-0}" == "1" && $rc -eq 0 ]]; then
    echo
    echo "tenancyd keeps running (pid $server_pid), its data in $work."
    echo "To use it, and the provider just built, from another shell:"
    echo "  export TENANCY_ENDPOINT=$TENANCY_ENDPOINT"
    echo "  export TENANCY_TOKEN=$TENANCY_TOKEN"
    echo "  export TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE"
    echo "  cd $work/quickstart   # the quickstart, with its state; no terraform init needed"
    echo "Stop it with: kill $server_pid"
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
TENANCYD_SECRET_KEY="$(head -c 32 /dev/urandom | base64)"
export TENANCYD_SECRET_KEY
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

step "terraform apply: create the quickstart (tenant, environments, people, quotas, flag, schema, promotion, backup)"
terraform apply -auto-approve -no-color >"$work/apply.txt" 2>&1 || { cat "$work/apply.txt"; exit 1; }
grep -e 'Creation complete' -e 'Apply complete' "$work/apply.txt"
terraform output -no-color tenant

step "Tenant data: staging's migrations reached production through the promotion, and production is backed up"
terraform output -no-color data
curl -fsS "$TENANCY_ENDPOINT/v1/tenants/acme/environments/production/schema" -H "Authorization: Bearer $TENANCY_TOKEN" |
  grep -q '"applied":\[{"version":"1",[^]]*{"version":"2",' || {
  echo "expected production to have migrations 1 and 2 applied" >&2
  exit 1
}
echo 'production has migrations 1 and 2 applied'

step "terraform plan: nothing to change, and no drift reported for what the promotion wrote to production"
terraform plan -detailed-exitcode -no-color >"$work/plan.txt" 2>&1 || {
  cat "$work/plan.txt"
  echo "expected an empty plan after the first apply" >&2
  exit 1
}
if grep -q 'changed outside Terraform' "$work/plan.txt"; then
  cat "$work/plan.txt"
  echo "expected no drift warning: the promotion's changes are the configuration's own" >&2
  exit 1
fi
grep -e 'No changes' "$work/plan.txt"

step "terraform plan -refresh-only -detailed-exitcode: a nightly drift job finds nothing to record (exit 0)"
set +e
terraform plan -refresh-only -detailed-exitcode -no-color >"$work/plan.txt" 2>&1
rc=$?
set -e
if [[ $rc -ne 0 ]] || grep -q 'changed outside Terraform' "$work/plan.txt"; then
  cat "$work/plan.txt"
  echo "expected the refresh-only plan to exit 0 without a drift warning, got exit $rc" >&2
  exit 1
fi
grep -e 'No changes' "$work/plan.txt"
echo "exit code $rc"

step "Changing things behind Terraform's back, through the API"
api() { curl -fsS -X "$1" "$TENANCY_ENDPOINT$2" -H "Authorization: Bearer $TENANCY_TOKEN" -H 'Content-Type: application/merge-patch+json' -d "$3" >/dev/null; }
api PATCH /v1/tenants/acme '{"display_name": "Acme (renamed by hand)", "labels": {"team": "someone-else"}}'
echo 'tenant acme: display_name and labels.team changed by hand'
api PATCH /v1/tenants/acme/feature-flags/new-billing '{"environments": {"production": {"enabled": false, "rollout_percentage": 0}}}'
echo 'feature flag new-billing: switched off in production by hand'

step "terraform plan: the drift shows, explained, and the promotion previews what production gets back"
set +e
terraform plan -detailed-exitcode -no-color >"$work/plan.txt" 2>&1
rc=$?
set -e
sed -n '/Terraform will perform/,$p' "$work/plan.txt"
if [[ $rc -ne 2 ]]; then
  echo "expected the plan to show the drift (exit 2), got exit $rc" >&2
  exit 1
fi
grep -q 'feature_flags.new-billing.enabled: false -> true' "$work/plan.txt" || {
  echo "expected the promotion to preview the production flag" >&2
  exit 1
}
if grep 'changed outside Terraform' "$work/plan.txt" | grep -v 'Tenant "acme"'; then
  echo "expected a drift warning for the tenant only: the promotion's own changes are not drift" >&2
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

step "Staging's flag goes to 100% in the configuration: the plan previews what production gets"
sed -i 's/rollout_percentage = 50 }/rollout_percentage = 100 }/' main.tf
terraform plan -no-color -out="$work/tfplan" >"$work/plan.txt" 2>&1 || { cat "$work/plan.txt"; exit 1; }
sed -n '/# tenancy_environment_promotion.production/,/^    }/p' "$work/plan.txt"
grep -q '+ "feature_flags.new-billing.rollout_percentage: 50 -> 100"' "$work/plan.txt" || {
  echo "expected the promotion to preview the staging change" >&2
  exit 1
}

step "terraform apply: one apply carries it to production"
terraform apply -auto-approve -no-color "$work/tfplan" >"$work/apply.txt" 2>&1 || { cat "$work/apply.txt"; exit 1; }
grep -e 'Modifying' -e 'Modifications complete' -e 'Apply complete' "$work/apply.txt"
terraform state show -no-color tenancy_environment_promotion.production | sed -n '/last_changes/,/]/p'
curl -fsS "$TENANCY_ENDPOINT/v1/tenants/acme/feature-flags/new-billing" -H "Authorization: Bearer $TENANCY_TOKEN" |
  grep -q '"production":{"enabled":true,"rollout_percentage":100}' || {
  echo "expected production to have new-billing at 100%" >&2
  exit 1
}
echo 'production now has new-billing enabled at 100%'
terraform plan -detailed-exitcode -no-color >"$work/plan.txt" 2>&1 || {
  cat "$work/plan.txt"
  echo "expected an empty plan after the promotion" >&2
  exit 1
}
grep -e 'No changes' "$work/plan.txt"

step "Done"
echo "tenancyd API: $TENANCY_ENDPOINT (run with KEEP=1 to keep it running)"
