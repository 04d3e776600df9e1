"""nbthread: one event loop per thread, each with its own listening socket
(SO_REUSEPORT); backends, limits and queues shared and exact across threads.

Connections from successive client ports are spread by the kernel between
the threads' listeners, so with a dozen or more clients both threads take
some (the chance that 12 all land on one is 1 in 2048)."""
import os
import socket
import subprocess
import time

from conftest import DEFAULTS, free_port, listener, recv_within, wait_until


def config(port, backends, glob="    nbthread 2\n", listen="", server_opts=""):
    """A global section (two threads unless told), DEFAULTS, and one listen
    section on port with one server per backend."""
    return ("global\n" + glob + DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n" % port + listen +
            "".join("    server %s 127.0.0.1:%d%s\n" % (b.name, b.port, server_opts) for b in backends))


def threads_of(pid):
    return sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))


def switches(pid, tid):
    """Voluntary context switches of one thread: each time it slept in epoll_wait and woke."""
    with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    return 0


def listening_sockets(port):
    out = subprocess.run(["ss", "-Hltn", "sport = :%d" % port], capture_output=True, text=True).stdout
    return len(out.strip().splitlines())


def test_each_thread_listens_and_accepts_roundrobin_stays_exact(ferry, backends):
    bs = backends(3)
    port = free_port()
    f = ferry(config(port, bs), wait_port=port)
    assert "2 threads" in f.stderr()
    tids = threads_of(f.proc.pid)
    assert len(tids) == 2
    assert sorted(open("/proc/%d/task/%d/comm" % (f.proc.pid, t)).read().strip() for t in tids) == ["ferry", "ferry/1"]
    assert listening_sockets(port) == 2
    before = {t: switches(f.proc.pid, t) for t in tids}
    counts = {}
    for _ in range(300):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            name = c.recv(10).strip().decode()
            counts[name] = counts.get(name, 0) + 1
    # one roundrobin sequence for the whole backend, whichever thread picks
    assert counts == {"s1": 100, "s2": 100, "s3": 100}
    for t in tids:  # both threads woke up to serve connections
        assert switches(f.proc.pid, t) - before[t] >= 20, (t, before, switches(f.proc.pid, t))


def test_leastconn_counts_every_threads_connections(ferry, backends):
    bs = backends(2)
    port = free_port()
    ferry(config(port, bs, listen="    balance leastconn\n"), wait_port=port)
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
    names = [c.recv(10).strip().decode() for c in held]
    assert names.count("s1") == 10 and names.count("s2") == 10
    for c in held:
        c.close()


def test_server_maxconn_queue_hands_slots_between_threads(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    ferry(config(port, [b], listen="    timeout queue 20s\n", server_opts=" maxconn 1"), wait_port=port)
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(12)]
    served = 0
    pending = list(clients)
    while pending:
        got = None
        end = time.monotonic() + 5
        while got is None and time.monotonic() < end:
            for c in pending:
                if recv_within(c, 0.02, 10) == b"s1\n":
                    got = c
                    break
        assert got is not None, "a queued client was never given the free slot (%d served)" % served
        # maxconn 1 holds whichever thread connects (the backend notices the
        # previous connection's end a moment after ferry closed it)
        assert wait_until(lambda: len(b.conns) <= 1, 1)
        served += 1
        pending.remove(got)
        got.close()
    assert served == 12
    assert wait_until(lambda: b.accepted == 12, 5)


def served_among(clients, want, timeout=5):
    """The clients that received their server's greeting, polling until
    `want` of them did (or timeout)."""
    got = []
    end = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < end:
        for c in clients:
            if c not in got and recv_within(c, 0.02, 10) == b"s1\n":
                got.append(c)
    return got


def test_global_maxconn_is_shared_by_the_threads(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    # the backlog would default to maxconn (4), as in HAProxy: too short for
    # 10 clients waiting, whichever thread's socket they land on
    ferry(config(port, [b], glob="    nbthread 2\n    maxconn 4\n", listen="    backlog 64\n"), wait_port=port)
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(10)]
    waiting = list(clients)
    for expect in (4, 4, 2):
        served = served_among(waiting, expect)
        assert len(served) == expect
        time.sleep(0.3)
        assert not served_among([c for c in waiting if c not in served], 1, 0.2)  # not 4 per thread
        assert b.accepted == 10 - len(waiting) + expect
        for c in served:  # each slot freed on one thread lets either thread accept again
            waiting.remove(c)
            c.close()
    assert not waiting


def test_marked_down_closes_sessions_on_every_thread(ferry, backends):
    (b,) = backends(1)
    chk = listener()
    chk.listen(64)
    port = free_port()
    f = ferry(config(port, [b], server_opts=" check port %d inter 200 fall 1 rise 1 on-marked-down shutdown-sessions"
                     % chk.getsockname()[1]), wait_port=port)
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(16)]
    for c in clients:
        assert c.recv(10) == b"s1\n"
    chk.close()  # the check fails; the backend itself still holds every connection
    assert f.wait_log("is DOWN", where="stderr")
    for c in clients:
        c.settimeout(5)
        assert c.recv(10) == b""  # closed by ferry, whichever thread owned it
        c.close()


def test_default_is_one_thread_per_usable_cpu(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    f = ferry(config(port, [b], glob=""), wait_port=port, env_threads=False)
    n = len(os.sched_getaffinity(0))  # ferry inherits this process's CPUs
    assert "%d thread%s" % (n, "s" if n > 1 else "") in f.stderr()
    assert len(threads_of(f.proc.pid)) == n
    assert listening_sockets(port) == n


def test_default_follows_the_cpus_allowed(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    f = ferry(config(port, [b], glob=""), wait_port=port, env_threads=False,
              preexec=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}))  # as taskset -c
    assert "1 thread\n" in f.stderr()
    assert len(threads_of(f.proc.pid)) == 1
