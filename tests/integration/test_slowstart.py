"""slowstart: a server that comes back UP takes a growing share of new
connections over its slowstart time, never at start-up, as HAProxy 2.6
(weight step (16 x elapsed + slowstart) / slowstart in whole seconds, 1 to
16, against 16 for a server at full weight)."""
import collections
import os
import socket
import time

from conftest import DEFAULTS, Backend, ScriptServer, ask_name, free_port
from statsock import csv_rows, row

# expected share of s2 (weight step k against 16: k / (16 + k)) averaged
# over each 2-second window after it came back with slowstart 10s
STEPS = [(16 * e + 10) // 10 for e in range(10)] + [16, 16]
EXPECTED = [sum(k / (16 + k) for k in STEPS[2 * w:2 * w + 2]) / 2 for w in range(6)]
TOLERANCE = 0.08  # absolute, per window (timer ticks and window edges)


def cfg(port, sock, b1, b2, s2="check inter 200ms rise 1 fall 1 slowstart 10s"):
    return ("global\n    log stdout format raw local0\n    stats socket %s level admin\n" % sock
            + DEFAULTS + "    log global\n" + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    balance roundrobin
    server s1 127.0.0.1:%d check inter 200ms
    server s2 127.0.0.1:%d %s
""" % (port, b1.port, b2.port, s2))


def window_share(port, seconds, n=60):
    """n connections spread over `seconds`: s2's share of them."""
    c = collections.Counter()
    end = time.monotonic() + seconds
    for i in range(n):
        c[ask_name(port)] += 1
        left = end - time.monotonic()
        if left > 0:
            time.sleep(left / (n - i))
    rest = end - time.monotonic()
    if rest > 0:
        time.sleep(rest)
    return c["s2"] / sum(c.values())


def test_share_rises_linearly_after_coming_back(ferry, backends, tmpdir_path):
    b1, b2 = backends(2)
    port = free_port()
    sock = os.path.join(tmpdir_path, "stats.sock")
    f = ferry(cfg(port, sock, b1, b2), wait_port=port)
    # not at start-up: full share at once, no throttle
    c = collections.Counter(ask_name(port) for _ in range(40))
    assert c == {"s1": 20, "s2": 20}
    assert row(csv_rows(sock), "be", "s2")["throttle"] == ""
    b2.stop()
    assert f.wait_log(r"^Server be/s2 is DOWN", timeout=3), f.stdout()
    revived = Backend("s2", port=b2.port).start()
    try:
        assert f.wait_log(r"^Server be/s2 is UP", timeout=3), f.stdout()
        t0 = time.monotonic()
        first = int(row(csv_rows(sock), "be", "s2")["throttle"])
        assert 6 <= first <= 13  # step 1 or 2 of 16: 7 %, 13 %
        shares, throttles = [], []
        for w in range(6):
            shares.append(window_share(port, 2.0))
            throttles.append(row(csv_rows(sock), "be", "s2")["throttle"])
        took = time.monotonic() - t0
        print("shares", [round(x, 3) for x in shares], "expected", [round(x, 3) for x in EXPECTED], "throttle", first, throttles)
        assert took < 14
        for w, (got, want) in enumerate(zip(shares, EXPECTED)):
            assert abs(got - want) <= TOLERANCE, (w, shares, EXPECTED)
        for a, b in zip(shares, shares[1:]):
            assert b >= a - 0.04, shares  # rises (one window may sit still)
        assert shares[0] < 0.15 and shares[-1] >= 0.45
        # throttle rises while warming up, then HAProxy shows none (full)
        ramp = [int(t) for t in throttles[:4]]
        assert ramp == sorted(ramp) and ramp[0] >= first and ramp[-1] >= 75, throttles
        assert throttles[-1] == ""
    finally:
        revived.stop()


def test_leaving_maintenance_warms_up(ferry, backends, tmpdir_path):
    """HAProxy: leaving maintenance starts a warm-up too."""
    from statsock import cmd
    b1, b2 = backends(2)
    port = free_port()
    sock = os.path.join(tmpdir_path, "stats.sock")
    ferry(cfg(port, sock, b1, b2), wait_port=port)
    cmd(sock, "set server be/s2 state maint")
    assert collections.Counter(ask_name(port) for _ in range(10)) == {"s1": 10}
    cmd(sock, "set server be/s2 state ready")
    r = row(csv_rows(sock), "be", "s2")
    assert r["throttle"] == "7" and r["weight"] == "1"
    c = collections.Counter(ask_name(port) for _ in range(34))
    assert c["s2"] <= 4  # 1 of 17 (2 of 16 after a second)


class AgentServer(ScriptServer):
    """An agent-check peer: answers self.reply to every connection, then
    closes (HAProxy's agent protocol: one line per check)."""

    def __init__(self, reply=b"up\n"):
        self.reply = reply
        super().__init__([])

    def _play(self, c):
        try:
            c.sendall(self.reply)
        except OSError:
            pass
        c.close()


def test_coming_back_through_the_agent_warms_up(ferry, backends, tmpdir_path):
    """HAProxy's srv_set_running: a server its agent brought back ("up"
    after "down") warms up as one a check brought back."""
    b1, b2 = backends(2)
    agent = AgentServer(b"up\n")
    try:
        port = free_port()
        sock = os.path.join(tmpdir_path, "stats.sock")
        f = ferry(cfg(port, sock, b1, b2, "agent-check agent-port %d agent-inter 200ms slowstart 10s" % agent.port),
                  wait_port=port)
        assert collections.Counter(ask_name(port) for _ in range(20)) == {"s1": 10, "s2": 10}
        agent.reply = b"down\n"
        assert f.wait_log(r'^Server be/s2 is DOWN, reason: agent replied "down"', timeout=3), f.stdout()
        assert collections.Counter(ask_name(port) for _ in range(6)) == {"s1": 6}
        agent.reply = b"up\n"
        assert f.wait_log(r'^Server be/s2 is UP, reason: agent replied "up"', timeout=3), f.stdout()
        throttle = row(csv_rows(sock), "be", "s2")["throttle"]
        assert throttle and 6 <= int(throttle) <= 13, throttle  # step 1 or 2 of 16
        c = collections.Counter(ask_name(port) for _ in range(34))
        assert c["s2"] <= 4, c  # 1 of 17 (2 of 16 after a second), not 17
    finally:
        agent.stop()


def test_maxconn_ramps_up_after_coming_back(ferry, tmpdir_path):
    """maxconn 10 slowstart 6s: right after the server leaves maintenance it
    takes 1 connection at once (HAProxy: maxconn x elapsed/slowstart, at
    least 1), the other clients wait in the queue, and it holds all 10 only
    at the end of the 6 seconds. Counted on the server: connections it
    holds while the clients stay connected."""
    from statsock import cmd
    b = Backend("s1", mode="silent").start()
    clients = []
    try:
        port = free_port()
        sock = os.path.join(tmpdir_path, "stats.sock")
        ferry("global\n    stats socket %s level admin\n" % sock + DEFAULTS + """
    timeout queue 30s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 127.0.0.1:%d maxconn 10 slowstart 6s
""" % (port, b.port), wait_port=port)
        cmd(sock, "set server be/s1 state maint")
        cmd(sock, "set server be/s1 state ready")
        t0 = time.monotonic()
        for _ in range(10):
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            clients.append(c)
        samples = []  # (seconds since it came back, connections the server holds)
        while time.monotonic() - t0 < 10:
            with b.lock:
                n = len(b.conns)
            samples.append((time.monotonic() - t0, n))
            if n == 10:
                break
            time.sleep(0.1)
        print("samples", [(round(t, 1), n) for t, n in samples[::5]], samples[-1])
        counts = [n for _, n in samples]
        assert counts == sorted(counts), samples  # it never gives room back
        early = [n for t, n in samples if 0.3 <= t <= 1.5]
        assert early and max(early) == 1, samples  # 1 of 10 in its first second
        middle = [n for t, n in samples if 2.5 <= t <= 4.5]
        assert middle and 3 <= min(middle) and max(middle) <= 8, samples  # 30 % .. 70 %
        assert counts[-1] == 10, samples  # all of them at the end
        assert 5.0 <= samples[-1][0] <= 8.0, samples  # and not before ~6 s
    finally:
        for c in clients:
            c.close()
        b.stop()
