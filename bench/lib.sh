# Shared helpers for the bench/ scripts (sourced, not run). Loopback only.

# need TOOL...: fail with an install hint when a tool is missing.
need() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || [ -x "/usr/bin/$tool" ] || {
			echo "missing $tool (apt-get install wrk hey nginx-light time util-linux)" >&2
			exit 1
		}
	done
}

# free_port: a TCP port free on 127.0.0.1 right now, below the ephemeral range (32768..): a
# port some client connection holds as its local port cannot be bound, though nothing listens.
free_port() {
	local p
	while :; do
		p=$((10000 + RANDOM % 22000))
		(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
	done
}

# WORKERS is how many workers (nginx processes, GOMAXPROCS, wrk threads) the scripts that take
# it give each side: 1 (default) puts the server on CPU 0 and the client on CPU 1; more puts
# both on every CPU from 0 to WORKERS-1 (this machine has two: server and client then share
# them, and each is measured by the CPU time it used). SERVER_CPUS and CLIENT_CPUS say where.
WORKERS=${WORKERS:-1}
if [ "$WORKERS" -gt 1 ]; then
	SERVER_CPUS=0-$((WORKERS - 1)); CLIENT_CPUS=$SERVER_CPUS
else
	SERVER_CPUS=0; CLIENT_CPUS=1
fi

# start_nginx_return200 DIR PORT: nginx with WORKERS workers pinned to SERVER_CPUS (one, on
# CPU 0, by default) answering `return 200 "ok"` on 127.0.0.1:PORT. Sets NGINX_PID and
# NGINX_WORKERS.
start_nginx_return200() {
	local dir=$1 port=$2 params=${3:-} bin
	bin=$(command -v nginx || echo /usr/sbin/nginx)
	chmod 777 "$dir"
	cat >"$dir/nginx.conf" <<CONF
worker_processes $WORKERS;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body; proxy_temp_path $dir/proxy; fastcgi_temp_path $dir/fcgi;
    uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$port${params:+ $params};
        location / { default_type text/plain; return 200 "ok"; }
    }
}
CONF
	taskset -c "$SERVER_CPUS" "$bin" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
	NGINX_PID=$!
	wait_port "$port"
	NGINX_WORKERS=$(pgrep -P "$NGINX_PID" | tr '\n' ' ')
	NGINX_VERSION=$("$bin" -v 2>&1 | sed 's/.*nginx\///')
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (at most 5 s).
wait_port() {
	for _ in $(seq 50); do
		(exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listening on 127.0.0.1:$1 after 5s" >&2
	return 1
}

# cpu_ticks PID...: user+system clock ticks used so far by these processes.
cpu_ticks() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s}'; }

# cpu_split PID...: "user system" clock ticks used so far by these processes.
cpu_split() { for p in "$@"; do awk '{print $14, $15}' "/proc/$p/stat"; done | awk '{u += $1; s += $2} END {print u, s}'; }

# median: the median of the numbers on stdin.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# machine_line: one line saying where the figures come from.
machine_line() { echo "$(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d)"; }

# measure NAME CMD...: run CMD on CLIENT_CPUS under /usr/bin/time, its output in $dir/NAME.log;
# prints "rps cpu rss_kb". The rate is the tool's own: wrk's and hey's Requests/sec, h2load's
# "finished in ..., N req/s", gatecrash's "achieved".
measure() {
	local name=$1; shift
	local log="$dir/$name.log" tlog="$dir/$name.time" rps
	taskset -c "$CLIENT_CPUS" /usr/bin/time -f '%e %U %S %M' -o "$tlog" "$@" >"$log" 2>&1
	case $name in
	wrk* | hey*) rps=$(awk '/Requests\/sec/ {print $2}' "$log") ;;
	h2load*) rps=$(awk '/^finished in/ {print $4}' "$log") ;;
	*) rps=$(awk '/achieved/ {for (i = 1; i <= NF; i++) if ($i == "achieved") {sub("/s", "", $(i+1)); print $(i+1)}}' "$log") ;;
	esac
	awk -v r="$rps" '{printf "%s %.2f %d\n", r, ($2 + $3) / $1, $4}' "$tlog"
}
