"""log-format: HAProxy 2.6's custom log lines for TCP, compared with the
lines HAProxy itself writes for the same configuration and exchange, and
its parse errors compared with haproxy -c."""
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import DEFAULTS, FERRY, ROOT_OPT_IN, ask_name, free_port, wait_until

HAPROXY = shutil.which("haproxy")

# every TCP variable of 2.6's table, flags, %o, and sample expressions
FORMAT = ("B=%B H=%H ID=%ID ST=%ST T=%T Tc=%Tc Td=%Td Tl=%Tl Th=%Th Ts=%Ts Tt=%Tt Tu=%Tu "
          "Tw=%Tw U=%U ac=%ac b=%b bc=%bc bi=%bi bp=%bp bq=%bq ci=%ci cp=%cp f=%f fc=%fc "
          "fi=%fi fp=%fp ft=%ft lc=%lc hr=%hr hrl=%hrl hs=%hs hsl=%hsl ms=%ms pid=%pid "
          "rc=%rc rt=%rt s=%s sc=%sc si=%si sp=%sp sq=%sq sslc=%sslc sslv=%sslv t=%t "
          "ts=%ts tsc=%tsc   %%lit [%[src]] [%[dst_port]] %[fe_name,upper] "
          "%{+Q}ci %{+X}ci:%{+X}cp %{+X}fp %{+Q}[fe_name] %{+E}f %{+Q}o b=%b ID=%ID %{-Q}f")
# what differs between two runs: times, dates, ports of outgoing sockets, pids
VOLATILE = [r"\bT=\S+ \+0000", r"\bTl=\S+ [+-]\d{4}", r"\bT[cdhstuw]=\d+", r"\bTs=\d+",
            r"\bms=\d+", r"\bpid=\d+", r"\bt=\S+", r"\b(bp|cp)=\d+", r"\bH=\S+",
            r" 7F000001:[0-9A-F]{4} "]


def normalize(line):
    for v in VOLATILE:
        line = re.sub(v, lambda m: m.group(0).split("=")[0] + "=*" if "=" in m.group(0) else " X ", line)
    return line


def cfg(port, sport, fmt):
    return DEFAULTS + """
frontend fe
    bind 127.0.0.1:%d
    log stdout format raw local0
    log-format "%s"
    default_backend be

backend be
    server s1 127.0.0.1:%d
""" % (port, fmt, sport)


def echo_server():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def exchange(port, srv):
    """One client: sends abc, the server answers hello and closes."""
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    a, _ = srv.accept()
    a.settimeout(5)
    c.sendall(b"abc")
    assert a.recv(10) == b"abc"
    a.sendall(b"hello")
    a.close()
    assert c.recv(10) == b"hello"
    c.close()


def run_logs(cmd, cfg_text, tmpdir, port, srv, n=2):
    path = os.path.join(tmpdir, "lf-%s.cfg" % os.path.basename(cmd[0]))
    with open(path, "w") as f:
        f.write(cfg_text + (ROOT_OPT_IN if cmd[0] == FERRY else ""))
    out = open(path + ".out", "w+b")
    p = subprocess.Popen(cmd + ["-f", path], stdout=out, stderr=subprocess.STDOUT)
    try:
        def up():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False
        assert wait_until(up, 10), "did not start"
        # the probe above is a session too: end it, wait for its line
        srv.accept()[0].close()
        assert wait_until(lambda: open(path + ".out", "rb").read().count(b"B=") >= 1, 5)
        for i in range(n):
            exchange(port, srv)  # one at a time: %ac/%fc see only this one
            assert wait_until(lambda: open(path + ".out", "rb").read().count(b"B=") >= i + 2, 5)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    out.seek(0)
    lines = [l for l in out.read().decode().splitlines() if "B=" in l]
    out.close()
    return lines


def test_every_tcp_variable_as_haproxy(tmpdir_path):
    srv = echo_server()
    try:
        port = free_port()
        text = cfg(port, srv.getsockname()[1], FORMAT)
        ferry = run_logs([FERRY], text, tmpdir_path, port, srv)
        line = ferry[1]
        # values checked on ferry's own line first
        assert "B=5 " in line and " U=3 " in line and " b=be " in line and " s=s1 " in line
        assert " ci=127.0.0.1 " in line and " fi=127.0.0.1 fp=%d " % port in line
        assert " si=127.0.0.1 sp=%d " % srv.getsockname()[1] in line
        assert " lc=1 " in line and " rt=1 " in line and " ID=- " in line
        assert " ts=-- tsc=---- " in line and " %%lit [127.0.0.1] [%d] FE " % port in line
        assert ' "127.0.0.1" 7F000001:' in line and ' %04X "fe" fe b="be" ID="" fe' % port in line
        assert " pid=%d " % int(re.search(r"pid=(\d+)", line).group(1)) in line
        assert re.search(r" T=\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000 ", line)
        assert re.search(r" t=\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3} ", line)
        if not HAPROXY:
            pytest.skip("haproxy not installed")
        hap = run_logs([HAPROXY, "-db"], text, tmpdir_path, port, srv)
        assert [normalize(l) for l in ferry[1:]] == [normalize(l) for l in hap[1:]]
    finally:
        srv.close()


def test_option_tcplog_after_log_format_wins(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    text = DEFAULTS + """
frontend fe
    bind 127.0.0.1:%d
    log stdout format raw local0
    log-format "CUSTOM %%ci"
    option tcplog
    default_backend be
backend be
    server s1 127.0.0.1:%d
""" % (port, b.port)
    f = ferry(text, wait_port=port)
    assert ask_name(port) == "s1"
    assert f.wait_log(r"127\.0\.0\.1:\d+ \[.*\] fe be/s1 ")
    assert "CUSTOM" not in f.stdout()


BAD = [
    ("%foo", "failed to parse log-format : no such format variable 'foo'. If you wanted to emit the '%' character verbatim, you need to use '%%'."),
    ("%HM", "failed to parse log-format : format variable 'HM' is reserved for HTTP mode."),
    ("%r", "failed to parse log-format : format variable 'r' is reserved for HTTP mode."),
    ("a %1", "unexpected variable name near '1' at position 3"),
    ("%{+Q} x", "parse argument modifier without variable name near '%{+Q}'"),
    ("%[src", "missing ']' after 'src'"),
    ("%[nope]", "failed to parse sample expression <nope]>"),
    ("x %", "truncated line after '%'"),
]


@pytest.mark.parametrize("fmt,msg", BAD)
def test_errors_as_haproxy(tmpdir_path, fmt, msg):
    path = os.path.join(tmpdir_path, "bad.cfg")
    with open(path, "w") as f:
        f.write(DEFAULTS + "frontend fe\n    bind 127.0.0.1:1\n    log stdout local0\n"
                "    log-format \"%s\"\n    default_backend be\nbackend be\n    server s 127.0.0.1:2\n" % fmt)
    r = subprocess.run([FERRY, "-c", "-f", path], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "%s:10: " % path in r.stderr and msg in r.stderr, r.stderr
    if HAPROXY:
        h = subprocess.run([HAPROXY, "-c", "-f", path], capture_output=True, text=True, timeout=20)
        assert h.returncode != 0 and msg in h.stderr, h.stderr
