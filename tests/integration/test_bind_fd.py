"""bind fd@N: a listening socket the parent process opened and passed
(systemd socket activation, a supervisor, a test), as HAProxy 2.6 takes
it; shared by ferry's threads, kept by reloads, handed over by a binary
upgrade."""
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import DEFAULTS, FERRY, ROOT_OPT_IN, SANITIZER_MARKS, ask_name, wait_until

HAPROXY = shutil.which("haproxy")


class Inheriting:
    """ferry started with some of the test's descriptors (pass_fds), as a
    parent that opened its sockets starts it. Stopped by its own pid."""

    def __init__(self, tmpdir, config, fds, env=None, extra=(), name="ferry"):
        self.cfg_path = os.path.join(tmpdir, name + ".cfg")
        self.err_path = os.path.join(tmpdir, name + ".err")
        self.write(config)
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([FERRY, "-f", self.cfg_path, *extra], pass_fds=fds,
                                     stdout=subprocess.DEVNULL, stderr=self.err,
                                     env=dict(os.environ, **(env or {})))

    def write(self, config):
        with open(self.cfg_path, "w") as f:
            f.write(config + ROOT_OPT_IN)

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def started(self):
        ok = wait_until(lambda: " started: " in self.stderr() or self.proc.poll() is not None, 10)
        assert ok and self.proc.poll() is None, self.stderr()
        return self

    def reload(self):
        """SIGHUP; returns the reload's answer."""
        before = self.stderr().count("Reload")
        self.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: self.stderr().count("Reload") > before, 5), self.stderr()
        return self.stderr()[-3000:]

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        err = self.stderr()
        for mark in SANITIZER_MARKS:
            assert mark not in err, err[-6000:]


@pytest.fixture
def inheriting(tmpdir_path):
    made = []

    def start(config, fds, **kw):
        f = Inheriting(tmpdir_path, config, fds, **kw)
        made.append(f)
        return f

    yield start
    for f in made:
        f.stop()


def tcp_listener(listen=True):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    if listen:
        s.listen(64)
    return s


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


class Clients:
    """Clients connecting to port one after the other, in a thread, until
    stopped: what each was told, and every failure."""

    def __init__(self, port):
        self.port = port
        self.seen, self.failed = [], []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            try:
                self.seen.append(ask_name(self.port))
            except OSError as e:
                self.failed.append(repr(e))

    def stop(self):
        self.done.set()
        self.thread.join(10)


def holders(pid, port):
    """(socket inodes, descriptors of pid) of the sockets listening on port."""
    out = subprocess.run(["ss", "-Hltnpe", "sport = :%d" % port], capture_output=True, text=True).stdout
    inodes = set(re.findall(r"ino:(\d+)", out))
    fds = re.findall(r"pid=%d,fd=(\d+)" % pid, out)
    return inodes, fds


def proxy(bind, server_port, nbthread=2):
    return ("global\n    nbthread %d\n" % nbthread + DEFAULTS +
            "frontend fe\n    bind %s\n    default_backend be\nbackend be\n    server s 127.0.0.1:%d\n"
            % (bind, server_port))


