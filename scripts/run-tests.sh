#!/bin/bash
# Runs every test with the normal build and with the ASan+UBSan build, the
# fuzz harnesses briefly, and the integration tests once more with
# nbthread 1 (ASan). Unit tests are cmocka binaries;
# integration tests are pytest driving the
# real binary. Ends with one line: "total: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
passed=0
failed=0
log=build/test-logs
mkdir -p "$log"

count_cmocka() { # $1 = output file
	local p f
	p=$(grep -oE '^\[  PASSED  \] [0-9]+' "$1" | grep -oE '[0-9]+$' | tail -1)
	f=$(grep -oE '^\[  FAILED  \] [0-9]+ test' "$1" | grep -oE '[0-9]+' | tail -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
}

run_unit() { # $1 = dir with the binaries, $2 = label
	for t in "$1"/test_*; do
		[ -x "$t" ] || continue
		out="$log/$2-$(basename "$t").txt"
		if ! "$t" >"$out" 2>&1; then
			grep -q 'FAILED' "$out" || failed=$((failed + 1)) # crashed before reporting
			sed 's/^/    /' "$out" | grep -vE 'OK \]|RUN' | tail -40
		fi
		count_cmocka "$out"
		echo "unit ($2) $(basename "$t"): $(grep -E '^\[  (PASSED|FAILED)  \] [0-9]+ test' "$out" | tr '\n' ' ')"
	done
}

run_pytest() { # $1 = ferry binary, $2 = label, then the test files (default: all)
	out="$log/pytest-$2.txt"
	bin=$1 label=$2
	shift 2
	FERRY_BIN="$bin" "$PY" -m pytest -q -p no:cacheprovider "${@:-tests/integration}" >"$out" 2>&1
	rc=$?
	line=$(grep -E '[0-9]+ (passed|failed|error)' "$out" | tail -1)
	p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
	f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
	e=$(echo "$line" | grep -oE '[0-9]+ error' | grep -oE '[0-9]+')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + ${e:-0}))
	if [ $rc -ne 0 ] && [ -z "$f$e" ]; then failed=$((failed + 1)); fi
	if [ $rc -ne 0 ]; then
		grep -E '^(FAILED|ERROR)|Error|assert' "$out" | head -60 | sed 's/^/    /'
	fi
	echo "integration ($label): ${line:-no summary (exit $rc)}"
}

# The libFuzzer harnesses of fuzz/ (make fuzz-smoke): each replays its
# corpus and fuzzes for FUZZ_SMOKE_TIME seconds (20) under ASan+UBSan; one
# test per harness. It runs one harness at a time at nice 10 beside the
# integration tests, which mostly wait on sockets, so the 3 minutes of
# fuzzing fit in time the suite spends anyway.
run_fuzz_smoke() {
	out="$log/fuzz-smoke.txt"
	nice -n 10 make -s --no-print-directory FUZZ_JOBS=1 fuzz-smoke >"$out" 2>&1
	rc=$?
	p=$(grep -cE '^fuzz-smoke [a-z_]+: ok' "$out")
	f=$(grep -cE '^fuzz-smoke [a-z_]+: FAILED' "$out")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi # did not build
	if [ $rc -ne 0 ]; then
		grep -vE '^fuzz-smoke [a-z_]+: ok' "$out" | head -60 | sed 's/^/    /'
	fi
	echo "fuzz smoke: $p passed, $f failed ($(grep -oE '[0-9]+ harnesses in [0-9]+ s' "$out" || echo "exit $rc"))"
}

run_lint() { # make lint (gcc -fanalyzer, cppcheck): one test, passed when clean
	if make -s --no-print-directory -j2 lint >"$log/lint.txt" 2>&1; then passed=$((passed + 1)); echo "lint: clean"
	else failed=$((failed + 1)); grep -E '^src/' "$log/lint.txt" | head -40 | sed 's/^/    /'; echo "lint: findings ($log/lint.txt)"; fi
}

