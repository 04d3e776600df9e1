"""Unix stream sockets, as HAProxy 2.6: "bind unix@/path" or "bind /path"
(with mode, user/uid, group/gid), servers at "unix@/path" or "/path", their
checks (the libpq one too), logs and PROXY headers of unix clients, reload."""
import grp
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading

import pytest

from conftest import DEFAULTS, FERRY, Backend, free_port, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from pgcluster import PgCluster  # noqa: E402

LOGGED = "global\n    log stdout format raw local0\n" + DEFAULTS.replace("mode tcp", "mode tcp\n    log global")


class UnixServer:
    """A threaded server on a unix stream socket: sends its name and a
    newline, echoes until EOF, then keeps what the connection sent
    (self.first)."""

    def __init__(self, path, name):
        self.path, self.name = path, name
        self.accepted = 0
        self.first = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(64)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(5)
            got = b""
            c.sendall(self.name.encode() + b"\n")
            got = d = c.recv(4096)
            while d:
                c.sendall(d)
                d = c.recv(4096)
                got += d
        except OSError:
            pass
        finally:
            c.close()
            with self.lock:
                self.first.append(got)

    def stop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=2)
        if os.path.exists(self.path):
            os.unlink(self.path)


def unix_ask(path, payload=b"ping\n", timeout=5):
    """Connects to the unix socket path, sends payload, returns the first line."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(payload)
        buf = b""
        while b"\n" not in buf:
            d = s.recv(4096)
            if not d:
                break
            buf += d
        return buf.split(b"\n")[0].decode()


def tcp_ask(port, payload=b"ping\n", timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        buf = b""
        while b"\n" not in buf:
            d = s.recv(4096)
            if not d:
                break
            buf += d
        return buf.split(b"\n")[0].decode()


def admin(sock, cmd):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(sock)
        s.sendall(cmd.encode() + b"\n")
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                return out.decode()
            out += d


def stat_status(sock, be, srv):
    for line in admin(sock, "show stat").splitlines():
        f = line.split(",")
        if len(f) > 17 and f[0] == be and f[1] == srv:
            return f[17]
    return None


def test_bind_unix_relays_with_mode_owner_and_logs(ferry, backends, tmpdir_path):
    """Two unix binds (unix@ and a bare path) relay to a TCP server; the
    socket files get the mode and owner of their line (a stale file at the
    path is replaced); logs print a unix client as HAProxy does ("unix" and
    the listener's id as port); the files stay after stop, as HAProxy's."""
    s1, = backends(1)
    a, b = os.path.join(tmpdir_path, "a.sock"), os.path.join(tmpdir_path, "b.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(a)  # a socket file nobody listens on any more
    stale.close()
    port = free_port()
    f = ferry(LOGGED + """
frontend fe
    bind unix@%s mode 640 user nobody group nogroup
    bind %s uid 65534
    bind 127.0.0.1:%d
    log-format "lf ci=%%ci cp=%%cp fi=%%fi fp=%%fp si=%%si sp=%%sp s=%%s"
    default_backend be
frontend fe2
    bind %s/c.sock
    option tcplog
    default_backend be
backend be
    server s1 127.0.0.1:%d
""" % (a, b, port, tmpdir_path, s1.port), wait_port=port)
    assert unix_ask(a) == "s1"
    assert unix_ask(b) == "s1"
    assert unix_ask(os.path.join(tmpdir_path, "c.sock")) == "s1"
    st = os.stat(a)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_uid == pwd.getpwnam("nobody").pw_uid and st.st_gid == grp.getgrnam("nogroup").gr_gid
    assert os.stat(b).st_uid == 65534
    assert not [n for n in os.listdir(tmpdir_path) if n.endswith(".tmp")]
    assert f.wait_log(r"^lf ci=unix cp=1 fi=unix fp=1 si=127\.0\.0\.1 sp=%d s=s1$" % s1.port)
    assert f.wait_log(r"^lf ci=unix cp=2 fi=unix fp=2 ")
    assert f.wait_log(r"^unix:1 \[[^]]+\] fe2 be/s1 ")
    assert f.stop() == 0
    assert stat.S_ISSOCK(os.stat(a).st_mode)  # HAProxy leaves its unix sockets at stop


def test_unix_bind_prefix_and_default_mode_owner(ferry, backends, tmpdir_path):
    """global unix-bind, as HAProxy 2.6: its prefix goes before the path of
    each unix bind line read after it (an absolute one too: the strings are
    joined; not abns@, not the stats socket, not a frontend read before the
    global section), its mode and owner are the defaults of those lines
    (their own options win). HAProxy 2.6.12 makes the same files."""
    s1, = backends(1)
    d = os.path.join(tmpdir_path, "d")
    os.mkdir(d)
    early = os.path.join(tmpdir_path, "early.sock")
    stats = os.path.join(tmpdir_path, "stats.sock")
    abns = "ferry-test-%d" % os.getpid()
    port = free_port()
    f = ferry(DEFAULTS + """
frontend early
    bind %s
    default_backend be
global
    unix-bind prefix %s mode 600 group nogroup
    stats socket %s level admin
frontend fe
    bind unix@/a.sock
    bind /b.sock mode 644 uid 65534
    bind unix@x-c.sock
    bind /e.sock mode 0
    bind abns@%s
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 127.0.0.1:%d
""" % (early, d, stats, abns, port, s1.port), wait_port=port)
    nogroup = grp.getgrnam("nogroup").gr_gid
    a, b, c = os.path.join(d, "a.sock"), os.path.join(d, "b.sock"), d + "x-c.sock"
    for path in (a, b, c):
        assert unix_ask(path) == "s1", path
    assert stat.S_IMODE(os.stat(a).st_mode) == 0o600 and os.stat(a).st_gid == nogroup
    assert os.stat(a).st_uid == os.getuid()
    assert stat.S_IMODE(os.stat(b).st_mode) == 0o644  # the line's own mode wins
    assert os.stat(b).st_uid == 65534 and os.stat(b).st_gid == nogroup
    assert stat.S_IMODE(os.stat(c).st_mode) == 0o600
    # mode 0: HAProxy leaves the permissions alone (the umask's)
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(os.path.join(d, "e.sock")).st_mode) == 0o777 & ~umask
    # no prefix in the abstract namespace; the name fills sun_path, zeros
    # after it, as HAProxy's
    assert unix_ask(("\0" + abns).ljust(108, "\0")) == "s1"
    assert unix_ask(early) == "s1"  # read before unix-bind: as written
    assert os.stat(early).st_gid != nogroup or os.getgid() == nogroup
    assert "Uptime" in admin(stats, "show info")  # the stats socket: as written
    assert f.stop() == 0


def test_unix_bind_sentences(tmpdir_path):
    """unix-bind's errors are HAProxy's sentences at their line; a second
    prefix is said and ignored (HAProxy: an alert that does not stop it); a
    prefix that leaves no room for the path is HAProxy's "too long"."""
    def check(glob, bind="/x.sock"):
        cfg = os.path.join(tmpdir_path, "u.cfg")
        with open(cfg, "w") as fh:
            fh.write("global\n    " + glob + "\n" + DEFAULTS +
                     "frontend fe\n    bind %s\n    default_backend be\nbackend be\n"
                     "    server s1 127.0.0.1:1\n" % bind)
        return subprocess.run([FERRY, "-c", "-f", cfg], capture_output=True, text=True)
    r = check("unix-bind prefix /tmp/a/\n    unix-bind prefix /tmp/b/")
    assert r.returncode == 0 and "u.cfg:3: warning: unix-bind 'prefix' already specified. Continuing." in r.stderr
    for glob, said in (("unix-bind foo 1", "'unix-bind' only supports the 'prefix', 'mode', 'uid', 'gid', 'user' and 'group' options."),
                       ("unix-bind prefix", "unix_bind 'prefix' expects a path as an argument."),
                       ("unix-bind user no-such-user", "'unix-bind' : 'no-such-user' unknown user."),
                       ("unix-bind group no-such-group", "'unix-bind' : 'no-such-group' unknown group."),
                       ("unix-bind mode 9", "'unix-bind' : 'mode' : missing or invalid mode '9' (octal integer expected)")):
        r = check(glob)
        assert r.returncode == 1 and "u.cfg:2: " + said in r.stderr, (glob, r.stderr)
    # HAProxy's limit: 107 bytes less ".<pid>.tmp" less the prefix
    r = check("unix-bind prefix /" + "p" * 89, bind="/" + "x" * 8)
    assert r.returncode == 1 and "socket path '/xxxxxxxx' too long (max 7)" in r.stderr, r.stderr
    assert check("unix-bind prefix /" + "p" * 89, bind="/" + "x" * 6).returncode == 0


def test_port_range_in_unix_path_is_part_of_the_path(ferry, backends, tmpdir_path):
    """HAProxy 2.6 reads no port in a unix address: "bind
    unix@/dir/a:8000-8010" is a socket file named "a:8000-8010" (haproxy
    2.6.12 makes that file). ferry does the same."""
    s1, = backends(1)
    port = free_port()
    a, b = os.path.join(tmpdir_path, "a:8000-8010"), os.path.join(tmpdir_path, "b:1")
    ferry(DEFAULTS + """
frontend fe
    bind unix@%s
    bind %s
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 127.0.0.1:%d
""" % (a, b, port, s1.port), wait_port=port)
    assert sorted(n for n in os.listdir(tmpdir_path) if ":" in n) == ["a:8000-8010", "b:1"]
    assert unix_ask(a) == "s1" and unix_ask(b) == "s1"


def test_servers_on_unix_sockets_checks_proxy_and_source(ferry, tmpdir_path):
    """Servers at unix@/path and /path take TCP and unix clients (round
    robin, and balance source for unix clients falls back to round robin as
    HAProxy 2.6.12); a plain connect check sees one go down; send-proxy
    sends "PROXY UNKNOWN" for a unix client and TCP4 for a TCP one."""
    p1, p2 = os.path.join(tmpdir_path, "u1.sock"), os.path.join(tmpdir_path, "u2.sock")
    u1, u2 = UnixServer(p1, "u1"), UnixServer(p2, "u2")
    fe_sock, adm = os.path.join(tmpdir_path, "fe.sock"), os.path.join(tmpdir_path, "adm.sock")
    port, pport = free_port(), free_port()
    try:
        f = ferry("""
global
    stats socket %s level admin
""" % adm + DEFAULTS + """
frontend rr
    bind 127.0.0.1:%d
    default_backend rr
backend rr
    server u1 unix@%s check inter 300ms fall 1
    server u2 %s check inter 300ms fall 1
frontend src
    bind %s
    default_backend src
backend src
    balance source
    server u1 unix@%s
    server u2 %s
frontend pp
    bind 127.0.0.1:%d
    bind %s/pp.sock
    default_backend pp
backend pp
    server u2 %s send-proxy
""" % (port, p1, p2, fe_sock, p1, p2, pport, tmpdir_path, p2), wait_port=port)
        assert wait_until(lambda: stat_status(adm, "rr", "u2") == "UP", 5)
        got = [tcp_ask(port) for _ in range(6)]
        assert sorted(got) == ["u1"] * 3 + ["u2"] * 3
        got = [unix_ask(fe_sock) for _ in range(6)]
        assert sorted(got) == ["u1"] * 3 + ["u2"] * 3, got
        state = admin(adm, "show servers state rr")
        assert " u1 - 2 " in state, state  # srv_addr "-" as HAProxy
        addrs = [l.split(",")[73] for l in admin(adm, "show stat").splitlines() if l.startswith("rr,u")]
        assert addrs == ["unix", "unix"], addrs  # HAProxy's addr of a unix server
        with u2.lock:
            u2.first.clear()
        assert unix_ask(os.path.join(tmpdir_path, "pp.sock"), b"x\n") == "u2"
        assert tcp_ask(pport, b"y\n") == "u2"
        assert wait_until(lambda: len(u2.first) >= 2, 3)
        firsts = sorted(u2.first)  # "PROXY TCP4..." < "PROXY UNKNOWN..."
        assert firsts[1] == b"PROXY UNKNOWN\r\nx\n", firsts
        assert firsts[0].startswith(b"PROXY TCP4 127.0.0.1 127.0.0.1 "), firsts
        u2.stop()
        assert wait_until(lambda: stat_status(adm, "rr", "u2") == "DOWN", 5)
        assert [tcp_ask(port) for _ in range(3)] == ["u1"] * 3
    finally:
        u1.stop()
        u2.stop()


def test_reload_keeps_unix_socket_and_connections(ferry, backends, tmpdir_path):
    """A reload hands the unix listener over: same socket file (inode), an
    established connection keeps relaying, the new mode applies."""
    s1, = backends(1)
    path = os.path.join(tmpdir_path, "fe.sock")
    port = free_port()
    conf = DEFAULTS + """
frontend fe
    bind %s mode %s
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 127.0.0.1:%d
"""
    f = ferry(conf % (path, "600", port, s1.port), wait_port=port)
    ino = os.stat(path).st_ino
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(5)
    c.connect(path)
    assert c.recv(100) == b"s1\n"
    with open(f.cfg_path, "w") as fh:
        fh.write(conf % (path, "660", port, s1.port))
    f.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: "Reloaded (SIGHUP)" in f.stderr(), 5), f.stderr()
    assert os.stat(path).st_ino == ino
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    c.sendall(b"still here\n")
    assert c.recv(100) == b"still here\n"
    c.close()
    assert unix_ask(path) == "s1"


