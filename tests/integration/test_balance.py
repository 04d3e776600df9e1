"""Balancing over real connections: exact counts per backend."""
import collections
import re
import select
import socket
import time

import pytest

from conftest import DEFAULTS, THREADS, recv_within, ask_name, free_port, wait_until


def config(port, servers, balance="roundrobin", extra_be="", extra_fe=""):
    lines = ["frontend fe", "    bind 127.0.0.1:%d" % port, "    default_backend be", extra_fe,
             "backend be", "    balance %s" % balance, extra_be]
    lines += ["    server %s 127.0.0.1:%d %s" % (name, p, opts) for name, p, opts in servers]
    return DEFAULTS + "\n".join(lines) + "\n"


def test_roundrobin_exact_counts(ferry, backends):
    bs = backends(3)
    port = free_port()
    ferry(config(port, [(b.name, b.port, "") for b in bs]), wait_port=port)
    counts = collections.Counter(ask_name(port) for _ in range(300))
    assert counts == {"s1": 100, "s2": 100, "s3": 100}
    for b in bs:
        assert b.accepted == 100


def test_roundrobin_weights(ferry, backends):
    bs = backends(2)
    port = free_port()
    ferry(config(port, [("s1", bs[0].port, "weight 1"), ("s2", bs[1].port, "weight 2")]), wait_port=port)
    counts = collections.Counter(ask_name(port) for _ in range(30))
    assert counts == {"s1": 10, "s2": 20}


def test_static_rr_and_weight_zero(ferry, backends):
    bs = backends(3)
    port = free_port()
    ferry(config(port, [("s1", bs[0].port, ""), ("s2", bs[1].port, "weight 0"), ("s3", bs[2].port, "")],
                 balance="static-rr"), wait_port=port)
    counts = collections.Counter(ask_name(port) for _ in range(40))
    assert counts == {"s1": 20, "s3": 20}


def test_leastconn_held_sessions(ferry, backends):
    bs = backends(3)
    port = free_port()
    ferry(config(port, [(b.name, b.port, "") for b in bs], balance="leastconn"), wait_port=port)
    held = collections.defaultdict(list)
    for _ in range(30):  # 30 held sessions spread 10/10/10
        c = socket.create_connection(("127.0.0.1", port))
        held[c.recv(100).split(b"\n")[0].decode()].append(c)
    assert {k: len(v) for k, v in held.items()} == {"s1": 10, "s2": 10, "s3": 10}
    for name in ("s2", "s3"):  # keep the 10 on s1 only
        for c in held.pop(name):
            c.close()
    assert wait_until(lambda: sum(len(b.conns) for b in bs[1:]) == 0, 5)
    time.sleep(0.1)
    more = []
    for _ in range(10):
        c = socket.create_connection(("127.0.0.1", port))
        more.append(c.recv(100).split(b"\n")[0].decode())
        held["new"].append(c)
    for cs in held.values():
        for c in cs:
            c.close()
    assert collections.Counter(more) == {"s2": 5, "s3": 5}


def test_first_fills_servers_in_order(ferry, backends):
    bs = backends(2)
    port = free_port()
    ferry(config(port, [("s1", bs[0].port, "maxconn 3"), ("s2", bs[1].port, "maxconn 10")],
                 balance="first"), wait_port=port)
    time.sleep(0.1)
    conns, names = [], []
    for _ in range(5):
        c = socket.create_connection(("127.0.0.1", port))
        names.append(c.recv(100).split(b"\n")[0].decode())
        conns.append(c)
    for c in conns:
        c.close()
    assert names == ["s1", "s1", "s1", "s2", "s2"]


def test_source_is_sticky(ferry, backends):
    bs = backends(3)
    port = free_port()
    ferry(config(port, [(b.name, b.port, "") for b in bs], balance="source",
                 extra_be="    hash-type consistent"), wait_port=port)
    seen = collections.Counter()
    for src in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"):
        names = set()
        for _ in range(5):
            with socket.socket() as c:
                c.bind((src, 0))
                c.connect(("127.0.0.1", port))
                names.add(c.recv(100).split(b"\n")[0].decode())
        assert len(names) == 1, "client %s reached %s" % (src, names)
        seen[names.pop()] += 1
    assert sum(seen.values()) == 4


