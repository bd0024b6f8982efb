#!/usr/bin/env bash
# gatecrash load vs wrk vs hey, in one run on this machine, against the same target: nginx
# `return 200` with one worker pinned to CPU 0. Each load generator runs pinned to CPU 1 with
# the same connection count. Reported per tool: requests/s, the client's CPU use, requests per
# client CPU-second (efficiency: meaningful even when nginx is the bottleneck), and peak RSS.
# Then: open-loop accuracy (gatecrash --pattern constant at 20,000 req/s), and peak RSS of a
# 1M-request run against a 10M-request run (memory must not grow with requests).
# Loopback only; every run is bounded by a duration or a request count.
#
#   bench/load-vs-wrk-hey.sh
#   ROUNDS=5 DURATION=20s CONNS=128 RSS_SMALL=1000000 RSS_LARGE=10000000 bench/load-vs-wrk-hey.sh
#   BEFORE=/path/to/older/gatecrash bench/load-vs-wrk-hey.sh   # also measure an older build, same rounds
#   WORKERS=2 bench/load-vs-wrk-hey.sh   # wrk -t2, GOMAXPROCS=2, two nginx workers, all on CPUs 0-1
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
RATE=${RATE:-20000}
RSS_SMALL=${RSS_SMALL:-1000000}
RSS_LARGE=${RSS_LARGE:-10000000}
out=bench/out
mkdir -p "$out"
need wrk hey nginx taskset /usr/bin/time
go build -o bin/gatecrash ./cmd/gatecrash

port=$(free_port)
dir=$(mktemp -d)
start_nginx_return200 "$dir" "$port"
trap 'kill $NGINX_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
url="http://127.0.0.1:$port/"
secs=${DURATION%s}


: >"$dir/wrk.all"; : >"$dir/hey.all"; : >"$dir/gatecrash.all"; : >"$dir/before.all"
for i in $(seq "$ROUNDS"); do
	measure wrk wrk -t"$WORKERS" -c"$CONNS" -d"$DURATION" "$url" >>"$dir/wrk.all"
	measure hey hey -c "$CONNS" -z "$DURATION" "$url" >>"$dir/hey.all"
	measure gatecrash env GOMAXPROCS="$WORKERS" bin/gatecrash load "$url" --connections "$CONNS" --duration "$DURATION" -q >>"$dir/gatecrash.all"
	if [ -n "${BEFORE:-}" ]; then
		measure before env GOMAXPROCS="$WORKERS" "$BEFORE" load "$url" --connections "$CONNS" --duration "$DURATION" -q >>"$dir/before.all"
	fi
	echo "round $i: wrk $(tail -1 "$dir/wrk.all") | hey $(tail -1 "$dir/hey.all") | gatecrash $(tail -1 "$dir/gatecrash.all")${BEFORE:+ | before $(tail -1 "$dir/before.all")}   (rps cpu rss_kb)"
done
col() { awk -v c="$2" '{print $c}' "$dir/$1.all" | median; }
per_cpu() { awk -v r="$1" -v c="$2" 'BEGIN {printf "%.0f", (c > 0 ? r / c : 0)}'; }
row() {
	local t=$1 label=$2 r c m
	r=$(col "$t" 1); c=$(col "$t" 2); m=$(col "$t" 3)
	echo "| $label | $(printf '%.0f' "$r") | $c | $(per_cpu "$r" "$c") | $((m / 1024)) MiB |"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
g=$(col gatecrash 1); w=$(col wrk 1); h=$(col hey 1)
ge=$(per_cpu "$g" "$(col gatecrash 2)"); we=$(per_cpu "$w" "$(col wrk 2)"); he=$(per_cpu "$h" "$(col hey 2)")

# Open-loop accuracy: achieved rate against the target.
GOMAXPROCS="$WORKERS" taskset -c "$CLIENT_CPUS" bin/gatecrash load "$url" --pattern constant --rate "$RATE" --connections "$CONNS" \
	--duration "$DURATION" -q --out "$dir/open.json" >"$dir/open.log"
achieved=$(awk '/achieved/ {for (i = 1; i <= NF; i++) if ($i == "achieved") {sub("/s", "", $(i+1)); print $(i+1)}}' "$dir/open.log")
late=$(awk '/late starts/ {for (i = 1; i <= NF; i++) if ($i == "starts") print $(i+1)}' "$dir/open.log")
unsent=$(grep -o 'UNSENT [0-9,]*' "$dir/open.log" | awk '{print $2}' || true)
p99=$(awk '$1 == "ok" {print $5}' "$dir/open.log")
lag=$(grep -o 'start lag p50 [^)]*' "$dir/open.log" || true)
sent=$(awk '$1 == "duration" {for (i = 1; i <= NF; i++) if ($i == "requests") {v = $(i+1); gsub(",", "", v); print v}}' "$dir/open.log")
late_share=$(awk -v l="${late:-0}" -v n="${sent:-0}" 'BEGIN {gsub(",", "", l); printf "%.2f", (n > 0 ? 100 * l / n : 0)}')
err=$(awk -v a="$achieved" -v t="$RATE" 'BEGIN {printf "%+.2f", 100 * (a - t) / t}')

# Memory must not grow with the number of requests.
rss() {
	taskset -c "$CLIENT_CPUS" /usr/bin/time -f '%M' -o "$dir/rss" bin/gatecrash load "$url" --connections "$CONNS" --requests "$1" -q >"$dir/rss.log"
	cat "$dir/rss"
}
small=$(rss "$RSS_SMALL"); large=$(rss "$RSS_LARGE")
growth=$(awk -v a="$large" -v b="$small" 'BEGIN {printf "%+.1f", 100 * (a - b) / b}')

{
	echo "Target: nginx $NGINX_VERSION \`return 200\`, $WORKERS worker(s) on CPUs $SERVER_CPUS; each client on CPUs $CLIENT_CPUS, $CONNS connections;"
	echo "medians of $ROUNDS rounds of $DURATION ($(machine_line))."
	echo
	echo "| client | requests/s | client CPU (1.00 = one core) | requests per client CPU-second | peak RSS |"
	echo "|---|---|---|---|---|"
	row wrk "wrk -t$WORKERS"
	row hey "hey"
	row gatecrash "gatecrash load --pattern closed (GOMAXPROCS=$WORKERS)"
	echo "| **gatecrash / wrk** | **$(ratio "$g" "$w")** | | **$(ratio "$ge" "$we")** | |"
	echo "| **gatecrash / hey** | **$(ratio "$g" "$h")** | | **$(ratio "$ge" "$he")** | |"
	if [ -n "${BEFORE:-}" ]; then
		b=$(col before 1); be=$(per_cpu "$b" "$(col before 2)")
		row before "\`$BEFORE\` (BEFORE)"
		echo "| **gatecrash / before** | **$(ratio "$g" "$b")** | | **$(ratio "$ge" "$be")** | |"
	fi
	echo
	echo "Open loop: \`--pattern constant --rate $RATE\` for $DURATION achieved $achieved req/s ($err% of target),"
	echo "late starts (> 1 ms) ${late:-0} of ${sent:-?} (${late_share}%)${lag:+, $lag}, unsent ${unsent:-0}, ok p99 $p99."
	echo
	echo "Peak RSS: $RSS_SMALL requests $((small / 1024)) MiB, $RSS_LARGE requests $((large / 1024)) MiB ($growth%)."
} | tee "$out/load-vs-wrk-hey.md"
echo "written to $out/load-vs-wrk-hey.md"
