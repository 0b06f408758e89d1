#!/usr/bin/env bash
# compare.sh: golocust against wrk on one machine, in one run.
#
# The target (bench/target, net/http answering "ok") is pinned to core 1;
# every generator is pinned to core 0: wrk -t1 -c50, then golocust with the
# fast client and with the net/http client (50 users, no wait, a UserType
# whose task calls client.FastFor(u).Get or client.HTTPFor(u).Get, run by
# the library's command line locust.Command, every request recorded in the
# full statistics), then the floor of each client (-bare: 50 goroutines
# doing GETs with the same library and no statistics; for net/http the
# plain loop a Go programmer writes: one http.Client on a tuned Transport,
# no per-request timeout, the body copied to io.Discard).
# PASSES passes (default 3) are interleaved, every other one in reverse
# order; medians are reported, and the ratio of each pass (same pass, so
# the same machine conditions) too.
#
# Usage: bench/compare.sh            (from the module root)
#   DURATION=10s PASSES=3 PORT=18080 USERS=50 bench/compare.sh
#   VARIANTS="net netbare" bench/compare.sh   (only the net/http pair)
#
# The last line is exactly (ratios of variants not run are left out):
#   ratio fast/wrk=X.XX net/wrk=Y.YY fast/bare=A.AA net/bare=B.BB
set -euo pipefail

DURATION=${DURATION:-10s}
PASSES=${PASSES:-3}
PORT=${PORT:-18080}
USERS=${USERS:-50}
URL="http://127.0.0.1:${PORT}/"
# NICE=-10 gives the benchmark processes priority over other work on a
# shared machine (needs root); 0 leaves priorities alone.
NICE=${NICE:-0}
PIN0=(nice -n "$NICE" taskset -c 0)

# VARIANTS: a subset of "wrk fast net fastbare netbare", run in that order
read -r -a VARIANTS <<<"${VARIANTS:-wrk fast net fastbare netbare}"
for v in "${VARIANTS[@]}"; do
	case $v in
	wrk | fast | net | fastbare | netbare) ;;
	*) echo "compare.sh: unknown variant $v (wrk fast net fastbare netbare)" >&2; exit 2 ;;
	esac
done
ran() { [[ " ${VARIANTS[*]} " == *" $1 "* ]]; }

if ran wrk; then command -v wrk >/dev/null || { echo "compare.sh: wrk not found (apt-get install -y wrk)" >&2; exit 1; }; fi
command -v taskset >/dev/null || { echo "compare.sh: taskset not found (util-linux)" >&2; exit 1; }

cd "$(dirname "$0")/.."
source bench/lib.sh
start_target 1

# seconds from bash's `times` output like 0m1.234s
tosec() { awk '{ s = $1; sub(/s$/, "", s); split(s, a, "m"); printf "%.3f", a[1] * 60 + a[2] }' <<<"$1"; }

declare -A RPS CPU TCPU CUR PR
last() { awk '{ print $NF }' <<<"$1"; }
# the ratios whose both sides ran: "pair label"
PAIRS=()
for pl in "fast/wrk fast/wrk" "net/wrk net/wrk" "fast/fastbare fast/bare" "net/netbare net/bare"; do
	pr=${pl% *}
	if ran "${pr%/*}" && ran "${pr#*/}"; then PAIRS+=("$pl"); fi
done

run_wrk() {
	# `times` prints the children's user and system time on its second line
	local out tm
	out=$( ("${PIN0[@]}" wrk -t1 -c"$USERS" -d"$DURATION" "$URL"; times) )
	local rps reqs
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
	tm=$(tail -n1 <<<"$out")
	local cpu
	cpu=$(awk -v u="$(tosec "$(cut -d' ' -f1 <<<"$tm")")" -v s="$(tosec "$(cut -d' ' -f2 <<<"$tm")")" 'BEGIN { printf "%.3f", u + s }')
	echo "$rps $(awk -v c="$cpu" -v n="$reqs" 'BEGIN { printf "%.2f", c * 1e6 / n }')"
}

