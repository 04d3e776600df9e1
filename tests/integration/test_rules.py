"""Rules at accept time, over real sockets: tcp-request connection reject by
a source list, use_backend by dst_port / fe_name / nbsrv / a map, use-server,
always_false. Where the result is observable (which backend answers, a
closed connection, what is logged), HAProxy 2.6 runs the same configuration
and must behave the same."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import DEFAULTS, free_port, wait_until

HAPROXY = shutil.which("haproxy")


def name_from(port, src="127.0.0.1", timeout=5):
    """The first line the server behind port sends ('' when closed at once)."""
    c = socket.socket()
    c.settimeout(timeout)
    try:
        c.bind((src, 0))
        c.connect(("127.0.0.1", port))
        data = b""
        while b"\n" not in data:
            d = c.recv(4096)
            if not d:
                break
            data += d
        return data.split(b"\n")[0].decode()
    except ConnectionResetError:
        return ""
    finally:
        c.close()


class Haproxy:
    """HAProxy itself on the same configuration (foreground), stopped by pid."""

    def __init__(self, cfg_text, tmpdir, port):
        self.path = os.path.join(tmpdir, "haproxy.cfg")
        with open(self.path, "w") as f:
            f.write(cfg_text)
        self.log = open(os.path.join(tmpdir, "haproxy.out"), "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        ok = wait_until(lambda: self._up(port) or self.proc.poll() is not None, 10)
        assert ok and self.proc.poll() is None, "haproxy did not start"

    @staticmethod
    def _up(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def haproxy(tmpdir_path):
    made = []

    def start(cfg, port):
        d = os.path.join(tmpdir_path, "hap%d" % len(made))
        os.makedirs(d)
        h = Haproxy(cfg, d, port)
        made.append(h)
        return h

    yield start
    for h in made:
        h.stop()


def both(ferry, haproxy, cfg, port, check):
    """Runs check(port) against ferry, then against HAProxy on the same config."""
    f = ferry(cfg, wait_port=port)
    check(port)
    f.stop()
    if HAPROXY:
        h = haproxy(cfg, port)
        check(port)
        h.stop()
    return f


def test_reject_by_source_file(ferry, haproxy, backends, tmpdir_path):
    (s1,) = backends(1)
    port = free_port()
    lst = os.path.join(tmpdir_path, "blocked.lst")
    with open(lst, "w") as f:
        f.write("# blocked clients\n127.0.0.2\n\n127.0.0.64/26\n")
    cfg = DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{port}
    tcp-request connection reject if {{ src -f {lst} }}
    default_backend be
backend be
    server s1 127.0.0.1:{s1.port}
"""

    def check(p):
        time.sleep(0.2)  # the start-up probe's connection has arrived
        before = s1.accepted
        assert name_from(p, "127.0.0.1") == "s1"
        assert name_from(p, "127.0.0.2") == ""
        assert name_from(p, "127.0.0.70") == ""
        assert name_from(p, "127.0.0.130") == "s1"
        time.sleep(0.2)
        assert s1.accepted - before == 2  # nothing reached the server for the rejected ones

    both(ferry, haproxy, cfg, port, check)


def test_negated_anonymous_acl_without_a_space(ferry, haproxy, backends):
    """"!{ ... }" (no space after "!") negates the anonymous ACL, as HAProxy
    reads it."""
    (s1,) = backends(1)
    port = free_port()
    cfg = DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{port}
    tcp-request connection reject if !{{ src 127.0.0.1 127.0.0.3 }}
    default_backend be
backend be
    server s1 127.0.0.1:{s1.port}
"""

    def check(p):
        assert name_from(p, "127.0.0.1") == "s1"
        assert name_from(p, "127.0.0.3") == "s1"
        assert name_from(p, "127.0.0.2") == ""

    both(ferry, haproxy, cfg, port, check)


def test_reject_is_counted_not_logged(ferry, backends, tmpdir_path):
    (s1,) = backends(1)
    port = free_port()
    sock = os.path.join(tmpdir_path, "stats.sock")
    f = ferry(DEFAULTS + f"""
global
    log stdout format raw local0
    stats socket {sock} level admin
frontend fe
    bind 127.0.0.1:{port}
    log global
    option tcplog
    tcp-request connection reject if {{ src 127.0.0.2 }}
    default_backend be
backend be
    server s1 127.0.0.1:{s1.port}
