"""The runtime API's changing commands: what they do to real traffic, and
their answers and log lines, compared with Debian's HAProxy 2.6.12 for the
same configuration and commands (the expected texts were captured from it)."""
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import DEFAULTS, free_port, wait_until
from statsock import Prompt, cli, cmd, csv_rows, row, sockets_cfg


def hello(port, timeout=5):
    """A connection through ferry and the name of the server that took it."""
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    name = c.recv(100).decode().strip()
    return c, name


def names(port, n):
    out = []
    for _ in range(n):
        c, name = hello(port)
        c.close()
        out.append(name)
    return out


@pytest.fixture
def lab(ferry, tmpdir_path, backends):
    """HAProxy's comparison configuration with live servers: be (s1 checked
    with maxconn 10, s2 checked with weight 3, s3 with an agent that nobody
    answers) and a static-rr listen section."""
    s1, s2, s3, x1 = backends(4, names=["s1", "s2", "s3", "x1"])
    fe, l = free_port(), free_port()
    cfg = sockets_cfg(tmpdir_path) + DEFAULTS + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    balance roundrobin
    server s1 127.0.0.1:%d check inter 1s maxconn 10
    server s2 127.0.0.1:%d check inter 1s weight 3
    server s3 127.0.0.1:%d agent-check agent-port %d agent-inter 1s
listen l
    bind 127.0.0.1:%d
    balance static-rr
    server x1 127.0.0.1:%d