@pytest.mark.parametrize("nbthread", [1, 4])
def test_traffic_through_the_parents_socket(inheriting, backends, nbthread):
    """fd@${VAR} and fd@N: ferry accepts on the very socket the test opened
    (no other socket listens on that port), each thread holding a
    descriptor of it; 200 clients, 8 at a time, all served; once ferry has
    stopped, the socket is gone (the test closed its own copy)."""
    (srv,) = backends(1)
    a, b = tcp_listener(), tcp_listener()
    pa, pb = a.getsockname()[1], b.getsockname()[1]
    inode = str(os.fstat(a.fileno()).st_ino)
    cfg = proxy("fd@${LANG_LISTEN_FD}", srv.port, nbthread) + "frontend fe2\n    bind fd@%d\n    default_backend be\n" % b.fileno()
    f = inheriting(cfg, [a.fileno(), b.fileno()], env={"LANG_LISTEN_FD": str(a.fileno())}).started()
    a.close()
    b.close()
    inodes, fds = holders(f.proc.pid, pa)
    assert inodes == {inode} and len(fds) == nbthread, (inodes, fds)
    results = []

    def client(n):
        for _ in range(n):
            results.append(ask_name(pa))

    threads = [threading.Thread(target=client, args=(25,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == ["s1"] * 200
    assert ask_name(pb) == "s1"
    f.stop()
    assert refused(pa) and refused(pb)


def test_a_socket_only_bound_is_made_to_listen(inheriting, backends):
    """As HAProxy: a bound socket that does not listen yet is listen()ed."""
    (srv,) = backends(1)
    s = tcp_listener(listen=False)
    port = s.getsockname()[1]
    f = inheriting(proxy("fd@%d" % s.fileno(), srv.port), [s.fileno()]).started()
    s.close()
    assert ask_name(port) == "s1"
    f.stop()


def check(binary, tmpdir, cfg, fds):
    path = os.path.join(tmpdir, "check.cfg")
    with open(path, "w") as f:
        f.write(cfg)
    p = subprocess.run([binary, "-c", "-f", path], pass_fds=fds, capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr


def test_descriptors_refused_as_haproxy(tmpdir_path):
    """What is not a stream socket is refused with HAProxy's sentences (its
    -c says the same in the same test); a unix socket and a socket bound to
    no port, which HAProxy takes, are refused with ferry's own."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unix_a, unix_b = socket.socketpair()
    unbound = socket.socket()
    server = tcp_listener()
    conn = socket.create_connection(server.getsockname())
    r, w = os.pipe()
    closed = os.dup(r)
    os.close(closed)
    cases = [
        ("fd@%d" % udp.fileno(), "socket on file descriptor '%d' is of the wrong type." % udp.fileno(), True),
        ("fd@%d" % r, "cannot use file descriptor '%d' : Socket operation on non-socket." % r, True),
        ("fd@%d" % closed, "cannot use file descriptor '%d' : Bad file descriptor." % closed, True),
        ("fd@abc", "file descriptor 'abc' is not a valid integer in 'fd@abc'", True),
        ("fd@", "file descriptor '' is not a valid integer in 'fd@'", True),
        ("fd@${LANG_NO_SUCH_FD}", "file descriptor '' is not a valid integer in 'fd@${LANG_NO_SUCH_FD}'", True),
        ("fd@3:80", "file descriptor '3:80' is not a valid integer in 'fd@3:80'", True),
        ("fd@%d" % unix_a.fileno(), "is not an IPv4 or IPv6 socket", False),
        ("fd@%d" % unbound.fileno(), "is not bound to an address and port", False),
        ("fd@%d" % conn.fileno(), "is a connection, not a listening socket", False),
        ("sockpair@%d" % unix_a.fileno(), "(sockpair@) is not supported yet", False),
    ]
    fds = [udp.fileno(), unix_a.fileno(), unbound.fileno(), conn.fileno(), r]
    try:
        for bind, want, same in cases:
            cfg = proxy(bind, 1)
            rc, out = check(FERRY, tmpdir_path, cfg, fds)
            assert rc == 1 and "check.cfg:10: bind '%s': " % bind in out and want in out, out
            if HAPROXY and same:
                hrc, hout = check(HAPROXY, tmpdir_path, cfg, fds)
                assert hrc == 1 and want in hout, hout
    finally:
        for s in (udp, unix_a, unix_b, unbound, conn, server):
            s.close()
        os.close(r)
        os.close(w)


def test_the_same_descriptor_twice_is_refused(tmpdir_path):
    """Two binds on one fd@N would close the socket twice."""
    s = tcp_listener()
    fd = s.fileno()
    cfg = proxy("fd@%d" % fd, 1) + "frontend again\n    bind fd@%d\n    default_backend be\n" % fd
    rc, out = check(FERRY, tmpdir_path, cfg, [fd])
    s.close()
    assert rc == 1
    assert re.search(r"check\.cfg:15: bind 'fd@%d': file descriptor %d is already used by the bind at \S*check\.cfg:10"
                     % (fd, fd), out), out


def test_reloads_keep_add_and_remove_inherited_sockets(inheriting, backends):
    """A reload keeps a socket still named (the same socket: clients during
    the reloads are all served), adopts one a reload names for the first
    time, and closes one no longer named; a failed reload leaves the
    parent's socket untouched, ready for the next one."""
    s1, s2 = backends(2)
    a, b = tcp_listener(), tcp_listener()
    pa, pb = a.getsockname()[1], b.getsockname()[1]
    fa, fb = a.fileno(), b.fileno()
    first = proxy("fd@%d" % fa, s1.port)
    f = inheriting(first, [fa, fb]).started()
    a.close()
    b.close()
    inodes = holders(f.proc.pid, pa)[0]
    clients = Clients(pa)
    try:
        assert "Reloaded (SIGHUP)" in f.reload()
        assert holders(f.proc.pid, pa)[0] == inodes
        # a reload naming fd@fb for the first time, beside a bind that fails
        busy = tcp_listener()
        f.write(first + "frontend fe2\n    bind fd@%d\n    bind 127.0.0.1:%d\n    default_backend be2\n"
                "backend be2\n    server s 127.0.0.1:%d\n" % (fb, busy.getsockname()[1], s2.port))
        assert "Reload (SIGHUP) refused" in f.reload()
        busy.close()
        f.write(first + "frontend fe2\n    bind fd@%d\n    default_backend be2\n"
                "backend be2\n    server s 127.0.0.1:%d\n" % (fb, s2.port))
        assert "Reloaded (SIGHUP)" in f.reload()
        assert ask_name(pb) == "s2"
        assert holders(f.proc.pid, pa)[0] == inodes
    finally:
        clients.stop()
    assert not clients.failed and clients.seen and set(clients.seen) == {"s1"}, \
        (clients.failed[:3], len(clients.seen))
    # fd@fa no longer named: closed, nobody holds it any more
    f.write(proxy("fd@%d" % fb, s2.port))
    assert "Reloaded (SIGHUP)" in f.reload()
    assert wait_until(lambda: refused(pa), 3)
    assert ask_name(pb) == "s2"


def test_upgrade_hands_the_inherited_socket_over(inheriting, ferry, backends, tmpdir_path):
    """A binary upgrade (-x) passes an fd@ socket as any listener: the new
    process, started without that descriptor, names the socket's address and
    takes it (one copy, however many threads the old one had); clients
    connecting all along are never refused."""
    old_srv, new_srv = backends(2, names=["old", "new"])
    s = tcp_listener()
    port = s.getsockname()[1]
    sock = os.path.join(tmpdir_path, "stats.sock")
    stats = "global\n    stats socket %s level admin expose-fd listeners\n" % sock
    old = inheriting(stats + proxy("fd@%d" % s.fileno(), old_srv.port, 3), [s.fileno()]).started()
    inode = str(os.fstat(s.fileno()).st_ino)
    s.close()
    assert ask_name(port) == "old"
    clients = Clients(port)
    try:
        time.sleep(0.3)
        sub = os.path.join(tmpdir_path, "new")
        os.mkdir(sub)
        new = ferry(stats.replace("stats.sock", "new.sock") + proxy("127.0.0.1:%d" % port, new_srv.port, 2),
                    wait_port=port, extra_args=("-x", sock, "-sf", str(old.proc.pid)), tmpdir=sub,
                    env_threads=False)
        assert old.proc.wait(timeout=15) == 0
        assert wait_until(lambda: clients.seen and clients.seen[-1] == "new", 5)
    finally:
        clients.stop()
    assert not clients.failed, clients.failed[:3]
    inodes, fds = holders(new.proc.pid, port)
    assert inodes == {inode} and len(fds) == 2, (inodes, fds)
