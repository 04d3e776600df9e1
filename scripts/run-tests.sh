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
# first pytest stage, which mostly waits on sockets, so the 3 minutes of
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

rm -f "$log"/counts-*.txt
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
# The normal pass and the nbthread-1 pass run at the same time, on
# disjoint port slices (conftest.py), each with its own summary; their
# counts are added once both are done. Then the full ASan pass.
(
	passed=0 failed=0
	FERRY_TEST_PORT_SLICE=0/2 run_pytest build/ferry normal >"$log/summary-normal.txt"
	echo "$passed $failed" >"$log/counts-normal.txt"
) &
bg=$!
passed0=$passed failed0=$failed
passed=0 failed=0
FERRY_TEST_NBTHREAD=1 FERRY_TEST_PORT_SLICE=1/2 \
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_pytest build/asan/ferry asan-nbthread1 $nbthread1_files >"$log/summary-nbthread1.txt"
wait $bg
read -r pn fn <"$log/counts-normal.txt"
cat "$log/summary-normal.txt" "$log/summary-nbthread1.txt"
passed=$((passed0 + passed + pn))
failed=$((failed0 + failed + fn))
wait $fuzz_bg
if read -r pn fn <"$log/counts-fuzz.txt"; then :; else pn=0 fn=1; fi
cat "$log/summary-fuzz.txt"
passed=$((passed + pn))
failed=$((failed + fn))
# The full ASan pass: two workers at a time on disjoint port slices, each
# taking the next test file from one queue (largest files first, so the
# last ones to start are short and both workers end close together); one
# pytest per file (0.5 s of start-up each), its log in
# $log/pytest-asan-<file>.txt, one summary line for the pass.
take() { # the next file of the queue $1, or nothing
	(
		flock 9
		f=$(head -n 1 "$1")
		[ -n "$f" ] && sed -i 1d "$1"
		echo "$f"
	) 9>"$1.lock"
}
asan_worker() { # $1 = worker number (its port slice), $2 = queue
	local f passed=0 failed=0
	while f=$(take "$2") && [ -n "$f" ]; do
		FERRY_TEST_PORT_SLICE=$1/2 \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			run_pytest build/asan/ferry "asan-$(basename "$f" .py)" "$f" >>"$log/summary-asan-$1.txt"
	done
	echo "$passed $failed" >"$log/counts-asan-$1.txt"
}
queue=$log/asan-queue
ls -S tests/integration/test_*.py >"$queue"
rm -f "$log"/summary-asan-*.txt "$log"/counts-asan-*.txt "$log"/pytest-asan-test_*.txt
start=$(date +%s)
asan_worker 0 "$queue" &
w0=$!
asan_worker 1 "$queue"
wait $w0
pa=0 fa=0
for w in 0 1; do
	read -r pn fn <"$log/counts-asan-$w.txt"
	pa=$((pa + pn)) fa=$((fa + fn))
done
# a file's own line only when something in it failed; failure details always
awk '!/^integration \(asan-test_/ || /failed|error|no summary/' "$log"/summary-asan-*.txt
echo "integration (asan): $pa passed, $fa failed, $(ls "$log"/pytest-asan-test_*.txt | wc -l) files in $(($(date +%s) - start)) s (two at a time)"
passed=$((passed + pa))
failed=$((failed + fa))

echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
