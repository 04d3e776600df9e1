"""Stick counters at work over real sockets: the per-source limit idiom of
HAProxy's documentation (track-sc0 src, reject on sc0_conn_rate and
sc0_conn_cur), sc-inc-gpc0 with sc0_get_gpc0, src_* fetches reading another
frontend's table without tracking, and "show table" after real traffic.
HAProxy 2.6.12 runs the same configurations and the same bounded client
loops, and must count the same accepts and rejects."""
import os
import re
import socket
import time

import pytest

from conftest import DEFAULTS, free_port, wait_until
from statsock import cli
from test_rules import HAPROXY, haproxy, name_from  # noqa: F401 (fixture)

IDIOM = DEFAULTS + """
frontend fe
    bind 127.0.0.1:%(port)d
    stick-table type ip size 100k expire 30s store conn_rate(1s),conn_cur
    tcp-request connection track-sc0 src
    tcp-request connection reject if { sc0_conn_rate gt 20 }
    tcp-request connection reject if { sc0_conn_cur ge 10 }
    default_backend be
backend be
    server s1 127.0.0.1:%(b)d
"""


def burst(port, src, n):
    """n connections one after the other from src, each closed once the
    server's first line (or the close) came: how many reached the server."""
    return sum(1 for _ in range(n) if name_from(port, src) == "s1")


def run_both(ferry, haproxy, cfg, port, check):
    """check(port) against ferry, then HAProxy; both results."""
    f = ferry(cfg, wait_port=port)
    got = [check(port)]
    f.stop()
    if HAPROXY:
        h = haproxy(cfg, port)
        got.append(check(port))
        h.stop()
    return got


def test_rate_limit_per_source(ferry, haproxy, backends):
    b, = backends(1)
    port = free_port()
    cfg = IDIOM % {"port": port, "b": b.port}

    def check(p):
        time.sleep(1.1)  # a new rate period for 127.0.0.2 (HAProxy's start probe used .1)
        t0 = time.monotonic()
        a = burst(p, "127.0.0.2", 25)
        other = burst(p, "127.0.0.3", 3)
        assert time.monotonic() - t0 < 1.0, "the burst took too long to be one period"
        return a, other

    got = run_both(ferry, haproxy, cfg, port, check)
    assert got[0] == (20, 3), got
    assert all(g == got[0] for g in got), got


def hold(port, src, n):
    """n open connections from src that reached the server (others closed)."""
    held = []
    for _ in range(n):
        c = socket.socket()
        c.settimeout(5)
        c.bind((src, 0))
        try:  # a rejected connection may be reset (HAProxy resets it)
            c.connect(("127.0.0.1", port))
            line = c.recv(100)
        except ConnectionResetError:
            line = b""
        if line.startswith(b"s1"):
            held.append(c)
        else:
            c.close()
    return held


def test_concurrent_limit_per_source(ferry, haproxy, backends):
    b, = backends(1)
    port = free_port()
    cfg = IDIOM % {"port": port, "b": b.port}

    def check(p):
        held = hold(p, "127.0.0.2", 11)
        n = len(held)
        other = burst(p, "127.0.0.3", 1)
        held.pop().close()
        # the server side closes too; conn_cur drops when the session ends
        again = wait_until(lambda: burst(p, "127.0.0.2", 1), 3, step=0.1)
        for c in held:
            c.close()
        return n, other, again

    got = run_both(ferry, haproxy, cfg, port, check)
    # the connection being accepted is already counted when the rule looks:
    # "ge 10" lets 9 stay open, as HAProxy
    assert got[0] == (9, 1, 1), got
    assert all(g == got[0] for g in got), got


