"""PostgreSQL role awareness against a real primary with two streaming
replicas (pg_basebackup -R) on loopback."""
import collections
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from conftest import DEFAULTS, ROOT, free_port, wait_until

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from pgcluster import PgCluster, PgReplicaSet  # noqa: E402

PSQL = shutil.which("psql") or "/usr/bin/psql"
PGBENCH = shutil.which("pgbench") or "/usr/bin/pgbench"
INTER = 0.5
RISE, FALL = 2, 2


def psql(port, sql, user="postgres", password=None, check=True):
    env = dict(os.environ, PGCONNECT_TIMEOUT="3")
    if password:
        env["PGPASSWORD"] = password
    r = subprocess.run([PSQL, "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "postgres", "-Atc", sql],
                       capture_output=True, text=True, timeout=30, env=env)
    if check:
        assert r.returncode == 0, r.stderr
    return r.stdout.strip() if r.returncode == 0 else None


@pytest.fixture(scope="module")
def rs():
    s = PgReplicaSet([free_port() for _ in range(3)], names=["pg1", "pg2", "pg3"]).start()
    psql(s.ports[0], "CREATE TABLE writes (id serial PRIMARY KEY, port int, payload text)")
    # let both replicas catch up before any test looks at them
    assert wait_until(lambda: all(psql(p, "SELECT count(*) FROM pg_class WHERE relname = 'writes'") == "1"
                                  for p in s.ports[1:]), 20)
    yield s
    s.stop()


def cfg(rw, ro, rs, ro_opts="max-lag 1MB", grace=""):
    servers = "\n".join("    server %s 127.0.0.1:%d" % (n, p) for n, p in zip(rs.names, rs.ports))
    return "global\n    log stdout format raw local0\n" + DEFAULTS + "    log global\n" + """
    default-server check inter %dms rise %d fall %d
frontend pg_rw
    bind 127.0.0.1:%d
    default_backend pg_primary
frontend pg_ro
    bind 127.0.0.1:%d
    default_backend pg_replicas
backend pg_primary
    option pgsql-check user postgres role primary
%s
%s
backend pg_replicas
    balance roundrobin
    option pgsql-check user postgres role replica %s
%s
""" % (INTER * 1000, RISE, FALL, rw, ro, grace, servers, ro_opts, servers)


def settled(f, n_down):
    """Waits until the initial checks have taken the wrong-role servers down."""
    return wait_until(lambda: len(re.findall(r"^Server pg_\w+/pg\d is DOWN", f.stdout(), re.M)) >= n_down, 5)


def test_primary_port_reaches_only_the_primary_and_replica_port_only_replicas(ferry, rs):
    rw, ro = free_port(), free_port()
    f = ferry(cfg(rw, ro, rs), wait_port=rw)
    assert settled(f, 3)  # pg2, pg3 out of pg_primary; pg1 out of pg_replicas
    assert re.search(r"^Server pg_primary/pg2 is DOWN, reason: Layer7 wrong status, code: 0, info: \"is in recovery\"",
                     f.stdout(), re.M)
    assert re.search(r"^Server pg_replicas/pg1 is DOWN, reason: Layer7 wrong status, code: 0, "
                     r"info: \"is not in recovery \(it is a primary\)\"", f.stdout(), re.M)
    for _ in range(8):
        assert psql(rw, "SELECT pg_is_in_recovery()") == "f"
    names = set()
    for _ in range(8):
        rec, name = psql(ro, "SELECT pg_is_in_recovery(), current_setting('cluster_name')").split("|")
        assert rec == "t"
        names.add(name)
    assert names == {"pg2", "pg3"}


def test_lagging_replica_leaves_and_returns(ferry, rs):
    rw, ro = free_port(), free_port()
    f = ferry(cfg(rw, ro, rs), wait_port=rw)
    assert settled(f, 3)
    psql(rs.ports[1], "SELECT pg_wal_replay_pause()")
    try:
        # write well past max-lag 1MB through the primary port
        psql(rw, "INSERT INTO writes (port, payload) SELECT 0, repeat('x', 1000) FROM generate_series(1, 4000)")
        m = f.wait_log(r"^Server pg_replicas/pg2 is DOWN, reason: Layer7 wrong status, code: 0, "
                       r"info: \"lag (\d+)MB exceeds max-lag 1MB\"",
                       timeout=FALL * INTER + 3)
        assert m, f.stdout()
        # pg3 replays the same burst and may itself be out for a moment (a real
        # lag, which ferry reports): wait until it is back, then only pg3 answers
        assert wait_until(lambda: {psql(ro, "SELECT current_setting('cluster_name')", check=False)
                                   for _ in range(4)} == {"pg3"}, RISE * INTER + 3), f.stdout()
        assert "pg_replicas/pg2 is UP" not in f.stdout()
    finally:
        psql(rs.ports[1], "SELECT pg_wal_replay_resume()")
    assert f.wait_log(r"^Server pg_replicas/pg2 is UP", timeout=RISE * INTER + 3), f.stdout()
    assert {psql(ro, "SELECT current_setting('cluster_name')") for _ in range(6)} == {"pg2", "pg3"}


def test_fresher_replicas_get_more_connections(ferry, rs):
    """Within max-lag, a replica's weight shrinks with its lag: half way to
    the limit, it gets half the new connections of a caught-up one."""
    rw, ro = free_port(), free_port()
    servers = "\n".join("    server %s 127.0.0.1:%d weight 100" % (n, p) for n, p in zip(rs.names, rs.ports))
    conf = DEFAULTS + """
    default-server check inter %dms rise %d fall %d
frontend pg_ro
    bind 127.0.0.1:%d
    default_backend pg_replicas
backend pg_replicas
    balance roundrobin
    option pgsql-check user postgres role replica max-lag 64MB
%s
""" % (INTER * 1000, RISE, FALL, ro, servers)
    ferry(conf, wait_port=ro)
    psql(rs.ports[1], "SELECT pg_wal_replay_pause()")
    try:
        # about 32MB of WAL that pg2 receives but does not replay: half of max-lag
        psql(rs.ports[0], "INSERT INTO writes (port, payload) SELECT 0, repeat('y', 1000) "
                          "FROM generate_series(1, 28000)")
        lag = lambda: int(psql(rs.ports[1], "SELECT (pg_last_wal_receive_lsn() - pg_last_wal_replay_lsn())::bigint"))
        assert wait_until(lambda: lag() > 24 << 20, 10)
        frac = lag() / (64 << 20)
        assert 0.3 < frac < 0.9, frac
        time.sleep(3 * INTER)  # a check or two to take the lag into the weights, pg3 caught up
        counts = collections.Counter(psql(ro, "SELECT current_setting('cluster_name')") for _ in range(40))
        expected_pg2 = 40 * (1 - frac) / (2 - frac)
        assert counts["pg3"] > counts["pg2"] > 0, counts
        assert abs(counts["pg2"] - expected_pg2) <= 3, (counts, frac)
    finally:
        psql(rs.ports[1], "SELECT pg_wal_replay_resume()")


def test_auth_methods_and_wrong_password(ferry, rs, tmpdir_path):
    p = rs.ports[0]
    psql(p, "SET password_encryption = 'md5'; CREATE ROLE mon_md5 LOGIN PASSWORD 'md5pw'")
    psql(p, "SET password_encryption = 'scram-sha-256'; CREATE ROLE mon_scram LOGIN PASSWORD 'scrampw'")
    psql(p, "CREATE ROLE mon_plain LOGIN PASSWORD 'plainpw'")
    rs.set_hba("pg1", ["host all mon_plain 127.0.0.1/32 password",
                       "host all mon_md5 127.0.0.1/32 md5",
                       "host all mon_scram 127.0.0.1/32 scram-sha-256"])
    port = free_port()
    conf = "global\n    log stdout format raw local0\n" + DEFAULTS + "    log global\n"
    conf += "frontend f\n    bind 127.0.0.1:%d\n    default_backend plain\n" % port
    for be, user, pw in (("plain", "mon_plain", "plainpw"), ("md5", "mon_md5", "md5pw"),
                         ("scram", "mon_scram", "scrampw"), ("wrong", "mon_scram", "nope")):
        conf += ("backend %s\n    option pgsql-check user %s password %s role any\n"
                 "    server pg1 127.0.0.1:%d check inter 300 rise 1 fall 1\n    option log-health-checks\n"
                 % (be, user, pw, p))
    # no password in the config: libpq's PGPASSFILE supplies it
    passfile = os.path.join(tmpdir_path, "pgpass")
    with open(passfile, "w") as fh:
        fh.write("127.0.0.1:%d:*:mon_md5:md5pw\n" % p)
    os.chmod(passfile, 0o600)
    conf += ("backend passfile\n    option pgsql-check user mon_md5 role any\n"
             "    server pg1 127.0.0.1:%d check inter 300 rise 1 fall 1\n    option log-health-checks\n" % p)
    f = ferry(conf, wait_port=port, env={"PGPASSFILE": passfile})
    for be in ("plain", "md5", "scram", "passfile"):
        assert f.wait_log(r"^Health check for server %s/pg1 succeeded, reason: Layer7 check passed, code: 0, "
                          r"info: \"primary, timeline \d+\"" % be, timeout=3), f.stdout()
    assert f.wait_log(r"^Health check for server wrong/pg1 failed, reason: Layer7 wrong status, code: 0, info: \".*"
                      r"password authentication failed for user <22>mon_scram<22>", timeout=3), f.stdout()
    assert f.wait_log(r"^Server wrong/pg1 is DOWN\. ", timeout=1)
    assert not re.search(r"^Server (plain|md5|scram|passfile)/pg1 is DOWN", f.stdout(), re.M)


def test_tls_sslmode(ferry, rs):
    """sslmode reaches libpq: a user allowed only over TLS is UP with
    sslmode require and DOWN, with PostgreSQL's reason, with sslmode disable."""
    d = rs.dir_of("pg1")
    subprocess.run(["openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-keyout", os.path.join(d, "server.key"), "-out", os.path.join(d, "server.crt")],
                   check=True, capture_output=True)
    if os.geteuid() == 0:
        for fn in ("server.key", "server.crt"):
            shutil.chown(os.path.join(d, fn), "postgres", "postgres")
    os.chmod(os.path.join(d, "server.key"), 0o600)
    psql(rs.ports[0], "ALTER SYSTEM SET ssl = on")
    psql(rs.ports[0], "CREATE ROLE mon_tls LOGIN")
    rs.set_hba("pg1", ["hostssl all mon_tls 127.0.0.1/32 trust", "hostnossl all mon_tls 127.0.0.1/32 reject"])
    port = free_port()
    conf = "global\n    log stdout format raw local0\n" + DEFAULTS + "    log global\n"
    conf += "frontend f\n    bind 127.0.0.1:%d\n    default_backend tls\n" % port
    for be, mode in (("tls", "require"), ("plain", "disable")):
        conf += ("backend %s\n    option pgsql-check user mon_tls sslmode %s role any\n"
                 "    option log-health-checks\n"
                 "    server pg1 127.0.0.1:%d check inter 300 rise 1 fall 1\n" % (be, mode, rs.ports[0]))
    f = ferry(conf, wait_port=port)
    assert f.wait_log(r"^Health check for server tls/pg1 succeeded", timeout=3), f.stdout()
    assert f.wait_log(r"^Health check for server plain/pg1 failed, reason: Layer7 wrong status, code: 0, info: \".*"
                      r"pg_hba.conf rejects connection for host <22>127.0.0.1<22>, user <22>mon_tls<22>", timeout=3), f.stdout()


def pg_listen(check, servers):
    """A listen section on a free port with the given pgsql-check options,
    option log-health-checks and (name, port, check options) servers.
    Returns (config, port)."""
    port = free_port()
    conf = "global\n    log stdout format raw local0\n" + DEFAULTS + "    log global\n"
    conf += "listen be\n    bind 127.0.0.1:%d\n    option pgsql-check %s\n    option log-health-checks\n" % (port, check)
    conf += "".join("    server %s 127.0.0.1:%d check %s\n" % s for s in servers)
    return conf, port


def test_a_hanging_server_does_not_block_other_checks(ferry, rs):
    """A server that accepts TCP and never answers: its check times out while
    the other server's checks keep their rhythm (libpq runs non-blocking on
    ferry's loop)."""
    from conftest import ScriptServer
    silent = ScriptServer([("recv",), ("recv",)])  # reads, never answers
    try:
        conf, port = pg_listen("user postgres role any", [("hang", silent.port, "inter 300 rise 1 fall 1"),
                                                          ("good", rs.ports[0], "inter 300 rise 1 fall 1")])
        commits = "SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'"
        f = ferry(conf, wait_port=port)
        assert f.wait_log(r"^Health check for server be/hang failed, reason: Layer7 timeout", timeout=3), f.stdout()
        assert f.wait_log(r"^Server be/hang is DOWN\. ", timeout=1), f.stdout()
        before = int(psql(rs.ports[0], commits))
        time.sleep(2.5)
        after = int(psql(rs.ports[0], commits))
        # while "hang" keeps timing out, "good" is checked every 300 ms: about
        # 8 check queries in 2.5 s (each one a committed transaction)
        assert after - before >= 5, (before, after)
        assert "Server be/good is DOWN" not in f.stdout()
        assert psql(port, "SELECT current_setting('cluster_name')") == "pg1"
    finally:
        silent.stop()


def test_check_reconnects_after_the_server_closed_its_idle_connection(ferry, rs):
    """The check keeps its connection between checks. When PostgreSQL closes
    it (idle_session_timeout here; a restart or a firewall does the same), the
    next check reconnects instead of failing: with a 1500 ms idle timeout, a
    2 s interval and fall 1, the server used to flap DOWN/UP on every other
    check."""
    p = rs.ports[0]
    psql(p, "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mon_idle') THEN "
            "CREATE ROLE mon_idle LOGIN; END IF; END$$")
    psql(p, "ALTER ROLE mon_idle SET idle_session_timeout = '1500ms'")  # this role's sessions only
    conf, port = pg_listen("user mon_idle role any", [("pg1", p, "inter 2s rise 1 fall 1")])
    f = ferry(conf, wait_port=port)
    sessions = "SELECT count(*) FROM pg_stat_activity WHERE usename = 'mon_idle'"
    assert f.wait_log(r"^Health check for server be/pg1 succeeded", timeout=3), f.stdout()
    time.sleep(7)  # three more checks, each after the server closed the last connection
    assert "failed" not in f.stdout() and "is DOWN" not in f.stdout(), f.stdout()
    assert psql(p, "SELECT count(*) FROM pg_stat_database WHERE datname = 'postgres'") == "1"
    assert int(psql(p, sessions)) <= 1
    assert psql(port, "SELECT 1") == "1"  # and it is routed to


def test_refused_connection_is_layer4_as_haproxy(ferry):
    """HAProxy 2.6.12 (Debian), option pgsql-check user monitor, closed port:
    Server be/s1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. ...
    The libpq check says the same until the TCP connection is up."""
    conf, port = pg_listen("user monitor role primary", [("s1", free_port(), "inter 300 rise 1 fall 1")])
    f = ferry(conf.replace("    option log-health-checks\n", ""), wait_port=port)
    assert f.wait_log(r'^Server be/s1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", '
                      r'check duration: \d+ms\. 0 active and 0 backup servers left\. 0 sessions active, '
                      r'0 requeued, 0 remaining in queue\.$', timeout=3), f.stdout()


def test_split_brain_different_systems_routes_nowhere(ferry):
    two = PgCluster([free_port(), free_port()], names=["a", "b"])
    # two separate initdb runs: two different system identifiers
    two.start()
    other = PgCluster([free_port()], names=["c"]).start()
    try:
        port = free_port()
        conf = "global\n    log stdout format raw local0\n" + DEFAULTS + "    log global\n" + """
listen pg_rw
    bind 127.0.0.1:%d
    option pgsql-check user postgres role primary
    server a 127.0.0.1:%d check inter 300 rise 1 fall 1
    server c 127.0.0.1:%d check inter 300 rise 1 fall 1
""" % (port, two.ports[0], other.ports[0])
        f = ferry(conf, wait_port=port)
        assert f.wait_log(r"split brain: \w and \w both claim to be primary with different system identifiers "
                          r"\(\d+, \d+\); routing to neither", timeout=3), f.stdout()
        assert f.wait_log(r"^proxy pg_rw has no server available!", timeout=3)  # a listen section (HAProxy: proxy_type_str)
        t0 = time.monotonic()
        assert psql(port, "SELECT 1", check=False) is None  # nothing routed
        assert time.monotonic() - t0 < 3
        assert "split brain" in f.stderr()
    finally:
        two.stop()
        other.stop()


def pgbench_writes(port, seconds, out):
    """Runs pgbench write transactions through port for `seconds`, starting it
    again whenever it stops on an error; records (time, ok, output)."""
    script = os.path.join(out, "write.sql")
    with open(script, "w") as fh:
        fh.write("INSERT INTO writes (port, payload) VALUES (inet_server_port(), 'pgbench');\n")
    end = time.monotonic() + seconds
    runs = []
    while time.monotonic() < end:
        r = subprocess.run([PGBENCH, "-n", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c", "1",
                            "-t", "20", "-f", script, "postgres"], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, PGCONNECT_TIMEOUT="2"))
        runs.append((time.monotonic(), r.returncode == 0 and "aborted" not in r.stderr, r.stdout + r.stderr))
        if r.returncode != 0:
            time.sleep(0.05)
    return runs