def test_binary_upgrade_passes_unix_listener(ferry, backends, tmpdir_path):
    """-x hands the unix listener to the new process: the same socket (the
    old process bound it under its temporary name, matched back to the
    path), no new file."""
    s1, = backends(1)
    path, adm = os.path.join(tmpdir_path, "fe.sock"), os.path.join(tmpdir_path, "adm.sock")
    port = free_port()
    conf = """
global
    stats socket %s level admin expose-fd listeners
""" % adm + DEFAULTS + """
frontend fe
    bind %s
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 127.0.0.1:%d
""" % (path, port, s1.port)
    old = ferry(conf, wait_port=port)
    ino = os.stat(path).st_ino
    sub = os.path.join(tmpdir_path, "new")
    os.mkdir(sub)
    new = ferry(conf, wait_port=port, extra_args=("-x", adm, "-sf", str(old.proc.pid)), tmpdir=sub)
    assert wait_until(lambda: old.proc.poll() is not None, 10)
    assert os.stat(path).st_ino == ino  # not bound again: taken over
    assert unix_ask(path) == "s1"
    assert new.proc.poll() is None


def test_pgsql_check_wants_a_libpq_socket_path(tmpdir_path):
    """The libpq check reaches a unix socket as host=<dir> port=<n>: a path
    not named .s.PGSQL.<n> is refused at its line."""
    cfg = os.path.join(tmpdir_path, "x.cfg")
    with open(cfg, "w") as fh:
        fh.write(DEFAULTS + "backend be\n    option pgsql-check user postgres role primary\n"
                 "    server ok /run/postgresql/.s.PGSQL.5432 check\n"
                 "    server bad /run/postgresql/pg.sock check\n")
    r = subprocess.run([FERRY, "-c", "-f", cfg], capture_output=True, text=True)
    assert r.returncode == 1
    assert "x.cfg:10: server 'bad': the PostgreSQL check reaches a unix socket as libpq does" in r.stderr, r.stderr
    assert "server 'ok'" not in r.stderr


