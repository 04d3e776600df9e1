"""Passive health (observe layer4, error-limit, on-error): connection
errors seen by real traffic take a server down before its active check
would, as HAProxy 2.6.

The active checks of the failing server go to another port that always
accepts (check port), so only the traffic can take it down. retries 0:
each client makes one connection attempt, hence one observation."""
import os
import re
import socket
import struct
import threading
import time

from conftest import DEFAULTS, Backend, free_port, wait_until
from statsock import csv_rows, row


class ResetServer:
    """Accepts and at once resets every connection (SO_LINGER 0, close);
    counts what it accepted."""

    def __init__(self):
        self.port = free_port()
        self.accepted = 0
        self.reset = True  # False: answers "s1" and closes normally
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(128)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.reset:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                c.sendall(b"s1\n")
            c.close()

    def stop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=2)


def cfg(port, sock, s1_addr, chk_port, good_port, s1_opts, extra=""):
    return ("global\n    log stdout format raw local0\n    stats socket %s level admin\n" % sock
            + DEFAULTS + "    log global\n    retries 0\n" + extra + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 %s check port %d inter 10s %s
    server s2 127.0.0.1:%d check inter 10s
""" % (port, s1_addr, chk_port, s1_opts, good_port))


def client(port):
    """One client through ferry: the good server's name, or "" when the
    connection ended without a byte (the failing server)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as c:
            c.sendall(b"hello\n")
            return c.recv(100).decode().split("\n")[0]
    except (ConnectionResetError, BrokenPipeError):
        return ""  # ferry passed the server's reset on


def hit_s1(port, n):
    """Sends clients until n of them reached the failing server (at most
    4 n + 4 clients: roundrobin alternates). Returns how many did."""
    failed = 0
    for _ in range(4 * n + 4):
        if failed >= n:
            break
        failed += client(port) == ""
    return failed


def start(ferry, backends, tmpdir_path, s1_opts, extra="", refusing=False):
    good, chk = backends(2, names=["s2", "chk"])
    rst = None
    if refusing:
        s1_addr = "127.0.0.1:%d" % free_port()  # nobody listens there
    else:
        rst = ResetServer()
        s1_addr = "127.0.0.1:%d" % rst.port
    port = free_port()
    sock = os.path.join(tmpdir_path, "stats.sock")
    f = ferry(cfg(port, sock, s1_addr, chk.port, good.port, s1_opts, extra), wait_port=port)
    return f, port, sock, rst, chk


DOWN_LINE = (r"^Server be/s1 is DOWN, reason: Health analyze, info: \"Detected %d consecutive errors, "
             r"last one was: L4 unsuccessful connection\"\. 1 active and 0 backup servers left\. "
             r"\d+ sessions active, 0 requeued, 0 remaining in queue\.$")


def test_mark_down_after_error_limit_resets(ferry, backends, tmpdir_path):
    f, port, sock, rst, _ = start(ferry, backends, tmpdir_path,
                                  "observe layer4 error-limit 3 on-error mark-down")
    try:
        t0 = time.monotonic()
        assert hit_s1(port, 3) == 3
        assert f.wait_log(DOWN_LINE % 3, timeout=2), f.stdout()
        assert time.monotonic() - t0 < 5  # its next active check is 10 s away (and passes)
        # HAProxy's rule: the third error takes it down, so it got exactly 3
        assert rst.accepted == 3
        names = [client(port) for _ in range(10)]
        assert names == ["s2"] * 10
        assert rst.accepted == 3
        r = row(csv_rows(sock), "be", "s1")
        assert r["status"] == "DOWN"
        assert r["check_status"] == "HANA"
        assert r["last_chk"] == "Detected 3 consecutive errors, last one was: L4 unsuccessful connection"
        assert r["check_desc"] == "Health analyze"
        assert r["hanafail"] == "1" and r["chkfail"] == "1" and r["chkdown"] == "1"
        assert row(csv_rows(sock), "be", "s2")["hanafail"] == ""  # not observed
    finally:
        rst.stop()


def test_refused_connections_count(ferry, backends, tmpdir_path):
    f, port, sock, _, _ = start(ferry, backends, tmpdir_path,
                                "observe layer4 error-limit 3 on-error mark-down", refusing=True)
    assert hit_s1(port, 3) == 3
    assert f.wait_log(DOWN_LINE % 3, timeout=2), f.stdout()
    assert [client(port) for _ in range(6)] == ["s2"] * 6


def test_fail_check_takes_fall_times_error_limit(ferry, backends, tmpdir_path):
    """rise 2 fall 3 error-limit 2: each 2 errors are one failed check;
    the third takes it DOWN (6 errors), each logged as HAProxy."""
    f, port, sock, rst, _ = start(ferry, backends, tmpdir_path,
                                  "rise 2 fall 3 observe layer4 error-limit 2 on-error fail-check",
                                  extra="    option log-health-checks\n")
    try:
        line = (r"^Health check for server be/s1 failed, reason: Health analyze, info: \"Detected 2 "
                r"consecutive errors, last one was: L4 unsuccessful connection\", status: %s\.$")
        assert hit_s1(port, 2) == 2
        assert f.wait_log(line % r"2/3 UP", timeout=2), f.stdout()
        assert hit_s1(port, 2) == 2
        assert f.wait_log(line % r"1/3 UP", timeout=2), f.stdout()
        assert "is DOWN" not in f.stdout()
        assert hit_s1(port, 2) == 2
        assert f.wait_log(line % r"0/2 DOWN", timeout=2), f.stdout()
        assert f.wait_log(r"^Server be/s1 is DOWN\. 1 active and 0 backup servers left\.", timeout=2)
        assert rst.accepted == 6
        assert [client(port) for _ in range(4)] == ["s2"] * 4
        r = row(csv_rows(sock), "be", "s1")
        assert r["hanafail"] == "3" and r["chkfail"] == "3"
    finally:
        rst.stop()


def test_sudden_death_then_one_more(ferry, backends, tmpdir_path):
    """sudden-death: the first error-limit errors leave it one failure from
    DOWN ("1/3 UP"), the next ones take it down."""
    f, port, sock, rst, _ = start(ferry, backends, tmpdir_path,
                                  "rise 2 fall 3 observe layer4 error-limit 2 on-error sudden-death",
                                  extra="    option log-health-checks\n")
    try:
        line = (r"^Health check for server be/s1 failed, reason: Health analyze, info: \"Detected 2 "
                r"consecutive errors, last one was: L4 unsuccessful connection\", status: %s\.$")
        assert hit_s1(port, 2) == 2
        assert f.wait_log(line % r"1/3 UP", timeout=2), f.stdout()
        assert row(csv_rows(sock), "be", "s1")["status"] == "UP 1/3"
        assert hit_s1(port, 2) == 2
        assert f.wait_log(line % r"0/2 DOWN", timeout=2), f.stdout()
        assert rst.accepted == 4
    finally:
        rst.stop()


def test_success_starts_the_count_again(ferry, backends, tmpdir_path):
    """Consecutive errors only: a connection that works in between starts
    the count again."""
    f, port, sock, rst, _ = start(ferry, backends, tmpdir_path,
                                  "observe layer4 error-limit 3 on-error mark-down")
    try:
        assert hit_s1(port, 2) == 2
        rst.reset = False
        assert wait_until(lambda: client(port) == "s1", 2)  # answered: a success
        rst.reset = True
        assert hit_s1(port, 2) == 2
        time.sleep(0.3)
        assert "is DOWN" not in f.stdout()
        assert hit_s1(port, 1) == 1
        assert f.wait_log(DOWN_LINE % 3, timeout=2), f.stdout()
    finally:
        rst.stop()


def test_fastinter_only_brings_the_check_forward(ferry, backends, tmpdir_path):
    f, port, sock, rst, chk = start(ferry, backends, tmpdir_path,
                                    "fastinter 300ms observe layer4 error-limit 3 on-error fastinter")
    try:
        time.sleep(0.5)  # the first checks at start-up are done
        before = chk.accepted
        assert hit_s1(port, 3) == 3
        t0 = time.monotonic()
        # the next check comes within fastinter instead of inter (10 s)
        assert wait_until(lambda: chk.accepted > before, 2), chk.accepted
        assert time.monotonic() - t0 < 1.5
        r = row(csv_rows(sock), "be", "s1")
        assert r["status"] == "UP" and r["hanafail"] == "1" and r["chkfail"] == "0"
        assert "is DOWN" not in f.stdout()
    finally:
        rst.stop()


def test_observe_config(ferry, tmpdir_path):
    """HAProxy 2.6's words for the options; observe layer7 warns (TCP)."""
    import subprocess
    from conftest import FERRY
    base = DEFAULTS + "backend be\n    server s1 127.0.0.1:1 %s\n"
    cases = [
        ("observe layer7", 0, "'layer7' can only be used in http proxies."),
        ("observe foo", 1, "'observe' expects one of 'none', 'layer4', 'layer7' but got 'foo'"),
        ("observe", 1, "'observe' expects <mode> as argument."),
        ("error-limit 0", 1, "error-limit has to be > 0."),
        ("error-limit", 1, "'error-limit' expects an integer argument."),
        ("on-error bogus", 1, "'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' "
                              "or 'mark-down' but got 'bogus'"),
        ("observe layer4 error-limit 5 on-error sudden-death slowstart 10s", 0, None),
    ]
    for opt, rc, msg in cases:
        path = os.path.join(tmpdir_path, "c.cfg")
        with open(path, "w") as fh:
            fh.write(base % opt)
        p = subprocess.run([FERRY, "-c", "-f", path], capture_output=True, text=True, timeout=10)
        assert p.returncode == rc, (opt, p.stderr)
        if msg:
            assert re.search(r"%s:8: (warning: )?%s" % (re.escape(path), re.escape(msg)), p.stderr), (opt, p.stderr)
