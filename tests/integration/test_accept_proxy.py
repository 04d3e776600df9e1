"""Receiving the PROXY protocol: bind ... accept-proxy (v1 and v2,
auto-detected) and tcp-request connection expect-proxy layer4 if <cond>.
Valid headers make the header's addresses the session's (src rules, the
tcplog line, send-proxy to a server that parses it), bytes glued after the
header reach the server unchanged; what is not a valid header closes the
connection with nothing sent to a server and HAProxy's log sentence. HAProxy
2.6 receives the same bytes on the same configuration and must do the same,
except where said: a header split over two segments, which HAProxy 2.6
refuses ("Truncated") and ferry waits for."""
import re
import socket
import struct
import time

import pytest

from conftest import DEFAULTS, free_port, wait_until
from test_proxy_protocol import SIG, Recorder, parse_header, recorders  # noqa: F401
from test_rules import HAPROXY, haproxy  # noqa: F401

V1 = b"PROXY TCP4 10.1.2.3 10.4.5.6 1111 2222\r\n"
V2 = SIG + bytes([0x21, 0x11, 0, 12]) + bytes([10, 9, 8, 7, 10, 1, 1, 1, 0x12, 0x34, 0, 80])
V2_AUTH = SIG + bytes([0x21, 0x11]) + struct.pack("!H", 12 + 3 + 9) + \
    bytes([10, 9, 8, 7, 10, 1, 1, 1, 0x12, 0x34, 0, 80]) + b"\x02\x00\x09a.example"
GLUED = bytes(range(256)) * 8 + V1 + SIG  # look-alikes inside the payload

# (name, segments, HAProxy's log sentence)
BAD = [
    ("garbage", [b"hello world, this is not a header\r\n"],
     "Received something which does not look like a PROXY protocol header"),
    ("short garbage", [b"hello\r\n"], "Truncated PROXY protocol header received"),
    ("v1 bad protocol", [b"PROXY UDP4 10.1.2.3 10.4.5.6 1111 2222\r\n"],
     "Received an unhandled protocol in the PROXY protocol header"),
    ("v1 oversized", [b"PROXY TCP4 " + b"1" * 120 + b"\r\n"], "Received an invalid PROXY protocol header"),
    ("v2 bad signature", [b"\r\n\r\n\x00\r\nQUIX\n" + bytes([0x21, 0x11, 0, 12]) + bytes(12)],
     "Received something which does not look like a PROXY protocol header"),
    ("v2 unknown family", [SIG + bytes([0x21, 0x41, 0, 12]) + bytes(12) + b"data"],
     "Received an invalid PROXY protocol header"),
    ("v1 truncated", [b"PROXY TCP4 10.1.2.3", None], "Truncated PROXY protocol header received"),
    ("v2 truncated", [SIG + bytes([0x21, 0x11, 0, 12, 1, 2]), None], "Truncated PROXY protocol header received"),
    ("empty", [None], "Connection closed while waiting for PROXY protocol header"),
]


def cfg(port, rec_port, extra="", bind_opts="accept-proxy", server_opts=""):
    return DEFAULTS + f"""
global
    log stdout format raw local0
frontend fe
    bind 127.0.0.1:{port} {bind_opts}
    log global
    option tcplog
{extra}    default_backend be
backend be
    server s1 127.0.0.1:{rec_port} {server_opts}
"""


def talk(port, segments, src="127.0.0.1", pause=0.2, read=True):
    """Sends each segment (None: half-close), then reads until the end."""
    c = socket.socket()
    c.settimeout(5)
    c.bind((src, 0))
    c.connect(("127.0.0.1", port))
    back = b""
    try:
        for i, seg in enumerate(segments):
            if seg is None:
                c.shutdown(socket.SHUT_WR)
            else:
                c.sendall(seg)
            if i + 1 < len(segments):
                time.sleep(pause)
        if read:
            if segments[-1] is not None:
                c.shutdown(socket.SHUT_WR)
            while True:
                d = c.recv(65536)
                if not d:
                    break
                back += d
    except OSError:
        pass
    c.close()
    return back


def run_both(ferry, haproxy, config, port, check):  # noqa: F811
    f = ferry(config, wait_port=port)
    check(lambda: f.stdout())
    f.stop()
    if HAPROXY:
        h = haproxy(config, port)
        path = h.log.name
        check(lambda: open(path, "rb").read().decode(errors="replace"))
        h.stop()


def test_valid_headers_addresses_and_glued_payload(ferry, haproxy, recorders):  # noqa: F811
    rec = recorders()
    other = recorders()
    port = free_port()
    config = cfg(port, rec.port, extra="    use_backend be_src if { src 10.9.8.7 }\n") + \
        f"backend be_src\n    server s2 127.0.0.1:{other.port}\n"

    def check(log):
        n0, m0 = len(rec.conns), len(other.conns)
        talk(port, [V1 + GLUED])
        assert rec.wait(n0 + 1)[n0] == GLUED  # byte-exact, the header taken off
        talk(port, [V2 + GLUED])
        assert other.wait(m0 + 1)[m0] == GLUED  # src 10.9.8.7 from the v2 header
        assert wait_until(lambda: re.search(r"^10\.1\.2\.3:1111 \[.*\] fe be/s1 ", log(), re.M), 5), log()
        assert wait_until(lambda: re.search(r"^10\.9\.8\.7:4660 \[.*\] fe be_src/s2 ", log(), re.M), 5), log()

    run_both(ferry, haproxy, config, port, check)


