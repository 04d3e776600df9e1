"""wait-for-server (ferry's own backend keyword): a client that finds no
usable server waits in the backend's queue for one to come UP, for up to the
delay, instead of being closed at once. Real sockets: the server is a real
listener started while the client waits; the log lines are ferry's own."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import DEFAULTS, ROOT, Backend, free_port, recv_within, wait_until
from statsock import cmd, csv_rows, row

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import pgcluster  # noqa: E402

LOGGED = "global\n    log stdout format raw local0\n" + DEFAULTS.replace("mode tcp", "mode tcp\n    log global\n    option tcplog")


def config(port, srv_port, wait="", algo="roundrobin", srv_opts="", extra="", stats=None):
    glob = "    stats socket %s level admin\n" % stats if stats else ""
    return LOGGED.replace("global\n", "global\n" + glob, 1) + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    balance %s
%s%s
    server s1 127.0.0.1:%d check inter 100ms rise 1 fall 1 %s
""" % (port, algo, "    wait-for-server %s\n" % wait if wait else "", extra, srv_port, srv_opts)


def down(f):
    assert f.wait_log(r"^Server be/s1 is DOWN", timeout=5), f.stdout()


def closed(c, timeout=5):
    """Whether ferry closed c within timeout (a FIN, or a reset when our
    bytes were still unread)."""
    c.settimeout(timeout)
    try:
        return c.recv(100) == b""
    except ConnectionResetError:
        return True


def read_until(c, n, timeout=5):
    c.settimeout(timeout)
    data = b""
    while len(data) < n:
        d = c.recv(65536)
        if not d:
            break
        data += d
    return data


@pytest.mark.parametrize("algo", ["roundrobin", "leastconn", "first", "source"])
def test_client_waits_and_reaches_the_server_that_comes_up(ferry, tmpdir_path, algo):
    port, sport = free_port(), free_port()
    sock = "%s/stats.sock" % tmpdir_path
    f = ferry(config(port, sport, wait="5s", algo=algo, stats=sock), wait_port=port)
    down(f)
    payload = b"bytes sent while no server was up " * 100
    b = Backend("s1", port=sport, mode="name")
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        c.sendall(payload)
        assert recv_within(c, 0.8) is None  # held, not closed
        assert row(csv_rows(sock), "be", "BACKEND")["qcur"] == "1"  # counted in the backend's queue
        t_up = time.monotonic()
        b.start()
        got = read_until(c, 3 + len(payload))
        assert got == b"s1\n" + payload  # the server's greeting, then our bytes echoed intact
        assert time.monotonic() - t_up < 2  # sent on as soon as the check saw it UP
    finally:
        c.close()
        b.stop()
    m = f.wait_log(r" fe be/s1 (\d+)/\d+/\d+ \d+ -- \S+ 0/1$")
    assert m, f.stdout()
    assert 700 <= int(m.group(1)) < 5000  # %Tw: the time it waited
    assert row(csv_rows(sock), "be", "BACKEND")["qcur"] == "0"


def test_waiting_clients_go_in_arrival_order(ferry, backends):
    """maxconn 1: the first client to arrive gets the slot, the second waits
    for it (then in the backend queue for a slot, as HAProxy's)."""
    port, sport = free_port(), free_port()
    f = ferry(config(port, sport, wait="5s", srv_opts="maxconn 1", extra="    timeout queue 5s"), wait_port=port)
    down(f)
    first = socket.create_connection(("127.0.0.1", port), timeout=5)
    time.sleep(0.1)
    second = socket.create_connection(("127.0.0.1", port), timeout=5)
    b = Backend("s1", port=sport, mode="name")
    try:
        assert recv_within(first, 0.3) is None
        b.start()
        assert read_until(first, 3) == b"s1\n"
        assert recv_within(second, 0.5) is None  # its turn comes when the first one leaves
        first.close()
        assert read_until(second, 3) == b"s1\n"
    finally:
        first.close()
        second.close()
        b.stop()
    assert f.wait_log(r" fe be/s1 \d+/\d+/\d+ \d+ -- \S+ 0/2$"), f.stdout()


def test_no_server_within_the_delay_closes_sQ(ferry):
    port, sport = free_port(), free_port()
    f = ferry(config(port, sport, wait="600ms", extra="    timeout queue 5s"), wait_port=port)
    down(f)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"hello")
        assert closed(c)
    assert 0.55 < time.monotonic() - t0 < 2  # wait-for-server, not timeout queue
    m = f.wait_log(r" fe be/<NOSRV> (\d+)/-1/\d+ 0 sQ ")
    assert m, f.stdout()
    assert 550 <= int(m.group(1)) < 1500


