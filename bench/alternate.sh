#!/usr/bin/env bash
# alternate.sh: two generators in separate processes, taking turns on one
# core, so that both meet the same moments of the machine.
#
# compare.sh runs its variants one after the other, and this machine's speed
# moves by ±15% from one run to the next; interleave.sh puts both sides in
# one process, where each also pays for what the other keeps in it. Here A
# and B are compare.sh's variants (default: net, the net/http session run
# by the library's command line with every request recorded, against
# netbare, the plain net/http loop), each its own bench/golocust process on
# core 0, with the target (bench/target) on core 1. Both start at once; the
# script stops one (SIGSTOP) and lets the other run (SIGCONT), swapping every
# TURN, so that each runs about half of the same wall-clock time, and a
# change of the machine's speed meets both. Who goes first alternates from
# pass to pass.
#
# Each process measures its own window (1 s of warm-up, then DURATION of wall
# time, about half of it running) and reports its requests and its CPU time
# per request (user and system, from getrusage). The CPU per request is the
# figure to compare: the generator's core is the bottleneck, so requests per
# second of running time are its inverse, and it does not depend on how
# many turns fell into each window. The ratio of requests is printed too;
# a turn more or less in a window moves it by TURN/DURATION.
#
# Usage: bench/alternate.sh   (from the module root)
#   PASSES=8 DURATION=8s TURN=0.25 A=net B=netbare USERS=50 PORT=18080 NICE=0 bench/alternate.sh
#
# The last line is exactly:
#   ratio A/B cpu: median=X.XXX geomean=Y.YYY (95% interval L.LLL-H.HHH) reqs: median=Z.ZZZ passes=N
# where the cpu ratio is B's CPU per request over A's (above 1: A is cheaper).
set -euo pipefail

PASSES=${PASSES:-8}
DURATION=${DURATION:-8s}
TURN=${TURN:-0.25}
A=${A:-net}
B=${B:-netbare}
USERS=${USERS:-50}
PORT=${PORT:-18080}
NICE=${NICE:-0}

flags() {
	case $1 in
	fast) echo "-client fast" ;;
	net) echo "-client net" ;;
	fastbare) echo "-client fast -bare" ;;
	netbare) echo "-client net -bare" ;;
	*) echo "alternate.sh: unknown variant $1 (fast net fastbare netbare)" >&2; return 2 ;;
	esac
}
FA=$(flags "$A")
FB=$(flags "$B")

command -v taskset >/dev/null || { echo "alternate.sh: taskset not found (util-linux)" >&2; exit 1; }
cd "$(dirname "$0")/.."
source bench/lib.sh
start_target 1

field() { tr ' ' '\n' <"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# A stopped process whose process group loses its parent (this script
# started in the background, its shell gone) gets SIGHUP from the kernel:
# the generators inherit it ignored.
trap '' HUP
# Generators left behind by an interrupted pass would stay stopped: the
# script kills them on its way out (SIGKILL ends a stopped process too).
PA="" PB=""
trap 'for p in $PA $PB; do kill -KILL "$p" 2>/dev/null || true; done; cleanup' EXIT

# one pass: $1 is the variant that runs first
pass() {
	local first=$1 pa pb cur
	# shellcheck disable=SC2086 # the flags are words
	nice -n "$NICE" taskset -c 0 "$TMP/golocust" $FA -users "$USERS" -duration "$DURATION" \
		-url "http://127.0.0.1:${PORT}/" >"$TMP/a.out" 2>/dev/null &
	pa=$!
	kill -STOP "$pa"
	# shellcheck disable=SC2086
	nice -n "$NICE" taskset -c 0 "$TMP/golocust" $FB -users "$USERS" -duration "$DURATION" \
		-url "http://127.0.0.1:${PORT}/" >"$TMP/b.out" 2>/dev/null &
	pb=$!
	kill -STOP "$pb"
	PA=$pa PB=$pb
	cur=$first
	if [[ $cur == a ]]; then kill -CONT "$pa"; else kill -CONT "$pb"; fi
	while kill -0 "$pa" 2>/dev/null || kill -0 "$pb" 2>/dev/null; do
		sleep "$TURN"
		if [[ $cur == a ]]; then
			kill -STOP "$pa" 2>/dev/null || true
			kill -CONT "$pb" 2>/dev/null || true
			cur=b
		else
			kill -STOP "$pb" 2>/dev/null || true
			kill -CONT "$pa" 2>/dev/null || true
			cur=a
		fi
		# once one has ended, the other runs to its end alone
		kill -0 "$pa" 2>/dev/null || kill -CONT "$pb" 2>/dev/null || true
		kill -0 "$pb" 2>/dev/null || kill -CONT "$pa" 2>/dev/null || true
	done
	wait "$pa" "$pb"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
echo "target: bench/target on core 1; A=$A and B=$B on core 0, in turns of ${TURN}s; ${USERS} users/goroutines; ${DURATION} per run; ${PASSES} passes; nice ${NICE}"
cpus="" reqs=""
for p in $(seq "$PASSES"); do
	first=a
	if ((p % 2 == 0)); then first=b; fi
	pass "$first"
	ra=$(field "$TMP/a.out" reqs) rb=$(field "$TMP/b.out" reqs)
	ca=$(field "$TMP/a.out" cpu_us_per_req) cb=$(field "$TMP/b.out" cpu_us_per_req)
	rc=$(awk -v a="$ca" -v b="$cb" 'BEGIN { printf "%.3f", b / a }')
	rr=$(awk -v a="$ra" -v b="$rb" 'BEGIN { printf "%.3f", a / b }')
	echo "pass $p (first: $([[ $first == a ]] && echo "$A" || echo "$B")): $A $ra reqs, $ca µs CPU/req | $B $rb reqs, $cb µs CPU/req | cpu $A/$B=$rc reqs $A/$B=$rr"
	cpus+="$rc " reqs+="$rr "
done
median() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) printf "%.3f", a[(NR + 1) / 2]; else printf "%.3f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# geometric mean and a 95% interval from the spread of the logs (t with n-1
# degrees of freedom, tabled to 30; 2.0 above)
stats=$(tr ' ' '\n' <<<"$cpus" | awk 'NF { l = log($1); s += l; q += l * l; n++ } END {
	split("12.71 4.30 3.18 2.78 2.57 2.45 2.36 2.31 2.26 2.23 2.20 2.18 2.16 2.14 2.13 2.12 2.11 2.10 2.09 2.09 2.08 2.07 2.07 2.06 2.06 2.06 2.05 2.05 2.05", t, " ")
	m = s / n; sd = (n > 1) ? sqrt((q - n * m * m) / (n - 1)) : 0
	tv = (n > 1 && n - 1 <= 29) ? t[n - 1] : 2.0
	h = tv * sd / sqrt(n)
	printf "geomean=%.3f (95%% interval %.3f-%.3f)", exp(m), exp(m - h), exp(m + h) }')
echo "ratio $A/$B cpu: median=$(median "$cpus") $stats reqs: median=$(median "$reqs") passes=$PASSES"
