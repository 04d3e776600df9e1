"""The stats frontend (issue 9): HAProxy's "mode http" stats block accepted
unchanged and served by ferry itself: the configuration's sentences, the
HTTP server's behaviour (compared with Debian's HAProxy 2.6.12 where it is
precise), ";csv"/";json" as "show stat", "/metrics" through promtool, and
the live dashboard in headless Chromium (a killed server turns DOWN
without a reload, the drain button drains; the screenshot is kept in
build/test-artefacts/dashboard.png)."""
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import DEFAULTS, FERRY, ROOT, ROOT_OPT_IN, free_port, wait_until

ARTEFACTS = os.path.join(ROOT, "build", "test-artefacts")

# The block of the issue, as operators have it.
STATS_BLOCK = """
frontend stats
    mode http
    bind 127.0.0.1:{port}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    stats enable
    stats uri /
    stats refresh 5s
    stats admin if {{ src 127.0.0.1 }}
"""


def check(tmpdir, text):
    path = os.path.join(tmpdir, "c.cfg")
    with open(path, "w") as f:
        f.write(text + ROOT_OPT_IN)  # appended: no line number moves
    r = subprocess.run([FERRY, "-c", "-f", path], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr.replace(path, "c.cfg")


def request(port, method, path, headers=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def read_all(s):
    """What s receives until the peer closes (or 5 s of silence)."""
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out


def sock_cli(path, cmd):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    s.sendall(cmd.encode() + b"\n")
    return read_all(s).decode()


def stats_config(port, backends_ports, sock=None, extra="", check_opts="check inter 200 fall 1 rise 1"):
    g = "global\n    stats socket %s level admin\n" % sock if sock else ""
    servers = "".join("    server s%d 127.0.0.1:%d %s\n" % (i + 1, p, check_opts)
                      for i, p in enumerate(backends_ports))
    return (g + DEFAULTS + "frontend fe\n    bind 127.0.0.1:%d\n    default_backend be\n" % free_port()
            + "backend be\n" + servers + STATS_BLOCK.format(port=port) + extra)


# ---- configuration -------------------------------------------------------------------------------

def test_the_issue_block_is_accepted_as_haproxy_accepts_it(tmpdir_path):
    text = DEFAULTS + "listen be\n    bind 127.0.0.1:1\n    server s1 127.0.0.1:2\n" + STATS_BLOCK.format(port=8404)
    assert check(tmpdir_path, text) == (0, "Configuration file is valid\n")
    if shutil.which("haproxy"):
        path = os.path.join(tmpdir_path, "h.cfg")
        with open(path, "w") as f:
            f.write(text)
        assert subprocess.run(["haproxy", "-c", "-f", path], capture_output=True).returncode == 0


def test_real_world_stats_blocks_are_accepted(tmpdir_path):
    text = DEFAULTS + """
listen stats
    bind 127.0.0.1:8404
    mode http
    log global
    maxconn 10
    option httplog
    option dontlognull
    timeout client 100s
    timeout http-request 10s
    stats enable
    stats hide-version
    stats refresh 30s
    stats show-node
    stats show-legends
    stats show-desc ferry in front of PostgreSQL
    stats realm Haproxy\\ Statistics
    stats uri /haproxy?stats
    stats auth admin:secret
    stats auth ops:other
    stats admin if LOCALHOST
    stats admin if TRUE
    stats admin unless { src 10.0.0.0/8 192.168.0.0/255.255.0.0 ::1 }
"""
    assert check(tmpdir_path, text) == (0, "Configuration file is valid\n")


@pytest.mark.parametrize("body,expected", [
    # mode http elsewhere: today's sentence
    ("backend b\n    mode http\n    server s 127.0.0.1:1\n",
     "c.cfg:8: 'mode http' in backend 'b': ferry balances TCP connections only; use 'mode tcp'"),
    ("frontend f\n    mode http\n    bind :1\n    default_backend b\nbackend b\n    server s 127.0.0.1:1\n",
     "c.cfg:8: 'mode http' in frontend 'f': ferry balances TCP connections only; use 'mode tcp'"),
    ("listen l\n    mode http\n    bind :1\n    stats enable\n    server s 127.0.0.1:1\n",
     "c.cfg:8: 'mode http' in listen 'l': ferry balances TCP connections only; use 'mode tcp'"),
    # other HTTP keywords in a stats frontend: today's sentences
    ("frontend st\n    mode http\n    bind :1\n    stats enable\n    http-request deny\n",
     "c.cfg:11: 'http-request' in frontend 'st' is HTTP-only: ferry balances TCP connections and never parses HTTP"),
    ("frontend st\n    mode http\n    bind :1\n    stats enable\n    option forwardfor\n",
     "c.cfg:11: 'option forwardfor' in frontend 'st': a 'mode http' frontend only serves statistics in ferry"),
    ("frontend st\n    mode http\n    bind :1\n    stats enable\n    http-request use-service prometheus-exporter if { path /stats }\n",
     "c.cfg:11: 'http-request' in frontend 'st' is HTTP-only: ferry balances TCP connections and never parses HTTP"),
    # a TCP keyword in a stats frontend
    ("frontend st\n    mode http\n    bind :1\n    stats enable\n    option tcplog\n",
     "c.cfg:11: 'option tcplog' in frontend 'st': a 'mode http' frontend only serves statistics in ferry"),
    # the admin conditions ferry reads literally, and the others
    ("frontend st\n    mode http\n    bind :1\n    stats admin if { src_ip 1.2.3.4 }\n",
     "c.cfg:10: 'stats admin if': this condition is not supported yet (ferry reads '{ src ADDR[/MASK] ... }', "
     "'LOCALHOST', 'TRUE' and 'FALSE' until ACLs come)"),
    ("frontend st\n    mode http\n    bind :1\n    stats admin if authok\n",
     "c.cfg:10: 'stats admin if': this condition is not supported yet"),
    ("frontend st\n    mode http\n    bind :1\n    stats admin if { src 1.2.3.400 }\n",
     "c.cfg:10: 'stats admin': invalid address '1.2.3.400' in '{ src ... }'"),
    ("frontend st\n    mode http\n    bind :1\n    stats admin\n",
     "c.cfg:10: 'stats admin' requires either 'if' or 'unless' followed by a condition"),
    ("frontend st\n    mode http\n    bind :1\n    stats frobnicate\n",
     "c.cfg:10: unknown stats parameter 'frobnicate'"),
    ("frontend st\n    mode http\n    bind :1\n    stats scope be\n",
     "c.cfg:10: 'stats scope' in frontend is an HAProxy keyword that ferry does not support yet"),
    ("frontend st\n    mode http\n    bind :1\n    stats refresh 500ms\n",
     "c.cfg:10: 'stats refresh 500ms': the shortest refresh is 1s"),
])
def test_what_stays_refused(tmpdir_path, body, expected):
    rc, out = check(tmpdir_path, DEFAULTS + body)
    assert rc == 1
    assert expected in out, out


def test_stats_lines_in_a_tcp_proxy_get_haproxys_warning(tmpdir_path):
    text = DEFAULTS + ("frontend fe\n    bind :1\n    stats enable\n    stats uri /x\n    default_backend be\n"
                       "backend be\n    server s 127.0.0.1:1\n")
    rc, out = check(tmpdir_path, text)
    assert rc == 0
    assert "c.cfg:9: warning: 'stats' statement ignored for frontend 'fe' as it requires HTTP mode.\n" in out
    if shutil.which("haproxy"):
        path = os.path.join(tmpdir_path, "h.cfg")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run(["haproxy", "-c", "-f", path], capture_output=True, text=True)
        assert "'stats' statement ignored for frontend 'fe' as it requires HTTP mode." in r.stdout + r.stderr


# ---- the HTTP server ----------------------------------------------------------------------------------

@pytest.fixture
def stats_ferry(ferry, backends, tmpdir_path):
    port, aport = free_port(), free_port()
    bs = backends(2)
    sock = os.path.join(tmpdir_path, "admin.sock")
    extra = ("frontend authed\n    mode http\n    bind 127.0.0.1:%d\n    stats enable\n"
             "    stats auth admin:s3cret\n    stats uri /stats\n    stats admin if { src 10.9.9.9 }\n") % aport
    f = ferry(stats_config(port, [b.port for b in bs], sock=sock, extra=extra), wait_port=port)
    return f, port, aport, sock, bs


def test_pages_auth_and_errors_as_haproxy(stats_ferry):
    _, port, aport, _, _ = stats_ferry
    st, h, body = request(port, "GET", "/")
    assert st == 200 and h["content-type"].startswith("text/html") and b"<title>ferry" in body
    assert "refresh" not in h  # the dashboard updates itself
    st, h, body = request(port, "HEAD", "/")
    assert st == 200 and body == b"" and int(h["content-length"]) > 1000
    # HAProxy's answers when the stats page is not the target
    st, h, body = request(port, "PUT", "/")
    assert st == 503 and b"No server is available to handle this request." in body
    st, h, body = request(aport, "GET", "/other")
    assert st == 503
    # basic auth with HAProxy's default realm
    st, h, body = request(aport, "GET", "/stats")
    assert st == 401 and h["www-authenticate"] == 'Basic realm="HAProxy Statistics"'
    assert b"You need a valid user and password to access this content." in body
    bad = {"Authorization": "Basic " + base64.b64encode(b"admin:wrong").decode()}
    assert request(aport, "GET", "/stats", bad)[0] == 401
    good = {"Authorization": "Basic " + base64.b64encode(b"admin:s3cret").decode()}
    st, h, body = request(aport, "GET", "/stats;csv", good)
    assert st == 200 and body.startswith(b"# pxname,svname,")
    # /metrics is not behind the stats page's auth (the use-service rule runs first), and
    # the frontend without the use-service line has no /metrics: its URI is outside /stats
    assert request(port, "GET", "/metrics")[0] == 200
    assert request(aport, "GET", "/metrics", good)[0] == 503


def test_admin_denied_to_a_client_stats_admin_does_not_allow(stats_ferry):
    _, _, aport, _, _ = stats_ferry
    good = {"Authorization": "Basic " + base64.b64encode(b"admin:s3cret").decode()}
    form = {"Content-Type": "application/x-www-form-urlencoded", **good}
    st, h, _ = request(aport, "POST", "/stats", form, "s=s1&action=drain&b=be")
    assert st == 303 and h["location"] == "/stats;st=DENY"  # HAProxy's answer
    st, h, body = request(aport, "POST", "/stats", {**form, "Accept": "application/json"}, "s=s1&action=drain&b=be")
    assert st == 403 and json.loads(body)["status"] == "DENY"
    st, _, body = request(aport, "GET", "/stats;data", good)
    assert json.loads(body)["admin"] is False


def raw(port, data, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    return read_all(s)


def test_keep_alive_pipelining_and_close(stats_ferry):
    _, port, _, _, _ = stats_ferry
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /;csv HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    s.sendall(b"GET /;json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = read_all(s)
    assert out.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert b"connection: close\r\n" in out
    # HTTP/1.0 closes unless asked
    assert raw(port, b"GET /;csv HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200 OK")


def test_garbage_and_oversized_requests_close_only_their_connection(stats_ferry):
    _, port, _, _, _ = stats_ferry
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    idle.sendall(b"GET /;csv HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle.recv(100).startswith(b"HTTP/1.1 200 OK")
    big = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    out = raw(port, big)
    assert out.startswith(b"HTTP/1.1 431 ")
    assert raw(port, b"\x16\x03\x01garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(port, b"GET / HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(port, b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(port, b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n").startswith(b"HTTP/1.1 413 ")
    # the other connection goes on, and new ones are served
    idle.recv(65536)
    idle.sendall(b"GET /;csv HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle.recv(100).startswith(b"HTTP/1.1 200 OK")
    idle.close()
    assert request(port, "GET", "/;csv")[0] == 200


def test_csv_and_json_are_show_stat(stats_ferry):
    _, port, _, sock, _ = stats_ferry
    st, h, body = request(port, "GET", "/;csv")
    assert st == 200 and h["content-type"] == "text/plain" and h["refresh"] == "5"
    page = body.decode().splitlines()
    cli = sock_cli(sock, "show stat").splitlines()
    assert page[0] == cli[0]  # the header line, byte for byte
    assert [l.split(",")[:2] for l in page[1:]] == [l.split(",")[:2] for l in cli[1:] if l]
    st, h, body = request(port, "GET", "/;json")
    assert st == 200 and h["content-type"] == "application/json"
    page = json.loads(body)
    cli = json.loads(sock_cli(sock, "show stat json"))
    # the admin socket adds addr and algo (HAProxy's legends, on the page with "stats show-legends")
    names = lambda lines: [[f["field"]["name"] for f in l if f["field"]["name"] not in ("addr", "algo")] for l in lines]
    assert names(page) == names(cli)


def test_metrics_pass_promtool_with_haproxys_names(stats_ferry):
    f, port, _, _, bs = stats_ferry
    fe_port = int(re.search(r"frontend fe\n    bind 127.0.0.1:(\d+)", open(f.cfg_path).read()).group(1))
    for _ in range(4):
        with socket.create_connection(("127.0.0.1", fe_port), timeout=5) as c:
            c.recv(100)
    time.sleep(0.5)
    st, h, body = request(port, "GET", "/metrics")
    assert st == 200 and h["content-type"] == "text/plain; version=0.0.4"
    text = body.decode()
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        assert r.returncode == 0, r.stdout + r.stderr
    assert "# TYPE haproxy_frontend_current_sessions gauge\n" in text
    assert 'haproxy_frontend_sessions_total{proxy="fe"} 4\n' in text
    assert 'haproxy_backend_sessions_total{proxy="be"} 4\n' in text
    served = sum(int(m) for m in re.findall(r'haproxy_server_sessions_total\{proxy="be",server="s\d"\} (\d+)', text))
    assert served == 4
    assert 'haproxy_server_status{proxy="be",server="s1",state="UP"} 1\n' in text
    assert 'haproxy_backend_status{proxy="be",state="UP"} 1\n' in text
    assert re.search(r"^haproxy_process_uptime_seconds \d+$", text, re.M)
    assert 'haproxy_server_check_status{proxy="be",server="s1",state="L4OK"} 1\n' in text
    assert re.search(r'^ferry_check_duration_seconds_count\{proxy="be",server="s1"\} [1-9]', text, re.M)
    assert 'ferry_check_duration_seconds_bucket{proxy="be",server="s1",le="+Inf"}' in text


def test_reload_keeps_the_stats_socket_and_takes_the_new_settings(stats_ferry):
    f, port, _, _, _ = stats_ferry

    def inode():
        out = subprocess.run(["ss", "-ltnHe", "sport = :%d" % port], capture_output=True, text=True).stdout
        m = re.search(r"ino:(\d+)", out)
        return m and m.group(1)

    before = inode()
    assert before
    text = open(f.cfg_path).read().replace("stats uri /\n", "stats uri /st\n")
    with open(f.cfg_path, "w") as fh:
        fh.write(text)
    f.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: request(port, "GET", "/st;csv")[0] == 200 and request(port, "GET", "/x")[0] == 503, 5)
    assert inode() == before
    st, _, body = request(port, "GET", "/st;data")
    assert json.loads(body)["generation"] == 2


# ---- the dashboard in a real browser ---------------------------------------------------------------

@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")
def test_dashboard_live_in_chromium(ferry, backends, tmpdir_path):
    from cdp import Chromium

    port = free_port()
    bs = backends(3)
    sock = os.path.join(tmpdir_path, "admin.sock")
    f = ferry(stats_config(port, [b.port for b in bs], sock=sock), wait_port=port)
    browser = Chromium()
    page = None
    try:
        page = browser.open("http://127.0.0.1:%d/" % port)
        rows = "[...document.querySelectorAll('tr[data-server]')].map(r => r.dataset.server + ' ' + r.querySelector('.state').textContent)"
        assert page.wait("document.querySelectorAll('tr[data-server]').length === 3", 10)
        assert page.wait("%s.every(s => s.endsWith(' UP'))" % rows, 10), page.eval(rows)
        assert page.eval("document.getElementById('conn').textContent") == "live"
        # a server killed now turns DOWN on the page, without a reload
        page.eval("window.__same_page = 42")
        bs[1].stop()
        t0 = time.monotonic()
        assert page.wait("%s.includes('be/s2 DOWN')" % rows, 5), page.eval(rows)
        assert time.monotonic() - t0 < 5
        assert page.eval("window.__same_page") == 42
        # the drain button of s1 drains it through the runtime API's command
        page.eval("document.querySelector('tr[data-server=\"be/s1\"] button[data-action=drain]').click()")
        assert page.wait("document.getElementById('msg').textContent !== '' && "
                         "!document.getElementById('msg').textContent.endsWith('…')", 5)
        msg = page.eval("document.getElementById('msg').textContent")
        assert msg.startswith("Done: drain on be/s1"), msg
        csv = sock_cli(sock, "show stat")
        assert re.search(r"^be,s1,(?:[^,]*,){15}DRAIN,", csv, re.M), csv
        assert page.wait("%s.includes('be/s1 DRAIN')" % rows, 5), page.eval(rows)
        page.screenshot(os.path.join(ARTEFACTS, "dashboard.png"))
        assert os.path.getsize(os.path.join(ARTEFACTS, "dashboard.png")) > 10000
    finally:
        if page:
            page.close()
        browser.stop()
