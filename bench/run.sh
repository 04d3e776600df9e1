#!/bin/sh
# make bench: installs the load tools and peers it compares against, then runs
# bench/run.py (or bench/profile.py). Never part of make test.
set -e
cd "$(dirname "$0")/.."
PKGS="iperf3 wrk haproxy nginx libnginx-mod-stream pen postgresql postgresql-contrib procps util-linux"
# bench/run.sh profile: make profile (perf and callgrind on ferry, bench/profile.py)
[ "${1:-}" = profile ] && PKGS="wrk nginx linux-perf valgrind util-linux"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "bench: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
[ "${1:-}" = profile ] && exec /usr/bin/python3 bench/profile.py
exec /usr/bin/python3 bench/run.py
