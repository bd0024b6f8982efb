#!/usr/bin/env bash
# gatecrash serve (no faults) vs nginx `return 200` under wrk, on this machine, in one run.
# Same worker count: nginx worker_processes 1, gatecrash GOMAXPROCS=1; both servers pinned
# to CPU 0 and wrk to CPU 1, so the load generator does not steal the server's core.
# Runs alternate (nginx, gatecrash, nginx, ...) and the median of each is reported, with the
# ratio. Loopback only; every wrk run is bounded by -d.
#
#   bench/serve-vs-nginx.sh            # defaults: 3 rounds of 10s, 64 connections
#   ROUNDS=5 DURATION=20s CONNS=128 bench/serve-vs-nginx.sh
#   WORKERS=2 bench/serve-vs-nginx.sh  # two nginx workers, GOMAXPROCS=2, wrk -t2, all sharing
#                                      # CPUs 0-1; the figure is per server CPU-second
#   IO_URING=0 bench/serve-vs-nginx.sh  # without the third server of each round, gatecrash
#                                      # serve --io-uring (needs io_uring in the kernel)
#   URING_FLOOR=1 bench/serve-vs-nginx.sh
#       # one worker; two more servers in each round: bench/uringfloor, the least an HTTP/1.1
#       # server does per request when one io_uring carries every connection (no parsing, no
#       # faults, no counters) — what system calls cost here, not a rival — waiting for its
#       # completions in the kernel on a locked thread, and waiting through Go's poller (what
#       # the same batching costs a server whose other goroutines share the thread)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
URING_FLOOR=${URING_FLOOR:-0}
IO_URING=${IO_URING:-1}
out=bench/out
mkdir -p "$out"

. bench/lib.sh
need wrk nginx taskset
go build -o bin/gatecrash ./cmd/gatecrash
if [ "$URING_FLOOR" = 1 ]; then
	if [ "$WORKERS" != 1 ]; then
		echo "URING_FLOOR=1 needs WORKERS=1: the io_uring floor has one thread" >&2
		exit 2
	fi
	go build -o bin/uringfloor ./bench/uringfloor
fi

ng_port=$(free_port); gc_port=$(free_port); gc_admin=$(free_port)
dir=$(mktemp -d)
start_nginx_return200 "$dir" "$ng_port"
ng_pid=$NGINX_PID
GOMAXPROCS=$WORKERS taskset -c "$SERVER_CPUS" bin/gatecrash serve --listen 127.0.0.1:$gc_port --admin 127.0.0.1:$gc_admin >"$dir/gc.out" 2>&1 &
gc_pid=$!
ur_pid=
if [ "$IO_URING" = 1 ]; then
	ur_port=$(free_port)
	GOMAXPROCS=$WORKERS taskset -c "$SERVER_CPUS" bin/gatecrash serve --io-uring --listen 127.0.0.1:$ur_port --admin "" >"$dir/ur.out" 2>&1 &
	ur_pid=$!
fi
uf_pid=
up_pid=
if [ "$URING_FLOOR" = 1 ]; then
	uf_port=$(free_port)
	taskset -c "$SERVER_CPUS" bin/uringfloor -listen 127.0.0.1:$uf_port >"$dir/uf.out" 2>&1 &
	uf_pid=$!
	up_port=$(free_port)
	GOMAXPROCS=1 taskset -c "$SERVER_CPUS" bin/uringfloor -wait poller -listen 127.0.0.1:$up_port >"$dir/up.out" 2>&1 &
	up_pid=$!