def test_random_spreads(ferry, backends):
    bs = backends(3)
    port = free_port()
    ferry(config(port, [(b.name, b.port, "") for b in bs], balance="random(2)"), wait_port=port)
    counts = collections.Counter(ask_name(port) for _ in range(150))
    assert set(counts) == {"s1", "s2", "s3"}


def test_backup_only_when_actives_down(ferry, backends):
    bs = backends(3)
    port = free_port()
    ferry(config(port, [("s1", bs[0].port, ""), ("s2", bs[1].port, "backup"), ("s3", bs[2].port, "backup")]),
          wait_port=port)
    assert {ask_name(port) for _ in range(10)} == {"s1"}
    

def test_disabled_and_allbackups(ferry, backends):
    bs = backends(3)
    port = free_port()
    ferry(config(port, [("s1", bs[0].port, "disabled"), ("s2", bs[1].port, "backup"), ("s3", bs[2].port, "backup")],
                 extra_be="    option allbackups"), wait_port=port)
    counts = collections.Counter(ask_name(port) for _ in range(20))
    assert counts["s1"] == 0
    assert counts["s2"] >= 9 and counts["s3"] >= 9


def test_first_backup_without_allbackups(ferry, backends):
    bs = backends(3)
    port = free_port()
    ferry(config(port, [("s1", bs[0].port, "disabled"), ("s2", bs[1].port, "backup"), ("s3", bs[2].port, "backup")]),
          wait_port=port)
    assert collections.Counter(ask_name(port) for _ in range(10)) == {"s2": 10}


def test_no_server_closes_client_promptly(ferry, backends):
    bs = backends(1)
    port = free_port()
    ferry(config(port, [("s1", bs[0].port, "disabled")]), wait_port=port)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(100) == b""
    assert time.monotonic() - t0 < 1.0


def test_server_maxconn_queues_then_serves(ferry, backends):
    bs = backends(1)
    port = free_port()
    ferry(config(port, [("s1", bs[0].port, "maxconn 1")], extra_be="    timeout queue 5s"), wait_port=port)
    time.sleep(0.1)
    first = socket.create_connection(("127.0.0.1", port))
    assert first.recv(100) == b"s1\n"
    second = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert recv_within(second, 0.5) is None  # queued: the server is at its maxconn
    first.close()
    second.settimeout(5)
    assert second.recv(100) == b"s1\n"  # served once the slot freed
    second.close()


def test_queue_timeout_closes(ferry, backends):
    bs = backends(1)
    port = free_port()
    f = ferry(config(port, [("s1", bs[0].port, "maxconn 1")],
                     extra_be="    timeout queue 300ms", extra_fe="    log stdout format raw local0\n    option tcplog"),
              wait_port=port)
    time.sleep(0.1)
    first = socket.create_connection(("127.0.0.1", port))
    assert first.recv(100) == b"s1\n"
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as second:
        assert second.recv(100) == b""
    assert 0.25 < time.monotonic() - t0 < 2
    first.close()
    assert f.wait_log(r" fe be/<NOSRV> (2\d\d|3\d\d)/-1/\d+ 0 sQ ")


def connect_from(src, port, timeout=5):
    c = socket.socket()
    c.bind((src, 0))
    c.settimeout(timeout)
    c.connect(("127.0.0.1", port))
    return c


def sources_by_server(port, n=24):
    """Which client addresses (127.0.0.x) balance source sends to which server."""
    seen = collections.defaultdict(list)
    for i in range(2, 2 + n):
        with connect_from("127.0.0.%d" % i, port) as c:
            seen[c.recv(100).split(b"\n")[0].decode()].append("127.0.0.%d" % i)
    return seen


TCPLOG_FE = "    log stdout format raw local0\n    option tcplog"