@pytest.mark.parametrize("how", ["not set", "0 in the backend, 5s in defaults"])
def test_without_the_option_closed_at_once_SC(ferry, how):
    port, sport = free_port(), free_port()
    conf = config(port, sport, extra="    timeout queue 5s")
    if how != "not set":
        conf = config(port, sport, wait="0", extra="    timeout queue 5s").replace(
            "    timeout server 30s\n", "    timeout server 30s\n    wait-for-server 5s\n")
    f = ferry(conf, wait_port=port)
    down(f)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert closed(c)
    assert time.monotonic() - t0 < 0.5
    assert f.wait_log(r" fe be/<NOSRV> -1/-1/\d+ 0 SC "), f.stdout()


def test_connect_refused_before_the_check_saw_it_waits_too(ferry):
    """The server dies between two checks: the connect is refused, the retry
    finds it DOWN, and instead of failing the client waits for it."""
    port, sport = free_port(), free_port()
    b = Backend("s1", port=sport, mode="name").start()
    conf = config(port, sport, wait="5s").replace("inter 100ms rise 1 fall 1", "inter 2s rise 1 fall 1")
    f = ferry(conf, wait_port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert read_until(c, 3) == b"s1\n"
    b.stop()
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        down(f)  # after a refused connect and its retries, or the next check
        assert recv_within(c, 0.3) is None
        b = Backend("s1", port=sport, mode="name").start()
        assert read_until(c, 3, timeout=6) == b"s1\n"
    finally:
        c.close()
        b.stop()
    assert f.wait_log(r" fe be/s1 \d+/\d+/\d+ \d+ -- "), f.stdout()
    assert " SC " not in f.stdout()


def test_reload_keeps_the_waiting_client_until_its_deadline(ferry):
    """A client waiting at a reload stays with the configuration it started
    on (whose servers no longer change): it is closed sQ at the end of its
    wait, logged, never dropped silently; new clients wait on the new one."""
    port, sport = free_port(), free_port()
    f = ferry(config(port, sport, wait="1500ms"), wait_port=port)
    down(f)
    old = socket.create_connection(("127.0.0.1", port), timeout=5)
    t0 = time.monotonic()
    try:
        assert recv_within(old, 0.2) is None
        before = f.stderr().count("Reload")
        f.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: f.stderr().count("Reload") > before, 5), f.stderr()
        assert closed(old)
        assert 1.3 < time.monotonic() - t0 < 4
    finally:
        old.close()
    assert f.wait_log(r" fe be/<NOSRV> \d+/-1/\d+ 0 sQ "), f.stdout()
    b = Backend("s1", port=sport, mode="name")
    new = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        assert recv_within(new, 0.2) is None
        b.start()
        assert read_until(new, 3) == b"s1\n"
    finally:
        new.close()
        b.stop()


# ---- a PostgreSQL switchover through the primary port --------------------------

PGBENCH = shutil.which("pgbench") or "/usr/bin/pgbench"
PSQL = shutil.which("psql") or "/usr/bin/psql"
INTER_MS = 200


def have_postgres():
    try:
        pgcluster.bindir()
    except RuntimeError:
        return False
    return os.path.exists(PGBENCH) and os.path.exists(PSQL)


