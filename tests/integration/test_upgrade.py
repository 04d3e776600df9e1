"""Binary upgrades that refuse no connection: the new process takes the
listening sockets of the running one over its stats socket (-x, HAProxy's
protocol), then tells it to finish (-sf). Also systemd's notifications."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import DEFAULTS, FERRY, free_port, wait_until

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools")


def start_echo(ports):
    p = subprocess.Popen([sys.executable, os.path.join(TOOLS, "echo.py")] + ["%s:%d" % kv for kv in ports.items()],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def start_load(short, long_, seconds):
    p = subprocess.Popen([sys.executable, os.path.join(TOOLS, "load.py"), str(short), str(long_), "1000", "50",
                          str(seconds)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "started"
    return p


@pytest.mark.skipif(not shutil.which("haproxy"), reason="needs Debian's haproxy")
def test_ferry_takes_over_a_running_haproxy(ferry, tmpdir_path):
    """A user moving from HAProxy: ferry -x takes HAProxy's listening
    sockets from its stats socket (expose-fd listeners) and -sf tells it to
    finish; clients connecting all along are never refused, and the
    streams HAProxy carried finish on it, byte-exact."""
    ports = {n: free_port() for n in ("old", "new", "lold", "lnew")}
    echo = start_echo(ports)
    sock = os.path.join(tmpdir_path, "haproxy.sock")
    short, long_ = free_port(), free_port()
    common = DEFAULTS + "listen short\n    bind 127.0.0.1:%d\n    server s 127.0.0.1:%%d\n" \
                        "listen long\n    bind 127.0.0.1:%d\n    server l 127.0.0.1:%%d\n" % (short, long_)
    hcfg = os.path.join(tmpdir_path, "haproxy.cfg")
    with open(hcfg, "w") as fh:
        fh.write("global\n    stats socket %s mode 600 level admin expose-fd listeners\n" % sock +
                 common % (ports["old"], ports["lold"]))
    hap = subprocess.Popen(["haproxy", "-db", "-f", hcfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: os.path.exists(sock), 5)
        load = start_load(short, long_, 6)
        time.sleep(2)
        f = ferry(common % (ports["new"], ports["lnew"]), wait_port=short,
                  extra_args=("-x", sock, "-sf", str(hap.pid)))
        assert hap.wait(timeout=15) == 0  # finished once its last stream ended
        res = json.loads(load.stdout.readline())
        load.wait(timeout=10)
        fails = {k: res[k] for k in ("refused", "reset", "timeout", "other", "bad_data", "long_broken")}
        assert all(v == 0 for v in fails.values()), (fails, res["errors"])
        assert res["short_ok"] >= 5000 and res["long_ok"] == 50
        assert "Told the old process %d to finish (SIGUSR1)" % hap.pid in f.stderr()
        # after the switch, new connections reach the new configuration's server
        with socket.create_connection(("127.0.0.1", short), timeout=5) as c:
            assert c.recv(10) == b"new\n"
    finally:
        if hap.poll() is None:
            hap.kill()
            hap.wait()
        echo.send_signal(signal.SIGTERM)
        echo.wait(timeout=10)


def test_systemd_notifications(ferry, tmpdir_path, backends):
    """Type=notify: READY=1 once serving, RELOADING=1 with MONOTONIC_USEC
    then READY=1 around a reload, STOPPING=1 at the end, each with a
    STATUS line, on the socket named by NOTIFY_SOCKET (a datagram socket the
    test listens on, as systemd does)."""
    path = os.path.join(tmpdir_path, "notify.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    rx.settimeout(5)
    (b,) = backends(1)
    port = free_port()
    f = ferry(DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s 127.0.0.1:%d\n" % (port, b.port),
              wait_port=port, env={"NOTIFY_SOCKET": path})
    msg = rx.recv(4096).decode()
    assert msg.startswith("READY=1\n") and "STATUS=Serving" in msg
    f.proc.send_signal(signal.SIGHUP)
    msg = rx.recv(4096).decode().split("\n")
    assert msg[0] == "RELOADING=1" and msg[1].startswith("MONOTONIC_USEC=")
    usec = int(msg[1].split("=")[1])
    assert abs(usec / 1e6 - time.monotonic()) < 5  # CLOCK_MONOTONIC, as systemd reads it
    msg = rx.recv(4096).decode()
    assert msg.startswith("READY=1\n") and "STATUS=Serving (generation 2)" in msg
    f.proc.send_signal(signal.SIGTERM)
    assert rx.recv(4096).decode().startswith("STOPPING=1\n")
    f.proc.wait(timeout=5)
    rx.close()


def test_make_install_puts_binary_unit_and_man_page_in_place(tmpdir_path):
    """make install PREFIX=...: the binary, a systemd unit whose commands
    point at it (systemd-analyze verify accepts it) and the man page."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    prefix = os.path.join(tmpdir_path, "prefix")
    subprocess.run(["make", "-s", "-C", root, "install", "PREFIX=" + prefix], check=True,
                   stdout=subprocess.DEVNULL)
    binary = os.path.join(prefix, "sbin", "ferry")
    unit = os.path.join(prefix, "lib", "systemd", "system", "ferry.service")
    man = os.path.join(prefix, "share", "man", "man8", "ferry.8")
    assert os.access(binary, os.X_OK)
    assert subprocess.run([binary, "-v"], capture_output=True, text=True).stdout.startswith("ferry version")
    text = open(unit).read()
    assert "ExecStart=%s -f $CONFIG -p $PIDFILE" % binary in text
    assert "Type=notify" in text and "ExecReload=/bin/kill -HUP $MAINPID" in text
    assert "CapabilityBoundingSet=CAP_NET_BIND_SERVICE" in text and "NoNewPrivileges=yes" in text
    if shutil.which("systemd-analyze"):
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", unit], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    out = subprocess.run(["man", "-l", man], capture_output=True, text=True,
                         env=dict(os.environ, MANPAGER="cat", MANWIDTH="80")).stdout
    assert "ferry - a TCP load balancer" in out and "UPGRADING THE BINARY" in out