def test_source_hash_waits_in_its_servers_queue_only(ferry, backends):
    """balance source: a client whose server is full waits in that server's
    queue, and clients of other servers go on being served (issue 8, item
    12: they waited behind it in one backend queue, and were dropped sQ).
    When the slot frees, the queued clients get it in order; the log shows
    HAProxy's %sq (1 + those served before from that queue), as HAProxy 2.6
    prints it for the same exchange."""
    bs = backends(2)
    port = free_port()
    f = ferry(config(port, [("s1", bs[0].port, "maxconn 1"), ("s2", bs[1].port, "maxconn 1")],
                     balance="source", extra_be="    timeout queue 10s", extra_fe=TCPLOG_FE), wait_port=port)
    src = sources_by_server(port)
    assert len(src["s1"]) >= 3 and src["s2"], src
    a = connect_from(src["s1"][0], port)
    assert a.recv(100) == b"s1\n"
    b = connect_from(src["s1"][1], port)
    # b must be queued before d connects: connecting both at once lets the
    # two threads accept them in either order (the kernel hands each
    # thread's listener its own connections), so "older" would mean nothing
    assert recv_within(b, 0.3) is None  # in s1's queue
    d = connect_from(src["s1"][2], port)
    bport, dport = b.getsockname()[1], d.getsockname()[1]
    assert recv_within(d, 0.3) is None  # in s1's queue, behind b
    t0 = time.monotonic()
    c = connect_from(src["s2"][0], port)
    assert c.recv(100) == b"s2\n"  # not behind them
    assert time.monotonic() - t0 < 0.5
    c.close()
    a.close()
    assert b.recv(100) == b"s1\n"
    assert recv_within(d, 0.3) is None
    b.close()
    assert d.recv(100) == b"s1\n"
    d.close()
    # HAProxy 2.6, same exchange: "be/s1 1304/1/1304 3 -- 3/3/2/0/0 1/0" for
    # the first queued client, "... 2/0" for the second
    # (%sc may count the next client already connecting on another thread)
    rx = r"^%s:%d \[[^]]+\] fe be/s1 (\d+)/\d+/\d+ 3 -- \d+/\d+/\d+/[01]/0 (\d+)/(\d+)$"
    mb = f.wait_log(rx % (re.escape(src["s1"][1]), bport))
    md = f.wait_log(rx % (re.escape(src["s1"][2]), dport))
    assert mb and md, f.stdout()
    assert int(mb.group(1)) >= 250 and (mb.group(2), mb.group(3)) == ("1", "0")
    assert (md.group(2), md.group(3)) == ("2", "0")


def test_server_maxqueue_limits_its_queue(ferry, backends):
    """maxqueue bounds each server's queue, as HAProxy: the next client of
    that server is refused at once (SQ); other servers' clients are served."""
    bs = backends(2)
    port = free_port()
    f = ferry(config(port, [("s1", bs[0].port, "maxconn 1 maxqueue 1"), ("s2", bs[1].port, "maxconn 1")],
                     balance="source", extra_be="    timeout queue 10s", extra_fe=TCPLOG_FE), wait_port=port)
    src = sources_by_server(port)
    a = connect_from(src["s1"][0], port)
    assert a.recv(100) == b"s1\n"
    b = connect_from(src["s1"][1], port)
    assert recv_within(b, 0.3) is None
    t0 = time.monotonic()
    d = connect_from(src["s1"][2], port)
    assert d.recv(100) == b""  # s1's queue is full
    assert time.monotonic() - t0 < 0.5
    # HAProxy 2.6: "be/s1 -1/-1/0 0 SQ 4/4/2/1/0 0/0"
    assert f.wait_log(r"^%s:\d+ \[[^]]+\] fe be/s1 -1/-1/\d+ 0 SQ \d+/\d+/\d+/1/0 0/0$" % re.escape(src["s1"][2]))
    with connect_from(src["s2"][0], port) as c:
        assert c.recv(100) == b"s2\n"
    a.close()
    assert b.recv(100) == b"s1\n"
    b.close()


def test_backend_queue_position_is_logged_as_haproxy(ferry, backends):
    """roundrobin with every server full: clients wait in the backend's
    queue, get freed slots oldest first, and log %bq as HAProxy does."""
    (b,) = backends(1)
    port = free_port()
    f = ferry(config(port, [("s1", b.port, "maxconn 1")], extra_be="    timeout queue 3s",
                     extra_fe=TCPLOG_FE), wait_port=port)
    first = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert first.recv(100) == b"s1\n"
    waiting = []
    for _ in range(2):
        waiting.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        assert recv_within(waiting[-1], 0.2) is None
    ports = [c.getsockname()[1] for c in waiting]
    first.close()
    for c in waiting:
        assert c.recv(100) == b"s1\n"
        c.close()
    for p, pos in zip(ports, ("1", "2")):
        m = f.wait_log(r"^127\.0\.0\.1:%d \[[^]]+\] fe be/s1 \d+/\d+/\d+ \d+ -- [\d/]+ (\d+)/(\d+)$" % p)
        assert m and (m.group(1), m.group(2)) == ("0", pos), f.stdout()


