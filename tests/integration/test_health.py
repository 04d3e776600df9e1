"""Health checks against real backends: DOWN and UP in HAProxy's time and words."""
import collections
import re
import socket
import time

from conftest import DEFAULTS, Backend, ask_name, free_port, wait_until

INTER_MS = 500
RISE, FALL = 2, 3


def cfg(port, servers, extra=""):
    body = "\n".join("    server %s 127.0.0.1:%d check inter %d rise %d fall %d %s"
                     % (n, p, INTER_MS, RISE, FALL, o) for n, p, o in servers)
    return ("global\n    log stdout format raw local0\n" + DEFAULTS + "    log global\n" + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
%s
%s
""" % (port, extra, body))


def test_down_then_up(ferry, backends):
    bs = backends(3)
    port = free_port()
    f = ferry(cfg(port, [(b.name, b.port, "") for b in bs]), wait_port=port)
    time.sleep(2 * INTER_MS / 1000)  # let every server be checked once
    victim = bs[1]
    victim.stop()
    t0 = time.monotonic()
    m = f.wait_log(r"^Server be/s2 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", "
                   r"check duration: \d+ms\. 2 active and 0 backup servers left\. "
                   r"0 sessions active, 0 requeued, 0 remaining in queue\.$",
                   timeout=FALL * INTER_MS / 1000 + 1)
    took = time.monotonic() - t0
    assert m, f.stdout()
    assert took <= FALL * INTER_MS / 1000 + 1
    assert "[WARNING]" in f.stderr() and "Server be/s2 is DOWN" in f.stderr()
    # no connection reaches it any more
    counts = collections.Counter(ask_name(port) for _ in range(40))
    assert counts == {"s1": 20, "s3": 20}
    # back: a new server on the same port
    revived = Backend("s2", port=victim.port).start()
    try:
        t0 = time.monotonic()
        m = f.wait_log(r"^Server be/s2 is UP, reason: Layer4 check passed, check duration: \d+ms\. "
                       r"3 active and 0 backup servers online\. 0 sessions requeued, 0 total in queue\.$",
                       timeout=RISE * INTER_MS / 1000 + 1)
        assert m, f.stdout()
        assert time.monotonic() - t0 <= RISE * INTER_MS / 1000 + 1
        counts = collections.Counter(ask_name(port) for _ in range(30))
        assert counts == {"s1": 10, "s2": 10, "s3": 10}
        assert revived.accepted >= 10
    finally:
        revived.stop()


def test_all_down_says_so(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    f = ferry(cfg(port, [("s1", b.port, "")]), wait_port=port)
    b.stop()
    assert f.wait_log(r"^backend be has no server available!$", timeout=FALL * INTER_MS / 1000 + 1.5)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(10) == b""  # closed at once, not left hanging
    assert time.monotonic() - t0 < 1


def test_check_port_differs_from_traffic_port(ferry, backends):
    bs = backends(2)
    port = free_port()
    dead = free_port()
    f = ferry(cfg(port, [("s1", bs[0].port, "port %d" % dead), ("s2", bs[1].port, "")]), wait_port=port)
    assert f.wait_log(r"^Server be/s1 is DOWN", timeout=2)  # first failure takes a fresh server down
    assert collections.Counter(ask_name(port) for _ in range(6)) == {"s2": 6}


def test_check_addr(ferry, backends):
    bs = backends(1)
    port = free_port()
    f = ferry(cfg(port, [("s1", bs[0].port, "addr 127.0.0.2 port %d" % free_port())]), wait_port=port)
    assert f.wait_log(r"^Server be/s1 is DOWN", timeout=2)


def test_check_timeout_is_l4tout(ferry, backends):
    """A server whose accept queue is full drops SYNs: the check times out."""
    (b,) = backends(1)
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    fillers = []
    for _ in range(4):  # fill the accept queue; later SYNs are dropped
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(full.getsockname())
        except BlockingIOError:
            pass
        fillers.append(s)
    time.sleep(0.2)
    port = free_port()
    f = ferry(cfg(port, [("s1", b.port, "port %d" % full.getsockname()[1])],
                  extra="    timeout check 200ms"), wait_port=port)
    try:
        # HAProxy 2.6.12: "Server be/s1 is DOWN, reason: Layer4 timeout, check duration: 500ms. ..." (no info)
        assert f.wait_log(r"^Server be/s1 is DOWN, reason: Layer4 timeout, check duration: \d+ms\. ", timeout=3)
    finally:
        for s in fillers:
            s.close()
        full.close()


def test_disabled_server_not_checked_and_not_used(ferry, backends):
    bs = backends(2)
    port = free_port()
    f = ferry(cfg(port, [("s1", bs[0].port, "disabled"), ("s2", bs[1].port, "")]), wait_port=port)
    time.sleep(1.2)
    assert bs[0].accepted == 0  # no check, no traffic
    assert collections.Counter(ask_name(port) for _ in range(4)) == {"s2": 4}
    assert "s1 is" not in f.stdout()


def test_log_health_checks_lines_as_haproxy(ferry):
    """With option log-health-checks, HAProxy 2.6.12 gives the reason on the
    check's own line and none on the state change:
    Health check for server be/s1 failed, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms, status: 0/1 DOWN.
    Server be/s1 is DOWN. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.
    Health check for server be/s1 succeeded, reason: Layer4 check passed, check duration: 0ms, status: 1/1 UP.
    Server be/s1 is UP. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."""
    port, sport = free_port(), free_port()
    f = ferry(cfg(port, [("s1", sport, "")], extra="    option log-health-checks").replace(
        "rise %d fall %d" % (RISE, FALL), "rise 1 fall 1"), wait_port=port)
    assert f.wait_log(r"^Server be/s1 is DOWN\. 0 active and 0 backup servers left\. 0 sessions active, "
                      r"0 requeued, 0 remaining in queue\.$", timeout=2), f.stdout()
    assert re.search(r'^Health check for server be/s1 failed, reason: Layer4 connection problem, '
                     r'info: "Connection refused", check duration: \d+ms, status: 0/1 DOWN\.$', f.stdout(), re.M)
    b = Backend("s1", port=sport).start()
    try:
        assert f.wait_log(r"^Server be/s1 is UP\. 1 active and 0 backup servers online\. 0 sessions requeued, "
                          r"0 total in queue\.$", timeout=2), f.stdout()
        assert re.search(r"^Health check for server be/s1 succeeded, reason: Layer4 check passed, "
                         r"check duration: \d+ms, status: 1/1 UP\.$", f.stdout(), re.M)
    finally:
        b.stop()


def test_backup_server_lines_as_haproxy(ferry, backends):
    """HAProxy 2.6.12 for an active and a backup server of a listen section
    going down one after the other, then the backup coming back:
    Server l/s1 is DOWN, reason: ... 0 active and 1 backup servers left. Running on backup. 0 sessions active, ...
    Backup Server l/b1 is DOWN, reason: ... 0 active and 0 backup servers left. 0 sessions active, ...
    proxy l has no server available!
    Backup Server l/b1 is UP, reason: ... 0 active and 1 backup servers online. Running on backup. 0 sessions requeued, 0 total in queue."""
    s1, b1 = backends(2, names=["s1", "b1"])
    port = free_port()
    f = ferry("global\n    log stdout format raw local0\n" + DEFAULTS.replace("mode tcp", "mode tcp\n    log global") +
              "listen l\n    bind 127.0.0.1:%d\n"
              "    server s1 127.0.0.1:%d check inter 200ms fall 1 rise 1\n"
              "    server b1 127.0.0.1:%d check inter 200ms fall 1 rise 1 backup\n" % (port, s1.port, b1.port),
              wait_port=port)
    s1.stop()
    # (a check may meet the connection being torn down: reset rather than
    # refused, before or after the connect completed: HAProxy's L4CON or
    # SOCKERR)
    assert f.wait_log(r"^Server l/s1 is DOWN, reason: (Layer4 connection problem|Socket error), "
                      r"info: \"Connection (refused|reset by peer)\", "
                      r"check duration: \d+ms\. 0 active and 1 backup servers left\. Running on backup\. "
                      r"0 sessions active, 0 requeued, 0 remaining in queue\.$", timeout=2), f.stdout()
    bport = b1.port
    b1.stop()
    assert f.wait_log(r"^Backup Server l/b1 is DOWN, reason: Layer4 connection problem, info: \"Connection (refused|reset by peer)\", "
                      r"check duration: \d+ms\. 0 active and 0 backup servers left\. "
                      r"0 sessions active, 0 requeued, 0 remaining in queue\.$", timeout=2), f.stdout()
    assert f.wait_log(r"^proxy l has no server available!$", timeout=1)
    assert f.wait_log(r"proxy 'l' has no server available!$", timeout=1, where="stderr")
    again = Backend("b1", port=bport).start()
    try:
        assert f.wait_log(r"^Backup Server l/b1 is UP, reason: Layer4 check passed, check duration: \d+ms\. "
                          r"0 active and 1 backup servers online\. Running on backup\. "
                          r"0 sessions requeued, 0 total in queue\.$", timeout=2), f.stdout()
    finally:
        again.stop()