def test_show_table_after_traffic(ferry, backends, tmpdir_path):
    b, = backends(1)
    port = free_port()
    sock = os.path.join(tmpdir_path, "stats.sock")
    cfg = ("global\n    stats socket %s level admin\n" % sock) + IDIOM % {"port": port, "b": b.port}
    f = ferry(cfg, wait_port=port)
    held = hold(port, "127.0.0.2", 2)
    assert len(held) == 2
    assert burst(port, "127.0.0.3", 3) == 3
    out = cli(sock, "show table fe\n")
    lines = out.splitlines()
    assert lines[0] == "# table: fe, type: ip, size:102400, used:2"
    entries = {re.search(r"key=(\S+)", l).group(1): l for l in lines[1:] if l}
    assert re.fullmatch(r"0x[0-9a-f]+: key=127\.0\.0\.2 use=2 exp=\d+ conn_rate\(1000\)=2 conn_cur=2",
                        entries["127.0.0.2"]), entries
    assert wait_until(lambda: "conn_cur=0" in cli(sock, "show table fe key 127.0.0.3\n"), 3)
    assert re.search(r"key=127\.0\.0\.3 use=0 exp=\d+ conn_rate\(1000\)=3 conn_cur=0",
                     cli(sock, "show table fe key 127.0.0.3\n"))
    for c in held:
        c.close()
    assert wait_until(lambda: "use=0 exp" in cli(sock, "show table fe key 127.0.0.2\n"), 3)
    f.stop()


GPC = DEFAULTS + """
frontend fe
    bind 127.0.0.1:%(port)d
    stick-table type ip size 1k expire 30s store gpc0,conn_cnt,sess_cnt
    tcp-request connection track-sc1 src
    tcp-request connection sc-inc-gpc0(1) if { src 127.0.0.2 }
    tcp-request connection reject if { sc1_get_gpc0 ge 3 }
    tcp-request connection reject if { sc0_conn_cnt ge 0 }
    tcp-request connection reject if { sc_conn_cnt(1) ge 9 }
    default_backend be
frontend fe2
    bind 127.0.0.1:%(port2)d
    tcp-request connection reject if { src_conn_cnt(fe) ge 5 }
    tcp-request connection reject if { src_get_gpc0(fe) ge 1 } ! { src 127.0.0.4 }
    default_backend be
backend be
    server s1 127.0.0.1:%(b)d
"""


def test_gpc0_and_src_fetches(ferry, haproxy, backends):
    """sc-inc-gpc0 then sc1_get_gpc0 rejects 127.0.0.2's third connection;
    sc0 is not tracked, so sc0_conn_cnt has no sample and never matches;
    sc_conn_cnt(1) rejects 127.0.0.3 from its 9th; fe2 reads fe's table
    with src_* without tracking (127.0.0.5 has no entry: 0)."""
    b, = backends(1)
    port, port2 = free_port(), free_port()
    cfg = GPC % {"port": port, "port2": port2, "b": b.port}

    def check(p):
        two = [name_from(p, "127.0.0.2") for _ in range(4)]
        three = burst(p, "127.0.0.3", 10)
        via2 = [name_from(port2, s) for s in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")]
        return two, three, via2

    got = run_both(ferry, haproxy, cfg, port, check)
    assert got[0] == (["s1", "s1", "", ""], 8, ["", "", "s1", "s1"]), got
    assert all(g == got[0] for g in got), got


def test_track_in_content_rules(ferry, haproxy, backends):
    """tcp-request content track-sc1 (after inspect-delay, on a key that
    needs the client's bytes to decide) counts as HAProxy counts it, and a
    content reject on the counter bites at the same connection."""
    b, = backends(1)
    port = free_port()
    cfg = DEFAULTS + """
frontend fe
    bind 127.0.0.1:%(port)d
    stick-table type ip size 1k expire 30s store conn_cnt,conn_cur
    tcp-request inspect-delay 2s
    tcp-request content track-sc1 src if { req.len gt 0 }
    tcp-request content reject if { sc1_conn_cnt gt 3 }
    default_backend be
backend be
    server s1 127.0.0.1:%(b)d
""" % {"port": port, "b": b.port}

    def one(p, src):
        with socket.socket() as c:
            c.settimeout(5)
            c.bind((src, 0))
            c.connect(("127.0.0.1", p))
            c.sendall(b"hello\n")
            try:
                return c.recv(100).startswith(b"s1")
            except ConnectionResetError:
                return False

    def check(p):
        return (sum(one(p, "127.0.0.2") for _ in range(6)), sum(one(p, "127.0.0.3") for _ in range(2)))

    got = run_both(ferry, haproxy, cfg, port, check)
    assert 0 < got[0][0] < 6 and got[0][1] == 2, got
    assert all(g == got[0] for g in got), got
