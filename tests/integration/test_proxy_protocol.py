"""send-proxy, send-proxy-v2 (proxy-v2-options), check-send-proxy and
tcp-check connect send-proxy: what servers receive first.

The servers here parse the header with their own reader, written from
HAProxy's doc/proxy-protocol.txt (not ferry's code); HAProxy 2.6 itself is
a receiving server (accept-proxy) in one test, and a sender in another,
whose bytes ferry's must equal once the addresses are its own.
"""
import os
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import DEFAULTS, ScriptServer, free_port, wait_until

SIG = b"\r\n\r\n\x00\r\nQUIT\n"
HAPROXY = shutil.which("haproxy")


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def parse_header(data):
    """(header dict, its length) from the start of data, per the spec; raises
    ValueError when it is not a complete, valid header."""
    if data.startswith(b"PROXY "):
        end = data.find(b"\r\n")
        if end < 0 or end + 2 > 107:
            raise ValueError("no CRLF within 107 bytes")
        f = data[6:end].decode("ascii").split(" ")
        if f[0] == "UNKNOWN":
            return {"v": 1, "proto": "UNKNOWN"}, end + 2
        if f[0] not in ("TCP4", "TCP6") or len(f) != 5:
            raise ValueError(data[:end])
        fam = socket.AF_INET if f[0] == "TCP4" else socket.AF_INET6
        for a in f[1:3]:
            socket.inet_pton(fam, a)
        return {"v": 1, "proto": f[0], "src": (f[1], int(f[3])), "dst": (f[2], int(f[4]))}, end + 2
    if not data.startswith(SIG) or len(data) < 16:
        raise ValueError("no signature")
    ver_cmd, fam, ln = data[12], data[13], struct.unpack("!H", data[14:16])[0]
    if ver_cmd >> 4 != 2 or len(data) < 16 + ln:
        raise ValueError("bad version or truncated")
    hdr = data[:16 + ln]
    h = {"v": 2, "cmd": ver_cmd & 15, "fam": fam, "tlvs": []}
    body, off = hdr[16:], 0
    if h["cmd"] == 1 and fam == 0x11:
        s, d, sp, dp = struct.unpack("!4s4sHH", body[:12])
        h["src"], h["dst"] = (socket.inet_ntop(socket.AF_INET, s), sp), (socket.inet_ntop(socket.AF_INET, d), dp)
        off = 12
    elif h["cmd"] == 1 and fam == 0x21:
        s, d, sp, dp = struct.unpack("!16s16sHH", body[:36])
        h["src"], h["dst"] = (socket.inet_ntop(socket.AF_INET6, s), sp), (socket.inet_ntop(socket.AF_INET6, d), dp)
        off = 36
    while off < len(body):
        t, vl = body[off], struct.unpack("!H", body[off + 1:off + 3])[0]
        v = body[off + 3:off + 3 + vl]
        if len(v) != vl:
            raise ValueError("TLV past the end")
        if t == 0x03:
            zeroed = hdr[:16 + off + 3] + b"\0\0\0\0" + hdr[16 + off + 7:]
            if struct.unpack("!I", v)[0] != crc32c(zeroed):
                raise ValueError("CRC32C mismatch")
        h["tlvs"].append((t, v))
        off += 3 + vl
    return h, 16 + ln


class Recorder:
    """A server that records every connection's bytes until the peer's FIN
    (or 5 s), optionally sending a banner once the PROXY header is in."""

    def __init__(self, family=socket.AF_INET, host="127.0.0.1", banner=None):
        self.sock = socket.socket(family)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.banner = banner
        self.conns = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        got, sent = b"", False
        c.settimeout(5)
        try:
            while True:
                if self.banner and not sent:
                    try:
                        parse_header(got)
                        c.sendall(self.banner)
                        sent = True
                    except (ValueError, IndexError, struct.error):
                        pass
                d = c.recv(65536)
                if not d:
                    break
                got += d
        except OSError:
            pass
        with self.lock:
            self.conns.append(got)
        c.close()

    def wait(self, n, timeout=5):
        assert wait_until(lambda: len(self.conns) >= n, timeout), self.conns
        return self.conns[:n]

    def stop(self):
        self.sock.close()


