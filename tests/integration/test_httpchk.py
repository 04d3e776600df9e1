"""option httpchk and http-check: servers that answer like Patroni's REST API
(200 or 503 on /primary and /replica) are UP or DOWN accordingly and traffic
goes only to the UP ones; the checks run against a port other than the
traffic port ("check port"); the request bytes, the log lines and the
check fields of "show stat" are compared with HAProxy 2.6.12's for the same
peers (when haproxy is installed); disable-on-404 drains a server without
cutting its sessions; hostile replies (garbage, nothing, too long, byte by
byte) are judged and never hurt ferry; and a real Patroni cluster (etcd, a
primary and a replica on PostgreSQL 15) behind Patroni's own published
configuration, when Patroni runs here."""
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import DEFAULTS, Ferry, ScriptServer, ask_name, free_port, wait_until
from statsock import csv_rows, row

HAPROXY = shutil.which("haproxy")


class Api(ScriptServer):
    """A small HTTP server on 127.0.0.1, as Patroni's REST API answers
    health checks: routes map a path to a status (or to raw bytes, to a
    list of pieces sent 50 ms apart, or to "silent" / "close"); every raw
    request is kept in self.requests."""

    REASONS = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}

    def __init__(self, routes, default=404):
        self.routes = dict(routes)
        self.default = default
        self.requests = []
        super().__init__(None)

    def _read_request(self, c):
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            d = c.recv(65536)
            if not d:
                break
            data += d
        m = re.search(rb"content-length: *(\d+)", data, re.I)
        if m:
            want = data.index(b"\r\n\r\n") + 4 + int(m.group(1))
            while len(data) < want:
                d = c.recv(65536)
                if not d:
                    break
                data += d
        return data

    def _play(self, c):
        c.settimeout(5)
        try:
            data = self._read_request(c)
            self.requests.append(data)
            parts = data.split(b" ", 2)
            path = parts[1].decode(errors="replace") if len(parts) > 1 else ""
            what = self.routes.get(path, self.default)
            if what == "silent":
                time.sleep(3)
            elif what == "close":
                pass
            elif isinstance(what, bytes):
                c.sendall(what)
            elif isinstance(what, list):  # pieces sent apart
                for piece in what:
                    c.sendall(piece)
                    time.sleep(0.05)
            else:
                c.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                          % (what, self.REASONS.get(what, "Other").encode()))
        except OSError:
            pass
        finally:
            c.close()


def norm(line):
    return re.sub(r"check duration: \d+ms", "check duration: Xms", line)


def server_lines(text):
    """The state changes a log holds, durations written Xms."""
    return sorted(set(norm(l) for l in text.splitlines()
                      if re.match(r"(Backup )?Server \S+ is |(backend|proxy) \S+ has no server available!", l)))


def check_fields(rows, px, sv):
    r = row(rows, px, sv)
    return (r["status"], r["check_status"].lstrip("* "), r["check_code"], r["check_desc"])