def test_switchover_writes_follow_the_promoted_replica(ferry, rs, tmpdir_path):
    import threading
    rw, ro = free_port(), free_port()
    f = ferry(cfg(rw, ro, rs, grace="    role-change-grace 0s"), wait_port=rw)
    assert settled(f, 3)
    result = {}
    t = threading.Thread(target=lambda: result.update(runs=pgbench_writes(rw, 9, tmpdir_path)))
    t.start()
    time.sleep(1.5)
    rs.stop_one("pg1")
    time.sleep(0.5)
    rs.promote("pg2")
    t_promote = time.monotonic()
    t.join()
    runs = result["runs"]
    assert runs[0][1], runs[0][2]  # writes worked before
    assert any(not ok for _, ok, _ in runs), "stopping the primary interrupted nothing?"
    back = [ts for ts, ok, _ in runs if ok and ts > t_promote]
    assert back, "no write succeeded after the promotion:\n" + "\n".join(o for _, _, o in runs[-3:])
    print("switchover: first write through the primary port %.2fs after pg_ctl promote returned"
          % (back[0] - t_promote))
    # each pgbench run takes some time after ferry switched: allow for one run
    assert back[0] - t_promote <= FALL * INTER + 1 + 1.5
    for _, ok, out in runs:
        assert "read-only transaction" not in out  # never a write on a server in recovery
    assert f.wait_log(r"^Server pg_primary/pg2 is UP", timeout=1)
    assert psql(rw, "SELECT current_setting('cluster_name')") == "pg2"
    assert f.wait_log(r"^Server pg_replicas/pg2 is DOWN, reason: Layer7 wrong status, code: 0, "
                      r"info: \"is not in recovery \(promoted to primary\)\"", timeout=2)


