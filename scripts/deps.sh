#!/bin/sh
# Installs the Debian packages ferry's build, tests and demo need, if missing.
# Why each is there: see "Dependencies" in README.md.
set -e
PKGS="gcc make libc6-dev libpq-dev libpcre2-dev libseccomp-dev libcmocka-dev python3 python3-pytest postgresql postgresql-client procps iproute2 openssl valgrind haproxy man-db systemd socat chromium prometheus prometheus-haproxy-exporter python3-websocket patroni etcd-server python3-etcd dnsmasq nftables clang libclang-rt-dev cppcheck"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "deps: missing packages:$missing (run as root, or install them)" >&2; exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
${SUDO:-} apt-get update -qq
${SUDO:-} apt-get install -y -qq --no-install-recommends $missing >/dev/null
