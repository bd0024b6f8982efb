#!/usr/bin/env bash
# Shows the fault server at the byte level with nothing but bash: a normal response, faults
# chosen per request with X-Gatecrash-Fault, an idle-close fault timed from outside, and the
# ground-truth counters. Talks only to 127.0.0.1 and stops by itself.
set -eu -o pipefail
bin=${1:-bin/gatecrash}
port=${DEMO_PORT:-19301}
admin=$((port + 1))

"$bin" serve --listen 127.0.0.1:$port --admin 127.0.0.1:$admin --fault idle-close:timeout=300ms,nth=1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

# request HEADER: send one GET with an optional extra header, print what comes back raw.
request() {
	exec 3<>/dev/tcp/127.0.0.1/$port
	printf 'GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n%s\r\n' "${1:+$1$'\r\n'}" >&3
	local out rc=0
	out=$(timeout 2 cat <&3 2>/dev/null | sed -n l) || rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    /'
	if [ "$rc" != 0 ]; then # with pipefail, cat's read error (ECONNRESET) lands here
		echo "    <connection reset by the server (RST)>"
	elif [ -z "$out" ]; then
		echo "    <connection closed by the server (FIN), nothing received>"
	fi
	exec 3<&-
}

echo "== a normal response (raw bytes, \$ marks line ends):"
request ""
echo "== X-Gatecrash-Fault: rst-headers;after-bytes=12 (12 bytes of the head, then RST):"
request "X-Gatecrash-Fault: rst-headers;after-bytes=12"
echo "== X-Gatecrash-Fault: status;code=503:"
request "X-Gatecrash-Fault: status;code=503"
echo "== X-Gatecrash-Fault: no-response (the request is read, nothing comes back):"
request "X-Gatecrash-Fault: no-response"

echo "== idle-close:timeout=300ms — a keep-alive connection is closed 300ms after its response:"
exec 3<>/dev/tcp/127.0.0.1/$port
printf 'GET / HTTP/1.1\r\nHost: demo\r\n\r\n' >&3
start=$(date +%s%N)
timeout 2 cat <&3 >/dev/null || true
echo "    server closed the idle connection after $(( ($(date +%s%N) - start) / 1000000 )) ms"
exec 3<&-

echo "== ground truth from the admin listener (GET /stats):"
exec 4<>/dev/tcp/127.0.0.1/$admin
printf 'GET /stats HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n' >&4
sed '1,/^\r$/d' <&4 | sed 's/^/    /'
exec 4<&-

echo "== SIGINT: the server stops and prints its final counters"
kill -INT $pid
wait $pid
trap - EXIT