""" % (fe, s1.port, s2.port, s3.port, free_port(), l, x1.port)
    f = ferry(cfg, wait_port=fe)
    f.fe, f.l = fe, l
    f.backends = {"s1": s1, "s2": s2, "s3": s3, "x1": x1}
    f.a = os.path.join(tmpdir_path, "admin.sock")
    f.o = os.path.join(tmpdir_path, "oper.sock")
    f.u = os.path.join(tmpdir_path, "user.sock")
    return f


# The answers of HAProxy 2.6.12 (with the configuration above) to commands
# ferry implements the same way. "" is an empty answer (just the empty line).
ANSWERS = [
    ("set server be/s1", "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n"),
    ("set server be/s1 foo", "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n"),
    ("set server be/s1 state foo", "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"),
    ("set server be/s1 weight 5x", "Trailing garbage in weight string"),
    ("set server be/s1 weight", "Require <weight> or <weight%>.\n"),
    ("set server be/s1 weight 300", "Absolute weight can only be between 0 and 256 inclusive.\n"),
    ("set server be/s1 weight -5%", "Relative weight must be positive.\n"),
    ("set server be/s1 weight abc", "Empty weight string empty or preceded by garbage"),
    ("set server be/s1 health foo", "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n"),
    ("set server be/s1 agent up", "agent checks are not enabled on this server.\n"),
    ("set server be/s1 addr", "set server <b>/<s> addr requires an address and optionally a port.\n"),
    ("set server be/s1 addr 1.2.3", "Invalid addr '1.2.3' by 'stats socket command'\n"),
    ("set server be/s1 addr 127.0.0.1", "no need to change the addr by 'stats socket command'\n"),
    ("set server be/s1 addr 127.0.0.1 port abc",
     "no need to change the addr, problem converting port 'abc' to an int by 'stats socket command'\n"),
    ("set server nosuch/s1 state ready", "No such backend.\n"),
    ("set server be state ready", "Require 'backend/server'.\n"),
    ("set server be/ state ready", "Require 'backend/server'.\n"),
    ("set server be/nosuch state ready", "No such server.\n"),
    ("set weight be/s1", "Require <weight> or <weight%>.\n"),
    ("get weight be/s1", "1 (initial 1)\n"),
    ("get weight be/s2", "3 (initial 3)\n"),
    ("get weight be", "Require 'backend/server'.\n"),
    ("get weight", "Require 'backend/server'.\n"),
    ("get weight nosuch/x", "No such backend.\n"),
    ("set weight l/x1 5", "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"),
    ("set maxconn server be/s1", "Require <maxconn>.\n"),
    ("set maxconn server be/s1 abc", "maxconn string empty or preceded by garbage"),
    ("set maxconn server be/s1 5x", "Trailing garbage in maxconn string"),
    ("set maxconn frontend fe", "Integer value expected.\n"),
    ("set maxconn frontend fe -1", "Value out of range.\n"),
    ("set maxconn frontend nosuch 10", "No such frontend.\n"),
    ("set maxconn frontend", "A frontend name is expected.\n"),
    ("set maxconn global", "Expects an integer value.\n"),
    ("set maxconn global 99999999", "Value out of range.\n"),
    ("disable health be/x1", "No such server.\n"),
    ("enable health be/s3", "Health check was not configured on this server, cannot enable.\n"),
    ("enable agent be/s1", "Agent was not configured on this server, cannot enable.\n"),
    ("enable health nosuch/x", "No such backend.\n"),
    ("shutdown session 0x1234", "No such session (use 'show sess').\n"),
    ("shutdown session", "Session pointer expected (use 'show sess').\n"),
    ("shutdown session xyz", "Session pointer expected (use 'show sess').\n"),
    ("shutdown sessions server be", "Require 'backend/server'.\n"),
    ("show sess 0x1234", "Session not found.\n"),
    ("add server nosuch/s9 127.0.0.1:1", "No such backend."),
    ("add server be 127.0.0.1:1", "Require 'backend/server'."),
    ("add server be/s9", "'server' expects <name> and <addr>[:<port>] as arguments.\n"),
    ("add server be/s9 127.0.0.1:1 no-check", "'no-check' option is not accepted for dynamic server\n"),
    ("add server be/s9 127.0.0.1:1 init-addr last", "'init-addr' option is not accepted for dynamic server\n"),
    ("add server be/s1 127.0.0.1:1", "Already exists a server with the same name in backend.\n"),
    ("add server l/s9 127.0.0.1:1", "Backend must use a dynamic load balancing to support dynamic servers."),
    ("del server be/s1", "Only servers in maintenance mode can be deleted."),
    ("del server be/nosuch", "No such server."),
    ("del server nosuch/x", "No such backend."),
    ("del server be", "Require 'backend/server'."),
    ("enable frontend fe", "All sockets are already enabled.\n"),
]


def test_answers_as_haproxy(lab):
    for line, answer in ANSWERS:
        assert cli(lab.a, line + "\n") == answer + "\n", line


def test_levels_as_haproxy(lab):
    # HAProxy 2.6.12: every change is for admins (operators get "Permission
    # denied" even for weights), reading is for everyone but "show sess"
    # and "show errors" (operators)
    for line in ["set weight be/s1 10", "set server be/s1 state drain", "disable server be/s1",
                 "enable server be/s1", "set maxconn server be/s1 5", "set maxconn global 10",
                 "set maxconn frontend fe 10", "disable frontend fe", "shutdown frontend fe",
                 "add server be/s9 127.0.0.1:1", "del server be/s1", "disable health be/s1",
                 "enable agent be/s3", "shutdown session 0x1", "shutdown sessions server be/s1",
                 "clear counters all", "reload"]:
        assert cmd(lab.o, line) == "Permission denied\n", line
        assert cmd(lab.u, line) == "Permission denied\n", line
    assert cmd(lab.u, "show sess") == "Permission denied\n"
    assert cmd(lab.u, "get weight be/s2") == "3 (initial 3)\n"
    assert cmd(lab.o, "show sess") == ""
    assert cmd(lab.a, "reload").startswith("Reloaded (stats socket): generation 2 replaces 1.\n")


def test_weight(lab):
    assert wait_until(lambda: row(csv_rows(lab.a), "be", "s1")["status"] == "UP", 5)
    assert cmd(lab.a, "set server be/s2 weight 0") == ""
    assert cmd(lab.a, "get weight be/s2") == "0 (initial 3)\n"
    assert set(names(lab.fe, 6)) == {"s1", "s3"}
    assert cmd(lab.a, "set weight be/s2 200%") == ""
    assert cmd(lab.a, "get weight be/s2") == "6 (initial 3)\n"
    got = names(lab.fe, 32)
    assert got.count("s2") == 24 and got.count("s1") == 4 and got.count("s3") == 4
    r = row(csv_rows(lab.a), "be", "s2")
    assert (r["weight"], r["uweight"]) == ("6", "6")
    assert row(csv_rows(lab.a), "be", "BACKEND")["weight"] == "8"
    # static-rr takes 0% and 100% only, as HAProxy
    assert cmd(lab.a, "set weight l/x1 0") == ""
    with socket.create_connection(("127.0.0.1", lab.l), timeout=5) as c:
        assert c.recv(10) == b""  # no server left
    assert cmd(lab.a, "set weight l/x1 100%") == ""
    assert names(lab.l, 1) == ["x1"]


def test_drain_maint_ready(lab):
    assert wait_until(lambda: all(row(csv_rows(lab.a), "be", s)["status"] == "UP" for s in ("s1", "s2")), 5)
    c, first = hello(lab.fe)
    assert cmd(lab.a, "set server be/%s state drain" % first) == ""
    r = row(csv_rows(lab.a), "be", first)
    assert r["status"] == "DRAIN"
    assert first not in names(lab.fe, 10)
    c.sendall(b"still")  # the drained server keeps its clients
    assert c.recv(10) == b"still"
    assert cmd(lab.a, "show servers state be").splitlines()[2 + int(first[1]) - 1].split()[6] == "8"
    assert cmd(lab.a, "set server be/%s state maint" % first) == ""
    assert row(csv_rows(lab.a), "be", first)["status"] == "MAINT"
    c.sendall(b"again")  # maintenance does not cut sessions (no on-marked-down)
    assert c.recv(10) == b"again"
    assert cmd(lab.a, "set server be/%s state ready" % first) == ""
    assert first in names(lab.fe, 10)
    c.close()
    err = lab.stderr()
    # HAProxy's sentences (stderr, as its warnings)
    assert re.search(r"Server be/%s enters drain state\. 2 active and 0 backup servers online\. "
                     r"0 sessions requeued, 0 total in queue\.\n" % first, err)
    assert re.search(r"Server be/%s is going DOWN for maintenance\. 2 active and 0 backup servers left\. "
                     r"1 sessions active, 0 requeued, 0 remaining in queue\.\n" % first, err)
    assert "Server be/%s is UP/READY (leaving forced maintenance).\n" % first in err
    # the deprecated spellings do the same
    assert cmd(lab.a, "disable server be/s2") == ""
    assert row(csv_rows(lab.a), "be", "s2")["status"] == "MAINT"
    assert cmd(lab.a, "show servers state be").splitlines()[3].split()[5:7] == ["0", "1"]
    assert cmd(lab.a, "enable server be/s2") == ""
    assert "s2" in names(lab.fe, 10)


def test_health_forced(lab):
    assert wait_until(lambda: row(csv_rows(lab.a), "be", "s1")["status"] == "UP", 5)
    assert cmd(lab.a, "disable health be/s1") == ""
    assert row(csv_rows(lab.a), "be", "s1")["status"] == "no check"
    assert cmd(lab.a, "set server be/s1 health down") == ""
    assert row(csv_rows(lab.a), "be", "s1")["status"] == "DOWN"
    assert "s1" not in names(lab.fe, 10)
    time.sleep(1.5)  # the disabled check does not bring it back
    assert row(csv_rows(lab.a), "be", "s1")["status"] == "DOWN"
    assert cmd(lab.a, "set server be/s1 health stopping") == ""
    assert row(csv_rows(lab.a), "be", "s1")["status"] == "NOLB"
    assert "s1" not in names(lab.fe, 10)
    assert cmd(lab.a, "set server be/s1 health up") == ""
    assert "s1" in names(lab.fe, 10)
    err = lab.stderr()
    assert ("Server be/s1 is DOWN, changed from CLI. 2 active and 0 backup servers left. "
            "0 sessions active, 0 requeued, 0 remaining in queue.\n") in err
    assert ("Server be/s1 is stopping, changed from CLI. 2 active and 0 backup servers online. "
            "0 sessions requeued, 0 total in queue.\n") in err
    assert ("Server be/s1 is UP, changed from CLI. 3 active and 0 backup servers online. "
            "0 sessions requeued, 0 total in queue.\n") in err
    # with the check on again, a failing server goes down by itself
    assert cmd(lab.a, "enable health be/s1") == ""
    lab.backends["s1"].stop()
    assert wait_until(lambda: row(csv_rows(lab.a), "be", "s1")["status"] == "DOWN", 5)


def test_agent_commands(lab):
    assert cmd(lab.a, "set server be/s3 agent foo") == "'set server <srv> agent' expects 'up' or 'down'.\n"
    assert cmd(lab.a, "set server be/s3 agent down") == ""
    assert row(csv_rows(lab.a), "be", "s3")["status"] == "DOWN (agent)"
    assert "s3" not in names(lab.fe, 10)
    assert cmd(lab.a, "set server be/s3 agent up") == ""
    assert row(csv_rows(lab.a), "be", "s3")["status"] == "no check"
    assert cmd(lab.a, "disable agent be/s3") == ""
    assert cmd(lab.a, "set server be/s3 agent up") == "agent checks are not enabled on this server.\n"
    assert cmd(lab.a, "enable agent be/s3") == ""
    assert cmd(lab.a, "show servers state be").splitlines()[4].split()[14] == "22"


def test_maxconn_server_rise_serves_queue(lab):
    assert wait_until(lambda: row(csv_rows(lab.a), "be", "s1")["status"] == "UP", 5)
    for s in ("s2", "s3"):
        assert cmd(lab.a, "set server be/%s state maint" % s) == ""
    assert cmd(lab.a, "set maxconn server be/s1 1") == ""
    c1, n1 = hello(lab.fe)
    assert n1 == "s1"
    c2 = socket.create_connection(("127.0.0.1", lab.fe), timeout=5)
    assert wait_until(lambda: row(csv_rows(lab.a), "be", "BACKEND")["qcur"] == "1", 5)
    c2.settimeout(0.5)
    with pytest.raises(socket.timeout):
        c2.recv(10)
    c2.settimeout(5)
    assert cmd(lab.a, "set maxconn server be/s1 2") == ""
    assert c2.recv(10) == b"s1\n"  # the queued client got the new slot
    r = row(csv_rows(lab.a), "be", "s1")
    assert (r["slim"], r["scur"]) == ("2", "2")
    assert row(csv_rows(lab.a), "be", "BACKEND")["qmax"] == "1"
    c1.close()
    c2.close()


def test_frontend_disable_enable_shutdown(lab):
    held, name = hello(lab.fe)
    assert cmd(lab.a, "disable frontend fe") == ""
    assert cmd(lab.a, "disable frontend fe") == "All sockets are already disabled.\n"
    assert row(csv_rows(lab.a), "fe", "FRONTEND")["status"] == "PAUSED"
    time.sleep(0.2)  # every worker has paused its socket
    with pytest.raises(ConnectionRefusedError):  # as HAProxy: refused while paused
        socket.create_connection(("127.0.0.1", lab.fe), timeout=2)
    held.sendall(b"x")
    assert held.recv(10) == b"x"
    assert cmd(lab.a, "enable frontend fe") == ""
    assert row(csv_rows(lab.a), "fe", "FRONTEND")["status"] == "OPEN"
    assert len(names(lab.fe, 3)) == 3
    assert cmd(lab.a, "shutdown frontend fe") == ""
    assert cmd(lab.a, "shutdown frontend fe") == "Frontend was already shut down.\n"
    assert cmd(lab.a, "disable frontend fe") == "Frontend was previously shut down, cannot disable.\n"
    assert cmd(lab.a, "enable frontend fe") == "Frontend was previously shut down, cannot enable.\n"
    assert row(csv_rows(lab.a), "fe", "FRONTEND")["status"] == "STOP"
    time.sleep(0.2)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", lab.fe), timeout=2)
    held.sendall(b"y")  # sessions go on
    assert held.recv(10) == b"y"
    held.close()
    err = lab.stderr()
    assert "Paused frontend fe.\n" in err and "Resumed frontend fe.\n" in err
    assert re.search(r"Proxy fe stopped \(cumulated conns: FE: 4, BE: 0\)\.\n", err)


def test_maxconn_frontend_and_global(lab):
    # 0 holds new clients in the backlog (HAProxy 2.6 does the same)
    assert cmd(lab.a, "set maxconn frontend fe 0") == ""
    c = socket.create_connection(("127.0.0.1", lab.fe), timeout=5)
    c.settimeout(0.5)
    with pytest.raises(socket.timeout):
        c.recv(10)
    c.settimeout(5)
    assert row(csv_rows(lab.a), "fe", "FRONTEND")["slim"] == "0"
    assert cmd(lab.a, "set maxconn frontend fe 10") == ""
    assert c.recv(10) in (b"s1\n", b"s2\n", b"s3\n")
    c.close()
    info = lambda: dict(l.split(": ", 1) for l in cmd(lab.a, "show info").splitlines())
    hard = info()["Hard_maxconn"]
    assert cmd(lab.a, "set maxconn global 1") == ""
    assert info()["Maxconn"] == "1"
    c1, _ = hello(lab.fe)
    c2 = socket.create_connection(("127.0.0.1", lab.fe), timeout=5)
    c2.settimeout(0.5)
    with pytest.raises(socket.timeout):
        c2.recv(10)
    c2.settimeout(5)
    assert cmd(lab.a, "set maxconn global 0") == ""  # back to the most allowed
    assert info()["Maxconn"] == hard
    assert c2.recv(10) != b""
    c1.close()
    c2.close()


def test_add_and_del_server(lab, backends):
    s9 = backends(1, names=["s9"])[0]
    out = cmd(lab.a, "add server be/s9 127.0.0.1:%d weight 2" % s9.port)
    assert out == "New server registered.\n"
    assert "CLI : 'server be/s9' : New server registered." in lab.stderr()
    state = cmd(lab.a, "show servers state be").splitlines()[5].split()
    # HAProxy 2.6.12: id 4, down, forced maintenance, weights 2 2
    assert state[:9] == ["3", "be", "4", "s9", "127.0.0.1", "0", "1", "2", "2"]
    assert row(csv_rows(lab.a), "be", "s9")["status"] == "MAINT"
    assert "s9" not in names(lab.fe, 12)
    assert cmd(lab.a, "enable server be/s9") == ""
    assert row(csv_rows(lab.a), "be", "s9")["status"] == "no check"
    got = names(lab.fe, 14)
    assert "s9" in got
    c, name = hello(lab.fe)
    while name != "s9":
        c.close()
        c, name = hello(lab.fe)
    # HAProxy writes these three sentences without a line feed
    assert cli(lab.a, "del server be/s9\n") == "Only servers in maintenance mode can be deleted.\n"
    assert cmd(lab.a, "set server be/s9 state maint") == ""
    assert cli(lab.a, "del server be/s9\n") == "Server still has connections attached to it, cannot remove it.\n"
    c.close()
    assert wait_until(lambda: row(csv_rows(lab.a), "be", "s9")["scur"] == "0", 5)
    assert cli(lab.a, "del server be/s9\n") == "Server deleted.\n"
    assert cli(lab.a, "del server be/s9\n") == "No such server.\n"
    assert [r["svname"] for r in csv_rows(lab.a) if r["pxname"] == "be"] == ["s1", "s2", "s3", "BACKEND"]
    # its id is free again, as HAProxy's get_next_id
    assert cmd(lab.a, "add server be/s10 127.0.0.1:%d check inter 300ms" % s9.port) == "New server registered.\n"
    assert cmd(lab.a, "show servers state be").splitlines()[5].split()[2:4] == ["4", "s10"]
    # its check waits for "enable health", as HAProxy's dynamic servers
    assert cmd(lab.a, "enable server be/s10") == ""
    assert row(csv_rows(lab.a), "be", "s10")["status"] == "no check"
    assert cmd(lab.a, "enable health be/s10") == ""
    assert wait_until(lambda: row(csv_rows(lab.a), "be", "s10")["check_status"] == "L4OK", 5)
    s9.stop()
    assert wait_until(lambda: row(csv_rows(lab.a), "be", "s10")["status"] == "DOWN", 5)
    # a bad option: the configuration parser's sentence
    assert cmd(lab.a, "add server be/s11 127.0.0.1:1 weight 300").startswith("'weight': invalid value '300'")


def test_shutdown_sessions(lab):
    assert wait_until(lambda: row(csv_rows(lab.a), "be", "s2")["status"] == "UP", 5)
    conns = [hello(lab.fe) for _ in range(5)]
    lines = cmd(lab.o, "show sess").splitlines()
    assert len(lines) == 5
    for l in lines:
        assert re.fullmatch(r"0x[0-9a-f]+: proto=tcpv4 src=127\.0\.0\.1:\d+ fe=fe be=be srv=s\d age=\d+s "
                            r"scf=\[fd=\d+\] scb=\[fd=\d+\] exp=\d+s", l), l
    # one session, by the id "show sess" gives
    victim, vname = conns[0]
    port = victim.getsockname()[1]
    sid = next(l.split(":")[0] for l in lines if "src=127.0.0.1:%d " % port in l)
    assert cmd(lab.a, "show sess %s" % sid).startswith(sid + ": ")
    assert cmd(lab.a, "shutdown session %s" % sid) == ""
    assert victim.recv(10) == b""
    assert len(cmd(lab.o, "show sess").splitlines()) == 4
    # every session of one server
    target = conns[1][1]
    assert cmd(lab.a, "shutdown sessions server be/%s" % target) == ""
    for c, name in conns[1:]:
        if name == target:
            assert c.recv(10) == b""
        else:
            c.sendall(b"ok")
            assert c.recv(10) == b"ok"
        c.close()


def test_set_server_addr(lab, backends):
    other = backends(1, names=["elsewhere"])[0]
    for s in ("s2", "s3"):
        assert cmd(lab.a, "set server be/%s state maint" % s) == ""
    old = lab.backends["s1"].port
    assert cmd(lab.a, "set server be/s1 addr 127.0.0.1 port %d" % other.port) == (
        "no need to change the addr, port changed from '%d' to '%d' by 'stats socket command'\n" % (old, other.port))
    assert names(lab.fe, 2) == ["elsewhere", "elsewhere"]
    assert row(csv_rows(lab.a), "be", "s1")["addr"] == "127.0.0.1:%d" % other.port
    assert cmd(lab.a, "set server be/s1 addr 127.0.0.2") == (
        "IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'\n")
    assert names(lab.fe, 1) == [""]  # nobody listens on 127.0.0.2: refused, closed
    # the health check follows the server
    assert cmd(lab.a, "set server be/s1 check-port %d" % other.port) == ""
    assert wait_until(lambda: row(csv_rows(lab.a), "be", "s1")["status"] == "DOWN", 5)
    assert cmd(lab.a, "show servers state be").splitlines()[2].split()[21] == str(other.port)


def test_prometheus_metrics_and_promtool(lab, tmpdir_path):
    names(lab.fe, 3)
    out = cmd(lab.u, "show metrics")
    assert "haproxy_process_build_info{version=" in out
    assert re.search(r'^haproxy_frontend_sessions_total\{proxy="fe"\} 3$', out, re.M)
    assert re.search(r'^haproxy_backend_sessions_total\{proxy="be"\} 3$', out, re.M)
    assert re.search(r'^haproxy_server_status\{proxy="be",server="s1",state="UP"\} [01]$', out, re.M)
    assert re.search(r'^# TYPE haproxy_server_sessions_total counter$', out, re.M)
    assert re.search(r'^ferry_check_duration_seconds_count\{proxy="be",server="s1"\} \d+$', out, re.M)
    path = os.path.join(tmpdir_path, "metrics.txt")
    with open(path, "w") as f:
        f.write(out)
    r = subprocess.run(["promtool", "check", "metrics"], input=out, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_prometheus_haproxy_exporter(lab):
    """Debian's prometheus-haproxy-exporter reads ferry's socket as HAProxy's."""
    names(lab.fe, 4)
    port = free_port()
    p = subprocess.Popen(["prometheus-haproxy-exporter", "--haproxy.scrape-uri=unix:" + lab.a,
                          "--web.listen-address=127.0.0.1:%d" % port],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def scrape():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
                    c.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
                    data = b""
                    while True:
                        d = c.recv(65536)
                        if not d:
                            return data.decode()
                        data += d
            except OSError:
                return None
        text = wait_until(scrape, 10)
        assert text
        assert re.search(r"^haproxy_up 1$", text, re.M)
        assert re.search(r"^haproxy_exporter_csv_parse_failures_total 0$", text, re.M)
        assert re.search(r'^haproxy_frontend_connections_total\{frontend="fe"\} 4$', text, re.M)
        assert re.search(r'^haproxy_backend_up\{backend="be"\} 1$', text, re.M)
        assert re.search(r'^haproxy_server_up\{backend="be",server="s2"\} 1$', text, re.M)
        assert re.search(r'^haproxy_server_weight\{backend="be",server="s2"\} 3$', text, re.M)
        total = sum(int(m) for m in re.findall(r'^haproxy_server_sessions_total\{backend="be",server="s\d"\} (\d+)$',
                                               text, re.M))
        assert total == 4
    finally:
        p.terminate()
        p.wait(timeout=10)


def test_dynamic_server_survives_interactive_session(lab, backends):
    """The same commands through an interactive session, as an operator would."""
    s9 = backends(1, names=["s9"])[0]
    p = Prompt(lab.a)
    assert p.ask("add server be/s9 127.0.0.1:%d" % s9.port) == "New server registered.\n\n> "
    assert p.ask("enable server be/s9") == "\n> "
    assert p.ask("get weight be/s9") == "1 (initial 1)\n\n> "
    assert p.ask("set server be/s9 state maint;del server be/s9") == "\n> Server deleted.\n> "
    p.close()
