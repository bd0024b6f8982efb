#!/usr/bin/env bash
# Is gatecrash predict's number a prediction? Runs bench/predict.yaml — a gap sweep that
# measures the race window of nginx in front of the fault server (idle-close 25 ms, mode
# serve, 1 ms link), then Poisson loads through the same stack at 40/s, 80/s, 300/s, and at
# 320/s and 300/s with nginx keeping one idle connection (where about 1e-4 and 2e-4 fail:
# 25 and 27 minutes) — and
# prints, for each, the 502 rate gatecrash predict expects from the sweep (pool even over one
# connection, and nginx's pool simulated: --pool lifo with its keepalive) beside the one
# measured. docs/fidelity.md holds the table. Loopback only; every load is bounded.
#
#   bench/predict.sh                                   # about 64 minutes
#   bench/predict.sh --variant sweep --variant poisson-300   # the sweep and one load
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need nginx
go build -o bin/gatecrash ./cmd/gatecrash
out=bench/out/predict-$(date +%Y%m%d-%H%M%S)
bin/gatecrash run bench/predict.yaml --out "$out" -q "$@" >"$out.log" 2>&1 || { cat "$out.log"; exit 1; }
# variant, rate, nginx's keepalive (the idle connections it keeps)
while read -r v rate keep; do
	[ -f "$out/$v.json" ] || continue
	echo "== $v: predicted from the sweep, pool even over 1 connection"
	bin/gatecrash predict "$out/sweep.json" --rate "$rate" --connections 1 | grep -E '^(race window|  |in window|expected)'
	echo "== $v: predicted from the sweep, nginx's pool simulated (lifo, keepalive $keep)"
	bin/gatecrash predict "$out/sweep.json" --rate "$rate" --connections "$keep" --pool lifo | grep -E '^(in window|expected)'
	echo "== $v: measured"
	bin/gatecrash report "$out/$v.json" | grep -E '^(duration| +(ok|502) )' || true
done <<'VARIANTS'
poisson-40 40 16
poisson-80 80 16
poisson-300 300 16
poisson-320-keep1 320 1
poisson-300-keep1 300 1
VARIANTS
echo "results in $out"