@pytest.mark.parametrize("name,segments,sentence", BAD, ids=[b[0] for b in BAD])
def test_invalid_headers_closed_and_logged(ferry, haproxy, recorders, name, segments, sentence):  # noqa: F811
    rec = recorders()
    port = free_port()

    def check(log):
        back = talk(port, segments)
        assert back == b""
        assert wait_until(lambda: re.search(r"^127\.0\.0\.1:\d+ \[[^]]+\] fe/1: " + re.escape(sentence) + "$",
                                            log(), re.M), 5), log()
        time.sleep(0.2)
        assert rec.conns == []  # nothing reached a server

    run_both(ferry, haproxy, cfg(port, rec.port), port, check)


def test_header_split_over_two_segments_waited_for(ferry, recorders):  # noqa: F811
    """HAProxy 2.6 refuses this ("Truncated PROXY protocol header
    received"); ferry waits for the rest (up to timeout client)."""
    rec = recorders()
    port = free_port()
    f = ferry(cfg(port, rec.port), wait_port=port)
    for hdr in (V1, V2):
        n0 = len(rec.conns)
        talk(port, [hdr[:9], hdr[9:] + b"payload"])
        assert rec.wait(n0 + 1)[n0] == b"payload"
    assert f.wait_log(r"^10\.1\.2\.3:1111 .* fe be/s1 ")


def test_timeout_while_waiting(ferry, recorders):  # noqa: F811
    rec = recorders()
    port = free_port()
    f = ferry(cfg(port, rec.port).replace("timeout client 30s", "timeout client 500ms"), wait_port=port)
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"PROXY TCP4 ")
    c.settimeout(5)
    t0 = time.time()
    try:
        assert c.recv(10) == b""
    except ConnectionResetError:  # closed with the header's bytes unread
        pass
    assert 0.3 < time.time() - t0 < 3
    c.close()
    assert f.wait_log(r"fe/1: Timeout while waiting for PROXY protocol header$")
    assert rec.conns == []


def test_send_proxy_passes_the_received_addresses_and_authority(ferry, recorders):  # noqa: F811
    rec = recorders()
    port = free_port()
    ferry(cfg(port, rec.port, server_opts="send-proxy-v2 proxy-v2-options authority"), wait_port=port)
    talk(port, [V2_AUTH + b"hi"])
    got = rec.wait(1)[0]
    h, n = parse_header(got)
    assert h["src"] == ("10.9.8.7", 0x1234) and h["dst"] == ("10.1.1.1", 80)
    assert (0x02, b"a.example") in h["tlvs"]
    assert got[n:] == b"hi"
    rec2 = recorders()
    port2 = free_port()
    ferry(cfg(port2, rec2.port, server_opts="send-proxy"), wait_port=port2, tmpdir=None)
    talk(port2, [V1 + b"x"])
    got = rec2.wait(1)[0]
    assert got == b"PROXY TCP4 10.1.2.3 10.4.5.6 1111 2222\r\nx"


def test_fc_fetches_and_local_command(ferry, recorders):  # noqa: F811
    rec, auth = recorders(), recorders()
    port = free_port()
    extra = ("    tcp-request inspect-delay 1s\n"
             "    use_backend be_auth if { fc_pp_authority a.example } { fc_rcvd_proxy }\n")
    ferry(cfg(port, rec.port, extra=extra) + f"backend be_auth\n    server s2 127.0.0.1:{auth.port}\n",
          wait_port=port)
    talk(port, [V2_AUTH + b"A"])
    assert auth.wait(1)[0] == b"A"
    local = SIG + bytes([0x20, 0x00, 0, 0])  # LOCAL: the connection's own addresses stay
    talk(port, [local + b"L"])
    assert rec.wait(1)[0] == b"L"


def test_expect_proxy_only_for_one_source(ferry, haproxy, recorders):  # noqa: F811
    rec = recorders()
    port = free_port()
    config = cfg(port, rec.port, bind_opts="",
                 extra="    tcp-request connection expect-proxy layer4 if { src 127.0.0.2 }\n")

    def check(log):
        # (HAProxy's start-up probe may add an empty connection: look for ours)
        talk(port, [V1 + b"via-lb"], src="127.0.0.2")
        talk(port, [b"direct"], src="127.0.0.1")
        assert wait_until(lambda: rec.conns.count(b"direct") == 1 and rec.conns.count(b"via-lb") == 1, 5)
        assert wait_until(lambda: re.search(r"^10\.1\.2\.3:1111 .* fe be/s1 ", log(), re.M), 5), log()
        back = talk(port, [b"not a header from the LB\r\n"], src="127.0.0.2")
        assert back == b""
        time.sleep(0.2)
        assert not any(b"LB" in c for c in rec.conns)
        rec.conns.clear()

    run_both(ferry, haproxy, config, port, check)
