#!/usr/bin/env bash
# How faithful is the fault server's idle close? bench/fidelity.yaml puts real uvicorn,
# gunicorn, Node.js and nginx (keep-alive 1 s) and the fault server's idle-close at 1 s (mode close, mode serve)
# behind the same nginx, across the same 1 ms link, under the same POST gap sweep, and the
# run compares their 502 rates with 95% intervals: docs/fidelity.md's table. Loopback only;
# each variant is bounded by its duration (90 s by default: about 5,700 requests).
#
#   bench/fidelity.sh                      # all six variants, 90 s each
#   bench/fidelity.sh --variant node       # one of them
#   bench/fidelity.sh --duration 30s       # shorter
#   LINK=0 bench/fidelity.sh               # the same without the link (loopback latency)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need nginx
go build -o bin/gatecrash ./cmd/gatecrash
scenario=bench/fidelity.yaml
out=bench/out/fidelity-$(date +%Y%m%d-%H%M%S)
if [ "${LINK:-1}" = 0 ]; then
	mkdir -p bench/out
	scenario=bench/out/fidelity-nolink.yaml
	# Drop the link: the race window shrinks to the loopback round trip.
	awk '/^  link:/{skip=1; next} skip && /^    /{next} {skip=0; print}' bench/fidelity.yaml |
		sed 's/^name: fidelity$/name: fidelity-nolink/' >"$scenario"
	out=$out-nolink
fi
bin/gatecrash run "$scenario" --out "$out" "$@"
echo "results in $out"
