#!/usr/bin/env bash
# What injecting faults costs the fault server: gatecrash serve with no faults against the same
# server with every HTTP/1.1 fault kind firing at a rate (default 1e-3 of requests each), under
# wrk, on this machine, in one run. The server runs one worker (GOMAXPROCS=1) pinned to CPU 0,
# wrk -t1 pinned to CPU 1; rounds alternate; medians are reported. The figure is requests
# answered per server CPU-second: a fault that ends the connection makes wrk open a new one,
# and that accept, and the fault's own work, are what the ratio measures. Faults' requests
# count as answered when the server wrote a response (status, delay) and not otherwise, so
# the faulted run's rate is the rate of complete responses; its non-2xx and socket errors are
# printed for each round. tls-stall acts on TLS handshakes only, which wrk's plain HTTP does
# not make, so it is left out; the HTTP/2 kinds need an h2 client. Loopback only; every wrk
# run is bounded by -d.
#
#   bench/fault-cost.sh                       # 5 rounds of 5s, 64 connections, 1e-3 per kind
#   ROUNDS=7 DURATION=10s P=0.0001 bench/fault-cost.sh
#   FAULTS="status:code=503,probability=0.001" bench/fault-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
P=${P:-0.001}
out=bench/out
mkdir -p "$out"

. bench/lib.sh
need wrk taskset
go build -o bin/gatecrash ./cmd/gatecrash

# FAULTS="kind:params,probability=... ..." replaces the list (one kind at a time, say).
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
fault_args=()
for f in "${faults[@]}"; do fault_args+=(--fault "$f"); done

dir=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
start() { # NAME ARGS...: serve on CPU 0; sets PORT_<NAME>, PID_<NAME>, ADMIN_<NAME>
	local name=$1 port admin; shift
	port=$(free_port); admin=$(free_port)
	GOMAXPROCS=1 taskset -c 0 bin/gatecrash serve --listen 127.0.0.1:$port --admin 127.0.0.1:$admin "$@" >"$dir/$name.out" 2>&1 &
	pids+=($!)
	printf -v "PID_$name" %s $!; printf -v "PORT_$name" %s "$port"; printf -v "ADMIN_$name" %s "$admin"
	wait_port "$port"
}
start clean
start faulted "${fault_args[@]}"

# round NAME: "rps server_cpu errors" under wrk; errors = non-2xx + socket errors wrk saw.
round() {
	local name=$1 port pid t0 c0 t1 c1
	port=PORT_$name; pid=PID_$name
	t0=$(date +%s%N); c0=$(cpu_ticks "${!pid}")
	taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:${!port}/" >"$dir/wrk.out"
	t1=$(date +%s%N); c1=$(cpu_ticks "${!pid}")
	awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v ns=$((t1 - t0)) '
		/Requests\/sec/ {r = $2}
		/Non-2xx/ {e += $NF}
		/Socket errors/ {for (i = 3; i <= NF; i += 2) {v = $(i + 1); sub(",", "", v); e += v}}
		END {printf "%s %.2f %d\n", r, c / hz / (ns / 1e9), e}' "$dir/wrk.out"
}
: >"$dir/clean"; : >"$dir/faulted"
for i in $(seq "$ROUNDS"); do
	for name in clean faulted; do
		round $name >>"$dir/$name"
	done
	echo "round $i: no faults $(tail -1 "$dir/clean") | faults $(tail -1 "$dir/faulted")   (req/s, server CPU, errors wrk saw)"
done
injected=$(curl -s "http://127.0.0.1:$ADMIN_faulted/stats" | tr -d ' \n' | grep -o '"injected":{[^}]*}' || true)
col() { awk -v c="$2" '{print $c}' "$dir/$1" | median; }
per_cpu() { awk -v r="$1" -v c="$2" 'BEGIN {printf "%.0f", (c > 0 ? r / c : 0)}'; }
cr=$(col clean 1); cc=$(col clean 2); fr=$(col faulted 1); fc=$(col faulted 2)
ce=$(per_cpu "$cr" "$cc"); fe=$(per_cpu "$fr" "$fc")
{
	echo "| gatecrash serve (GOMAXPROCS=1, CPU 0) | requests/s | server CPU | requests per server CPU-second |"
	echo "|---|---|---|---|"
	echo "| no faults | $(printf '%.0f' "$cr") | $cc | $ce |"
	echo "| ${#faults[@]} kinds, each at probability $P | $(printf '%.0f' "$fr") | $fc | $fe |"
	echo "| **faulted / clean** | | | **$(awk -v a="$fe" -v b="$ce" 'BEGIN {printf "%.3f", a / b}')** |"
	echo
	echo "Medians of $ROUNDS alternating rounds of $DURATION, wrk -t1 -c$CONNS on CPU 1 ($(machine_line))."
	echo "Faults: ${faults[*]}."
	echo "Injected over the run (the faulted server's /stats): ${injected:-not read}."
} | tee "$out/fault-cost.md"