""", wait_port=port)
    assert name_from(port, "127.0.0.2") == ""
    assert name_from(port, "127.0.0.1") == "s1"
    assert f.wait_log(r"127\.0\.0\.1:\d+ \[.*\] fe be/s1 ")
    time.sleep(0.3)
    assert "127.0.0.2" not in f.stdout()  # as HAProxy: a rejected connection is not logged
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
    fe_line = next(l.split(",") for l in lines if l.startswith("fe,FRONTEND,"))
    assert fe_line[head.index("dcon")] == "1"
    assert fe_line[head.index("stot")] == "1"


def test_use_backend_by_dst_port_and_fe_name(ferry, haproxy, backends):
    a, b, c = backends(3, names=["a", "b", "c"])
    p1, p2, p3 = free_port(), free_port(), free_port()
    cfg = DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{p1}
    bind 127.0.0.1:{p2}
    use_backend be_b if {{ dst_port {p2} }}
    default_backend be_a
frontend other
    bind 127.0.0.1:{p3}
    acl named fe_name -i OTHER
    use_backend be_c if named
    use_backend be_b
backend be_a
    server a 127.0.0.1:{a.port}
backend be_b
    server b 127.0.0.1:{b.port}
backend be_c
    server c 127.0.0.1:{c.port}
"""

    def check(_):
        assert name_from(p1) == "a"
        assert name_from(p2) == "b"
        assert name_from(p3) == "c"

    both(ferry, haproxy, cfg, p1, check)


def test_use_backend_when_nbsrv_lt_1(ferry, haproxy, backends):
    (fb,) = backends(1, names=["fallback"])
    dead = free_port()  # nothing listens there: its check fails
    port = free_port()
    cfg = DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{port}
    use_backend fallback if {{ nbsrv(primary) lt 1 }}
    default_backend primary
backend primary
    server p1 127.0.0.1:{dead} check inter 100
backend fallback
    server f1 127.0.0.1:{fb.port}
"""

    def check(p):
        assert wait_until(lambda: name_from(p) == "fallback", 5)

    both(ferry, haproxy, cfg, port, check)


def test_dynamic_use_backend_map_ip(ferry, haproxy, backends, tmpdir_path):
    a, b, d = backends(3, names=["a", "b", "dflt"])
    port = free_port()
    m = os.path.join(tmpdir_path, "src.map")
    with open(m, "w") as f:
        f.write("# source -> backend\n127.0.0.2 be_a\n127.0.0.0/24 be_b\n127.0.0.3 nosuch\n")
    cfg = DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{port}
    use_backend %[src,map_ip({m})]
    default_backend be_dflt
backend be_a
    server a 127.0.0.1:{a.port}
backend be_b
    server b 127.0.0.1:{b.port}
backend be_dflt
    server d 127.0.0.1:{d.port}
"""

    def check(p):
        assert name_from(p, "127.0.0.2") == "a"
        assert name_from(p, "127.0.0.1") == "b"     # the longest prefix
        assert name_from(p, "127.0.0.3") == "dflt"  # a name that is no backend
        assert name_from(p, "127.0.1.1") == "dflt"  # not in the map

    both(ferry, haproxy, cfg, port, check)


def test_use_server_and_always_false(ferry, haproxy, backends):
    s1, s2, s3 = backends(3)
    port = free_port()
    cfg = DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{port}
    use_backend nowhere if {{ always_false }}
    default_backend be
backend nowhere
    server x 127.0.0.1:1
backend be
    balance roundrobin
    use-server s3 if {{ src 127.0.0.3 }}
    use-server s2 if {{ always_false }}
    server s1 127.0.0.1:{s1.port}
    server s2 127.0.0.1:{s2.port}
    server s3 127.0.0.1:{s3.port}
"""

    def check(p):
        assert [name_from(p, "127.0.0.3") for _ in range(5)] == ["s3"] * 5
        got = {name_from(p, "127.0.0.1") for _ in range(6)}
        assert got == {"s1", "s2", "s3"}

    both(ferry, haproxy, cfg, port, check)


def test_reload_reads_the_list_again(ferry, backends, tmpdir_path):
    (s1,) = backends(1)
    port = free_port()
    lst = os.path.join(tmpdir_path, "blocked.lst")
    with open(lst, "w") as f:
        f.write("127.0.0.2\n")
    f = ferry(DEFAULTS + f"""
frontend fe
    bind 127.0.0.1:{port}
    tcp-request connection reject if {{ src -f {lst} }}
    default_backend be
backend be
    server s1 127.0.0.1:{s1.port}
""", wait_port=port)
    assert name_from(port, "127.0.0.2") == ""
    assert name_from(port, "127.0.0.3") == "s1"
    with open(lst, "w") as fh:
        fh.write("127.0.0.3\n")
    f.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: name_from(port, "127.0.0.3") == "", 5)
    assert name_from(port, "127.0.0.2") == "s1"
