"""Run-time DNS resolution (resolvers sections, server-template) against a
real DNS server: Debian's dnsmasq, started here on 127.0.0.1 and a free
port. dnsmasq reads --host-record/--srv-host only from its configuration
file, which SIGHUP does not read again, so a change of records restarts
it (same port, stopped by its pid)."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import DEFAULTS, FERRY, Backend, free_port, wait_until
from statsock import cli

pytestmark = pytest.mark.skipif(not shutil.which("dnsmasq") and not os.path.exists("/usr/sbin/dnsmasq"),
                                reason="dnsmasq is not installed (scripts/deps.sh)")
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
LABEL = "_postgresql._tcp.db.test"


class HostBackend(Backend):
    """A name-reporting backend on another loopback address."""

    def __init__(self, name, host, port=None):
        super().__init__(name, port=port)
        self.host = host

    def start(self):
        import threading
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(64)
        self.sock = s
        self.running = True
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()
        return self


class Dnsmasq:
    def __init__(self, tmpdir):
        self.port = free_port()
        self.conf = os.path.join(tmpdir, "dnsmasq.conf")
        self.log = os.path.join(tmpdir, "dnsmasq.log")
        self.proc = None

    def start(self, records):
        with open(self.conf, "w") as f:
            f.write("\n".join(records) + "\n")
        self.proc = subprocess.Popen(
            # --keep-in-foreground, not --no-daemon: in its debug mode dnsmasq
            # answers a TCP connection in its main process until it closes
            # (and ferry keeps its TCP connection open)
            [DNSMASQ, "--keep-in-foreground", "--log-facility=-", "--no-resolv", "--no-hosts", "--conf-file=" + self.conf,
             "--listen-address=127.0.0.1", "--bind-interfaces", "--port=%d" % self.port,
             "--pid-file=", "--user=" + os.environ.get("USER", "root") if os.getuid() == 0 else "--pid-file="],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        assert wait_until(lambda: "started" in open(self.log).read() or self.proc.poll() is not None, 5)
        assert self.proc.poll() is None, open(self.log).read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(5)
        self.proc = None

    def restart(self, records):
        self.stop()
        self.start(records)


@pytest.fixture
def dns(tmpdir_path):
    d = Dnsmasq(tmpdir_path)
    yield d
    d.stop()


@pytest.fixture
def hosts():
    made = []

    def make(names):
        out = []
        for i, n in enumerate(names):
            b = HostBackend(n, "127.0.0.%d" % (11 + len(made))).start()
            made.append(b)
            out.append(b)
        return out
    yield make
    for b in made:
        b.stop()


def srv_records(bs, n):
    recs = []
    for i, b in enumerate(bs[:n]):
        recs.append("host-record=%s.db.test,%s" % (b.name, b.host))
        recs.append("srv-host=%s,%s.db.test,%d,0,100" % (LABEL, b.name, b.port))
    return recs


def config(dns_port, sock, body, extra=""):
    return """
global
    stats socket %s level admin
resolvers dns
    nameserver ns1 127.0.0.1:%d
    timeout resolve 200ms
    timeout retry 100ms
    resolve_retries 2
    hold valid 1s
    hold obsolete 1s
    hold timeout 1s
    hold nx 1s
    hold other 1s
%s
%s
%s""" % (sock, dns_port, extra, DEFAULTS, body)


def states(sock, be):
    """name -> (addr, port, admin bits) from show servers state."""
    out = {}
    for line in cli(sock, "show servers state %s\n" % be).splitlines()[2:]:
        f = line.split()
        if len(f) > 18:
            out[f[3]] = (f[4], int(f[18]), int(f[6]))
    return out


def ask(port):
    with socket.create_connection(("127.0.0.1", port), timeout=3) as c:
        c.settimeout(3)
        return c.recv(100).decode().strip()


def up_slots(sock, be):
    return sorted(n for n, (a, p, adm) in states(sock, be).items() if not adm & 0x20)


def test_srv_template_fills_slots_and_follows_records(ferry, dns, hosts, tmpdir_path):
    bs = hosts(["pga", "pgb", "pgc", "pgd"])
    dns.start(srv_records(bs, 3))
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    f = ferry(config(dns.port, sock, """
listen pg
    bind 127.0.0.1:%d
    server-template pg 5 %s resolvers dns init-addr none
