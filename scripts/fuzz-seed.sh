#!/bin/bash
# Seeds the corpora of fuzz/ (make fuzz-seed): runs the unit tests built
# with fuzz/seed/capture.c (each parser's inputs written to
# build/fuzz/seeds/<harness>/), adds the test configurations of
# tests/integration/configs/ and a few health-check replies written here,
# then keeps in fuzz/corpus/<harness>/ only the inputs that add coverage
# (libFuzzer's -merge=1).
#   fuzz-seed.sh DIR TEST...   DIR: where the harnesses are built
set -eu
cd "$(dirname "$0")/.."
dir=$1
shift
seeds=build/fuzz/seeds
rm -rf "$seeds"
mkdir -p "$seeds/config" "$seeds/check_expect"
for t in "$@"; do
	FUZZ_SEED_DIR=$seeds "build/fuzz/seed/$t" >/dev/null 2>&1 || true # a failing test still gave its inputs
done
cp tests/integration/configs/*.cfg "$seeds/config/"

# check_expect: backend number (fuzz/check_expect.c's configuration order),
# whether the server closed, then its reply
ce() { printf "$1" >"$seeds/check_expect/$2"; }
ce '\000\001+PONG\r\n+OK ready\r\n\012\013\014' tcp-ok
ce '\000\000-ERR nope\r\n' tcp-err
ce '\000\001\377\000\015\012ab ready' tcp-bin
ce '\001\001+PONG\r\n' redis-ok
ce '\001\001-ERR wrong\r\n' redis-err
ce '\002\001\112\000\000\000\0128.0.19\000\010\000\000\000\0011234567\000\377\367\010\002\000\377\301\025\000\000\000\000\000\000\000\000\000\000abcdefghijkl\000mysql_native_password\000\007\000\000\002\000\000\000\002\000\000\000' mysql-ok
ce '\003\001\054\000\000\000\0125.5.5\000\001\000\000\000abcdefgh\000\377\367\010\002\000\000\000\000\000\000\000\000\000\000\000\000\000ijklmnopqrst\000\007\000\000\002\000\000\000\002\000\000\000' mysql41
ce '\004\001\027\000\000\000\377\025\004#28000Access denied' mysql-err
ce '\005\001220 mail.example.org ESMTP\r\n' smtp-220
ce '\005\001250-mail.example.org\r\n250 OK\r\n' smtp-250
ce '\005\001421 busy\r\n' smtp-421
ce '\006\001\060\014\002\001\001\141\007\012\001\000\004\000\004\000' ldap-ok
ce '\006\001\060\014\002\001\001\141\007\012\001\061\004\000\004\000' ldap-err
ce '\007\001\026\003\003\000\061\002\000\000\055\003\003abcdefghijklmnopqrstuvwxyz012345\000\000\057\000\000\005\377\001\000\001\000' ssl-hello
ce '\007\001\025\003\001\000\002\002\050' ssl-alert
ce '\010\001HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' http-200
ce '\010\001HTTP/1.0 404 Not Found\r\n\r\n' http-404
ce '\011\001HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n{"up": true}' http-rules
ce '\011\000HTTP/1.1 503 Service Unavailable\r\nx-bad: 1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nmaint\r\n0\r\n\r\n' http-503

status=0
# cli: a level byte (0 user, 1 operator, 2 admin), then the commands
mkdir -p "$seeds/cli"
cs() { printf "$1" >"$seeds/cli/$2"; }
cs '\002show cli level;operator;show cli level;user;show cli level\n' levels
cs '\002set timeout cli 30;set timeout cli 1ms;set timeout cli x;set timeout other 1\r\n' timeout
cs '\000show version\nhelp show\nprompt\nquit\n' version
cs '\002_getsocks\n' getsocks
cs '\001show stat typed;show servers state;set server be/s1 weight 50%%\;x;help set' runtime
cs '\002show   sess\\ all\t\\\\;  show info' escapes

for h in $(ls fuzz/*.c | sed 's|fuzz/||; s|\.c$||'); do
	[ -d "$seeds/$h" ] || continue
	mkdir -p "fuzz/corpus/$h"
	mkdir -p build/fuzz/crash
	"$dir/$h" -merge=1 -use_counters=0 -timeout=10 -artifact_prefix="build/fuzz/crash/$h-" \
		"fuzz/corpus/$h" "$seeds/$h" >"build/fuzz/seed-$h.txt" 2>&1 ||
		{ echo "fuzz-seed $h: merge failed, see build/fuzz/seed-$h.txt"; exit 1; }
	# a test's input that fails the harness is left out of the merge: say so
	if grep -q 'Test unit written' "build/fuzz/seed-$h.txt"; then
		echo "fuzz-seed $h: a test's input fails the harness:"
		grep -E 'invariant|ERROR|Test unit written' "build/fuzz/seed-$h.txt" | sed 's/^/    /'
		status=1
	fi
	echo "fuzz-seed $h: $(ls "$seeds/$h" | wc -l) inputs from the tests, $(ls "fuzz/corpus/$h" | wc -l) kept"
done
exit $status
