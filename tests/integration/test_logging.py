"""Connection logs in HAProxy's tcplog format, and the log targets."""
import os
import re
import socket
import subprocess
import tempfile
import time

from conftest import DEFAULTS, FERRY, ROOT_OPT_IN, SANITIZER_MARKS, ask_name, free_port, wait_until

TCPLOG = re.compile(
    r"^127\.0\.0\.1:(?P<cp>\d+) \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] fe be/s1 "
    r"(?P<tw>-?\d+)/(?P<tc>-?\d+)/(?P<tt>\d+) (?P<bytes>\d+) (?P<ts>..) "
    r"(?P<ac>\d+)/(?P<fc>\d+)/(?P<bc>\d+)/(?P<sc>\d+)/(?P<rc>\+?\d+) (?P<sq>\d+)/(?P<bq>\d+)$", re.M)


def cfg(port, sport, log="log stdout format raw local0", fe_extra="    option tcplog"):
    return "global\n    %s\n" % log + DEFAULTS + "    log global\n" + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
%s
backend be
    server s1 127.0.0.1:%d
""" % (port, fe_extra, sport)


def test_tcplog_line(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    f = ferry(cfg(port, b.port), wait_port=port)
    with socket.create_connection(("127.0.0.1", port)) as c:
        cport = c.getsockname()[1]
        c.sendall(b"hello")
        c.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            d = c.recv(100)
            if not d:
                break
            data += d
    assert data == b"s1\nhello"
    assert wait_until(lambda: TCPLOG.search(f.stdout()), 3), f.stdout()
    m = TCPLOG.search(f.stdout())
    assert int(m["cp"]) == cport
    assert m["tw"] == "0" and int(m["tc"]) >= 0 and int(m["tt"]) >= int(m["tc"])
    assert m["bytes"] == str(len(data))  # %B: bytes from server to client
    assert m["ts"] == "--"
    # HAProxy 2.6 logs 1/1/0/0/0 here: the backend and the server no
    # longer count the session when it is logged, the process and frontend do
    assert (m["ac"], m["fc"], m["bc"], m["sc"], m["rc"]) == ("1", "1", "0", "0", "0")
    assert (m["sq"], m["bq"]) == ("0", "0")


def test_dontlognull(ferry, backends):
    (b,) = backends(1, mode="silent")
    port = free_port()
    f = ferry(cfg(port, b.port, fe_extra="    option tcplog\n    option dontlognull"), wait_port=port)
    socket.create_connection(("127.0.0.1", port)).close()  # no data at all: not logged
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"x")
    assert wait_until(lambda: TCPLOG.search(f.stdout()), 3)
    time.sleep(0.2)
    assert len(TCPLOG.findall(f.stdout())) == 1


def test_dontlognull_counts_only_what_the_client_sent(ferry, backends):
    """As HAProxy: a null connection is one where the client sent nothing,
    whatever the server sent (a probe of a server-speaks-first protocol such
    as MySQL or SMTP reads the greeting and leaves; issue 8, item 15)."""
    (b,) = backends(1)  # sends its name first
    port = free_port()
    f = ferry(cfg(port, b.port, fe_extra="    option tcplog\n    option dontlognull"), wait_port=port)
    with socket.create_connection(("127.0.0.1", port)) as c:
        assert c.recv(10) == b"s1\n"  # the greeting, then leave: not logged
    with socket.create_connection(("127.0.0.1", port)) as c:
        assert c.recv(10) == b"s1\n"
        c.sendall(b"x")
        assert c.recv(10) == b"x"
    assert wait_until(lambda: TCPLOG.search(f.stdout()), 3)
    time.sleep(0.3)
    lines = TCPLOG.findall(f.stdout())
    assert len(lines) == 1, f.stdout()


def test_connect_line_without_tcplog(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    f = ferry(cfg(port, b.port, fe_extra=""), wait_port=port)
    with socket.create_connection(("127.0.0.1", port)) as c:
        cport = c.getsockname()[1]
        c.recv(10)
    assert f.wait_log(r"^Connect from 127\.0\.0\.1:%d to 127\.0\.0\.1:%d \(fe/TCP\)$" % (cport, port))


def test_syslog_udp_target(ferry, backends):
    (b,) = backends(1)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    port = free_port()
    ferry(cfg(port, b.port, log="log 127.0.0.1:%d local0 info" % rx.getsockname()[1]), wait_port=port)
    ask_name(port)
    msg = rx.recv(4096).decode()
    rx.close()
    # rfc3164: <PRI>Mmm dd hh:mm:ss ferry[pid]: message ; local0.info = 16*8+6 = 134
    assert re.match(r"^<134>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ferry\[\d+\]: 127\.0\.0\.1:\d+ \[", msg), msg
    assert " fe be/s1 " in msg


def test_unix_socket_target_and_level_filter(ferry, backends):
    (b,) = backends(1)
    d = tempfile.mkdtemp(prefix="ferry-log-")
    path = os.path.join(d, "log.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    rx.settimeout(3)
    port = free_port()
    f = ferry(cfg(port, b.port, log="log %s local1 notice\n    log stdout format raw daemon info" % path),
              wait_port=port)
    ask_name(port)
    assert f.wait_log(r" fe be/s1 ")  # info reaches stdout ...
    got = None
    try:
        got = rx.recv(4096)
    except socket.timeout:
        pass
    assert got is None  # ... but not the socket limited to notice
    rx.close()
    os.unlink(path)
    os.rmdir(d)


def test_log_pipe_nobody_reads_drops_lines_not_traffic(backends, tmpdir_path):
    """'log stdout' into a pipe nobody reads (a stalled log collector): once
    the pipe is full, lines are dropped and counted (show info DroppedLogs,
    as HAProxy's non-blocking fd@ targets), and connections go on."""
    (b,) = backends(1)
    port = free_port()
    sock = os.path.join(tmpdir_path, "s.sock")
    path = os.path.join(tmpdir_path, "ferry.cfg")
    with open(path, "w") as f:
        f.write(cfg(port, b.port, log="log stdout format raw local0\n    stats socket %s level admin" % sock)
                + ROOT_OPT_IN)
    err = open(os.path.join(tmpdir_path, "ferry.err"), "wb")
    proc = subprocess.Popen([FERRY, "-f", path], stdout=subprocess.PIPE, stderr=err)
    try:
        assert wait_until(lambda: os.path.exists(sock), 10)
        assert wait_until(lambda: _can_connect(port), 10)
        # a tcplog line is about 100 bytes: 2000 of them overfill a 64 KiB pipe
        for i in range(2000):
            assert ask_name(port, timeout=5) == "s1", i
        info = _cli(sock, "show info")
        dropped = int(re.search(r"^DroppedLogs: (\d+)$", info, re.M).group(1))
        assert dropped > 0, info
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        err.close()
    with open(os.path.join(tmpdir_path, "ferry.err"), errors="replace") as f:
        text = f.read()
    assert not any(m in text for m in SANITIZER_MARKS), text


def _can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _cli(path, cmd):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(cmd.encode() + b"\n")
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                return out.decode()
            out += d