run_ours() {
	local line
	line=$("${PIN0[@]}" "$TMP/golocust" -users "$USERS" -duration "$DURATION" -url "$URL" "$@" 2>"$TMP/err")
	if [[ -s $TMP/err ]]; then sed 's/^/    /' "$TMP/err" >&2; fi
	echo "    $line" >&2
	local rps cpu
	rps=$(tr ' ' '\n' <<<"$line" | awk -F= '$1 == "rps" { print $2 }')
	cpu=$(tr ' ' '\n' <<<"$line" | awk -F= '$1 == "cpu_us_per_req" { print $2 }')
	echo "$rps $cpu"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
echo "target: bench/target on core 1; generators on core 0; ${USERS} connections/users; ${DURATION} per run; ${PASSES} passes; nice ${NICE}"
for pass in $(seq "$PASSES"); do
	echo "pass $pass" >&2
	# every other pass runs the variants in reverse order, so that a
	# machine growing faster or slower during a run favours no variant
	order=("${VARIANTS[@]}")
	if ((pass % 2 == 0)); then
		order=()
		for ((i = ${#VARIANTS[@]} - 1; i >= 0; i--)); do order+=("${VARIANTS[i]}"); done
	fi
	for v in "${order[@]}"; do
		t0=$(target_cpu)
		case $v in
		wrk) r=$(run_wrk) ;;
		fast) r=$(run_ours -client fast) ;;
		net) r=$(run_ours -client net) ;;
		fastbare) r=$(run_ours -client fast -bare) ;;
		netbare) r=$(run_ours -client net -bare) ;;
		esac
		t1=$(target_cpu)
		read -r rps cpu <<<"$r"
		tcpu=$(awk -v a="$t0" -v b="$t1" -v r="$rps" -v d="${DURATION%s}" 'BEGIN { printf "%.2f", (b - a) * 1e6 / (r * d) }')
		echo "  $v: $rps req/s, $cpu µs CPU/req, target $tcpu µs CPU/req" >&2
		RPS[$v]+="$rps "
		CPU[$v]+="$cpu "
		TCPU[$v]+="$tcpu "
		CUR[$v]=$rps
	done
	# ratios within the pass: both sides ran under the same conditions
	line=""
	for pl in "${PAIRS[@]}"; do
		pr=${pl% *}
		PR[$pr]+="$(awk -v a="${CUR[${pr%/*}]}" -v b="${CUR[${pr#*/}]}" 'BEGIN { printf "%.3f", a / b }') "
		line+=" ${pl#* }=$(last "${PR[$pr]}")"
	done
	echo "  pass $pass ratios:$line" >&2
done

median() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

base=${VARIANTS[0]}
if ran wrk; then base=wrk; fi
printf '%-10s %12s %16s %12s %22s\n' variant "req/s" "CPU µs/req" "vs $base" "target CPU µs/req"
declare -A M
for v in "${VARIANTS[@]}"; do M[$v]=$(median "${RPS[$v]}"); done
for v in "${VARIANTS[@]}"; do
	printf '%-10s %12.0f %16.2f %12.2f %22.2f\n' "$v" "${M[$v]}" "$(median "${CPU[$v]}")" \
		"$(awk -v a="${M[$v]}" -v b="${M[$base]}" 'BEGIN { print a / b }')" "$(median "${TCPU[$v]}")"
done
per="" med="" fin=""
for pl in "${PAIRS[@]}"; do
	pr=${pl% *} label=${pl#* }
	per+="${per:+| }$label ${PR[$pr]}"
	med+=" $label=$(median "${PR[$pr]}")"
	fin+=" $label=$(awk -v a="${M[${pr%/*}]}" -v b="${M[${pr#*/}]}" 'BEGIN { printf "%.2f", a / b }')"
done
echo "per-pass ratios: $per"
echo "median of per-pass ratios:$med"
echo "ratio$fin"
