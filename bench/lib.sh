# lib.sh: what the bench scripts share. Source it from the module root
# after setting NICE and PORT; it builds bench/target and bench/golocust
# into $TMP, removes $TMP and stops the target on exit.
#
#   start_target CORE [TARGET FLAGS...]   start bench/target on 127.0.0.1:$PORT
#                                         pinned to CORE, and wait until it answers
#   target_cpu                            the target's CPU seconds so far

TMP=$(mktemp -d)
TARGET_PID=
cleanup() {
	if [[ -n $TARGET_PID ]]; then kill "$TARGET_PID" 2>/dev/null || true; wait "$TARGET_PID" 2>/dev/null || true; fi
	rm -rf "$TMP"
}
trap cleanup EXIT

go build -o "$TMP/" ./bench/target ./bench/golocust

start_target() {
	local core=$1
	shift
	nice -n "$NICE" taskset -c "$core" "$TMP/target" -addr "127.0.0.1:${PORT}" "$@" &
	TARGET_PID=$!
	for _ in $(seq 50); do
		if (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "bench: the target did not answer on 127.0.0.1:${PORT}" >&2
	return 1
}

CLK=$(getconf CLK_TCK)
# target CPU seconds so far (utime+stime from /proc/PID/stat)
target_cpu() { awk -v clk="$CLK" '{ printf "%.3f", ($14 + $15) / clk }' "/proc/$TARGET_PID/stat"; }