def psql(port, sql):
    r = subprocess.run([PSQL, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres", "-Atc", sql],
                       capture_output=True, text=True, timeout=30, env=dict(os.environ, PGCONNECT_TIMEOUT="5"))
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def pgbench_loop(port, seconds, script):
    """pgbench -C (a new connection per transaction), 2 clients on 2 threads
    (its connects block their thread), for
    `seconds`, started again whenever its clients aborted on an error.
    Returns (transactions done, clients aborted, error lines)."""
    end = time.monotonic() + seconds
    done = aborted = 0
    errors = []
    while True:
        left = int(round(end - time.monotonic()))
        if left < 1:
            break
        r = subprocess.run([PGBENCH, "-n", "-C", "-c", "2", "-j", "2", "-T", str(left), "-f", script,
                            "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "postgres"],
                           capture_output=True, text=True, timeout=seconds + 30,
                           env=dict(os.environ, PGCONNECT_TIMEOUT="20"))
        m = re.search(r"number of transactions actually processed: (\d+)", r.stdout)
        done += int(m.group(1)) if m else 0
        lost = len(re.findall(r"client \d+ aborted", r.stderr))
        aborted += lost
        errors += [l for l in r.stderr.splitlines() if "error" in l.lower() or "fatal" in l.lower()]
        if r.returncode != 0 and not lost:
            aborted += 1  # it stopped on something else: count it, never hide it
        if r.returncode != 0:
            time.sleep(0.05)
    return done, aborted, errors


@pytest.mark.skipif(not have_postgres(), reason="PostgreSQL server binaries, psql or pgbench not installed")
@pytest.mark.parametrize("wait", ["10s", None])
def test_switchover_with_pgbench(ferry, tmpdir_path, wait):
    """A primary and a replica behind the role check; pgbench -C writes
    through the primary port while the primary is stopped and the replica
    promoted. With wait-for-server no connection fails and nothing is written
    on a server in recovery; without it, the failures are counted."""
    rs = pgcluster.PgReplicaSet([free_port(), free_port()], names=["pg1", "pg2"]).start()
    try:
        psql(rs.ports[0], "CREATE TABLE t (id serial PRIMARY KEY, in_recovery bool, port int)")
        assert wait_until(lambda: psql(rs.ports[1], "SELECT count(*) FROM pg_class WHERE relname = 't'") == "1", 20)
        port = free_port()
        sock = "%s/stats.sock" % tmpdir_path
        conf = LOGGED.replace("global\n", "global\n    stats socket %s level admin\n" % sock, 1) + """
frontend pg_rw
    bind 127.0.0.1:%d
    default_backend pg_primary
backend pg_primary
    option pgsql-check user postgres role primary
    default-server check inter %dms rise 1 fall 1
%s    server pg1 127.0.0.1:%d
    server pg2 127.0.0.1:%d
""" % (port, INTER_MS, "    wait-for-server %s\n" % wait if wait else "", rs.ports[0], rs.ports[1])
        f = ferry(conf, wait_port=port)
        assert f.wait_log(r"^Server pg_primary/pg2 is DOWN", timeout=5), f.stdout()
        script = os.path.join(tmpdir_path, "write.sql")
        with open(script, "w") as fh:
            fh.write("INSERT INTO t (in_recovery, port) SELECT pg_is_in_recovery(), inet_server_port();\n")
        result = {}
        t = threading.Thread(target=lambda: result.update(r=pgbench_loop(port, 7, script)))
        t.start()
        try:
            time.sleep(1.5)
            # the switchover: no new connection to the old primary, its last
            # transactions end, it stops, the replica is promoted
            assert "Server" not in cmd(sock, "set server pg_primary/pg1 state drain")
            assert wait_until(lambda: row(csv_rows(sock), "pg_primary", "pg1")["scur"] == "0", 3), {k: v for k, v in row(csv_rows(sock), "pg_primary", "pg1").items() if k in ("scur", "status", "qcur")}
            rs.stop_one("pg1")
            time.sleep(0.3)
            rs.promote("pg2")
            assert f.wait_log(r"^Server pg_primary/pg2 is UP", timeout=3), f.stdout()
        finally:
            t.join()
        done, aborted, errors = result["r"]
        rows = psql(rs.ports[1], "SELECT count(*), count(*) FILTER (WHERE in_recovery), "
                                 "count(*) FILTER (WHERE port = %d) FROM t" % rs.ports[1]).split("|")
        waited = re.findall(r" pg_primary/pg2 (\d+)/\d+/\d+ \d+ -- \S+ \d+/[1-9]\d*$", f.stdout(), re.M)
        print("wait-for-server %s: %d transactions, %d pgbench clients aborted, %d rows on pg2 (%d written there), "
              "%d in recovery; %d connections waited in the queue, longest %s ms; errors: %s"
              % (wait, done, aborted, int(rows[0]), int(rows[2]), int(rows[1]), len(waited),
                 max(map(int, waited)) if waited else "-", errors[:3]))
        assert int(rows[1]) == 0  # never a write on a server in recovery
        assert not any("read-only transaction" in e for e in errors)
        assert int(rows[2]) > 0  # writes went on on the promoted server
        if wait:
            assert aborted == 0, errors
            assert not errors
            assert waited  # some really were held through the switchover
            assert done == int(rows[0])  # every transaction pgbench counted is there
        else:
            assert aborted > 0, "no failure without wait-for-server?"
    finally:
        rs.stop()
