#!/usr/bin/env bash
# accuracy.sh: how accurate are golocust's percentiles when the generator
# is loaded? The target (bench/target -delay 20ms) is pinned to core 1 and
# the generator (bench/golocust, no wait) to core 0, at growing user counts
# up to generator saturation. Each line gives p50/p99, the generator's CPU
# and its own scheduling lag (how late a 1 ms timer fired); the first
# count (10 users) is the baseline: the delay as seen by an idle generator.
#
# Usage: bench/accuracy.sh   (CLIENT=fast|net USERS="10 200 500 1000 2000" DURATION=5s NICE=0 PORT=18081)
set -euo pipefail
CLIENT=${CLIENT:-net}
USERS=${USERS:-10 200 500 1000 2000}
DURATION=${DURATION:-5s}
NICE=${NICE:-0}
PORT=${PORT:-18081}
DELAY=${DELAY:-20ms}
cd "$(dirname "$0")/.."
source bench/lib.sh
start_target 1 -delay "$DELAY"
delay_us=$(awk -v d="$DELAY" 'BEGIN { sub(/ms$/, "", d); print d * 1000 }')
printf '%-7s %-6s %9s %9s %9s %10s %8s %11s %11s\n' client users "req/s" "p50 ms" "p99 ms" "p50/delay" "gen CPU" "lag p99 ms" "lag max ms"
for n in $USERS; do
	line=$(nice -n "$NICE" taskset -c 0 "$TMP/golocust" -client "$CLIENT" -users "$n" -duration "$DURATION" -url "http://127.0.0.1:${PORT}/" 2>"$TMP/err")
	get() { tr ' ' '\n' <<<"$line" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
	printf '%-7s %-6s %9s %9.2f %9.2f %10.3f %7s%% %11.2f %11.2f\n' "$CLIENT" "$n" "$(get rps)" \
		"$(awk -v v="$(get p50_us)" 'BEGIN { print v / 1000 }')" "$(awk -v v="$(get p99_us)" 'BEGIN { print v / 1000 }')" \
		"$(awk -v v="$(get p50_us)" -v d="$delay_us" 'BEGIN { print v / d }')" "$(get cpu_pct)" \
		"$(awk -v v="$(get lag_p99_us)" 'BEGIN { print v / 1000 }')" "$(awk -v v="$(get lag_max_us)" 'BEGIN { print v / 1000 }')"
	if [[ -s $TMP/err ]]; then sed 's/^/    /' "$TMP/err"; fi
done