@pytest.mark.skipif(not shutil.which("psql"), reason="psql not installed")
def test_psql_through_unix_sockets_with_role_check(ferry, tmpdir_path):
    """psql -> ferry bound on a unix socket named as PostgreSQL's -> the
    server's own unix socket, with the role-aware check on that socket."""
    pg = PgCluster([free_port()]).start()
    try:
        sockdir = os.path.join(tmpdir_path, "run")
        os.mkdir(sockdir)
        fport, adm, tport = free_port(), os.path.join(tmpdir_path, "adm.sock"), free_port()
        f = ferry("""
global
    stats socket %s level admin
""" % adm + DEFAULTS + """
frontend pg
    bind %s/.s.PGSQL.%d mode 777
    bind 127.0.0.1:%d
    default_backend pg
backend pg
    option pgsql-check user postgres role primary
    server pg1 %s/.s.PGSQL.%d check inter 500ms
""" % (sockdir, fport, tport, pg.base, pg.ports[0]), wait_port=tport)
        assert wait_until(lambda: stat_status(adm, "pg", "pg1") == "UP", 10), admin(adm, "show stat")
        r = subprocess.run(["psql", "-h", sockdir, "-p", str(fport), "-U", "postgres", "-d", "postgres",
                            "-Atc", "select coalesce(inet_server_addr()::text, 'unix'), current_setting('port')"],
                           capture_output=True, text=True, timeout=30, env=dict(os.environ, PGCONNECT_TIMEOUT="5"))
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "unix|%d" % pg.ports[0]
        f.stop()
    finally:
        pg.stop()
