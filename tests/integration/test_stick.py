"""Client persistence with "stick on src" over real sockets, ferry and
HAProxy 2.6.12 on the same configuration: one source stays on its server
across 100 connections under roundrobin, moves when the health check marks
that server DOWN (and the table then names the new one), and several
sources spread over the servers."""
import os
import re

from conftest import DEFAULTS, free_port, wait_until
from statsock import cli
from test_rules import HAPROXY, haproxy, name_from  # noqa: F401 (fixture)

STICK = """
global
    stats socket %(sock)s level admin
""" + DEFAULTS + """
frontend fe
    bind 127.0.0.1:%(port)d
    default_backend be
backend be
    balance roundrobin
    stick-table type ip size 1k expire 30m
    stick on src
    server s1 127.0.0.1:%(p1)d check inter 100 fall 1 rise 1
    server s2 127.0.0.1:%(p2)d check inter 100 fall 1 rise 1
    server s3 127.0.0.1:%(p3)d check inter 100 fall 1 rise 1
"""


def scenario(port, sock, bes):
    first = name_from(port, "127.0.0.2")
    same = all(name_from(port, "127.0.0.2") == first for _ in range(99))
    others = [name_from(port, "127.0.0.%d" % i) for i in (3, 4, 5)]
    shown = cli(sock, "show table be key 127.0.0.2\n")
    ident = re.search(r"server_id=(\d+) server_key=(\S+)", shown).groups()
    down = next(b for b in bes if b.name == first)
    down.stop()
    moved = wait_until(lambda: (lambda n: n if n and n != first else "")(name_from(port, "127.0.0.2")), 5,
                       step=0.1)
    after = all(name_from(port, "127.0.0.2") == moved for _ in range(20))
    shown2 = re.search(r"server_key=(\S+)", cli(sock, "show table be key 127.0.0.2\n")).group(1)
    down.start()  # the same port again, for the next run
    return first, same, sorted(others + [first]), ident[1] == first, moved != first, after, shown2 == moved


def test_stick_on_src(ferry, haproxy, backends, tmpdir_path):
    bes = backends(3)
    port = free_port()
    sock = os.path.join(tmpdir_path, "s.sock")
    cfg = STICK % {"sock": sock, "port": port, "p1": bes[0].port, "p2": bes[1].port, "p3": bes[2].port}
    f = ferry(cfg, wait_port=port)
    got = [scenario(port, sock, bes)]
    f.stop()
    if HAPROXY:
        h = haproxy(cfg, port)
        # its start probe came from 127.0.0.1: not one of the test's sources
        wait_until(lambda: all(name_from(port, "127.0.0.9") for _ in range(3)), 3)
        got.append(scenario(port, sock, bes))
        h.stop()
    for first, same, spread, named, moved, after, renamed in got:
        assert same and named and moved and after and renamed, got
        assert len(set(spread)) == 3, got  # four sources, roundrobin: every server
    assert got[0][0] == "s1", got  # HAProxy's start probes moved its roundrobin on


def test_non_stick_server_is_never_stored(ferry, haproxy, backends, tmpdir_path):
    """A non-stick server takes clients but is never written to the table
    (HAProxy's SRV_F_NON_STICK): a source first sent there goes on being
    balanced until it lands on a stickable server, then stays there."""
    bes = backends(2)
    port = free_port()
    sock = os.path.join(tmpdir_path, "s.sock")
    cfg = (STICK % {"sock": sock, "port": port, "p1": bes[0].port, "p2": bes[1].port, "p3": bes[1].port}).replace(
        "    server s1 127.0.0.1:%d check inter 100 fall 1 rise 1\n" % bes[0].port,
        "    server s1 127.0.0.1:%d check inter 100 fall 1 rise 1 non-stick\n" % bes[0].port).replace(
        "    server s3 127.0.0.1:%d check inter 100 fall 1 rise 1\n" % bes[1].port, "")

    def run():
        seen = [name_from(port, "127.0.0.2") for _ in range(10)]
        shown = cli(sock, "show table be key 127.0.0.2\n")
        return seen, re.findall(r"server_key=(\S+)", shown)

    f = ferry(cfg, wait_port=port)
    got = [run()]
    f.stop()
    if HAPROXY:
        h = haproxy(cfg, port)
        wait_until(lambda: all(name_from(port, "127.0.0.9") for _ in range(3)), 3)
        got.append(run())
        h.stop()
    for seen, stored in got:
        at = seen.index("s2")  # roundrobin reaches s2 within two connections
        assert at <= 1 and all(n == "s2" for n in seen[at:]), got
        assert stored == ["s2"], got
