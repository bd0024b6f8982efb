#!/usr/bin/env bash
# Is gatecrash predict's number a prediction? Runs bench/predict.yaml — a gap sweep that
# measures the race window of nginx in front of the fault server (idle-close 25 ms, mode
# serve, 1 ms link), then Poisson loads at 40/s and 80/s through the same stack — and prints,
# for each Poisson load, the 502 rate gatecrash predict expects from the sweep (pool even over
# one connection, and nginx's pool simulated: --pool lifo) beside the one measured.
# docs/fidelity.md holds the table. Loopback only; every load is bounded.
#
#   bench/predict.sh                       # about 9 minutes
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need nginx
go build -o bin/gatecrash ./cmd/gatecrash
out=bench/out/predict-$(date +%Y%m%d-%H%M%S)
bin/gatecrash run bench/predict.yaml --out "$out" -q "$@" >"$out.log" 2>&1 || { cat "$out.log"; exit 1; }
for v in poisson-40 poisson-80; do
	rate=${v#poisson-}
	echo "== $v: predicted from the sweep, pool even over 1 connection"
	bin/gatecrash predict "$out/sweep.json" --rate "$rate" --connections 1 | grep -E '^(race window|  |in window|expected)'
	echo "== $v: predicted from the sweep, nginx's pool simulated (lifo, keepalive 16)"
	bin/gatecrash predict "$out/sweep.json" --rate "$rate" --connections 16 --pool lifo | grep -E '^(in window|expected)'
	echo "== $v: measured"
	bin/gatecrash report "$out/$v.json" | grep -E '^(duration| +(ok|502) )' || true
done
echo "results in $out"
