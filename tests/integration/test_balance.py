"""Balancing over real connections: exact counts per backend."""
import collections
import socket
import time

from conftest import DEFAULTS, recv_within, ask_name, free_port, wait_until


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