""" % (port, LABEL)), wait_port=port)
    assert wait_until(lambda: len(up_slots(sock, "pg")) == 3, 5), states(sock, "pg")
    st = states(sock, "pg")
    assert sorted((a, p) for a, p, adm in st.values() if not adm & 0x20) == \
        sorted((b.host, b.port) for b in bs[:3])
    assert sum(1 for a, p, adm in st.values() if adm & 0x20) == 2
    stat = cli(sock, "show stat\n")
    assert stat.count("MAINT (resolution)") == 2
    assert {ask(port) for _ in range(9)} == {"pga", "pgb", "pgc"}
    # a 4th record: used within hold valid + one resolution
    t0 = time.monotonic()
    dns.restart(srv_records(bs, 4))
    assert wait_until(lambda: len(up_slots(sock, "pg")) == 4, 1.0 + 0.2 + 1.0), states(sock, "pg")
    assert time.monotonic() - t0 < 2.2
    assert "pgd" in {ask(port) for _ in range(12)}
    # a record removed: its slot goes to maintenance after hold obsolete
    dns.restart(srv_records(bs, 4)[2:])          # pga gone
    gone = [n for n, (a, p, adm) in states(sock, "pg").items() if a == bs[0].host][0]
    time.sleep(0.5)
    assert gone in up_slots(sock, "pg"), "left before hold obsolete (1s)"
    assert wait_until(lambda: gone not in up_slots(sock, "pg"), 3), states(sock, "pg")
    assert "pga" not in {ask(port) for _ in range(12)}
    out = cli(sock, "show resolvers\n")
    assert "Resolvers section dns\n nameserver ns1:\n  sent:" in out
    assert int(out.split("valid:")[1].split()[0]) > 0
    f.stop()


def test_removed_record_ends_sessions_with_shutdown_sessions(ferry, dns, hosts, tmpdir_path):
    """HAProxy closes a server's sessions when it goes to maintenance only with
    on-marked-down shutdown-sessions; without it they go on."""
    bs = hosts(["pga", "pgb"])
    dns.start(srv_records(bs, 2))
    p1, p2, sock = free_port(), free_port(), os.path.join(tmpdir_path, "stats.sock")
    ferry(config(dns.port, sock, """
listen keep
    bind 127.0.0.1:%d
    server-template k 2 %s resolvers dns init-addr none
listen shut
    bind 127.0.0.1:%d
    server-template s 2 %s resolvers dns init-addr none on-marked-down shutdown-sessions
""" % (p1, LABEL, p2, LABEL)), wait_port=p1)
    assert wait_until(lambda: len(up_slots(sock, "keep")) == 2 and len(up_slots(sock, "shut")) == 2, 5)
    conns = {}
    for port in (p1, p2):
        # roundrobin: one of the first two lands on pga
        for _ in range(4):
            c = socket.create_connection(("127.0.0.1", port), timeout=3)
            c.settimeout(3)
            if c.recv(100).decode().strip() == "pga":
                conns[port] = c
                break
            c.close()
    assert set(conns) == {p1, p2}
    dns.restart(srv_records(bs, 2)[2:])           # pga's record removed
    assert wait_until(lambda: len(up_slots(sock, "shut")) == 1, 4)
    conns[p2].settimeout(2)
    assert conns[p2].recv(10) == b""               # closed
    conns[p1].sendall(b"still\n")
    assert conns[p1].recv(10) == b"still\n"        # goes on
    for c in conns.values():
        c.close()


def test_dns_down_keeps_addresses_for_hold_timeout(ferry, dns, hosts, tmpdir_path):
    bs = hosts(["app1"])
    dns.start(["host-record=app.db.test,%s" % bs[0].host])
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    ferry(config(dns.port, sock, """
listen app
    bind 127.0.0.1:%d
    server app app.db.test:%d resolvers dns init-addr none resolve-prefer ipv4
