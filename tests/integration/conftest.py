"""Fixtures for integration tests: the real ferry binary on loopback, small
backends that say who they are, and helpers to talk through ferry.

Every process a test starts is stopped by that test (by its own pid)."""
import errno
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FERRY = os.path.abspath(os.environ.get("FERRY_BIN", os.path.join(ROOT, "build", "ferry")))
# FERRY_TEST_NBTHREAD=N runs every test's ferry with N worker threads
# (without it, ferry runs one per CPU; scripts/run-tests.sh does one pass
# with nbthread 1).
THREADS = os.environ.get("FERRY_TEST_NBTHREAD")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "LeakSanitizer has encountered a fatal error")
# The tests run ferry as root without "user": each configuration says it
# means to (ferry refuses otherwise). Appended, so no line number moves;
# test_privs.py starts ferry without it.
ROOT_OPT_IN = "\nglobal\n    insecure-run-as-root\n"


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


_GIVEN = set()


def _bindable(port):
    """Whether a listener could bind port on every address (v4 and, where
    there is IPv6, v6: tests bind "*" and ":::" too)."""
    tries = [(socket.AF_INET, ("0.0.0.0", port))]
    if socket.has_ipv6:
        tries.append((socket.AF_INET6, ("::", port)))
    for fam, addr in tries:
        try:
            with socket.socket(fam) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind(addr)
        except OSError as e:
            if fam == socket.AF_INET6 and e.errno == errno.EADDRNOTAVAIL:
                continue  # no IPv6 here
            return False
    return True


def free_port():
    """A TCP port nobody uses right now, on any address, taken below the
    kernel's ephemeral range: the ports of outgoing connections (the load
    generators', ferry's own) come from that range, so none of them can take
    this one before the test binds it. Never the same port twice in a run."""
    lo, _ = _ephemeral_range()
    first = 10000 if lo > 12000 else 1024
    # FERRY_TEST_PORT_SLICE=i/n: the i-th of n disjoint slices of that range,
    # for passes that run at the same time (scripts/run-tests.sh)
    sl = os.environ.get("FERRY_TEST_PORT_SLICE")
    if sl:
        i, n = (int(x) for x in sl.split("/"))
        width = (lo - first) // n
        first, lo = first + i * width, first + (i + 1) * width
    for _ in range(2000):
        port = random.randrange(first, lo)
        if port not in _GIVEN and _bindable(port):
            _GIVEN.add(port)
            return port
    with socket.socket() as s:  # a crowded machine: any port the kernel gives
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, step=0.02):
    """Polls pred() until it is truthy or timeout seconds pass; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


class Backend:
    """A threaded TCP server on 127.0.0.1. Modes:
    - "name": sends its name and a newline, then echoes until EOF, then closes.
    - "echo": echoes until EOF, then closes.
    - "hash": reads until EOF, answers with the SHA-256 hex of what it read.
    - "silent": accepts and never says anything (holds the connection).
    Counts accepted connections in self.accepted."""

    def __init__(self, name, port=None, mode="name"):
        self.name = name
        self.port = port or free_port()
        self.mode = mode
        self.accepted = 0
        self.conns = []
        self.lock = threading.Lock()
        self.sock = None
        self.thread = None
        self.running = False

    def start(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(512)
        self.sock = s
        self.running = True
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()
        return self

    def _accept_loop(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        import hashlib
        try:
            if self.mode == "name":
                c.sendall(self.name.encode() + b"\n")
            if self.mode in ("name", "echo"):
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            elif self.mode == "hash":
                h = hashlib.sha256()
                while True:
                    d = c.recv(1 << 20)
                    if not d:
                        break
                    h.update(d)
                c.sendall(h.hexdigest().encode())
            elif self.mode == "silent":
                while c.recv(65536):
                    pass
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass
            with self.lock:
                if c in self.conns:
                    self.conns.remove(c)

    def stop(self):
        """Stops listening and drops every open connection (like a killed server)."""
        self.running = False
        if self.sock:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                    c.close()
                except OSError:
                    pass
            self.conns = []
        if self.thread:
            self.thread.join(timeout=2)


class Ferry:
    """The real binary with an inline configuration. stdout/stderr go to files."""

    def __init__(self, config, tmpdir, wait_port=None, extra_args=(), preexec=None, env=None,
                 env_threads=True, wrapper=(), root_opt_in=True):
        """env_threads=False: leave the thread count to the config (and ferry's
        default) whatever FERRY_TEST_NBTHREAD says. wrapper: a command that
        runs ferry (valgrind ...). root_opt_in=False: no ROOT_OPT_IN."""
        self.dir = tmpdir
        self.cfg_path = os.path.join(tmpdir, "ferry.cfg")
        if THREADS and env_threads and "nbthread" not in config:
            config = "global\n    nbthread %s\n" % THREADS + config  # a second global section is fine
        if root_opt_in:
            config += ROOT_OPT_IN
        with open(self.cfg_path, "w") as f:
            f.write(config)
        self.out_path = os.path.join(tmpdir, "ferry.out")
        self.err_path = os.path.join(tmpdir, "ferry.err")
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([*wrapper, FERRY, "-f", self.cfg_path, *extra_args],
                                     stdout=self.out, stderr=self.err, preexec_fn=preexec,
                                     env=dict(os.environ, **(env or {})))
        if wait_port:
            # "started" is printed once every listener is open; waiting for it
            # instead of probing the port keeps the balancing counts exact.
            ok = wait_until(lambda: " started: " in self.stderr() or self.proc.poll() is not None,
                            30 if wrapper else 10)
            if self.proc.poll() is not None:
                raise RuntimeError("ferry exited at start: %s" % self.stderr())
            assert ok, "ferry did not listen on %d" % wait_port

    @staticmethod
    def _can_connect(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, pattern, timeout=5, where="stdout"):
        """Waits for a regex in stdout (or stderr); returns the match."""
        rx = re.compile(pattern, re.M)
        get = self.stdout if where == "stdout" else self.stderr
        return wait_until(lambda: rx.search(get()), timeout)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("ferry did not stop within %ss" % timeout)
        self.out.close()
        self.err.close()
        err = self.stderr()
        for mark in SANITIZER_MARKS:
            assert mark not in err, "sanitizer report:\n" + err[-6000:]
        return self.proc.returncode


@pytest.fixture
def tmpdir_path():
    with tempfile.TemporaryDirectory(prefix="ferry-test-") as d:
        yield d


@pytest.fixture
def backends():
    """Factory: backends(3) → three started "name" backends s1..s3. Stopped at teardown."""
    made = []

    def make(n=1, mode="name", names=None):
        out = []
        for i in range(n):
            b = Backend(names[i] if names else "s%d" % (len(made) + 1), mode=mode).start()
            made.append(b)
            out.append(b)
        return out

    yield make
    for b in made:
        b.stop()


@pytest.fixture
def ferry(tmpdir_path):
    """Factory: ferry(config_text, wait_port=...) → a running Ferry. Stopped at teardown,
    and a sanitizer report on its stderr fails the test."""
    made = []

    def start(config, wait_port=None, tmpdir=None, **kw):
        """tmpdir: a directory of its own for its files (a second ferry)."""
        f = Ferry(config, tmpdir or tmpdir_path, wait_port=wait_port, **kw)
        made.append(f)
        return f

    yield start
    for f in made:
        f.stop()


DEFAULTS = """
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
"""


def ask_name(port, payload=b"", timeout=5):
    """Connects through ferry, returns the first line the backend sent (its name)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        if payload:
            c.sendall(payload)
        data = b""
        while b"\n" not in data:
            d = c.recv(4096)
            if not d:
                break
            data += d
        return data.split(b"\n")[0].decode()