def cli(path, cmd):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(cmd.encode() + b"\n")
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                return out.decode()
            out += d


def test_binary_upgrade_from_ferry_refuses_nothing(ferry, tmpdir_path):
    """The issue's measure for an upgrade (old and new process both the
    current build): under 1000 new connections per second and long-lived
    streams, the new process takes the sockets (-x), tells the old one to
    finish (-sf), no connect is refused, reset or timed out, every stream is
    byte-exact, and the old process exits when its last session ends."""
    ports = {n: free_port() for n in ("e1", "e2")}
    echo = start_echo(ports)
    try:
        short, long_ = free_port(), free_port()
        sock = os.path.join(tmpdir_path, "admin.sock")

        stats = free_port()
        # the same files and ports for both processes, as in real life: the
        # new one puts its socket in place of the old one's and binds the
        # stats page's port beside it
        conf = ("global\n    stats socket %s level admin expose-fd listeners\n" % sock + DEFAULTS +
                "listen short\n    bind 127.0.0.1:%d\n    server e1 127.0.0.1:%d\n" % (short, ports["e1"]) +
                "listen long\n    bind 127.0.0.1:%d\n    server e2 127.0.0.1:%d\n" % (long_, ports["e2"]) +
                "frontend stats\n    mode http\n    bind 127.0.0.1:%d\n    stats enable\n    stats uri /\n" % stats)
        old = ferry(conf, wait_port=short)
        load = start_load(short, long_, 6)
        time.sleep(2)
        sub = os.path.join(tmpdir_path, "new")
        os.mkdir(sub)
        new = ferry(conf, wait_port=short, extra_args=("-x", sock, "-sf", str(old.proc.pid)), tmpdir=sub)
        assert old.proc.wait(timeout=15) == 0  # finished once its last stream ended
        res = json.loads(load.stdout.readline())
        load.wait(timeout=10)
        fails = {k: res[k] for k in ("refused", "reset", "timeout", "other", "bad_data", "long_broken")}
        assert all(v == 0 for v in fails.values()), (fails, res["errors"])
        assert res["short_ok"] >= 5000 and res["long_ok"] == 50
        assert "Told the old process %d to finish (SIGUSR1)" % old.proc.pid in new.stderr()
        assert "stopping gracefully" in old.stderr()
        assert "listening sockets sent for a binary upgrade" in old.stderr()
        # the socket and the stats page are the new process's, still there
        # after the old one left
        assert "Pid: %d\n" % new.proc.pid in cli(sock, "show info")
        with socket.create_connection(("127.0.0.1", stats), timeout=5) as c:
            c.sendall(b"GET /;csv HTTP/1.0\r\n\r\n")
            page = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                page += d
        assert page.startswith(b"HTTP/1.1 200") and b"short,FRONTEND," in page
    finally:
        echo.send_signal(signal.SIGTERM)
        echo.wait(timeout=10)