""" % (port, bs[0].port)), wait_port=port)
    assert wait_until(lambda: states(sock, "app")["app"][0] == bs[0].host, 5)
    t0 = time.monotonic()
    dns.stop()
    time.sleep(0.6)
    assert ask(port) == "app1"                      # within hold timeout (1s)
    assert states(sock, "app")["app"][2] & 0x20 == 0
    assert wait_until(lambda: states(sock, "app")["app"][2] & 0x20, 4)
    assert time.monotonic() - t0 >= 1.0
    assert "timeout:     0" not in cli(sock, "show resolvers dns\n")


def test_a_record_change_moves_new_connections(ferry, dns, hosts, tmpdir_path):
    old, new = hosts(["old", "new"])
    new.stop()
    new = HostBackend("new", new.host, port=old.port).start()   # same port, another address
    try:
        dns.start(["host-record=app.db.test,%s" % old.host])
        port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
        f = ferry(config(dns.port, sock, """
listen app
    bind 127.0.0.1:%d
    server app app.db.test:%d resolvers dns resolve-prefer ipv4 init-addr none
""" % (port, old.port)), wait_port=port)
        assert wait_until(lambda: states(sock, "app")["app"][0] == old.host, 5)
        held = socket.create_connection(("127.0.0.1", port), timeout=3)
        held.settimeout(3)
        assert held.recv(100).decode().strip() == "old"
        dns.restart(["host-record=app.db.test,%s" % new.host])
        assert wait_until(lambda: states(sock, "app")["app"][0] == new.host, 3)
        assert ask(port) == "new"
        held.sendall(b"x\n")
        assert held.recv(10) == b"x\n"              # the established one goes on
        held.close()
        assert "changed its IP from %s to %s" % (old.host, new.host) in f.stderr()
    finally:
        new.stop()


def test_unresolvable_with_resolvers_starts_in_maintenance(ferry, dns, tmpdir_path):
    dns.start(["host-record=other.db.test,127.0.0.30"])
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    f = ferry(config(dns.port, sock, """
listen app
    bind 127.0.0.1:%d
    server app nosuch.invalid:80 resolvers dns
""" % port), wait_port=port)
    assert "could not resolve address 'nosuch.invalid', disabling server." in f.stderr()
    assert states(sock, "app")["app"][2] & 0x20


def tcp_conns_to(port):
    """Established TCP connections to 127.0.0.1:port (ss, iproute2)."""
    out = subprocess.run(["ss", "-Htn", "state", "established", "( dport = :%d )" % port],
                         capture_output=True, text=True, timeout=5).stdout
    return [l for l in out.splitlines() if l.strip()]


def test_tcp_nameserver(ferry, dns, hosts, tmpdir_path):
    """nameserver tcp@: DNS over TCP (2-byte length prefix) to dnsmasq, which
    answers on TCP at the same port; the connection is kept between
    resolutions, and a record change is followed through it."""
    old, new = hosts(["old", "new"])
    dns.start(["host-record=app.db.test,%s" % old.host])
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    cfg = config(dns.port, sock, """
listen app
    bind 127.0.0.1:%d
    server app app.db.test:%d resolvers dns init-addr none resolve-prefer ipv4