@pytest.fixture
def recorders():
    made = []

    def make(**kw):
        r = Recorder(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def send_through(port, payload, host="127.0.0.1", family=socket.AF_INET):
    """Connects to ferry, sends payload, half-closes, reads to the end.
    Returns (the client's own address, what came back)."""
    with socket.socket(family) as c:
        c.settimeout(5)
        c.connect((host, port))
        me = c.getsockname()[:2]
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        back = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            back += d
    return me, back


def listen_cfg(port, server_line, bind="127.0.0.1", extra=""):
    return DEFAULTS + """
listen li
    bind %s:%d
%s    server %s
""" % (bind, port, extra, server_line)


PAYLOAD = bytes(range(256)) * 64 + b"PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n" + SIG  # look-alikes inside


def test_send_proxy_v1_first_and_payload_exact(ferry, recorders):
    rec = recorders(banner=b"220 ready\r\n")
    port = free_port()
    ferry(listen_cfg(port, "s1 127.0.0.1:%d send-proxy" % rec.port), wait_port=port)
    # the server speaks first: the header must not wait for client bytes
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        me = c.getsockname()
        assert c.recv(100) == b"220 ready\r\n"
        c.sendall(PAYLOAD)
        c.shutdown(socket.SHUT_WR)
        c.recv(10)
    got = rec.wait(1)[0]
    h, n = parse_header(got)
    assert h == {"v": 1, "proto": "TCP4", "src": (me[0], me[1]), "dst": ("127.0.0.1", port)}
    assert got[n:] == PAYLOAD


def test_send_proxy_v2_options(ferry, recorders):
    rec = recorders()
    port = free_port()
    ferry(listen_cfg(port, "s1 127.0.0.1:%d send-proxy-v2 proxy-v2-options authority,crc32c,unique-id"
                     % rec.port), wait_port=port)
    me, _ = send_through(port, PAYLOAD)
    got = rec.wait(1)[0]
    h, n = parse_header(got)  # the CRC is checked there
    assert (h["cmd"], h["fam"]) == (1, 0x11)
    assert h["src"] == me and h["dst"] == ("127.0.0.1", port)
    # as HAProxy without TLS and without unique-id-format: CRC, then an
    # empty unique id; no authority (there is no SNI it terminated)
    assert [t for t, _ in h["tlvs"]] == [0x03, 0x05]
    assert h["tlvs"][1][1] == b""
    assert got[n:] == PAYLOAD


def test_send_proxy_v2_ipv6_and_default_server(ferry, recorders):
    rec = recorders(family=socket.AF_INET6, host="::1")
    port = free_port()
    cfg = DEFAULTS + """
backend be
    default-server send-proxy-v2
    server s1 [::1]:%d
    server s2 [::1]:%d no-send-proxy-v2
frontend fe
    bind [::1]:%d
    default_backend be
""" % (rec.port, rec.port, port)
    ferry(cfg, wait_port=port)
    me1, _ = send_through(port, b"one", host="::1", family=socket.AF_INET6)
    rec.wait(1)
    send_through(port, b"two", host="::1", family=socket.AF_INET6)
    a, b = rec.wait(2)
    first, second = (a, b) if a.endswith(b"one") else (b, a)
    h, n = parse_header(first)
    assert h["fam"] == 0x21 and h["src"] == me1 and h["dst"] == ("::1", port)
    assert first[n:] == b"one"
    assert second == b"two"  # no-send-proxy-v2 took the default back


def test_header_once_after_failed_connect_and_redispatch(ferry, recorders):
    """s1 refuses: each connection is retried on s2, which gets one header,
    then the client's bytes, byte-exact."""
    rec = recorders()
    dead = free_port()
    port = free_port()
    cfg = "global\n    log stdout format raw local0\n" + DEFAULTS + """    log global
    option tcplog
listen li
    bind 127.0.0.1:%d
    balance roundrobin
    option redispatch
    retries 3
    server s1 127.0.0.1:%d send-proxy
    server s2 127.0.0.1:%d send-proxy
""" % (port, dead, rec.port)
    f = ferry(cfg, wait_port=port)
    mes = [send_through(port, b"payload-%d" % i)[0] for i in range(4)]
    got = rec.wait(4)
    for data in got:
        h, n = parse_header(data)
        assert h["src"] in mes
        i = mes.index(h["src"])
        assert data[n:] == b"payload-%d" % i  # one header, then the bytes
    # some went to s1 first and were redispatched (HAProxy's "+1" retries)
    assert f.wait_log(r"li/s2 \S+ \d+ -- \S+/\+1 "), f.stdout()


def check_cfg(port, srv_port, opts, rules=""):
    return DEFAULTS + """
backend be
%s    server s1 127.0.0.1:%d check inter 200 %s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
""" % (rules, srv_port, opts, port)


def first_check(rec):
    return rec.wait(1)[0]


LOCAL_CRC = SIG + b"\x20\x00\x00\x07\x03\x00\x04"


@pytest.mark.parametrize("opts,expect", [
    ("check-send-proxy", "v1"),
    ("send-proxy", "v1"),                  # no check port: the checks send it too
    ("send-proxy port %(port)d", None),    # a check port: they do not
    ("send-proxy-v2 proxy-v2-options crc32c", "local-crc"),
    ("send-proxy-v2 port %(port)d check-send-proxy", "local"),
])
def test_check_send_proxy(ferry, recorders, opts, expect):
    rec = recorders()
    port = free_port()
    ferry(check_cfg(port, rec.port, opts % {"port": rec.port}), wait_port=port)
    got = first_check(rec)
    if expect is None:
        assert got == b""
    elif expect == "v1":
        h, n = parse_header(got)
        assert h["proto"] == "TCP4" and h["dst"] == ("127.0.0.1", rec.port) and got[n:] == b""
    elif expect == "local":
        assert got == SIG + b"\x20\x00\x00\x00"
    else:
        h, n = parse_header(got)  # checks the CRC
        assert got.startswith(LOCAL_CRC) and n == len(got) == 23 and h["cmd"] == 0


def test_tcp_check_connect_send_proxy_v2(ferry, recorders):
    """tcp-check connect send-proxy sends the server's version: v2 here."""
    rec = recorders()
    port = free_port()
    rules = """    option tcp-check
    tcp-check connect send-proxy
    tcp-check send "PING\\r\\n"
"""
    ferry(check_cfg(port, rec.port, "send-proxy-v2", rules), wait_port=port)
    got = first_check(rec)
    assert got == SIG + b"\x20\x00\x00\x00" + b"PING\r\n"


def test_bad_proxy_v2_option_refused(tmpdir_path):
    from conftest import FERRY
    path = os.path.join(tmpdir_path, "x.cfg")
    with open(path, "w") as f:
        f.write(DEFAULTS + "backend b\n    server s1 127.0.0.1:1 send-proxy-v2 proxy-v2-options crc32c,bogus\n")
    r = subprocess.run([FERRY, "-c", "-f", path], capture_output=True, text=True)
    assert r.returncode == 1
    assert "%s:8: 'bogus' : proxy v2 option not implemented" % path in r.stderr + r.stdout


class Haproxy:
    def __init__(self, cfg, tmpdir, name="haproxy.cfg"):
        self.path = os.path.join(tmpdir, name)
        with open(self.path, "w") as f:
            f.write(cfg)
        self.out = open(self.path + ".out", "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.path], stdout=self.out, stderr=subprocess.STDOUT)

    def output(self):
        with open(self.path + ".out", "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


@pytest.fixture
def haproxy(tmpdir_path):
    if not HAPROXY:
        pytest.skip("haproxy is not installed")
    made = []

    def start(cfg, port, name="haproxy.cfg"):
        h = Haproxy(cfg, tmpdir_path, name)
        made.append(h)
        ok = wait_until(lambda: h.proc.poll() is not None or Haproxy_listening(port), 10)
        assert ok and h.proc.poll() is None, h.output()
        return h

    yield start
    for h in made:
        h.stop()


def Haproxy_listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


HA_DEFAULTS = """global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
"""


def test_haproxy_reads_ferrys_send_proxy_v2(ferry, haproxy, recorders):
    """HAProxy 2.6 with accept-proxy in front of a recorder, ferry in front of
    HAProxy with send-proxy-v2 (CRC32C): HAProxy logs the original client and
    the address it connected to, and relays the bytes."""
    rec = recorders()
    hport, port = free_port(), free_port()
    h = haproxy(HA_DEFAULTS + """
listen pp
    bind 127.0.0.1:%d accept-proxy
    log-format "PPCLIENT %%ci:%%cp FRONT %%fi:%%fp"
    server r 127.0.0.1:%d
""" % (hport, rec.port), hport)
    rec.wait(0)
    ferry(listen_cfg(port, "h 127.0.0.1:%d send-proxy-v2 proxy-v2-options crc32c,unique-id" % hport), wait_port=port)
    me, _ = send_through(port, PAYLOAD)
    got = [c for c in rec.wait(1) if c]  # the probe of the start-up wait sent nothing
    assert got == [PAYLOAD]
    line = "PPCLIENT %s:%d FRONT 127.0.0.1:%d" % (me[0], me[1], port)
    assert wait_until(lambda: line in h.output(), 5), h.output()


def relabel_v2(hdr, src, dst):
    """hdr (a v2 PROXY/INET header) with other addresses, its CRC redone."""
    b = bytearray(hdr)
    b[16:28] = socket.inet_aton(src[0]) + socket.inet_aton(dst[0]) + struct.pack("!HH", src[1], dst[1])
    h, n = parse_header(bytes(hdr))
    off = 28
    for t, v in h["tlvs"]:
        if t == 0x03:
            b[off + 3:off + 7] = b"\0\0\0\0"
            b[off + 3:off + 7] = struct.pack("!I", crc32c(bytes(b)))
        off += 3 + len(v)
    return bytes(b)


@pytest.mark.parametrize("opts", [
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2 proxy-v2-options crc32c",
    "send-proxy-v2 proxy-v2-options authority,crc32c,unique-id,ssl,cert-cn",
])
def test_same_bytes_as_haproxy(ferry, haproxy, recorders, opts):
    """HAProxy and ferry with the same server options, each in front of a
    recorder: the same header, byte for byte, once the addresses are each
    one's own."""
    rec_h, rec_f = recorders(), recorders()
    hport, port = free_port(), free_port()
    haproxy(HA_DEFAULTS + "\nlisten x\n    bind 127.0.0.1:%d\n    server s 127.0.0.1:%d %s\n"
            % (hport, rec_h.port, opts), hport)
    ferry(listen_cfg(port, "s 127.0.0.1:%d %s" % (rec_f.port, opts)), wait_port=port)
    ha_me, _ = send_through(hport, b"x")
    me, _ = send_through(port, b"x")
    # the start-up probe aside: its header alone may end with the byte "x"
    # (a port whose low byte is 0x78), so the payload after the header decides
    ha = [c for c in rec_h.wait(2) if c[parse_header(c)[1]:] == b"x"][0]
    fe = rec_f.wait(1)[0]
    hh, hn = parse_header(ha)
    fh, fn = parse_header(fe)
    if hh["v"] == 1:
        assert ha[:hn] == ("PROXY TCP4 %s %s %d %d\r\n" % (ha_me[0], "127.0.0.1", ha_me[1], hport)).encode()
        assert fe[:fn] == ("PROXY TCP4 %s %s %d %d\r\n" % (me[0], "127.0.0.1", me[1], port)).encode()
    else:
        assert hh["src"] == ha_me and hh["dst"] == ("127.0.0.1", hport)
        assert fe[:fn] == relabel_v2(ha[:hn], me, ("127.0.0.1", port))


def test_same_check_bytes_as_haproxy(ferry, haproxy, recorders):
    """The checks' LOCAL header of send-proxy-v2 with crc32c: identical."""
    rec_h, rec_f = recorders(), recorders()
    hport, port = free_port(), free_port()
    opts = "check inter 200 send-proxy-v2 proxy-v2-options crc32c,unique-id"
    haproxy(HA_DEFAULTS + "\nlisten x\n    bind 127.0.0.1:%d\n    server s 127.0.0.1:%d %s\n"
            % (hport, rec_h.port, opts), hport)
    ferry(listen_cfg(port, "s 127.0.0.1:%d %s" % (rec_f.port, opts)), wait_port=port)
    assert rec_h.wait(1)[0] == rec_f.wait(1)[0] == LOCAL_CRC + struct.pack("!I", crc32c(LOCAL_CRC + b"\0" * 4))
