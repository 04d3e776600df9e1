"""SNI routing of real TLS handshakes, without decrypting: three
`openssl s_server` (each with its own self-signed certificate made here),
ferry with the HAProxy idiom

    tcp-request inspect-delay 5s
    tcp-request content accept if { req.ssl_hello_type 1 }
    use_backend %[req.ssl_sni,lower,map_dom(<file>)]

reached by `openssl s_client -servername`, by `curl --resolve`, and by a
ClientHello (captured from s_client) sent in small pieces with pauses. The
server that answered is told by the certificate it sent. A client that does
not speak TLS falls to the default backend, or is rejected where the
configuration says so. HAProxy 2.6 runs the same configuration and must
route the same way."""
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import DEFAULTS, free_port, wait_until
from test_rules import HAPROXY, haproxy  # noqa: F401 (fixture)

OPENSSL = "/usr/bin/openssl"
CURL = "/usr/bin/curl"
NAMES = ("a.example", "b.example", "c.example")


def make_cert(d, cn):
    key, crt = os.path.join(d, cn + ".key"), os.path.join(d, cn + ".crt")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", crt, "-subj", "/CN=" + cn, "-days", "2"],
                   check=True, capture_output=True, timeout=30)
    return key, crt


class TlsServer:
    """openssl s_server -www with its own certificate; stopped by pid."""

    def __init__(self, d, cn):
        self.cn = cn
        self.port = free_port()
        key, crt = make_cert(d, cn)
        self.proc = subprocess.Popen([OPENSSL, "s_server", "-accept", "127.0.0.1:%d" % self.port, "-cert", crt,
                                      "-key", key, "-www", "-quiet"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(self._up, 10), "s_server did not start"

    def _up(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def tls_servers(tmpdir_path):
    made = [TlsServer(tmpdir_path, cn) for cn in NAMES]
    yield made
    for s in made:
        s.stop()


def sni_config(port, port2, servers, default_port, mapfile):
    with open(mapfile, "w") as f:
        f.write("# SNI -> backend\n")
        for s in servers:
            f.write("%s be_%s\n" % (s.cn, s.cn[0]))
    bes = "".join("backend be_%s\n    server %s 127.0.0.1:%d\n" % (s.cn[0], s.cn[0], s.port) for s in servers)
    return DEFAULTS + f"""
global
    log stdout format raw local0
frontend sni
    bind 127.0.0.1:{port}
    log global
    option tcplog
    tcp-request inspect-delay 5s
    tcp-request content accept if {{ req.ssl_hello_type 1 }}
    use_backend %[req.ssl_sni,lower,map_dom({mapfile})]
    default_backend plain
frontend sni_strict
    bind 127.0.0.1:{port2}
    tcp-request inspect-delay 5s
    tcp-request content reject unless {{ req.ssl_hello_type 1 }}
    use_backend %[req.ssl_sni,lower,map_dom({mapfile})]
    default_backend plain
{bes}backend plain
    server p 127.0.0.1:{default_port}
"""


def s_client(port, name):
    r = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", name],
                       input=b"", capture_output=True, timeout=20)
    return r.stdout.decode(errors="replace")


def curl(port, name):
    r = subprocess.run([CURL, "-vsk", "--max-time", "10", "--resolve", "%s:%d:127.0.0.1" % (name, port),
                        "https://%s:%d/" % (name, port)], capture_output=True, timeout=20)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def capture_hello(name):
    """The bytes of a real ClientHello for name (TLS 1.2, so the answer's
    certificate is readable): s_client connects to a socket that records
    the first TLS record and closes."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(10)
    port = ls.getsockname()[1]
    got = {}

    def take():
        c, _ = ls.accept()
        c.settimeout(10)
        data = b""
        while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
            d = c.recv(65536)
            if not d:
                break
            data += d
        got["hello"] = data
        c.close()

    t = threading.Thread(target=take)
    t.start()
    subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", name, "-tls1_2"],
                   input=b"", capture_output=True, timeout=20)
    t.join(15)
    ls.close()
    return got["hello"]


def send_split(port, hello, piece=40, pause=0.05):
    """Sends hello in small segments with pauses; returns what came back
    within 3 s (the server's hello, certificate...)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(hello), piece):
            c.sendall(hello[i:i + piece])
            time.sleep(pause)
        data = b""
        end = time.time() + 3
        while time.time() < end and b"ServerHelloDone" not in data:
            try:
                d = c.recv(65536)
            except socket.timeout:
                break
            if not d:
                break
            data += d
            if len(data) > 600:  # hello + certificate: enough
                break
        return data


def plain_name(port):
    """A non-TLS client: the first line the server sent back."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"hello\n")
        data = b""
        while b"\n" not in data:
            d = c.recv(4096)
            if not d:
                break
            data += d
        return data.split(b"\n")[0].decode()


def check_routing(port, port2, hellos):
    for n in NAMES:
        out = s_client(port, n)
        assert "CN = %s" % n in out or "CN=%s" % n in out, out[-2000:]
        for other in NAMES:
            if other != n:
                assert "CN = %s" % other not in out and "CN=%s" % other not in out
    for n in NAMES:
        rc, body, err = curl(port, n)
        assert rc == 0, err[-2000:]
        assert "CN=%s" % n in err.replace("CN = ", "CN="), err[-2000:]
        assert "s_server" in body  # the -www status page came back
    # a ClientHello split over many segments, with pauses, is routed the same
    for n, hello in hellos.items():
        data = send_split(port, hello)
        assert n.encode() in data, (n, data[:200])
        for other in NAMES:
            if other != n:
                assert other.encode() not in data
    # an unknown name falls to default_backend (a plain server: says its name)
    assert plain_name(port) == "plain"
    # strict frontend: a non-TLS client is rejected, nothing reaches a server
    with socket.create_connection(("127.0.0.1", port2), timeout=5) as c:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert c.recv(100) == b""
    out = s_client(port2, "c.example")
    assert "CN = c.example" in out or "CN=c.example" in out


def test_sni_routing_real_handshakes(ferry, haproxy, backends, tls_servers, tmpdir_path):  # noqa: F811
    (plain,) = backends(1, names=["plain"])
    port, port2 = free_port(), free_port()
    cfg = sni_config(port, port2, tls_servers, plain.port, os.path.join(tmpdir_path, "sni.map"))
    hellos = {n: capture_hello(n) for n in ("b.example", "c.example")}
    for h in hellos.values():
        assert h[0] == 0x16 and len(h) > 100
    f = ferry(cfg, wait_port=port)
    before = plain.accepted
    check_routing(port, port2, hellos)
    assert plain.accepted == before + 1  # only the non-TLS client of the first frontend
    assert f.wait_log(r"127\.0\.0\.1:\d+ \[.*\] sni be_a/a ")
    f.stop()
    if HAPROXY:
        h = haproxy(cfg, port)
        check_routing(port, port2, hellos)
        h.stop()


def test_hello_sent_slowly_waits_then_default_when_delay_expires(ferry, backends, tls_servers, tmpdir_path):
    """A hello cut short: rules wait (MISS) until inspect-delay, then the final
    evaluation finds no ClientHello: the default backend, as HAProxy."""
    (plain,) = backends(1, names=["plain"])
    port = free_port()
    mapfile = os.path.join(tmpdir_path, "sni.map")
    cfg = sni_config(port, free_port(), tls_servers, plain.port, mapfile).replace("inspect-delay 5s", "inspect-delay 700ms", 1)
    hello = capture_hello("a.example")
    ferry(cfg, wait_port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(hello[:40])
        t0 = time.time()
        data = c.recv(100)
        took = time.time() - t0
        while len(data) < 46:
            d = c.recv(100)
            if not d:
                break
            data += d
    # the plain server says its name, then echoes the inspected bytes: once, unchanged
    assert data == b"plain\n" + hello[:40]
    assert 0.5 < took < 3, took


def test_log_format_shows_the_sni(ferry, backends, tls_servers, tmpdir_path):
    """log-format "%[req.ssl_sni]" prints the name the client asked for: the
    session keeps the bytes its content rules decided on for such a format
    (HAProxy 2.6 finds its buffer forwarded at log time and prints "-"; its
    users capture the name with set-var or capture first)."""
    (plain,) = backends(1, names=["plain"])
    port = free_port()
    mapfile = os.path.join(tmpdir_path, "sni.map")
    cfg = sni_config(port, free_port(), tls_servers, plain.port, mapfile).replace(
        "    option tcplog\n", '    log-format "%ci %b/%s sni=%[req.ssl_sni] alpn=%[req.ssl_alpn] len=%[req.len]"\n', 1)
    hello = capture_hello("b.example")
    f = ferry(cfg, wait_port=port)
    send_split(port, hello)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"hello\n")  # not TLS: no name
        c.recv(100)
    assert f.wait_log(r"^127\.0\.0\.1 be_b/b sni=b\.example alpn=- len=%d$" % len(hello)), f.stdout()
    assert f.wait_log(r"^127\.0\.0\.1 plain/p sni=- alpn=- len=6$"), f.stdout()
