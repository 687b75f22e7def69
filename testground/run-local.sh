#!/usr/bin/env bash
# run-local.sh runs the c2c Testground plan on this machine with local:exec:
# it builds testground and sync-service from the versions pinned in tools/,
# starts both in the background (127.0.0.1 only, TESTGROUND_HOME in a temp
# dir), stages the plan next to a copy of the c2c source, imports it, runs
# a test case with --wait, checks the outcome and stops what it started.
#
#   testground/run-local.sh [CASE] [INSTANCES]     (default: directory 10)
#
# Env: C2C_TG_BIN (where the tools are built; default: a cache dir, so a
# second run is warm), C2C_TG_OUT (where to copy the outputs).
set -euo pipefail

case_name=${1:-directory}
instances=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
bin=${C2C_TG_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/c2c-testground/bin}
out=${C2C_TG_OUT:-$PWD/testground-out}
mkdir -p "$bin" "$out"

step() { printf '== %s (%ss)\n' "$*" "$SECONDS"; }

step "build testground and sync-service (tools/go.mod pins them)"
(cd "$here/tools" && go build -o "$bin/testground" github.com/testground/testground &&
	go build -o "$bin/sync-service" github.com/testground/sync-service/cmd)

work=$(mktemp -d)
export TESTGROUND_HOME="$work/home"
mkdir -p "$TESTGROUND_HOME"
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	cp "$work"/*.log "$out"/ 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# The daemon and the sync service on loopback ports.
cat >"$TESTGROUND_HOME/.env.toml" <<TOML
[daemon]
listen = "127.0.0.1:8042"
[client]
endpoint = "http://127.0.0.1:8042"
TOML

step "start sync-service and the testground daemon"
"$bin/sync-service" >"$work/sync-service.log" 2>&1 &
pids+=($!)
"$bin/testground" daemon >"$work/daemon.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do # wait for the daemon's port
	if (exec 3<>/dev/tcp/127.0.0.1/8042) 2>/dev/null; then break; fi
	sleep 0.2
done

step "stage and import the plan"
stage="$work/stage"
mkdir -p "$stage/c2c"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard -- . ':!testground' |
	xargs -0 cp --parents -t "$stage/c2c" 2>/dev/null || true)
cp -r "$here" "$stage/plan"
rm -rf "$stage/plan/tools"
(cd "$stage/plan" && go mod edit -replace github.com/clone2clone/c2c=../extra/c2c)
"$bin/testground" plan import --from "$stage/plan" --name c2c >/dev/null

step "run $case_name with $instances instances (local:exec, exec:go)"
set +e
"$bin/testground" run single --plan=c2c --testcase="$case_name" \
	--runner local:exec --builder exec:go --instances "$instances" \
	--collect --collect-file "$work/outputs" --wait 2>&1 | tee "$work/run.log"
set -e
# The client ends with "result <group>[<run id>]: success|failure|...".
status=$(grep -ao 'result [a-z]*\[[^]]*\]: [a-z]*' "$work/run.log" | tail -1 | awk '{print $NF}')
if [ -f "$work/outputs.tgz" ]; then
	tar -xzf "$work/outputs.tgz" -C "$out"
	find "$out" -name summary.json -exec cp {} "$out/summary-$case_name-n$instances.json" \;
	find "$out" -name latency.png -exec cp {} "$out/latency-$case_name-n$instances.png" \;
fi
step "outcome: ${status:-unknown}"
[ "$status" = success ]
