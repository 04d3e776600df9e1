"""maxconn: clients wait in the backlog, none refused; out of file
descriptors: no busy loop, and service resumes."""
import os
import re
import resource
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import DEFAULTS, FERRY, ROOT, recv_within, free_port, wait_until


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in ticks of 10 ms


def test_global_maxconn_waits_in_backlog(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    ferry("global\n    maxconn 2\n" + DEFAULTS +
          "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (port, b.port), wait_port=port)
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    for c in held:
        assert c.recv(10) == b"s1\n"
    third = socket.create_connection(("127.0.0.1", port), timeout=5)  # not refused
    assert recv_within(third, 0.5) is None  # waiting in the kernel backlog
    held[0].close()
    third.settimeout(5)
    assert third.recv(10) == b"s1\n"
    third.close()
    held[1].close()


def test_frontend_maxconn(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    ferry(DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    maxconn 1\n    server s1 127.0.0.1:%d\n" % (port, b.port),
          wait_port=port)
    first = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert first.recv(10) == b"s1\n"
    second = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert recv_within(second, 0.4) is None
    first.close()
    second.settimeout(5)
    assert second.recv(10) == b"s1\n"
    second.close()


def test_fd_exhaustion_does_not_spin(ferry, backends):
    (b,) = backends(1, mode="silent")
    port = free_port()

    def low_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))

    f = ferry(DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (port, b.port),
              wait_port=port, preexec=low_fd_limit)
    clients = []
    for _ in range(60):  # more than 48 descriptors' worth of sessions
        clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    assert f.wait_log(r"process file descriptor or memory limit", where="stderr", timeout=5)
    c0 = cpu_seconds(f.proc.pid)
    time.sleep(1.0)
    spent = cpu_seconds(f.proc.pid) - c0
    assert spent < 0.3, "ferry used %.2fs of CPU in 1s while out of descriptors" % spent
    for c in clients:
        c.close()
    # once descriptors are free again, a new client is served
    assert wait_until(lambda: b.accepted > 0 and len(b.conns) == 0, 5)
    time.sleep(0.3)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"x")
        assert wait_until(lambda: len(b.conns) == 1, 3)


def test_busy_polling_never_sleeps_until_stopping(ferry, backends):
    """HAProxy's global busy-polling: epoll_wait with a null timeout, so the
    thread spins even without traffic; a graceful stop ends the spinning."""
    (b,) = backends(1)
    port = free_port()
    cfg = DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (port, b.port)
    f = ferry("global\n    busy-polling\n    nbthread 1\n" + cfg, wait_port=port)
    c0 = cpu_seconds(f.proc.pid)
    time.sleep(1)
    assert cpu_seconds(f.proc.pid) - c0 > 0.5  # spun, idle as it was
    held = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert held.recv(10) == b"s1\n"  # and relays as usual
    f.proc.send_signal(signal.SIGUSR1)
    assert f.wait_log("stopping gracefully", where="stderr")
    c0 = cpu_seconds(f.proc.pid)
    time.sleep(1)
    assert cpu_seconds(f.proc.pid) - c0 < 0.2  # stopping: sleeps again
    held.close()
    assert f.proc.wait(timeout=5) == 0


def test_without_busy_polling_an_idle_thread_sleeps(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    f = ferry(DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (port, b.port),
              wait_port=port)
    c0 = cpu_seconds(f.proc.pid)
    time.sleep(1)
    assert cpu_seconds(f.proc.pid) - c0 < 0.1


def build_shim(name, tmpdir):
    """Compiles tests/integration/shims/<name>.c into a shared object for LD_PRELOAD."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shims", name + ".c")
    so = os.path.join(tmpdir, name + ".so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-D_GNU_SOURCE", "-I", os.path.join(ROOT, "src"),
                    "-o", so, src], check=True)
    return so


@pytest.mark.skipif("asan" in FERRY, reason="the shim's calloc would bypass ASan's allocator")
def test_failed_session_allocation_gives_its_slot_back(ferry, backends, tmpdir_path):
    """When a session cannot be allocated, the process and frontend slots
    reserved for it before accept() are given back (issue 8, item 10):
    with maxconn 2 and the first two allocations failing, a third client
    is still served instead of waiting forever behind leaked slots."""
    (b,) = backends(1)
    port = free_port()
    so = build_shim("fail_session_alloc", tmpdir_path)
    trigger = os.path.join(tmpdir_path, "fail-now")
    ferry("global\n    maxconn 2\n" + DEFAULTS +
          "listen l\n    bind 127.0.0.1:%d\n    maxconn 2\n    server s1 127.0.0.1:%d\n" % (port, b.port),
          wait_port=port, env={"LD_PRELOAD": so, "FAIL_SESSIONS": "2", "FAIL_AFTER": trigger})
    open(trigger, "w").close()  # started: the next two sessions cannot be allocated
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            try:
                assert c.recv(10) == b""  # closed at once: no memory for it
            except ConnectionResetError:
                pass
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            assert recv_within(c, 2) == b"s1\n"


class HoldingServer:
    """Accepts connections and never reads from them (a stalled server),
    with a small receive buffer so senders fill up quickly."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def stop(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def fill(sock, limit=16 << 20, seconds=3):
    """Sends on a non-blocking socket until the path is full (EAGAIN twice,
    some time apart) or `limit` bytes; returns the bytes sent."""
    sock.setblocking(False)
    chunk, sent, full = b"z" * 65536, 0, 0
    end = time.monotonic() + seconds
    while sent < limit and full < 2 and time.monotonic() < end:
        try:
            sent += sock.send(chunk)
            full = 0
        except BlockingIOError:
            full += 1
            time.sleep(0.05)
    return sent


def test_pipes_never_take_a_clients_descriptors(ferry):
    """Bulk sessions hold splice() pipes (two descriptors each). They are
    counted in the descriptor budget (maxpipes, maxconn/4 by default, as
    HAProxy) so stalled bulk transfers cannot use the descriptors clients
    need (issue 8, item 8: with 200 descriptors, stalled bulk sessions used
    them all and the next client got SC)."""
    srv = HoldingServer()
    port = free_port()

    def fd_limit_200():
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    f = ferry(DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    log stdout format raw local0\n"
              "    option tcplog\n    server s1 127.0.0.1:%d\n" % (port, srv.port),
              wait_port=port, preexec=fd_limit_200)
    clients = []
    try:
        for i in range(60):  # each stalled with data in ferry's pipe (before: 4 descriptors each)
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            clients.append(c)
            assert wait_until(lambda: len(srv.conns) == i + 1, 3), \
                "client %d did not reach the server; ferry holds %d descriptors" % (
                    i + 1, len(os.listdir("/proc/%d/fd" % f.proc.pid)))
            assert fill(c, limit=4 << 20) > 0
        assert " SC " not in f.stdout()
    finally:
        for c in clients:
            c.close()
        srv.stop()
