#!/usr/bin/env bash
# What injecting faults costs the fault server: gatecrash serve with no faults against the same
# server with one HTTP/1.1 fault kind firing at a rate (default 1e-3 of requests), for each kind
# in turn, then all of them at once; under wrk, on this machine, in one run. Each server runs
# one worker (GOMAXPROCS=1) pinned to CPU 0, wrk -t1 pinned to CPU 1; a faulted round
# alternates with a round without faults; medians are reported, and the ratio is the median of
# each pair's ratio (the machine's speed drifts, a pair shares it). The figure is requests
# answered per server CPU-second: a fault that ends the connection makes wrk open a new one,
# and that accept, and the fault's own work, are what the ratio measures (wrk counts the
# requests answered; a faulted request without an answer is in its socket errors, printed per
# round). tls-stall acts on TLS handshakes only, which wrk's plain HTTP does not make, so it is
# left out; the HTTP/2 kinds need an h2 client. Loopback only; every wrk run is bounded by -d.
#
#   bench/fault-cost.sh                       # 3 rounds of 4s per kind, 64 connections, 1e-3
#   ROUNDS=5 DURATION=5s P=0.0001 bench/fault-cost.sh
#   FAULTS="status:code=503,probability=0.001" bench/fault-cost.sh   # these kinds only
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4s}
CONNS=${CONNS:-64}
P=${P:-0.001}
out=bench/out
mkdir -p "$out"

. bench/lib.sh
need wrk taskset curl
go build -o bin/gatecrash ./cmd/gatecrash

faults=(
	"idle-close:timeout=50us,probability=$P"
	"close-on-reuse:probability=$P"
	"fin-mid-request:after-bytes=10,probability=$P"
	"rst-headers:after-bytes=20,probability=$P"
	"cut-body:after-bytes=1,probability=$P"
	"no-response:probability=$P"
	"delay:head-delay=1ms,probability=$P"
	"status:code=503,probability=$P"
)
if [ -n "${FAULTS:-}" ]; then read -r -a faults <<<"$FAULTS"; fi

dir=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
# start ARGS...: serve on CPU 0; sets PORT, ADMIN, PID.
start() {
	PORT=$(free_port); ADMIN=$(free_port)
	GOMAXPROCS=1 taskset -c 0 bin/gatecrash serve --listen 127.0.0.1:$PORT --admin 127.0.0.1:$ADMIN "$@" >>"$dir/serve.out" 2>&1 &
	PID=$!; pids+=("$PID")
	wait_port "$PORT"
}
# round PORT PID: "rps server_cpu errors" under wrk; errors = non-2xx + socket errors wrk saw.
round() {
	local port=$1 pid=$2 t0 c0 t1 c1
	t0=$(date +%s%N); c0=$(cpu_ticks "$pid")
	taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$port/" >"$dir/wrk.out"
	t1=$(date +%s%N); c1=$(cpu_ticks "$pid")
	awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v ns=$((t1 - t0)) '
		/Requests\/sec/ {r = $2}
		/Non-2xx/ {e += $NF}
		/Socket errors/ {for (i = 3; i <= NF; i += 2) {v = $(i + 1); sub(",", "", v); e += v}}
		END {printf "%s %.2f %d\n", r, c / hz / (ns / 1e9), e}' "$dir/wrk.out"
}
per_cpu() { awk '{print ($2 > 0 ? $1 / $2 : 0)}' "$1" | median; }
# injected ADMIN: the faults the server counted, "kind n" for each that acted.
injected() {
	curl -s "http://127.0.0.1:$1/stats" | tr -d ' \n' | grep -o '"faults":{[^}]*}' | grep -o '"[a-z-]*":[1-9][0-9]*' | tr -d '"' | tr ':' ' ' | tr '\n' ',' | sed 's/,$//; s/,/, /g'
}

start
clean_port=$PORT; clean_pid=$PID
: >"$dir/clean"
sets=("${faults[@]}")
[ "${#faults[@]}" -gt 1 ] && sets+=("all")
rows=()
for set in "${sets[@]}"; do
	args=()
	if [ "$set" = all ]; then
		for f in "${faults[@]}"; do args+=(--fault "$f"); done
	else
		args=(--fault "$set")
	fi
	start "${args[@]}"
	: >"$dir/faulted"; : >"$dir/paired"
	for i in $(seq "$ROUNDS"); do
		c=$(round "$clean_port" "$clean_pid"); f=$(round "$PORT" "$PID")
		echo "$c" >>"$dir/clean"; echo "$c" >>"$dir/paired"; echo "$f" >>"$dir/faulted"
		echo "${set%%:*} round $i: no faults $c | faulted $f   (req/s, server CPU, errors wrk saw)"
	done
	ce=$(per_cpu "$dir/paired"); fe=$(per_cpu "$dir/faulted")
	# the ratio of each faulted round to the round without faults just before it, then their
	# median: this VM's speed drifts over minutes, and a pair of rounds shares the drift
	ratio=$(paste -d' ' "$dir/faulted" "$dir/paired" | awk '{print ($2 > 0 && $5 > 0 && $4 > 0 ? ($1 / $2) / ($4 / $5) : 0)}' | median)
	label=$set
	[ "$set" = all ] && label="all ${#faults[@]} kinds above at once"
	rows+=("| \`$label\` | $(printf '%.0f' "$fe") | $(printf '%.0f' "$ce") | **$(printf '%.3f' "$ratio")** | $(injected "$ADMIN") |")
	kill "$PID"; wait "$PID" 2>/dev/null || true
done
{
	echo "| faults (gatecrash serve, GOMAXPROCS=1, CPU 0) | requests per server CPU-second | same, no faults (its paired rounds) | faulted / no faults (median of the pairs) | injected (/stats) |"
	echo "|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Medians of $ROUNDS rounds of $DURATION per row, each faulted round paired with one of the server"
	echo "without faults; wrk -t1 -c$CONNS on CPU 1 ($(machine_line))."
} | tee "$out/fault-cost.md"