""" % (port, old.port)).replace("nameserver ns1 127.0.0.1:%d" % dns.port,
                                "nameserver ns1 tcp@127.0.0.1:%d maxconn 4" % dns.port)
    ferry(cfg, wait_port=port)
    assert wait_until(lambda: states(sock, "app")["app"][0] == old.host, 5), states(sock, "app")
    assert ask(port) == "old"
    conns = tcp_conns_to(dns.port)
    assert len(conns) == 1, conns                  # one connection, kept
    time.sleep(0.6)                                # three more resolutions (timeout resolve 200ms)
    assert tcp_conns_to(dns.port) == conns
    out = cli(sock, "show resolvers dns\n")
    assert int(out.split("valid:")[1].split()[0]) >= 3, out
    # dnsmasq restarts (its TCP connection drops): a new one is opened
    new.stop()
    new = HostBackend("new", new.host, port=old.port).start()
    try:
        dns.restart(["host-record=app.db.test,%s" % new.host])
        assert wait_until(lambda: states(sock, "app")["app"][0] == new.host, 4), states(sock, "app")
        assert ask(port) == "new"
    finally:
        new.stop()


def test_cname_chain(ferry, dns, hosts, tmpdir_path):
    """A name that is a CNAME: the address is the chain's last target's
    (dnsmasq puts the CNAME and the target's A record in one answer), and
    show resolvers counts the answers that went through a CNAME."""
    bs = hosts(["real"])
    dns.start(["host-record=real.db.test,%s" % bs[0].host, "cname=app.db.test,real.db.test"])
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    ferry(config(dns.port, sock, """
listen app
    bind 127.0.0.1:%d
    server app app.db.test:%d resolvers dns init-addr none resolve-prefer ipv4
""" % (port, bs[0].port)), wait_port=port)
    assert wait_until(lambda: states(sock, "app")["app"][0] == bs[0].host, 5), states(sock, "app")
    assert ask(port) == "real"
    out = cli(sock, "show resolvers dns\n")
    assert int(out.split("cname:")[1].split()[0]) >= 1, out
    assert int(out.split("cname_error:")[1].split()[0]) == 0, out


def reload_now(f):
    before = f.stderr().count("Reload")
    f.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: f.stderr().count("Reload") > before, 5), f.stderr()
    assert "Reloaded (SIGHUP)" in f.stderr().split("Reload")[-1] or "Reloaded" in f.stderr()


def test_reload_keeps_resolved_addresses(ferry, dns, hosts, tmpdir_path):
    """A reload carries each server's resolved address, its slot's SRV
    record and its resolution state: nothing blinks, even when the DNS
    server is gone at the time of the reload (hold timeout goes on)."""
    bs = hosts(["pga", "pgb", "pgc", "app1"])
    dns.start(srv_records(bs, 3) + ["host-record=app.db.test,%s" % bs[3].host])
    port, p2, sock = free_port(), free_port(), os.path.join(tmpdir_path, "stats.sock")
    f = ferry(config(dns.port, sock, """
listen pg
    bind 127.0.0.1:%d
    server-template pg 5 %s resolvers dns init-addr none
listen app
    bind 127.0.0.1:%d
    server app app.db.test:%d resolvers dns init-addr none resolve-prefer ipv4
""" % (port, LABEL, p2, bs[3].port), extra="    hold timeout 4s"), wait_port=port)
    assert wait_until(lambda: len(up_slots(sock, "pg")) == 3 and states(sock, "app")["app"][0] == bs[3].host, 5)
    before = (states(sock, "pg"), states(sock, "app"))
    reload_now(f)                                   # steady state
    assert (states(sock, "pg"), states(sock, "app")) == before
    assert {ask(port) for _ in range(9)} == {"pga", "pgb", "pgc"}
    dns.stop()                                      # then the DNS server goes away
    reload_now(f)
    assert (states(sock, "pg"), states(sock, "app")) == before
    assert {ask(port) for _ in range(9)} == {"pga", "pgb", "pgc"}
    assert ask(p2) == "app1"
    # the hold goes on from the last valid answer, not from the reload
    assert wait_until(lambda: states(sock, "app")["app"][2] & 0x20, 8)


def test_init_addr_last_restores_saved_addresses(ferry, dns, hosts, tmpdir_path):
    """init-addr last, as HAProxy 2.6: "show servers state" saved to the
    server-state-file gives the next start its addresses, the DNS server
    being gone: a host-name server takes its saved address (with its
    configured port), a server-template slot its saved SRV record (target,
    port, address). As in HAProxy they are kept for "hold timeout" counted
    from the start, then the slot and the server go to maintenance."""
    bs = hosts(["pga", "pgb", "app1"])
    dns.start(srv_records(bs, 2) + ["host-record=app.db.test,%s" % bs[2].host])
    port, p2, sock = free_port(), free_port(), os.path.join(tmpdir_path, "stats.sock")
    state = os.path.join(tmpdir_path, "servers.state")
    body = """
listen pg
    bind 127.0.0.1:%d
    load-server-state-from-file global
    server-template pg 3 %s resolvers dns init-addr last,none
listen app
    bind 127.0.0.1:%d
    load-server-state-from-file global
    server app app.db.test:%d resolvers dns init-addr last,none resolve-prefer ipv4
""" % (port, LABEL, p2, bs[2].port)
    cfg = config(dns.port, sock, body, extra="    hold timeout 3s").replace(
        "level admin\n", "level admin\n    server-state-file %s\n" % state, 1)
    f = ferry(cfg, wait_port=port)
    assert wait_until(lambda: len(up_slots(sock, "pg")) == 2 and states(sock, "app")["app"][0] == bs[2].host, 5)
    saved = states(sock, "pg")
    dns.stop()
    with open(state, "w") as out:
        out.write(cli(sock, "show servers state\n"))
    f.stop()
    if os.path.exists(sock):
        os.unlink(sock)
    t0 = time.monotonic()
    os.makedirs(os.path.join(tmpdir_path, "second"))
    ferry(cfg, wait_port=port, tmpdir=os.path.join(tmpdir_path, "second"))
    assert states(sock, "pg") == saved              # same slots, addresses and ports
    assert states(sock, "app")["app"][0] == bs[2].host
    assert {ask(port) for _ in range(6)} == {"pga", "pgb"}
    assert ask(p2) == "app1"
    fq = [l.split()[17] for l in cli(sock, "show servers state pg\n").splitlines()[2:] if len(l.split()) > 17]
    assert sorted(fq) == ["-", "pga.db.test", "pgb.db.test"], fq
    time.sleep(max(0.0, 1.5 - (time.monotonic() - t0)))   # several resolutions timed out
    assert len(up_slots(sock, "pg")) == 2 and ask(p2) == "app1"
    # no answer for hold timeout (3s) since the start: maintenance, as HAProxy
    assert wait_until(lambda: not up_slots(sock, "pg") and states(sock, "app")["app"][2] & 0x20, 5)
    assert time.monotonic() - t0 >= 2.9


def test_init_addr_last_without_state_is_refused_or_held(ferry, tmpdir_path):
    """"init-addr last" alone and no saved address: no method resolves it,
    an error at its line (HAProxy 2.6: "no method found to resolve
    address"); with a saved address ferry starts, as HAProxy."""
    port = free_port()
    state = os.path.join(tmpdir_path, "servers.state")
    cfg = """
global
    server-state-file %s
%s
listen app
    bind 127.0.0.1:%d
    load-server-state-from-file global
    server app nosuch.invalid:%d init-addr last
""" % (state, DEFAULTS, port, port + 1)
    path = os.path.join(tmpdir_path, "x.cfg")
    with open(path, "w") as out:
        out.write(cfg)
    r = subprocess.run([FERRY, "-c", "-f", path],
                       capture_output=True, text=True, timeout=10)
    line = [i for i, l in enumerate(cfg.splitlines(), 1) if "init-addr last" in l][0]
    assert r.returncode != 0, r.stderr
    assert "x.cfg:%d: server 'app': could not resolve address 'nosuch.invalid'" % line in r.stderr, r.stderr
    with open(state, "w") as out:
        out.write("1\n# header\n2 app 1 app 127.0.0.1 2 0 1 1 5 1 0 2 0 0 0 0 nosuch.invalid %d - 0 0 - - 0\n" % (port + 1))
    r = subprocess.run([FERRY, "-c", "-f", path],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    b = Backend("saved", port=port + 1).start()
    try:
        ferry(cfg, wait_port=port)
        assert ask(port) == "saved"
    finally:
        b.stop()


def test_add_server_refuses_resolvers(ferry, dns, tmpdir_path):
    """HAProxy 2.6's dynamic servers do not resolve: "add server" refuses
    the resolution keywords with its sentence."""
    dns.start(["host-record=app.db.test,127.0.0.1"])
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    ferry(config(dns.port, sock, """
backend be
    balance roundrobin
    server s1 127.0.0.1:9
listen app
    bind 127.0.0.1:%d
    server s 127.0.0.1:9
""" % port), wait_port=port)
    for kw in ("resolvers dns", "resolve-prefer ipv4", "resolve-net 10.0.0.0/8", "resolve-opts allow-dup-ip"):
        out = cli(sock, "add server be/x app.db.test:80 %s\n" % kw)
        assert out.strip() == "'%s' option is not accepted for dynamic server" % kw.split()[0], out
    assert "x" not in states(sock, "be")
