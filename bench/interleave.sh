#!/usr/bin/env bash
# interleave.sh: the net/http session against the plain net/http loop, in
# one process, in turns (bench/golocust -interleave): the session through
# the library's command line, every request recorded, and the plain loop
# of compare.sh's netbare, taking turns of SLICE each, so that both meet
# the same machine within a fraction of a second of each other. RUNS runs
# of DURATION (half for each side); the target (bench/target) is pinned to
# core 1 and the generator to core 0, as in compare.sh.
#
# Usage: bench/interleave.sh   (from the module root)
#   RUNS=6 DURATION=10s SLICE=250ms PORT=18080 USERS=50 CLIENT=net NICE=0 bench/interleave.sh
#
# The last line is exactly:
#   ratio session/plain median=X.XXX mean=Y.YYY min=A.AAA max=B.BBB runs=N
set -euo pipefail

RUNS=${RUNS:-6}
DURATION=${DURATION:-10s}
SLICE=${SLICE:-250ms}
PORT=${PORT:-18080}
USERS=${USERS:-50}
CLIENT=${CLIENT:-net}
NICE=${NICE:-0}

command -v taskset >/dev/null || { echo "interleave.sh: taskset not found (util-linux)" >&2; exit 1; }
cd "$(dirname "$0")/.."
source bench/lib.sh
start_target 1

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
echo "target: bench/target on core 1; generator on core 0; ${USERS} users and ${USERS} plain goroutines; turns of ${SLICE}; ${DURATION} per run; ${RUNS} runs; nice ${NICE}"
ratios=""
for run in $(seq "$RUNS"); do
	t0=$(target_cpu)
	line=$(nice -n "$NICE" taskset -c 0 "$TMP/golocust" -client "$CLIENT" -users "$USERS" -duration "$DURATION" \
		-interleave "$SLICE" -url "http://127.0.0.1:${PORT}/")
	t1=$(target_cpu)
	# the target's CPU per request over the whole run (warm-up and turns' ends too)
	reqs=$(tr ' ' '\n' <<<"$line" | awk -F= '$1 == "stats_reqs" || $1 == "bare_reqs" { n += $2 } END { print n }')
	echo "run $run: $line target_cpu_us_per_req<=$(awk -v a="$t0" -v b="$t1" -v n="$reqs" 'BEGIN { printf "%.2f", (b - a) * 1e6 / n }')"
	ratios+="$(tr ' ' '\n' <<<"$line" | awk -F= '$1 == "ratio" { print $2 }') "
done
tr ' ' '\n' <<<"$ratios" | awk 'NF' | sort -g | awk '{ a[NR] = $1; s += $1 } END {
	m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
	printf "ratio session/plain median=%.3f mean=%.3f min=%.3f max=%.3f runs=%d\n", m, s / NR, a[1], a[NR], NR }'
