"""tcp-request content rules over the client's first bytes, on real
traffic: reject HTTP on a TCP port (req.proto_http), req.payload and req.len
rules, the inspected bytes reaching the server once and unchanged (also a
large upload that goes on through splice), the reject counted in dreq and
logged "PR" as HAProxy 2.6 does on the same configuration."""
import hashlib
import os
import re
import socket
import time

from conftest import DEFAULTS, free_port, wait_until
from test_rules import HAPROXY, haproxy  # noqa: F401


def cfg(port, be_port, rules, sock=None):
    stats = f"    stats socket {sock} level admin\n" if sock else ""
    return DEFAULTS + f"""
global
    log stdout format raw local0
{stats}frontend fe
    bind 127.0.0.1:{port}
    log global
    option tcplog
    tcp-request inspect-delay 2s
{rules}    default_backend be
backend be
    server s1 127.0.0.1:{be_port}
"""


def exchange(port, payload, half_close=True, pause_after=None):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        for i, p in enumerate(payload if isinstance(payload, list) else [payload]):
            if i and pause_after:
                time.sleep(pause_after)
            c.sendall(p)
        if half_close:
            c.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while True:
                d = c.recv(1 << 16)
                if not d:
                    break
                data += d
        except ConnectionResetError:
            pass
        return data


def both(ferry, haproxy, config, port, check):  # noqa: F811
    f = ferry(config, wait_port=port)
    check(lambda: f.stdout())
    f.stop()
    if HAPROXY:
        h = haproxy(config, port)
        check(lambda: open(h.log.name, "rb").read().decode(errors="replace"))
        h.stop()


def test_reject_http_on_tcp_port(ferry, haproxy, backends):  # noqa: F811
    (echo,) = backends(1, mode="echo")
    port = free_port()
    rules = "    tcp-request content reject if { req.proto_http }\n"

    def check(log):
        before = echo.accepted
        assert exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == b""
        # an HTTP request line sent in pieces: the rule waits for the line
        assert exchange(port, [b"POST /x HT", b"TP/1.0\r\n\r\n"], pause_after=0.2) == b""
        assert wait_until(lambda: re.search(r"fe fe/<NOSRV> -1/-1/\d+ 0 PR ", log()), 5), log()
        assert echo.accepted == before or echo.accepted == before + 1  # HAProxy's start probe
        n = echo.accepted
        data = bytes(range(256)) * 3
        assert exchange(port, data) == data  # not HTTP: relayed once, byte-exact
        assert echo.accepted == n + 1

    both(ferry, haproxy, cfg(port, echo.port, rules), port, check)


def test_payload_and_len_rules_byte_exact_with_splice(ferry, haproxy, backends, tmpdir_path):  # noqa: F811
    (h,) = backends(1, mode="hash")
    port = free_port()
    rules = ("    tcp-request content reject if { req.payload(0,4) -m bin 44454e59 }\n"  # "DENY"
             "    tcp-request content accept if { req.len ge 8 }\n"
             "    tcp-request content reject\n")

    def check(log):
        assert exchange(port, b"DENY and more bytes") == b""
        # fewer than 8 bytes, then the client ends: final evaluation, rejected
        assert exchange(port, b"short") == b""
        # 8 bytes in two segments: accepted once the second arrives
        big = os.urandom(3 << 20)  # goes on through splice after the first bytes
        got = exchange(port, [b"ABCD", b"EFGH" + big], pause_after=0.2)
        assert got.decode() == hashlib.sha256(b"ABCDEFGH" + big).hexdigest()

    both(ferry, haproxy, cfg(port, h.port, rules), port, check)


def test_reject_counted_in_dreq(ferry, backends, tmpdir_path):
    (echo,) = backends(1, mode="echo")
    port = free_port()
    sock = os.path.join(tmpdir_path, "stats.sock")
    ferry(cfg(port, echo.port, "    tcp-request content reject if { req.payload(0,1) -m bin 58 }\n", sock),
          wait_port=port)
    assert exchange(port, b"X") == b""
    assert exchange(port, b"Y") == b"Y"
    c = socket.socket(socket.AF_UNIX)
    c.connect(sock)
    c.sendall(b"show stat\n")
    data = b""
    while True:
        d = c.recv(65536)
        if not d:
            break
        data += d
    c.close()
    lines = data.decode().splitlines()
    head = lines[0][2:].split(",")
    fe = next(l.split(",") for l in lines if l.startswith("fe,FRONTEND,"))
    assert fe[head.index("dreq")] == "1"
    assert fe[head.index("stot")] == "2"


def test_without_inspect_delay_rules_see_what_arrived(ferry, backends):
    """No inspect-delay: the rules are evaluated once, at once (HAProxy warns
    only for track-sc/capture rules, not for accept/reject)."""
    (echo,) = backends(1, mode="echo")
    port = free_port()
    f = ferry(cfg(port, echo.port, "    tcp-request content reject if { req.len gt 100 }\n")
              .replace("    tcp-request inspect-delay 2s\n", ""), wait_port=port)
    t0 = time.time()
    assert exchange(port, b"hello") == b"hello"
    assert time.time() - t0 < 1.5
    assert "inspect-delay" not in f.stderr()
