#!/usr/bin/env bash
# The first hour of a new user, as the README tells it, run in order on a clean folder: each
# command's exit code and the line that says it worked are checked. `make test` runs this
# (cmd/gatecrash/newcomer_test.go, which also checks that every command below is in the
# README word for word, so the two cannot drift apart). Loopback only.
#
#   scripts/newcomer.sh BIN            # BIN: a built gatecrash; SHORT="--duration 4s" shortens the main job
set -euo pipefail
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SHORT=${SHORT:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir bin && ln -s "$bin" bin/gatecrash
export PATH="$work/bin:$PATH"

step=0
# expect CODE PATTERN CMD...: run CMD, want exit CODE and a line matching PATTERN in its output.
expect() {
	local want=$1 pattern=$2 code=0
	shift 2
	step=$((step + 1))
	echo "== $step: $*"
	"$@" >"out.$step" 2>&1 || code=$?
	if [ "$code" -ne "$want" ]; then
		echo "FAIL: exit $code, want $want"; cat "out.$step"; exit 1
	fi
	if ! grep -Eq -- "$pattern" "out.$step"; then
		echo "FAIL: no line matches /$pattern/"; cat "out.$step"; exit 1
	fi
}

# --- README, Set up
expect 0 '^gatecrash v?[0-9a-z.+-]+' gatecrash --version
expect 0 'complete -o default' gatecrash completion bash
# --- README, The main job (make demo is `gatecrash run keepalive-race`)
# shellcheck disable=SC2086
expect 0 '^report: +gatecrash-runs/.*/report\.html' gatecrash run keepalive-race $SHORT
report=$(sed -n 's/^report: *\([^ ]*\).*/\1/p' "out.$step")
[ -s "$report" ] || { echo "FAIL: $report is not there"; exit 1; }
grep -q '^verdict: ' "out.$step" || { echo "FAIL: no verdict line"; exit 1; }
expect 0 'keepalive-race' gatecrash scenarios list
gatecrash scenarios show keepalive-race > mine.yaml
[ -s mine.yaml ] || { echo "FAIL: scenarios show wrote nothing"; exit 1; }
expect 0 'mine.yaml: scenario keepalive-race is valid' gatecrash scenarios validate mine.yaml
# --- README, Faults in front of your own app: a relay in front of an app (here gatecrash's own
# canned server stands in for the app)
gatecrash serve --listen 127.0.0.1:8000 --admin "" >app.log 2>&1 &
app=$!
trap 'kill $app 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do grep -q '^fault server: http://' app.log && break; sleep 0.1; done
kill -0 $app 2>/dev/null && grep -q '^fault server: http://' app.log || { echo "FAIL: the stand-in app did not start"; cat app.log; exit 1; }
expect 0 '^app errors \(not faults\) +0 +0' gatecrash run relay-app --origin-upstream http://127.0.0.1:8000 --proxy embedded
kill $app 2>/dev/null || true
echo "newcomer: $step steps, all as the README says"
