#!/usr/bin/env bash
# gatecrash serve --upstream (the relay, no faults) vs Toxiproxy 2.12 (no toxics) vs HAProxy
# in mode tcp, each in front of the same app (nginx `return 200 "ok"`), on this machine, in one
# run. Each relay runs one worker (GOMAXPROCS=1, HAProxy nbthread 1) pinned to CPU 0; the app
# and wrk share CPU 1. Reported: requests/s, the relay's CPU, requests per relay CPU-second
# (the figure that does not depend on how fast the app and wrk are), p50 and p99 latency
# added to a direct connection, and the relay's peak RSS while it holds N idle keep-alive
# connections (N = 9,000 by default: the file limit here is 20,000 and every relayed
# connection takes two). Rounds alternate between the relays; medians are reported.
# Each round also drives every relay at one fixed rate (RATE req/s, 20,000 by default: below
# what each relay can do here, so all do the same work) with `gatecrash load --pattern
# constant` and reports requests per relay CPU-second there: a relay at saturation (wrk's
# closed loop) handles many ready connections per wake-up, one below it wakes up for fewer,
# and the two figures differ.
# Toxiproxy is built from source into bench/out (go install ...@v2.12.0). Loopback only;
# every wrk and load run is bounded by its duration.
#
#   bench/relay-vs-toxiproxy.sh                 # 3 rounds of 10s, 64 connections
#   ROUNDS=5 DURATION=20s IDLE=5000 bench/relay-vs-toxiproxy.sh
#   IO_URING=1 bench/relay-vs-toxiproxy.sh      # gatecrash serve --upstream --io-uring
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
IDLE=${IDLE:-9000}
RATE=${RATE:-20000}
IO_URING=${IO_URING:-0}
gc_flags=()
gc_name="gatecrash serve --upstream (no faults)"
if [ "$IO_URING" = 1 ]; then
	gc_flags=(--io-uring)
	gc_name="gatecrash serve --upstream --io-uring (no faults)"
fi
out=bench/out
mkdir -p "$out"

. bench/lib.sh
need wrk nginx haproxy taskset
go build -o bin/gatecrash ./cmd/gatecrash
toxi=$out/toxiproxy-bin/server
if [ ! -x "$toxi" ]; then
	echo "building Toxiproxy v2.12.0 into $out/toxiproxy-bin"
	GOBIN=$PWD/$out/toxiproxy-bin go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0
fi

dir=$(mktemp -d)
app_port=$(free_port); gc_port=$(free_port); gc_admin=$(free_port)
tx_port=$(free_port); tx_api=$(free_port); hp_port=$(free_port)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
trap 'echo "failed; logs:"; tail -n5 "$dir"/*.out "$dir"/error.log' ERR

# The app: nginx `return 200`, on CPU 1 with wrk (start_nginx_return200 pins to CPU 0: move it).
start_nginx_return200 "$dir" "$app_port"
pids+=("$NGINX_PID")
for p in $NGINX_PID $NGINX_WORKERS; do taskset -pc 1 "$p" >/dev/null; done
sed -i 's/worker_connections 4096/worker_connections 19000/' "$dir/nginx.conf"
kill -HUP "$NGINX_PID"; sleep 0.5
app_workers=$(pgrep -P "$NGINX_PID" | tr '\n' ' ')
for p in $app_workers; do taskset -pc 1 "$p" >/dev/null; done

GOMAXPROCS=1 taskset -c 0 bin/gatecrash serve --listen 127.0.0.1:$gc_port --admin 127.0.0.1:$gc_admin \
	--upstream http://127.0.0.1:$app_port "${gc_flags[@]}" >"$dir/gc.out" 2>&1 &
gc_pid=$!; pids+=("$gc_pid")

cat >"$dir/toxiproxy.json" <<JSON
[{"name": "app", "listen": "127.0.0.1:$tx_port", "upstream": "127.0.0.1:$app_port", "enabled": true}]
JSON
GOMAXPROCS=1 taskset -c 0 "$toxi" -host 127.0.0.1 -port "$tx_api" -config "$dir/toxiproxy.json" >"$dir/tx.out" 2>&1 &
tx_pid=$!; pids+=("$tx_pid")

cat >"$dir/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn 9900
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen app
    bind 127.0.0.1:$hp_port
    server app 127.0.0.1:$app_port
CFG
taskset -c 0 haproxy -f "$dir/haproxy.cfg" -db >"$dir/hp.out" 2>&1 &
hp_pid=$!; pids+=("$hp_pid")
wait_port "$gc_port"; wait_port "$tx_port"; wait_port "$hp_port"
HAPROXY_VERSION=$(haproxy -v | awk 'NR==1 {print $3}')

