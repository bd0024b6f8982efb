#!/usr/bin/env bash
# gatecrash load --http2 vs h2load (nghttp2's load tool, Debian nghttp2-client), in one run on
# this machine, against the same h2c target: gatecrash serve --http2 (prior knowledge), one
# worker (GOMAXPROCS=1) pinned to CPU 0. Each client runs pinned to CPU 1, in two shapes:
# 1 connection x 100 streams and 16 connections x 10 streams. Reported per client and shape:
# requests/s, the client's CPU, requests per client CPU-second (meaningful even when the
# server is the bottleneck), and peak RSS; rounds alternate, medians are reported. Then the
# servers: h2load -c 16 -m 10 (CPU 1) against gatecrash serve --http2 and nginx `listen ...
# http2` `return 200` (each one worker on CPU 0): requests per server CPU-second. Loopback
# only; every run is bounded by its duration.
#
#   bench/load-h2-vs-h2load.sh
#   ROUNDS=5 DURATION=10s bench/load-h2-vs-h2load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
out=bench/out
mkdir -p "$out"
need h2load nginx taskset /usr/bin/time
go build -o bin/gatecrash ./cmd/gatecrash

port=$(free_port); admin=$(free_port)
dir=$(mktemp -d)
GOMAXPROCS=1 taskset -c 0 bin/gatecrash serve --listen 127.0.0.1:"$port" --admin 127.0.0.1:"$admin" --http2 >"$dir/serve.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
wait_port "$port"
url="http://127.0.0.1:$port/"
secs=${DURATION%s}


shapes=("1 100" "16 10")
for s in "${shapes[@]}"; do
	set -- $s
	: >"$dir/h2load-$1x$2.all"; : >"$dir/gatecrash-$1x$2.all"
done
for i in $(seq "$ROUNDS"); do
	for s in "${shapes[@]}"; do
		set -- $s
		measure "h2load-$1x$2" h2load -c "$1" -m "$2" -D "$secs" "$url" >>"$dir/h2load-$1x$2.all"
		measure "gatecrash-$1x$2" env GOMAXPROCS=1 bin/gatecrash load "$url" --http2 --connections "$1" --streams "$2" \
			--duration "$DURATION" -q >>"$dir/gatecrash-$1x$2.all"
		echo "round $i, $1x$2: h2load $(tail -1 "$dir/h2load-$1x$2.all") | gatecrash $(tail -1 "$dir/gatecrash-$1x$2.all")   (rps cpu rss_kb)"
	done
done
# The servers: h2load against each, the server's CPU from /proc (ticks of 10 ms).
nport=$(free_port)
start_nginx_return200 "$dir" "$nport" http2
trap 'kill $srv $NGINX_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
serve_round() { # NAME PORT PID...: appends "rps server_cpu" to $dir/NAME.all
	local name=$1 port=$2; shift 2
	local t0 t1 rps
	t0=$(cpu_ticks "$@")
	rps=$(taskset -c 1 h2load -c 16 -m 10 -D "$secs" "http://127.0.0.1:$port/" 2>&1 | awk '/^finished in/ {print $4}')
	t1=$(cpu_ticks "$@")
	awk -v r="$rps" -v t=$((t1 - t0)) -v s="$secs" 'BEGIN {printf "%s %.2f\n", r, t / 100 / s}' >>"$dir/$name.all"
}
: >"$dir/srv-gatecrash.all"; : >"$dir/srv-nginx.all"
for i in $(seq "$ROUNDS"); do
	serve_round srv-gatecrash "$port" "$srv"
	serve_round srv-nginx "$nport" $NGINX_PID $NGINX_WORKERS
	echo "server round $i: gatecrash serve $(tail -1 "$dir/srv-gatecrash.all") | nginx $(tail -1 "$dir/srv-nginx.all")   (rps cpu)"
done

col() { awk -v c="$2" '{print $c}' "$dir/$1.all" | median; }
per_cpu() { awk -v r="$1" -v c="$2" 'BEGIN {printf "%.0f", (c > 0 ? r / c : 0)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
row() {
	local t=$1 label=$2 r c m
	r=$(col "$t" 1); c=$(col "$t" 2); m=$(col "$t" 3)
	echo "| $label | $(printf '%.0f' "$r") | $c | $(per_cpu "$r" "$c") | $((m / 1024)) MiB |"
}
{
	echo "Target: \`gatecrash serve --http2\` (h2c), 1 worker on CPU 0; each client on CPU 1;"
	echo "medians of $ROUNDS alternating rounds of $DURATION ($(machine_line)); $(h2load --version | head -1)."
	echo
	echo "| client | requests/s | client CPU (1.00 = one core) | requests per client CPU-second | peak RSS |"
	echo "|---|---|---|---|---|"
	for s in "${shapes[@]}"; do
		set -- $s
		row "h2load-$1x$2" "h2load -c $1 -m $2"
		row "gatecrash-$1x$2" "gatecrash load --http2 --connections $1 --streams $2 (GOMAXPROCS=1)"
		g=$(col "gatecrash-$1x$2" 1); h=$(col "h2load-$1x$2" 1)
		ge=$(per_cpu "$g" "$(col "gatecrash-$1x$2" 2)"); he=$(per_cpu "$h" "$(col "h2load-$1x$2" 2)")
		echo "| **gatecrash / h2load, $1x$2** | **$(ratio "$g" "$h")** | | **$(ratio "$ge" "$he")** | |"
	done
	echo
	echo "Servers, h2load -c 16 -m 10 for $DURATION on CPU 1 against one worker on CPU 0 (nginx $NGINX_VERSION \`listen ... http2\` \`return 200\`):"
	echo
	echo "| server | requests/s | server CPU | requests per server CPU-second |"
	echo "|---|---|---|---|"
	for n in gatecrash nginx; do
		r=$(col "srv-$n" 1); c=$(col "srv-$n" 2)
		echo "| $n | $(printf '%.0f' "$r") | $c | $(per_cpu "$r" "$c") |"
	done
	sg=$(per_cpu "$(col srv-gatecrash 1)" "$(col srv-gatecrash 2)"); sn=$(per_cpu "$(col srv-nginx 1)" "$(col srv-nginx 2)")
	echo "| **gatecrash / nginx** | | | **$(ratio "$sg" "$sn")** |"
} | tee "$out/load-h2-vs-h2load.md"
echo "written to $out/load-h2-vs-h2load.md"