rm -f "$log"/counts-*.txt "$log"/summary-fuzz.txt
run_lint
run_unit build/unit normal
run_unit build/asan/unit asan
(
	passed=0 failed=0
	run_fuzz_smoke >"$log/summary-fuzz.txt"
	echo "$passed $failed" >"$log/counts-fuzz.txt"
) &
fuzz_bg=$!
# Without nbthread, ferry runs one thread per CPU (two on these machines),
# so the passes above run threaded; once more with "nbthread 1" added to
# every test's configuration (conftest.py), under the sanitizers, so the
# one-thread case is tested as well: the files whose code paths differ with
# the thread count (sessions, relay, listeners, queues, limits, reloads,
# the early phase, rules and tables shared by threads). The others (config
# parsing, checks, stats output, PostgreSQL roles, TLS routing, logs) run
# the same code with one thread or two, and twice above already; leaving
# them out keeps make test within its budget here.
nbthread1_files="tests/integration/test_relay.py tests/integration/test_threads.py tests/integration/test_limits.py \
	tests/integration/test_balance.py tests/integration/test_reload.py tests/integration/test_health.py \
	tests/integration/test_bind.py tests/integration/test_bind_fd.py tests/integration/test_cli.py \
	tests/integration/test_inspect.py tests/integration/test_accept_proxy.py \
	tests/integration/test_proxy_protocol.py tests/integration/test_rules.py \
	tests/integration/test_track.py tests/integration/test_stick.py tests/integration/test_stick_table.py \
	tests/integration/test_rate_limits.py tests/integration/test_wait_for_server.py"
# The three integration passes (normal build, ASan build, ASan with
# nbthread 1) are one queue of (pass, test file) jobs that TEST_JOBS
# workers (2) take from, each on its own port slice (conftest.py), largest
# files first within a pass so the last jobs to start are short and the
# workers end close together; one pytest per job (0.5 s of start-up), its log in
# $log/pytest-<pass>-<file>.txt. The tests mostly wait on sockets, so two
# at a time on two CPUs cost each other little. One summary line per pass;
# a file's own line only when something in it failed.
take() { # the next line of the queue $1, or nothing
	(
		flock 9
		f=$(head -n 1 "$1")
		[ -n "$f" ] && sed -i 1d "$1"
		echo "$f"
	) 9>"$1.lock"
}
worker() { # $1 = worker number (its port slice), $2 = queue
	local job pass f passed failed
	while job=$(take "$2") && [ -n "$job" ]; do
		read -r pass f <<<"$job"
		passed=0 failed=0
		case $pass in
		normal) FERRY_TEST_PORT_SLICE=$1/$jobs run_pytest build/ferry "normal-$(basename "$f" .py)" "$f" ;;
		asan*)
			[ "$pass" = asan-nbthread1 ] && export FERRY_TEST_NBTHREAD=1
			FERRY_TEST_PORT_SLICE=$1/$jobs \
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
				run_pytest build/asan/ferry "$pass-$(basename "$f" .py)" "$f"
			unset FERRY_TEST_NBTHREAD ;;
		esac >>"$log/summary-w$1.txt"
		echo "$pass $passed $failed" >>"$log/results-w$1.txt"
	done
}
jobs=${TEST_JOBS:-2}
case $jobs in [1-9] | [1-9][0-9]) ;; *) echo "TEST_JOBS must be 1 to 99, not '$jobs'" >&2; exit 2 ;; esac
queue=$log/queue
rm -f "$log"/summary-w*.txt "$log"/results-w*.txt "$log"/pytest-*-test_*.txt
# pass by pass (ASan's first, the slowest), largest files first in each:
# the two workers never run one file's two passes at once (two copies of
# the heaviest, test_pg_edge's 100 concurrent PostgreSQL sessions, would
# slow each other most)
{
	for f in $(ls -S tests/integration/test_*.py); do echo "asan $f"; done
	for f in $(ls -S tests/integration/test_*.py); do echo "normal $f"; done
	for f in $(ls -S $nbthread1_files); do echo "asan-nbthread1 $f"; done
} >"$queue"
cp "$queue" "$log/queue-all"
start=$(date +%s)
pids=
for ((w = 1; w < jobs; w++)); do
	worker "$w" "$queue" &
	pids="$pids $!"
done
worker 0 "$queue"
wait $pids
awk '!/^integration \(/ || /failed|error|no summary/' "$log"/summary-w*.txt
for pass in normal asan-nbthread1 asan; do
	read -r n p f <<<"$(cat "$log"/results-w*.txt 2>/dev/null |
		awk -v P=$pass '$1 == P { n++; p += $2; f += $3 } END { print n + 0, p + 0, f + 0 }')"
	want=$(grep -c "^$pass " "$log/queue-all")
	if [ "$n" -ne "$want" ]; then # a worker died with a job: each lost file counts as a failure
		echo "    $((want - n)) of the $want files of the $pass pass left no result"
		f=$((f + want - n))
	fi
	echo "integration ($pass): $p passed, $f failed ($n of $want files)"
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "integration: $(cat "$log"/results-w*.txt 2>/dev/null | wc -l) pytest runs in $(($(date +%s) - start)) s, $jobs at a time"
wait $fuzz_bg
if read -r pn fn <"$log/counts-fuzz.txt"; then :; else pn=0 fn=1; fi
cat "$log/summary-fuzz.txt"
passed=$((passed + pn))
failed=$((failed + fn))

echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
