#!/usr/bin/env bash
# Soak benchmark: are gatecrash's memory, goroutines and open files flat over a long run?
#
# Part 1: `gatecrash run` against a real nginx, origin faults at 1e-4 (a 502 now and then),
#         open loop at RUN_RATE req/s for DURATION, with checkpoints, hlog and live metrics.
# Part 2: `gatecrash load` straight at `gatecrash serve` (faults at 1e-6) for REQUESTS requests.
# Every SAMPLE seconds each gatecrash process's RSS, heap, goroutines and open fds are read from
# its /metrics (and /proc) into bench/out/soak.csv; then bench/soakplot draws docs/soak.png and
# prints the slopes (bench/out/soak.md).
# Loopback only; every run is bounded by DURATION or REQUESTS.
#
#   bench/soak.sh                                   # 10 min run part, 50M-request load part
#   DURATION=2m REQUESTS=5000000 bench/soak.sh      # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
DURATION=${DURATION:-10m}
REQUESTS=${REQUESTS:-50000000}
RUN_RATE=${RUN_RATE:-5000}
CONNS=${CONNS:-64}
SAMPLE=${SAMPLE:-10}
PLOT=${PLOT:-docs/soak.png}
out=bench/out
mkdir -p "$out"
need nginx curl
go build -o bin/gatecrash ./cmd/gatecrash
dir=$(mktemp -d)
csv="$out/soak.csv"
echo "elapsed_s,part,role,pid,rss_bytes,heap_bytes,goroutines,fds,requests" >"$csv"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

metric() { awk -v m="$1" '$1 == m {print $2; exit}'; }
# sample PART ROLE PID URL: one CSV line from the process's /metrics and /proc.
sample() {
	local part=$1 role=$2 pid=$3 url=$4 body rss heap gor fds req
	body=$(curl -s --max-time 5 "$url" || true)
	[ -n "$body" ] || return 0
	rss=$(awk '/VmRSS/ {print $2 * 1024}' "/proc/$pid/status" 2>/dev/null || echo 0)
	fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
	heap=$(metric go_memstats_heap_alloc_bytes <<<"$body")
	gor=$(metric go_goroutines <<<"$body")
	req=$(awk '/^gatecrash_requests_total\{/ {s += $2} /^gatecrash_origin_requests_started_total / {o = $2} END {print (s > 0 ? s : o + 0)}' <<<"$body")
	echo "$(($(date +%s) - t0)),$part,$role,$pid,$rss,${heap:-0},${gor:-0},$fds,${req:-0}" >>"$csv"
}

# Part 1: a scenario run through nginx.
mport=$(free_port)
cat >"$dir/soak.yaml" <<YAML
apiVersion: gatecrash/v1
name: soak
description: soak through nginx, origin faults at 1e-4
origin:
  faults:
    - kind: rst-headers
      after-bytes: 17
      probability: 0.0001
    - kind: close-on-reuse
      probability: 0.0001
proxy:
  kind: nginx
load:
  pattern: constant
  rate: $RUN_RATE
  connections: $CONNS
  duration: $DURATION
variants:
  - name: default
YAML
t0=$(date +%s)
bin/gatecrash run "$dir/soak.yaml" --out "$dir/run" --metrics-listen "127.0.0.1:$mport" -q >"$dir/run.log" 2>&1 &
runpid=$!
pids+=("$runpid")
echo "part 1: gatecrash run through nginx at $RUN_RATE req/s for $DURATION (pid $runpid)"
while kill -0 "$runpid" 2>/dev/null; do
	sample run "gatecrash run" "$runpid" "http://127.0.0.1:$mport/metrics"
	sleep "$SAMPLE"
done
wait "$runpid" || true
run_requests=$(awk -F'"requests": ' '/"requests": / {split($2, a, ","); print a[1]; exit}' "$dir/run/default.json")

# Part 2: load straight at serve.
sport=$(free_port); aport=$(free_port); lport=$(free_port)
bin/gatecrash serve --listen "127.0.0.1:$sport" --admin "127.0.0.1:$aport" --seed 1 \
	--fault rst-headers:probability=0.000001,after-bytes=17 --fault cut-body:probability=0.000001 >"$dir/serve.log" 2>&1 &
servepid=$!
pids+=("$servepid")
wait_port "$sport"
t0=$(date +%s)
bin/gatecrash load "http://127.0.0.1:$sport/" --requests "$REQUESTS" --connections "$CONNS" --metrics-listen "127.0.0.1:$lport" \
	--origin-admin "http://127.0.0.1:$aport" --out "$dir/load.json" --hlog "$dir/load.hlog" -q >"$dir/load.log" 2>&1 &
loadpid=$!
pids+=("$loadpid")
echo "part 2: gatecrash load straight at gatecrash serve, $REQUESTS requests (pid $loadpid)"
while kill -0 "$loadpid" 2>/dev/null; do
	sample load "gatecrash load" "$loadpid" "http://127.0.0.1:$lport/metrics"
	sample load "gatecrash serve" "$servepid" "http://127.0.0.1:$aport/metrics"
	sleep "$SAMPLE"
done
wait "$loadpid" || { echo "load failed:"; cat "$dir/load.log"; exit 1; }
cp "$dir/load.log" "$out/soak-load.log"
cp "$dir/run.log" "$out/soak-run.log"

{
	echo "Soak ($(machine_line)): part 1 \`gatecrash run\` through nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'),"
	echo "open loop $RUN_RATE req/s for $DURATION, faults at 1e-4 ($run_requests requests); part 2 \`gatecrash load\` straight"
	echo "at \`gatecrash serve\` (faults at 1e-6), $REQUESTS requests, $CONNS connections. Sampled every ${SAMPLE}s."
	echo
	go run ./bench/soakplot -csv "$csv" -png "$PLOT"
	echo
	echo "Part 2's load: $(grep -E 'duration' "$dir/load.log" | head -1)"
	grep -E '^origin' "$dir/load.log" || true
} | tee "$out/soak.md"
echo "written to $out/soak.md, $csv and $PLOT"
