#!/bin/bash
# Runs the libFuzzer harnesses of fuzz/ (built by `make fuzz-build`), two
# (JOBS) at a time; see fuzz/README.md.
#   fuzz.sh run   DIR SECONDS JOBS NAME...  each for SECONDS on fuzz/corpus/NAME (read only);
#                                            new inputs to build/fuzz/new/NAME
#   fuzz.sh smoke DIR SECONDS JOBS NAME...  the same, shorter, new inputs thrown away
#                                            (make test: one "fuzz-smoke NAME: ok|FAILED" line each)
#   fuzz.sh merge DIR NAME...               folds build/fuzz/new/NAME into fuzz/corpus/NAME
#                                            (only inputs that add coverage: -merge=1)
# A crash, a leak, a sanitizer report, a broken invariant or an input
# slower than 10 s fails the harness; the input is kept in
# build/fuzz/crash/NAME-* and the log in DIR/logs/NAME.txt.
set -u
cd "$(dirname "$0")/.."
mode=$1 dir=$2
shift 2
logs=$dir/logs # build/fuzz/logs; the smoke run its own (build/fuzz-smoke/logs), so the two can run at once
crash=build/fuzz/crash
mkdir -p "$logs" "$crash"

one() { # $1 = name, $2 = seconds, $3 = where new inputs go
	local n=$1 new=$3
	local dict=
	mkdir -p "$new" "fuzz/corpus/$n"
	[ -f "fuzz/$n.dict" ] && dict=-dict=fuzz/$n.dict # the words of a text protocol
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$dir/$n" -max_total_time="$2" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $dict \
		-artifact_prefix="$crash/$n-" "$new" "fuzz/corpus/$n" >"$logs/$n.txt" 2>&1
	echo $? >"$logs/$n.rc"
}

summary() { # $1 = name: "N runs, N exec/s, cov N, ft N, corpus N"
	local f=$logs/$1.txt runs eps cov
	runs=$(grep -oE '^stat::number_of_executed_units: [0-9]+' "$f" | grep -oE '[0-9]+$')
	eps=$(grep -oE '^stat::average_exec_per_sec: +[0-9]+' "$f" | grep -oE '[0-9]+$')
	cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$f" | tail -1 |
		grep -oE '(cov|ft|corp): [0-9]+' | tr '\n' ' ')
	echo "${runs:-?} runs, ${eps:-?} exec/s, ${cov:-no coverage line}"
}

run_all() { # $1 = seconds, $2 = jobs, $3 = directory of new inputs, then names
	local secs=$1 jobs=$2 newbase=$3
	shift 3
	for n in "$@"; do
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
		one "$n" "$secs" "$newbase/$n" &
	done
	wait
}

status=0
case $mode in
run|smoke)
	secs=$1 jobs=$2
	shift 2
	if [ "$mode" = smoke ]; then newbase=build/fuzz/smoke-new; rm -rf "$newbase"; else newbase=build/fuzz/new; fi
	start=$(date +%s)
	run_all "$secs" "$jobs" "$newbase" "$@"
	for n in "$@"; do
		rc=$(cat "$logs/$n.rc" 2>/dev/null || echo 1)
		if [ "$rc" = 0 ]; then
			echo "fuzz-$mode $n: ok ($(summary "$n"))"
		else
			status=1
			echo "fuzz-$mode $n: FAILED (exit $rc; $(summary "$n")); log $logs/$n.txt:"
			grep -E 'ERROR|SUMMARY|invariant|runtime error|(src|fuzz)/[a-z_/]+\.c:[0-9]+|Test unit written|Base64' \
				"$logs/$n.txt" | head -24 | sed 's/^/    /'
		fi
	done
	[ "$mode" = smoke ] && rm -rf "$newbase"
	echo "fuzz-$mode: $# harnesses in $(($(date +%s) - start)) s"
	;;
merge)
	for n in "$@"; do
		[ -d "build/fuzz/new/$n" ] || continue
		mkdir -p "fuzz/corpus/$n"
		"$dir/$n" -merge=1 -use_counters=0 -timeout=10 "fuzz/corpus/$n" "build/fuzz/new/$n" >"$logs/$n-merge.txt" 2>&1 ||
			{ status=1; echo "merge $n: failed, see $logs/$n-merge.txt"; continue; }
		echo "merge $n: $(ls "fuzz/corpus/$n" | wc -l) inputs kept"
	done
	;;
*)
	echo "usage: fuzz.sh run|smoke DIR SECONDS JOBS NAME... | merge DIR NAME..." >&2
	exit 2
	;;
esac
exit $status
