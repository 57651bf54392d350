#!/usr/bin/env bash
# Usage: scripts/reliability.sh   (make reliability)
#
# Runs the long versions of the reliability tests (TENANCY_RELIABILITY=long:
# the fleet of 50 customers through a faulty network, 20 kills of tenancyd
# on SQLite and on PostgreSQL, replicas, the secrets scan), the cross-tenant
# and hostile-input suites, and each fuzz target for FUZZTIME; every test
# writes its figures as a JSON line, and RELIABILITY.md is rendered from
# them. RELIABILITY.md is rewritten even when a test fails (it then says
# which); the script exits non-zero in that case.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}
FUZZ_TARGETS=${FUZZ_TARGETS:-./internal/provider:FuzzParseID ./internal/server:FuzzDecodeRequest ./internal/server:FuzzMergePatch ./internal/promotion:FuzzDiff}

figures=$(mktemp)
trap 'rm -f "$figures"' EXIT
export TENANCY_RELIABILITY=long TENANCY_RELIABILITY_FIGURES="$figures"
export TF_ACC=1
TF_ACC_TERRAFORM_PATH="$(scripts/terraform-path.sh)"
export TF_ACC_TERRAFORM_PATH

status=0
echo "== reliability tests (long versions), RBAC matrix, cross-tenant and hostile-input suites"
scripts/with-postgres.sh "$GO" test ./internal/faultinject/... ./internal/reliability/... ./internal/server \
	-run 'Test(Proxy|Faults|Crash|Replicas|Secrets|CrossTenant|BadInput|RBACMatrix)' -count=1 -v -timeout 60m || status=$?

for t in $FUZZ_TARGETS; do
	pkg=${t%%:*} name=${t#*:}
	echo "== $name ($pkg, $FUZZTIME)"
	log=$(mktemp)
	passed=true
	"$GO" test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" 2>&1 | tee "$log" | tail -3 || passed=false
	grep -q '^FAIL' "$log" && passed=false
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
	interesting=$(grep -o 'new interesting: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
	failures=$([[ $passed == true ]] && echo 0 || echo 1)
	seconds=${FUZZTIME%s}
	[[ $seconds =~ ^[0-9]+$ ]] || seconds=0
	printf '{"test":"%s","area":"fuzzing","tried":"go test -fuzz on %s for %s","mode":"long","seconds":%s,"passed":%s,"figures":[{"name":"inputs tried","value":%s},{"name":"new interesting inputs","value":%s},{"name":"failing inputs","value":%s,"want":"= 0"}],"recorded":"%s"}\n' \
		"$name" "$pkg" "$FUZZTIME" "$seconds" "$passed" "$execs" "$interesting" "$failures" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$figures"
	rm -f "$log"
	[[ $passed == true ]] || status=1
done

"$GO" run ./internal/reliability/report "$figures" >RELIABILITY.md
echo "== RELIABILITY.md rewritten from $(wc -l <"$figures") tests' figures"
exit "$status"