def stop_proc(p, timeout=10):
    """SIGTERM to p (by its pid), then SIGKILL when it does not exit in time."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class HAProxy:
    """Debian's haproxy with the same configuration, stopped by its pid."""

    def __init__(self, config, tmpdir):
        self.dir = tmpdir
        self.sock = os.path.join(tmpdir, "h.sock")
        cfg = os.path.join(tmpdir, "h.cfg")
        with open(cfg, "w") as f:
            f.write(config.replace("@SOCK@", self.sock))
        self.out = open(os.path.join(tmpdir, "h.out"), "wb")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=self.out,
                                     stderr=subprocess.STDOUT)
        assert wait_until(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 10)
        assert self.proc.poll() is None, self.log()

    def log(self):
        with open(os.path.join(self.dir, "h.out"), "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        stop_proc(self.proc)
        self.out.close()


def config(sock, backends, frontend_port, extra_global=""):
    return ("global\n    log stdout format raw local0\n    stats socket %s level admin\n%s" % (sock, extra_global)
            + DEFAULTS + "    log global\n    timeout check 500ms\n"
            + "frontend fe\n    bind 127.0.0.1:%d\n    default_backend %s\n" % (frontend_port, backends[0][0])
            + "".join("backend %s\n%s" % (name, body) for name, body in backends))


def patroni_backends(nodes):
    """HAProxy's usual Patroni pattern: a write backend on /primary, a read
    backend on /replica, checks on the REST API port, traffic on the data port."""
    out = []
    for name, uri in (("pg_rw", "/primary"), ("pg_ro", "/replica")):
        body = ("    option httpchk\n    http-check send meth GET uri %s\n    http-check expect status 200\n"
                "    default-server inter 200ms fall 2 rise 1 on-marked-down shutdown-sessions\n" % uri)
        body += "".join("    server %s 127.0.0.1:%d maxconn 100 check port %d\n" % (n, data.port, api.port)
                        for n, data, api in nodes)
        out.append((name, body))
    return out


def test_patroni_like_api_routes_traffic_to_up_servers(ferry, backends, tmpdir_path):
    s1, s2 = backends(2, names=["pg1", "pg2"])
    api1 = Api({"/primary": 200, "/replica": 503})
    api2 = Api({"/primary": 503, "/replica": 200})
    hap = None
    try:
        bes = patroni_backends([("pg1", s1, api1), ("pg2", s2, api2)])
        fport, rw, ro = free_port(), free_port(), free_port()
        sock = os.path.join(tmpdir_path, "f.sock")
        text = config(sock, bes, fport) + ("frontend rw\n    bind 127.0.0.1:%d\n    default_backend pg_rw\n"
                                           "frontend ro\n    bind 127.0.0.1:%d\n    default_backend pg_ro\n" % (rw, ro))
        f = ferry(text, wait_port=fport)
        if HAPROXY:
            hdir = os.path.join(tmpdir_path, "h")
            os.mkdir(hdir)
            htext = config("@SOCK@", bes, free_port()) + (
                "frontend rw\n    bind 127.0.0.1:%d\n    default_backend pg_rw\n"
                "frontend ro\n    bind 127.0.0.1:%d\n    default_backend pg_ro\n" % (free_port(), free_port()))
            hap = HAProxy(htext, hdir)
        assert f.wait_log(r"Server pg_ro/pg1 is DOWN") and f.wait_log(r"Server pg_rw/pg2 is DOWN")
        # traffic only to the UP server of each; the data ports never see a check
        assert {ask_name(rw) for _ in range(6)} == {"pg1"}
        assert {ask_name(ro) for _ in range(6)} == {"pg2"}
        assert s1.accepted == 6 and s2.accepted == 6
        assert api1.requests[0] == b"GET /primary HTTP/1.0\r\n\r\n"
        want = {("pg_rw", "pg1"): ("UP", "L7OK", "200", "Layer7 check passed"),
                ("pg_rw", "pg2"): ("DOWN", "L7STS", "503", "Layer7 wrong status"),
                ("pg_ro", "pg1"): ("DOWN", "L7STS", "503", "Layer7 wrong status"),
                ("pg_ro", "pg2"): ("UP", "L7OK", "200", "Layer7 check passed")}
        assert wait_until(lambda: {k: check_fields(csv_rows(sock), *k) for k in want} == want, 3)
        down = ('Server pg_rw/pg2 is DOWN, reason: Layer7 wrong status, code: 503, info: "Service Unavailable", '
                'check duration: Xms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, '
                '0 remaining in queue.')
        assert down in server_lines(f.stdout())
        if hap:
            assert wait_until(lambda: server_lines(hap.log()) == server_lines(f.stdout()), 5), \
                (server_lines(hap.log()), server_lines(f.stdout()))
            assert wait_until(lambda: {k: check_fields(csv_rows(hap.sock), *k) for k in want} == want, 5)
        # a switchover: the roles move, and so does the traffic
        api1.routes.update({"/primary": 503, "/replica": 200})
        api2.routes.update({"/primary": 200, "/replica": 503})
        assert f.wait_log(r"Server pg_rw/pg2 is UP, reason: Layer7 check passed, code: 200")
        assert f.wait_log(r"Server pg_rw/pg1 is DOWN") and f.wait_log(r"Server pg_ro/pg1 is UP")
        assert wait_until(lambda: {ask_name(rw) for _ in range(4)} == {"pg2"}, 3)
        assert wait_until(lambda: {ask_name(ro) for _ in range(4)} == {"pg1"}, 3)
    finally:
        if hap:
            hap.stop()
        api1.stop()
        api2.stop()


# Each backend: its http-check lines and what its server answers. What
# HAProxy 2.6.12 made of each (status, check_status, check_code, check_desc)
# is checked against it when it is installed, and written here so the test
# means the same without it.
ZOO = {
    "ok": ("", 200, ("UP", "L7OK", "200", "Layer7 check passed")),
    "unavail": ("", 503, ("DOWN", "L7STS", "503", "Layer7 wrong status")),
    "redirect": ("", b"HTTP/1.1 301 Moved\r\nContent-Length: 0\r\n\r\n", ("UP", "L7OK", "301", "Layer7 check passed")),
    "nolb": ("    http-check disable-on-404\n", 404, ("NOLB", "L7OKC", "404", "Layer7 check conditionally passed")),
    "notfound": ("", 404, ("DOWN", "L7STS", "404", "Layer7 wrong status")),
    "garbage": ("", b"hello garbage\r\n\r\n", ("DOWN", "L7RSP", "", "Layer7 invalid response")),
    "empty": ("", "close", ("DOWN", "L7RSP", "", "Layer7 invalid response")),
    "cut": ("", b"HTTP/1.1 200", ("DOWN", "L7RSP", "", "Layer7 invalid response")),
    "silent": ("", "silent", ("DOWN", "L7TOUT", "", "Layer7 timeout")),
    "longline": ("", b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
                 ("DOWN", "L7RSP", "", "Layer7 invalid response")),
    "manyhdrs": ("", b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 200 + b"\r\n",
                 ("DOWN", "L7RSP", "", "Layer7 invalid response")),
    "dribble": ("", [b"HTTP/1.1 20", b"0 OK\r\nContent-Le", b"ngth: 0\r\n\r\n"], ("UP", "L7OK", "200", "Layer7 check passed")),
    "bodyok": ("    http-check expect string world\n",
               b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
               ("UP", "L7OK", "200", "Layer7 check passed")),
    "bodybad": ("    http-check expect string nomatch\n", 200, ("DOWN", "L7RSP", "", "Layer7 invalid response")),
    "bodyneg": ("    http-check expect ! rstring \\{\\}\n", 200, ("DOWN", "L7RSP", "", "Layer7 invalid response")),
    # no body at all: a failure whether or not the match is negated
    "nobody": ("    http-check expect string x\n", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
               ("DOWN", "L7RSP", "", "Layer7 invalid response")),
    "nobodyneg": ("    http-check expect ! string x\n", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                  ("DOWN", "L7RSP", "", "Layer7 invalid response")),
    "rstatus": ("    http-check expect rstatus ^3\n", 200, ("DOWN", "L7STS", "200", "Layer7 wrong status")),
    "hdr": ("    http-check expect hdr name content-type value -m beg application/\n", 200,
            ("UP", "L7OK", "200", "Layer7 check passed")),
    "comment": ("    http-check expect status 201 comment \"want 201\"\n", 200,
                ("DOWN", "L7STS", "200", "Layer7 wrong status")),
    "quotes": ("", b"HTTP/1.1 503 Service \"Unavail\" <x>\r\n\r\n", ("DOWN", "L7STS", "503", "Layer7 wrong status")),
}


def test_replies_judged_as_haproxy(ferry, tmpdir_path):
    apis = {name: Api({}, default=answer) for name, (_, answer, _) in ZOO.items()}
    hap = None
    try:
        bes = [(name, "    option httpchk GET /%s\n%s    server s 127.0.0.1:%d check inter 300ms rise 1 fall 1\n"
                % (name, lines, apis[name].port)) for name, (lines, _, _) in ZOO.items()]
        sock = os.path.join(tmpdir_path, "f.sock")
        fport = free_port()
        f = ferry(config(sock, bes, fport), wait_port=fport)
        if HAPROXY:
            hdir = os.path.join(tmpdir_path, "h")
            os.mkdir(hdir)
            hap = HAProxy(config("@SOCK@", bes, free_port()), hdir)
        want = {name: exp for name, (_, _, exp) in ZOO.items()}

        def states(path):
            rows = csv_rows(path)
            return {name: check_fields(rows, name, "s") for name in ZOO}

        assert wait_until(lambda: states(sock) == want, 5), states(sock)
        out = server_lines(f.stdout())
        assert ('Server nolb/s is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: Xms. '
                '0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.') in out
        assert ('Server comment/s is DOWN, reason: Layer7 wrong status, code: 200, info: "OK comment: want 201", '
                'check duration: Xms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, '
                '0 remaining in queue.') in out
        assert ('Server quotes/s is DOWN, reason: Layer7 wrong status, code: 503, info: "Service <22>Unavail<22> '
                '<3C>x<3E>", check duration: Xms. 0 active and 0 backup servers left. 0 sessions active, '
                '0 requeued, 0 remaining in queue.') in out
        assert ('Server bodyneg/s is DOWN, reason: Layer7 invalid response, info: "HTTP check matched unwanted '
                'content", check duration: Xms. 0 active and 0 backup servers left. 0 sessions active, '
                '0 requeued, 0 remaining in queue.') in out
        rows = csv_rows(sock)
        assert row(rows, "bodybad", "s")["last_chk"] == "HTTP content check did not match"
        for name in ("nobody", "nobodyneg"):
            assert row(rows, name, "s")["last_chk"] == "HTTP content check could not find a response body", name
        assert row(rows, "unavail", "s")["last_chk"] == "Service Unavailable"
        if hap:
            assert wait_until(lambda: states(hap.sock) == want, 5), states(hap.sock)
            assert wait_until(lambda: server_lines(hap.log()) == out, 3), \
                (set(server_lines(hap.log())) ^ set(out))
            hrows = csv_rows(hap.sock)
            for name in ZOO:
                assert row(hrows, name, "s")["last_chk"] == row(rows, name, "s")["last_chk"], name
        # ferry is fine after all that
        assert f.proc.poll() is None
    finally:
        if hap:
            hap.stop()
        for a in apis.values():
            a.stop()


def test_request_bytes_as_haproxy(ferry, tmpdir_path):
    """The bytes of the requests (captured from HAProxy 2.6.12 for the same rules)."""
    cases = {
        "plain": ("    option httpchk\n", b"OPTIONS / HTTP/1.0\r\n\r\n"),
        "legacy": ("    option httpchk /legacy\n", b"OPTIONS /legacy HTTP/1.0\r\n\r\n"),
        "v11": ("    option httpchk GET /primary HTTP/1.1\n    http-check send hdr Host example.org body hello\n",
                b"GET /primary HTTP/1.1\r\nhost: example.org\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"),
        "post": ("    option httpchk\n    http-check send meth POST uri /x ver HTTP/1.1 hdr X-A b "
                 "hdr Connection keep-alive body abc\n",
                 b"POST /x HTTP/1.1\r\nx-a: b\r\ncontent-length: 3\r\n\r\nabc"),
        "state": ("    option httpchk HEAD /z HTTP/1.0\n    http-check send-state\n",
                  b"HEAD /z HTTP/1.0\r\nx-haproxy-server-state: UP 1/3; address=127.0.0.1; port=%d; "
                  b"name=state/s; node=" + socket.gethostname().encode() + b"; weight=7/7; scur=0/0; qcur=0\r\n\r\n"),
    }
    apis = {name: Api({}, default=200) for name in cases}
    hap = None
    try:
        bes = [(name, "%s    server s 127.0.0.1:%d check inter 5s weight 7\n" % (lines, apis[name].port))
               for name, (lines, _) in cases.items()]
        fport = free_port()
        ferry(config(os.path.join(tmpdir_path, "f.sock"), bes, fport), wait_port=fport)
        for name, (_, want) in cases.items():
            if b"%d" in want:
                want = want % apis[name].port
            assert wait_until(lambda: apis[name].requests, 5)
            assert apis[name].requests[0] == want, name
        if HAPROXY:
            for a in apis.values():
                a.requests.clear()
            hdir = os.path.join(tmpdir_path, "h")
            os.mkdir(hdir)
            hap = HAProxy(config("@SOCK@", bes, free_port()), hdir)
            for name, (_, want) in cases.items():
                if b"%d" in want:
                    want = want % apis[name].port
                assert wait_until(lambda: apis[name].requests, 5)
                assert apis[name].requests[0] == want, name
    finally:
        if hap:
            hap.stop()
        for a in apis.values():
            a.stop()


def test_disable_on_404_drains_without_cutting_sessions(ferry, backends, tmpdir_path):
    s1, s2 = backends(2)
    api1, api2 = Api({}, default=200), Api({}, default=200)
    try:
        fport = free_port()
        sock = os.path.join(tmpdir_path, "f.sock")
        body = ("    balance roundrobin\n    option httpchk\n    http-check disable-on-404\n"
                "    server s1 127.0.0.1:%d check port %d inter 200ms rise 1 fall 2\n"
                "    server s2 127.0.0.1:%d check port %d inter 200ms rise 1 fall 2\n"
                % (s1.port, api1.port, s2.port, api2.port))
        f = ferry(config(sock, [("be", body)], fport), wait_port=fport)
        assert wait_until(lambda: api1.requests and api2.requests, 3)
        held = socket.create_connection(("127.0.0.1", fport), timeout=5)
        first = held.recv(64)
        victim, other = (api1, "s2") if first == b"s1\n" else (api2, "s1")
        victim.default = 404
        assert f.wait_log(r"Server be/s\d is stopping, reason: Layer7 check conditionally passed, code: 404, "
                          r"check duration: \d+ms\. 1 active and 0 backup servers online\.")
        assert row(csv_rows(sock), "be", first.decode().strip())["status"] == "NOLB"
        # new connections avoid it; the held one still relays
        assert {ask_name(fport) for _ in range(6)} == {other}
        held.sendall(b"still here")
        assert held.recv(64) == b"still here"
        victim.default = 200
        assert f.wait_log(r"Server be/%s is UP, reason: Layer7 check passed, code: 200" % first.decode().strip())
        assert wait_until(lambda: len({ask_name(fport) for _ in range(4)}) == 2, 3)
        held.close()
    finally:
        api1.stop()
        api2.stop()


def test_hostile_server_floods_and_resets(ferry, tmpdir_path):
    """A server that sends a megabyte of junk, or resets: judged, bounded."""
    class Flood(Api):
        def _play(self, c):
            try:
                self._read_request(c)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n" + b"x" * (1 << 20))
            except OSError:
                pass
            finally:
                c.close()

    flood = Flood({})
    reset = socket.socket()
    reset.bind(("127.0.0.1", 0))
    reset.listen(8)
    stop = threading.Event()

    def resetter():
        reset.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = reset.accept()
            except OSError:
                continue
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()

    t = threading.Thread(target=resetter, daemon=True)
    t.start()
    try:
        sock = os.path.join(tmpdir_path, "f.sock")
        fport = free_port()
        bes = [("flood", "    option httpchk\n    http-check expect string needle\n"
                         "    server s 127.0.0.1:%d check inter 200ms rise 1 fall 1\n" % flood.port),
               ("reset", "    option httpchk\n    server s 127.0.0.1:%d check inter 200ms rise 1 fall 1\n"
                % reset.getsockname()[1])]
        f = ferry(config(sock, bes, fport), wait_port=fport)
        assert f.wait_log(r'Server flood/s is DOWN, reason: Layer7 invalid response, info: "HTTP content check '
                          r'did not match"')
        assert f.wait_log(r"Server reset/s is DOWN, reason: Socket error, info: \"Connection reset by peer\"")
        assert f.proc.poll() is None
    finally:
        stop.set()
        t.join(2)
        reset.close()
        flood.stop()


# ---- a real Patroni cluster ---------------------------------------------------------------------

PG_BIN = "/usr/lib/postgresql/15/bin"
PATRONI = shutil.which("patroni")
ETCD = shutil.which("etcd")
PSQL = shutil.which("psql") or "/usr/bin/psql"

PATRONI_YML = """scope: ferrytest
name: {name}
restapi:
  listen: 127.0.0.1:{api}
  connect_address: 127.0.0.1:{api}
etcd:
  host: 127.0.0.1:{etcd}
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 1
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: false
      parameters:
        fsync: 'off'
        max_connections: 20
  initdb:
  - encoding: UTF8
  - locale: C
  pg_hba:
  - host replication replicator 127.0.0.1/32 trust
  - host all all 127.0.0.1/32 trust
  - local all all trust
postgresql:
  listen: 127.0.0.1:{pg}
  connect_address: 127.0.0.1:{pg}
  data_dir: {base}/{name}
  bin_dir: {bin}
  pgpass: {base}/pgpass-{name}
  authentication:
    replication:
      username: replicator
      password: rep
    superuser:
      username: postgres
      password: pg
  parameters:
    unix_socket_directories: '{base}'
"""


def _as_postgres():
    import pwd
    pw = pwd.getpwnam("postgres")
    return {"user": pw.pw_uid, "group": pw.pw_gid} if os.geteuid() == 0 else {}


@pytest.mark.skipif(not (PATRONI and ETCD and os.path.exists(PG_BIN + "/initdb")),
                    reason="needs Debian's patroni, etcd-server and postgresql-15")
def test_real_patroni_behind_its_published_haproxy_config(ferry, tmpdir_path):
    """Patroni's own sample haproxy.cfg (its `listen batman` block, ports
    moved to free ones): the primary is UP, the replica DOWN (its REST API
    answers 503 to OPTIONS /), and psql through ferry reaches the primary."""
    import tempfile
    base = tempfile.mkdtemp(prefix="ferry-patroni-")
    os.chmod(base, 0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    procs = []
    ports = {"etcd": free_port(), "peer": free_port()}
    nodes = [{"name": "node%d" % i, "api": free_port(), "pg": free_port()} for i in (1, 2)]
    deadline = time.monotonic() + 45

    def start(cmd, log, **kw):
        out = open(os.path.join(base, log), "wb")
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **kw)
        procs.append((p, out))
        return p

    def api_status(node, path):
        try:
            with socket.create_connection(("127.0.0.1", node["api"]), timeout=1) as s:
                s.sendall(b"GET %s HTTP/1.0\r\n\r\n" % path.encode())
                return s.recv(64).split(b" ")[1].decode()
        except (OSError, IndexError):
            return None

    try:
        start([ETCD, "--name", "ferry-etcd", "--data-dir", os.path.join(base, "etcd"), "--enable-v2=true",
               "--listen-client-urls", "http://127.0.0.1:%d" % ports["etcd"],
               "--advertise-client-urls", "http://127.0.0.1:%d" % ports["etcd"],
               "--listen-peer-urls", "http://127.0.0.1:%d" % ports["peer"],
               "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % ports["peer"],
               "--initial-cluster", "ferry-etcd=http://127.0.0.1:%d" % ports["peer"]], "etcd.log")
        if not wait_until(lambda: Ferry._can_connect(ports["etcd"]), 10):
            pytest.skip("etcd did not start here")
        for n in nodes:
            path = os.path.join(base, n["name"] + ".yml")
            with open(path, "w") as f:
                f.write(PATRONI_YML.format(base=base, bin=PG_BIN, etcd=ports["etcd"], **n))
            start([PATRONI, path], n["name"] + ".log", cwd=base, **_as_postgres())
            if n is nodes[0] and not wait_until(lambda: api_status(nodes[0], "/primary") == "200",
                                                deadline - time.monotonic()):
                pytest.skip("Patroni did not bootstrap a primary within the time given here")
        if not wait_until(lambda: api_status(nodes[1], "/replica") == "200", deadline - time.monotonic()):
            pytest.skip("Patroni did not start a replica within the time given here")
        # Patroni 3.0.2's /usr/share/doc/patroni/examples/haproxy.cfg, ports moved
        front, stats = free_port(), free_port()
        with open(os.path.join(os.path.dirname(__file__), "configs", "httpchk-patroni.cfg")) as f:
            text = "".join(l for l in f if not l.startswith("#"))
        for old, new in (("*:5000", "127.0.0.1:%d" % front), ("*:7000", "127.0.0.1:%d" % stats),
                         ("127.0.0.1_5432 127.0.0.1:5432", "node1 127.0.0.1:%d" % nodes[0]["pg"]),
                         ("127.0.0.1_5433 127.0.0.1:5433", "node2 127.0.0.1:%d" % nodes[1]["pg"]),
                         ("port 8008", "port %d" % nodes[0]["api"]), ("port 8009", "port %d" % nodes[1]["api"])):
            assert old in text
            text = text.replace(old, new)
        text = text.replace("global\n", "global\n    log stdout format raw local0\n", 1)
        f = ferry(text, wait_port=front)
        assert f.wait_log(r"Server batman/postgresql_node2 is DOWN, reason: Layer7 wrong status, code: 503, "
                          r"info: \"Service Unavailable\"", timeout=8)
        assert not re.search(r"postgresql_node1 is DOWN", f.stdout())
        r = subprocess.run([PSQL, "-h", "127.0.0.1", "-p", str(front), "-U", "postgres", "-d", "postgres",
                            "-tAc", "select pg_is_in_recovery(), current_setting('port')"],
                           capture_output=True, text=True, timeout=10)
        assert r.stdout.strip() == "f|%d" % nodes[0]["pg"], r.stderr
    finally:
        for p, out in reversed(procs):  # Patroni stops its PostgreSQL before it exits
            stop_proc(p, 20)
            out.close()
        for n in nodes:  # a postmaster left behind (Patroni killed): stop it by its pid
            pidfile = os.path.join(base, n["name"], "postmaster.pid")
            if os.path.exists(pidfile):
                try:
                    os.kill(int(open(pidfile).readline()), signal.SIGQUIT)
                except (OSError, ValueError):
                    pass
        shutil.rmtree(base, ignore_errors=True)