class ScriptServer:
    """A TCP server that plays a script on every connection: ("send", bytes)
    writes, ("recv",) waits for some data, ("until", marker) reads until the
    marker has arrived, then it closes. Records what it
    received in self.received (one bytes object per connection)."""

    def __init__(self, script):
        self.script = script
        self.received = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._play, args=(c,), daemon=True).start()

    def _play(self, c):
        got = b""
        c.settimeout(3)
        try:
            for step in self.script:
                if step[0] == "send":
                    c.sendall(step[1])
                elif step[0] == "until":
                    while step[1] not in got:
                        d = c.recv(65536)
                        if not d:
                            break
                        got += d
                else:
                    d = c.recv(65536)
                    got += d
                    if not d:
                        break
        except OSError:
            pass
        self.received.append(got)
        try:
            c.close()
        except OSError:
            pass

    def stop(self):
        self.running = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def recv_all(sock, chunk=65536):
    """Reads until EOF; returns the bytes."""
    data = b""
    while True:
        d = sock.recv(chunk)
        if not d:
            return data
        data += d


def listener(host="127.0.0.1", family=socket.AF_INET, dual_stack=False):
    """A listening socket with a free port, for a test's own peer. dual_stack:
    an IPv6 socket that takes IPv4 clients too."""
    srv = socket.socket(family)
    if dual_stack:
        srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.bind((host, 0))
    srv.listen(4)
    return srv


def assert_relayed(client_addr, srv, payload):
    """Connects to client_addr (through ferry), accepts on srv, and checks
    that what srv sends reaches the client unchanged."""
    with socket.create_connection(client_addr, timeout=5) as c:
        s, _ = srv.accept()
        s.sendall(payload)
        assert c.recv(len(payload) + 10) == payload
        s.close()


def recv_within(sock, seconds, n=100):
    """What sock receives within `seconds`, or None when nothing came (then
    the socket's timeout is set back to 5 s)."""
    sock.settimeout(seconds)
    try:
        return sock.recv(n)
    except socket.timeout:
        return None
    finally:
        sock.settimeout(5)