fi
cleanup() { kill $ng_pid $gc_pid $ur_pid $uf_pid $up_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
wait_port "$gc_port"
if [ -n "$ur_pid" ] && ! wait_port "$ur_port"; then
	cat "$dir/ur.out" >&2
	echo "gatecrash serve --io-uring did not start (IO_URING=0 runs without it)" >&2
	exit 1
fi
[ -z "$uf_pid" ] || wait_port "$uf_port"
[ -z "$up_pid" ] || wait_port "$up_port"

# rps PORT PID...: requests/s under wrk, the share of one CPU the server PIDs used meanwhile,
# and their user and system CPU time per request in µs (on this VM a system call's crossing
# is charged to user time; the kernel's TCP work to system time).
rps() {
	local port=$1; shift
	local t0 u0 s0 out r n t1 u1 s1
	t0=$(date +%s%N); read -r u0 s0 < <(cpu_split "$@")
	out=$(taskset -c "$CLIENT_CPUS" wrk -t"$WORKERS" -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$port/")
	t1=$(date +%s%N); read -r u1 s1 < <(cpu_split "$@")
	r=$(awk '/Requests\/sec/ {print $2}' <<<"$out"); n=$(awk '/requests in/ {print $1}' <<<"$out")
	awk -v r="$r" -v n="$n" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" -v ns=$((t1 - t0)) \
		'BEGIN {printf "%s %.2f %.2f %.2f\n", r, (u + s) / hz / (ns / 1e9), u / hz / n * 1e6, s / hz / n * 1e6}'
}

ng_workers=$NGINX_WORKERS
: >"$dir/ng"; : >"$dir/gc"; : >"$dir/ur"; : >"$dir/uf"; : >"$dir/up"
for i in $(seq "$ROUNDS"); do
	read -r n ncpu nu ns < <(rps $ng_port $ng_pid $ng_workers)
	read -r g gcpu gu gs < <(rps $gc_port $gc_pid)
	line="round $i: nginx $n req/s (server CPU $ncpu), gatecrash serve $g req/s (server CPU $gcpu)"
	echo "$n $ncpu $nu $ns" >>"$dir/ng"; echo "$g $gcpu $gu $gs" >>"$dir/gc"
	if [ -n "$ur_pid" ]; then
		read -r u ucpu uu us < <(rps $ur_port $ur_pid)
		line="$line, gatecrash serve --io-uring $u req/s (server CPU $ucpu)"
		echo "$u $ucpu $uu $us" >>"$dir/ur"
	fi
	if [ -n "$uf_pid" ]; then
		read -r u ucpu uu us < <(rps $uf_port $uf_pid)
		line="$line, io_uring floor $u req/s (server CPU $ucpu)"
		echo "$u $ucpu $uu $us" >>"$dir/uf"
		read -r u ucpu uu us < <(rps $up_port $up_pid)
		line="$line, waited through Go's poller $u req/s (server CPU $ucpu)"
		echo "$u $ucpu $uu $us" >>"$dir/up"
	fi
	echo "$line"
done
col() { awk -v c="$1" '{print $c}'; }
ng=$(col 1 <"$dir/ng" | median); gc=$(col 1 <"$dir/gc" | median)
ngc=$(col 2 <"$dir/ng" | median); gcc=$(col 2 <"$dir/gc" | median)
ratio=$(awk -v a="$gc" -v b="$ng" 'BEGIN {printf "%.2f", a/b}')
per_cpu() { awk -v r="$1" -v c="$2" 'BEGIN {printf "%.0f", (c > 0 ? r / c : 0)}'; }
cpu_ratio=$(awk -v a="$(per_cpu "$gc" "$gcc")" -v b="$(per_cpu "$ng" "$ngc")" 'BEGIN {printf "%.2f", a/b}')
{
	# us FILE: the medians of user and system µs per request
	us() { echo "$(col 3 <"$1" | median) / $(col 4 <"$1" | median)"; }
	echo "| server ($WORKERS worker(s), CPUs $SERVER_CPUS) | requests/s | server CPU (1.00 = one core) | requests per server CPU-second | user / system µs per request |"
	echo "|---|---|---|---|---|"
	echo "| nginx $NGINX_VERSION \`return 200 \"ok\"\` | $(printf '%.0f' "$ng") | $ngc | $(per_cpu "$ng" "$ngc") | $(us "$dir/ng") |"
	echo "| gatecrash serve (no faults, GOMAXPROCS=$WORKERS) | $(printf '%.0f' "$gc") | $gcc | $(per_cpu "$gc" "$gcc") | $(us "$dir/gc") |"
	echo "| **ratio gatecrash / nginx** | **$ratio** | | **$cpu_ratio** | |"
	if [ -n "$ur_pid" ]; then
		ur=$(col 1 <"$dir/ur" | median); urc=$(col 2 <"$dir/ur" | median)
		echo "| gatecrash serve --io-uring (experimental; no faults, GOMAXPROCS=$WORKERS) | $(printf '%.0f' "$ur") | $urc | $(per_cpu "$ur" "$urc") | $(us "$dir/ur") |"
		echo "| **ratio gatecrash --io-uring / nginx** | | | **$(awk -v a="$(per_cpu "$ur" "$urc")" -v b="$(per_cpu "$ng" "$ngc")" 'BEGIN {printf "%.2f", a/b}')** | |"
	fi
	if [ -n "$uf_pid" ]; then
		uf=$(col 1 <"$dir/uf" | median); ufc=$(col 2 <"$dir/uf" | median)
		echo "| io_uring floor (\`bench/uringfloor\`: no parsing, faults or counters) | $(printf '%.0f' "$uf") | $ufc | $(per_cpu "$uf" "$ufc") | $(us "$dir/uf") |"
		echo "| ratio io_uring floor / nginx | | | $(awk -v a="$(per_cpu "$uf" "$ufc")" -v b="$(per_cpu "$ng" "$ngc")" 'BEGIN {printf "%.2f", a/b}') | |"
		up=$(col 1 <"$dir/up" | median); upc=$(col 2 <"$dir/up" | median)
		echo "| io_uring floor waited through Go's poller (\`-wait poller\`, GOMAXPROCS=1) | $(printf '%.0f' "$up") | $upc | $(per_cpu "$up" "$upc") | $(us "$dir/up") |"
		echo "| ratio floor through the poller / nginx | | | $(awk -v a="$(per_cpu "$up" "$upc")" -v b="$(per_cpu "$ng" "$ngc")" 'BEGIN {printf "%.2f", a/b}') | |"
	fi
	echo
	echo "Medians of $ROUNDS alternating rounds of $DURATION, wrk -t$WORKERS -c$CONNS on CPUs $CLIENT_CPUS."
} | tee "$out/serve-vs-nginx.md"
echo "written to $out/serve-vs-nginx.md ($(machine_line))"