def test_promotion_while_old_primary_runs_newer_timeline_wins(ferry, tmpdir_path):
    """Same system identifier, two primaries: the newer timeline gets the writes,
    the old one leaves at once, and the promoted server's replica sessions are
    closed after role-change-grace."""
    s = PgReplicaSet([free_port() for _ in range(2)], names=["pg1", "pg2"]).start()
    try:
        rw, ro = free_port(), free_port()
        f = ferry(cfg(rw, ro, s, ro_opts="", grace="    role-change-grace 1s"), wait_port=rw)
        assert settled(f, 2)
        held = socket.create_connection(("127.0.0.1", ro), timeout=5)  # a session on pg2 via the replica port
        time.sleep(2 * INTER)  # every server checked at least once: ferry knows its role
        s.promote("pg2")
        t0 = time.monotonic()
        assert f.wait_log(r"^Server pg_primary/pg1 is DOWN, reason: Layer7 wrong status, code: 0, "
                          r"info: \"split brain: timeline 1 is older than pg2's timeline 2\"", timeout=4), f.stdout()
        assert f.wait_log(r"^Server pg_primary/pg2 is UP", timeout=RISE * INTER + 2), f.stdout()
        assert wait_until(lambda: psql(rw, "SELECT current_setting('cluster_name')", check=False) == "pg2", 2)
        # never both: from now on every write goes to pg2
        for _ in range(5):
            assert psql(rw, "SELECT current_setting('cluster_name')") == "pg2"
        # the replica-port session on the promoted pg2 is closed after the 1 s grace
        held.settimeout(5)
        try:
            got = held.recv(10)
        except socket.timeout:
            got = None
        assert got == b"", f.stdout() + f.stderr()
        assert 0.9 < time.monotonic() - t0 < 5
        held.close()
        assert f.wait_log(r"changed role: closed 1 session", where="stderr")
    finally:
        s.stop()