def test_leastconn_with_maxqueue_queues_on_the_least_loaded_server(ferry, backends):
    """leastconn with maxqueue, as HAProxy: a full server whose connections
    and queue stay below maxconn + maxqueue is still a candidate, and the
    client waits in that server's queue (logged %sq); once every server's
    queue is full, the next one waits in the backend's queue (%bq)."""
    bs = backends(2)
    port = free_port()
    f = ferry(config(port, [("s1", bs[0].port, "maxconn 1 maxqueue 2"), ("s2", bs[1].port, "maxconn 1 maxqueue 2")],
                     balance="leastconn", extra_be="    timeout queue 3s", extra_fe=TCPLOG_FE), wait_port=port)
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    assert sorted(c.recv(100) for c in held) == [b"s1\n", b"s2\n"]
    queued = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(5)]
    for c in queued:
        assert recv_within(c, 0.2) is None
    ports = [c.getsockname()[1] for c in queued]
    for c in held:
        c.close()
    waiting = set(queued)  # served in the order ferry saw them, closed at once
    end = time.monotonic() + 5
    while waiting and time.monotonic() < end:
        for c in select.select(list(waiting), [], [], 0.5)[0]:
            assert c.recv(100) in (b"s1\n", b"s2\n"), f.stdout()
            c.close()
            waiting.discard(c)
    assert not waiting, f.stdout()
    pos = []
    for p in ports:
        m = f.wait_log(r"^127\.0\.0\.1:%d \[[^]]+\] fe be/s[12] \d+/\d+/\d+ \d+ -- [\d/]+ (\d+)/(\d+)$" % p)
        assert m, f.stdout()
        pos.append((int(m.group(1)) > 0, int(m.group(2)) > 0))
    # four waited in a server's queue, one (the last ferry saw) in the backend's
    assert sorted(pos) == [(False, True)] + [(True, False)] * 4


@pytest.mark.parametrize("redispatch", [True, False])
def test_queue_of_a_server_that_goes_down(ferry, backends, redispatch):
    """A client waiting in the queue of a server that goes down: with
    option redispatch it is sent to another server at once, as HAProxy's
    pendconn_redistribute; without it, it waits for that server (here until
    its queue timeout, sQ)."""
    bs = backends(2)
    port = free_port()
    f = ferry(config(port, [("s1", bs[0].port, "maxconn 1 check inter 200ms fall 1"),
                            ("s2", bs[1].port, "maxconn 1 check inter 200ms fall 1")],
                     balance="source", extra_fe=TCPLOG_FE,
                     extra_be="    timeout queue 2s\n" + ("    option redispatch" if redispatch else "")),
              wait_port=port)
    src = sources_by_server(port)
    a = connect_from(src["s1"][0], port)
    assert a.recv(100) == b"s1\n"
    b = connect_from(src["s1"][1], port)
    assert recv_within(b, 0.3) is None
    bs[0].running = False  # s1 stops listening; its open connection stays
    bs[0].sock.shutdown(socket.SHUT_RDWR)
    bs[0].sock.close()
    bs[0].sock = None
    # HAProxy 2.6 (same exchange, log-health-checks aside): "... 1 sessions
    # active, 1 requeued, 0 remaining in queue." with option redispatch
    assert f.wait_log(r"Server be/s1 is DOWN, .* 1 sessions active, %s requeued, %s remaining in queue\.$"
                      % (("1", "0") if redispatch else ("0", "1")), timeout=2, where="stderr"), f.stderr()
    if redispatch:  # HAProxy 2.6: "be/s2 584/0/1584 3 -- 2/2/1/0/+0 1/0"
        assert recv_within(b, 2) == b"s2\n"
        b.close()
        assert f.wait_log(r"^%s:\d+ \[[^]]+\] fe be/s2 \d+/\d+/\d+ 3 -- [\d/]+/\+0 1/0$"
                          % re.escape(src["s1"][1])), f.stdout()
    else:
        assert recv_within(b, 1) is None
        assert b.recv(100) == b""
        assert f.wait_log(r"^%s:\d+ \[[^]]+\] fe be/s1 \d+/-1/\d+ 0 sQ " % re.escape(src["s1"][1]))
    a.close()