# run NAME PORT PID...: one wrk run; appends "rps cpu p50_us p99_us" to $dir/NAME.
run() {
	local name=$1 port=$2; shift 2
	local t0 c0 t1 c1 w
	t0=$(date +%s%N); c0=$(cpu_ticks "$@")
	w=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$port/")
	t1=$(date +%s%N); c1=$(cpu_ticks "$@")
	awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v ns=$((t1 - t0)) '
		function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
		/Requests\/sec/ {r = $2}
		/^ +50%/ {p50 = us($2)}
		/^ +99%/ {p99 = us($2)}
		END {printf "%s %.3f %.0f %.0f\n", r, (c > 0 ? c / hz / (ns / 1e9) : 0), p50, p99}' <<<"$w" >>"$dir/$name"
}

# run_rate NAME PORT PID...: one run at RATE req/s; appends "rps cpu" to $dir/NAME-rate.
run_rate() {
	local name=$1 port=$2; shift 2
	local t0 c0 t1 c1 o
	t0=$(date +%s%N); c0=$(cpu_ticks "$@")
	o=$(taskset -c 1 bin/gatecrash load "http://127.0.0.1:$port/" --pattern constant --rate "$RATE" \
		--connections "$CONNS" --duration "$DURATION" 2>&1)
	t1=$(date +%s%N); c1=$(cpu_ticks "$@")
	awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v ns=$((t1 - t0)) '
		/^duration/ {for (i = 1; i < NF; i++) if ($i == "requests") {r = $(i + 1); gsub(",", "", r)}; d = $2 + 0}
		/^ +ok / {ok = $2; gsub(",", "", ok)}
		END {if (ok != r) {print "not every request answered ok at the fixed rate: " r " sent, " ok " ok" > "/dev/stderr"; exit 1}
			printf "%.1f %.3f\n", r / d, (c > 0 ? c / hz / (ns / 1e9) : 0)}' <<<"$o" >>"$dir/$name-rate"
}

: >"$dir/direct"; : >"$dir/gc"; : >"$dir/tx"; : >"$dir/hp"; : >"$dir/ratio-tx"; : >"$dir/ratio-hp"
: >"$dir/gc-rate"; : >"$dir/tx-rate"; : >"$dir/hp-rate"; : >"$dir/rate-ratio-tx"; : >"$dir/rate-ratio-hp"
for i in $(seq "$ROUNDS"); do
	run direct "$app_port" $NGINX_PID
	# The order turns every other round, so that a drift within a round favours no relay.
	if ((i % 2)); then
		run gc "$gc_port" "$gc_pid"
		run tx "$tx_port" "$tx_pid"
		run hp "$hp_port" "$hp_pid"
	else
		run hp "$hp_port" "$hp_pid"
		run tx "$tx_port" "$tx_pid"
		run gc "$gc_port" "$gc_pid"
	fi
	echo "round $i: direct $(tail -1 "$dir/direct"); gatecrash $(tail -1 "$dir/gc"); toxiproxy $(tail -1 "$dir/tx"); haproxy $(tail -1 "$dir/hp")"
	# This round's ratios of requests per relay CPU-second: the VM's speed drifts between
	# rounds far more than within one, so the ratio is taken round by round.
	round_ratio() { awk -v a="$(tail -1 "$dir/gc")" -v b="$(tail -1 "$1")" \
		'BEGIN {split(a, x, " "); split(b, y, " "); printf "%.3f\n", (x[1] / x[2]) / (y[1] / y[2])}'; }
	round_ratio "$dir/tx" >>"$dir/ratio-tx"
	round_ratio "$dir/hp" >>"$dir/ratio-hp"
	order="gc tx hp"
	((i % 2)) || order="hp tx gc"
	for r in $order; do
		case $r in gc) run_rate gc "$gc_port" "$gc_pid" ;; tx) run_rate tx "$tx_port" "$tx_pid" ;; hp) run_rate hp "$hp_port" "$hp_pid" ;; esac
	done
	echo "round $i at $RATE/s: gatecrash $(tail -1 "$dir/gc-rate"); toxiproxy $(tail -1 "$dir/tx-rate"); haproxy $(tail -1 "$dir/hp-rate")"
	rate_ratio() { awk -v a="$(tail -1 "$dir/gc-rate")" -v b="$(tail -1 "$1")" \
		'BEGIN {split(a, x, " "); split(b, y, " "); printf "%.3f\n", (x[1] / x[2]) / (y[1] / y[2])}'; }
	rate_ratio "$dir/tx-rate" >>"$dir/rate-ratio-tx"
	rate_ratio "$dir/hp-rate" >>"$dir/rate-ratio-hp"
done
col() { awk -v c="$1" '{print $c}' "$2" | median; }

# peak NAME PORT PID: the relay's RSS (VmRSS, kB) while it holds $IDLE idle keep-alive
# connections, each of which has carried one request (so the relay has its app connection).
peak() {
	local port=$2 pid=$3 rss=0 r
	bin/gatecrash load "http://127.0.0.1:$port/" --connections "$IDLE" --think-time 30s --duration 6s --connect-timeout 20s \
		>"$dir/idle-$1.out" 2>&1 &
	local lp=$!
	for _ in $(seq 50); do
		sleep 0.1
		r=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
		[ "$r" -gt "$rss" ] && rss=$r
	done
	kill -INT $lp 2>/dev/null || true
	wait $lp 2>/dev/null || true
	echo "$rss"
}
gc_rss=$(peak gc "$gc_port" "$gc_pid"); sleep 1
tx_rss=$(peak tx "$tx_port" "$tx_pid"); sleep 1
hp_rss=$(peak hp "$hp_port" "$hp_pid")

d50=$(col 3 "$dir/direct"); d99=$(col 4 "$dir/direct")
row() {
	local name=$1 f=$2 rss=$3 r c
	r=$(col 1 "$f"); c=$(col 2 "$f")
	awk -v n="$name" -v r="$r" -v c="$c" -v p50="$(col 3 "$f")" -v p99="$(col 4 "$f")" -v d50="$d50" -v d99="$d99" -v rss="$rss" \
		'BEGIN {printf "| %s | %.0f | %.2f | %.0f | +%.0f µs | +%.0f µs | %.1f MiB |\n", n, r, c, (c > 0 ? r / c : 0), p50 - d50, p99 - d99, rss / 1024}'
}
per_cpu() { awk -v r="$(col 1 "$1")" -v c="$(col 2 "$1")" 'BEGIN {print (c > 0 ? r / c : 0)}'; }
ratio_tx=$(median <"$dir/ratio-tx" | awk '{printf "%.2f", $1}')
ratio_hp=$(median <"$dir/ratio-hp" | awk '{printf "%.2f", $1}')
rate_tx=$(median <"$dir/rate-ratio-tx" | awk '{printf "%.2f", $1}')
rate_hp=$(median <"$dir/rate-ratio-hp" | awk '{printf "%.2f", $1}')
rate_row() {
	local r c
	r=$(col 1 "$2"); c=$(col 2 "$2")
	awk -v n="$1" -v r="$r" -v c="$c" 'BEGIN {printf "| %s | %.0f | %.2f | %.0f |\n", n, r, c, (c > 0 ? r / c : 0)}'
}
range() { sort -n "$1" | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f–%.2f", lo, hi}'; }
{
	echo "| relay (1 worker, CPU 0) in front of nginx \`return 200\` | requests/s | relay CPU (1.00 = one core) | requests per relay CPU-second | added p50 | added p99 | peak RSS, $IDLE idle connections |"
	echo "|---|---|---|---|---|---|---|"
	row "$gc_name" "$dir/gc" "$gc_rss"
	row "Toxiproxy 2.12.0 (no toxics)" "$dir/tx" "$tx_rss"
	row "HAProxy $HAPROXY_VERSION mode tcp" "$dir/hp" "$hp_rss"
	echo
	echo "**Requests per relay CPU-second, median of the per-round ratios: gatecrash / Toxiproxy $ratio_tx× (rounds $(range "$dir/ratio-tx")); gatecrash / HAProxy tcp $ratio_hp× ($(range "$dir/ratio-hp")).**"
	echo "Direct to nginx: p50 $(printf '%.0f' "$d50") µs, p99 $(printf '%.0f' "$d99") µs. Medians of $ROUNDS alternating rounds of $DURATION,"
	echo "wrk -t1 -c$CONNS on CPU 1 with the app. GOMAXPROCS=1 for both Go relays."
	echo
	echo "| the same relays at a fixed $RATE requests/s (\`gatecrash load --pattern constant\`, $CONNS connections) | requests/s | relay CPU | requests per relay CPU-second |"
	echo "|---|---|---|---|"
	rate_row "$gc_name" "$dir/gc-rate"
	rate_row "Toxiproxy 2.12.0 (no toxics)" "$dir/tx-rate"
	rate_row "HAProxy $HAPROXY_VERSION mode tcp" "$dir/hp-rate"
	echo
	echo "**At $RATE requests/s, requests per relay CPU-second, median of the per-round ratios: gatecrash / Toxiproxy $rate_tx× (rounds $(range "$dir/rate-ratio-tx")); gatecrash / HAProxy tcp $rate_hp× ($(range "$dir/rate-ratio-hp")).**"
} | tee "$out/relay-vs-toxiproxy.md"
echo "written to $out/relay-vs-toxiproxy.md ($(machine_line))"
