"""The runtime API (stats socket): sockets, line handling, levels and the
reading commands, compared with what Debian's HAProxy 2.6.12 prints for the
same configuration and commands (the expected texts below were captured
from it)."""
import json
import os
import re
import socket
import stat
import subprocess
import time

import pytest

from conftest import DEFAULTS, FERRY, ROOT_OPT_IN, free_port, wait_until
from statsock import COLUMNS, CSV_HEADER, Prompt, cli, cmd, csv_rows, row, sockets_cfg

# HAProxy 2.6.12's "show info" field names, in order (ZlibMemUsage and
# description are absent from Debian's build as from ferry's output).
INFO_FIELDS = [f.replace("_", " ") if f in ("Unstoppable_Jobs", "Build_info") else f for f in (
    "Name Version Release_date Nbthread Nbproc Process_num Pid Uptime Uptime_sec Memmax_MB "
    "PoolAlloc_MB PoolUsed_MB PoolFailed Ulimit-n Maxsock Maxconn Hard_maxconn CurrConns "
    "CumConns CumReq MaxSslConns CurrSslConns CumSslConns Maxpipes PipesUsed PipesFree ConnRate "
    "ConnRateLimit MaxConnRate SessRate SessRateLimit MaxSessRate SslRate SslRateLimit MaxSslRate "
    "SslFrontendKeyRate SslFrontendMaxKeyRate SslFrontendSessionReuse_pct SslBackendKeyRate "
    "SslBackendMaxKeyRate SslCacheLookups SslCacheMisses CompressBpsIn CompressBpsOut "
    "CompressBpsRateLim Tasks Run_queue Idle_pct node Stopping Jobs Unstoppable_Jobs Listeners "
    "ActivePeers ConnectedPeers DroppedLogs BusyPolling FailedResolutions TotalBytesOut "
    "TotalSplicdedBytesOut BytesOutRate DebugCommandsIssued CumRecvLogs Build_info Memmax_bytes "
    "PoolAlloc_bytes PoolUsed_bytes Start_time_sec Tainted").split(" ")]

SERVERS_STATE_HEADER = (
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
    "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
    "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n")

HELP_TAIL = ("  help [<command>]                        : list matching or all commands\n"
             "  prompt                                  : toggle interactive mode with prompt\n"
             "  quit                                    : disconnect\n")


@pytest.fixture
def hap_like(ferry, tmpdir_path, backends):
    """The configuration HAProxy's outputs were captured with: a frontend to
    a backend of two checked servers (nobody listens), and a listen section
    with an unchecked server."""
    p = [free_port() for _ in range(5)]
    cfg = sockets_cfg(tmpdir_path, "    stats timeout 10s\n") + DEFAULTS + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    balance roundrobin
    server s1 127.0.0.1:%d check inter 1s maxconn 10
    server s2 127.0.0.1:%d check inter 1s weight 3
listen l
    bind 127.0.0.1:%d
    server x1 127.0.0.1:%d
""" % tuple(p)
    f = ferry(cfg, wait_port=p[0])
    f.ports = p
    f.admin = os.path.join(tmpdir_path, "admin.sock")
    f.user = os.path.join(tmpdir_path, "user.sock")
    f.oper = os.path.join(tmpdir_path, "oper.sock")
    # both servers are refused: wait for their first checks
    assert wait_until(lambda: "Server be/s2 is DOWN" in f.stderr(), 5)
    return f


# ---- show stat ------------------------------------------------------------------

def test_show_stat_csv_as_haproxy(hap_like):
    out = cmd(hap_like.admin, "show stat").splitlines()
    assert out[0] == CSV_HEADER
    assert [l.split(",")[:2] for l in out[1:]] == [
        ["fe", "FRONTEND"], ["be", "s1"], ["be", "s2"], ["be", "BACKEND"],
        ["l", "FRONTEND"], ["l", "x1"], ["l", "BACKEND"]]
    for l in out[1:]:
        assert len(l.split(",")) == len(CSV_HEADER[2:].split(","))  # 129 with the trailing empty one
    # HAProxy 2.6.12's lines for this configuration, with the values that
    # depend on time and on the fd limit (slim of frontends and backends)
    # replaced by X. Its frontend line is also ferry's, field for field.
    masks = {"lastchg", "downtime", "slim", "chkfail", "check_duration"}
    expect = [
        "fe,FRONTEND,,,0,0,X,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,0,,,,,,,,,,,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,tcp,,0,0,0,,0,0,0,,,,,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,",
        "be,s1,0,0,0,0,X,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,X,1,X,X,,1,3,1,,0,,2,0,,0,L4CON,,0,,,,,,,,,,,0,0,,,,,-1,Connection refused,,0,0,0,0,,,,Layer4 connection problem,,2,3,0,,,,127.0.0.1:P1,,tcp,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,",
        "be,s2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,3,1,0,X,1,X,X,,1,3,2,,0,,2,0,,0,L4CON,,0,,,,,,,,,,,0,0,,,,,-1,Connection refused,,0,0,0,0,,,,Layer4 connection problem,,2,3,0,,,,127.0.0.1:P2,,tcp,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,3,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,",
        "be,BACKEND,0,0,0,0,X,0,0,0,0,0,,0,0,0,0,DOWN,0,0,0,,1,X,X,,1,3,0,,0,,1,0,,0,,,,,,,,,,,,,,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,tcp,roundrobin,,,,,,,0,0,0,,,,,0,0,0,0,0,,,,,0,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,",
        "l,FRONTEND,,,0,0,X,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,4,0,,,,0,0,0,0,,,,,,,,,,,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,tcp,,0,0,0,,0,0,0,,,,,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,",
        "l,x1,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,1,0,,,X,,,1,4,1,,0,,2,0,,0,,,,,,,,,,,,,,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.1:P4,,tcp,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,",
        "l,BACKEND,0,0,0,0,X,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,X,0,,1,4,0,,0,,1,0,,0,,,,,,,,,,,,,,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,tcp,roundrobin,,,,,,,0,0,0,,,,,0,0,0,0,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,",
    ]
    p = hap_like.ports
    for got, want in zip(out[1:], expect):
        want = want.replace("P1", str(p[1])).replace("P2", str(p[2])).replace("P4", str(p[4]))
        g = got.split(",")
        for i, (gv, wv) in enumerate(zip(g, want.split(","))):
            if COLUMNS[i] in masks:  # present where HAProxy has it, any value
                assert (gv != "") == (wv != ""), (COLUMNS[i], got)
                continue
            assert gv == wv, (COLUMNS[i], gv, wv, got)
    rows = csv_rows(hap_like.admin)
    assert row(rows, "be", "s1")["slim"] == "10"
    assert row(rows, "be", "s2")["slim"] == ""
    # HAProxy: a backend's fullconn is 10% of its frontends' maxconn, rounded up
    fe_slim = int(row(rows, "fe", "FRONTEND")["slim"])
    assert int(row(rows, "be", "BACKEND")["slim"]) == (fe_slim + 9) // 10
    assert row(rows, "be", "s1")["chkdown"] == "1"


def test_show_stat_typed_tags_as_haproxy(hap_like):
    out = cmd(hap_like.admin, "show stat typed").splitlines()
    # lines copied from HAProxy 2.6.12's output for the same configuration
    for line in ["F.2.0.0.pxname.1:KNS:str:fe", "F.2.0.4.scur.1:MGP:u32:0",
                 "F.2.0.5.smax.1:MMP:u32:0", "F.2.0.17.status.1:SGP:str:OPEN",
                 "F.2.0.32.type.1:CGS:u32:0", "F.2.0.33.rate.1:MRP:u32:0",
                 "F.2.0.75.mode.1:CGS:str:tcp", "F.2.0.126.h1_spliced_bytes_out.1:MCP:u64:0",
                 "S.3.1.17.status.1:SGP:str:DOWN", "S.3.1.18.weight.1:MaP:u32:1",
                 "S.3.1.36.check_status.1:MOP:str:L4CON", "S.3.1.55.lastsess.1:MAP:s32:-1",
                 "S.3.1.56.last_chk.1:MOP:str:Connection refused",
                 "S.3.1.65.check_desc.1:MOP:str:Layer4 connection problem",
                 "S.3.1.99.uweight.1:MaP:u32:1",
                 "S.3.2.105.ssl_failed_handshake.1:MCP:u64:0",
                 "B.3.0.33.rate.1:MGP:u32:0", "B.3.0.76.algo.1:CGS:str:roundrobin",
                 "B.3.0.100.agg_server_status.1:MGP:u32:0", "B.4.0.17.status.1:SGP:str:UP"]:
        assert line in out, line
    assert not any(l.startswith("S.") and ".106.h2_" in l for l in out)  # servers: ssl module only
    assert cmd(hap_like.admin, "show stat typed desc").splitlines()[0] == \
        'F.2.0.0.pxname.1:KNS:str:fe:"Proxy name"'


def test_show_stat_json(hap_like):
    out = cmd(hap_like.admin, "show stat json")
    assert out.endswith("]\n")
    data = json.loads(out)
    assert len(data) == 7
    first = data[0][0]
    assert first == {"objType": "Frontend", "proxyId": 2, "id": 0,
                     "field": {"pos": 0, "name": "pxname"}, "processNum": 1,
                     "tags": {"origin": "Key", "nature": "Name", "scope": "Service"},
                     "value": {"type": "str", "value": "fe"}}
    s1 = {f["field"]["name"]: f["value"]["value"] for f in data[1]}
    assert s1["svname"] == "s1" and s1["status"] == "DOWN" and s1["check_rise"] == 2
    assert data[1][0]["objType"] == "Server" and data[1][0]["id"] == 1


def test_show_stat_filters(hap_like):
    a = hap_like.admin
    # "show stat <proxy|iid> <type mask> <sid>": 1 frontends, 2 backends, 4 servers
    assert [l.split(",")[:2] for l in cmd(a, "show stat be 4 -1").splitlines()[1:]] == [["be", "s1"], ["be", "s2"]]
    assert [l.split(",")[:2] for l in cmd(a, "show stat 3 -1 2").splitlines()[1:]] == [["be", "s2"], ["be", "BACKEND"]]
    assert [l.split(",")[:2] for l in cmd(a, "show stat -1 1 -1").splitlines()[1:]] == [["fe", "FRONTEND"], ["l", "FRONTEND"]]
    assert cmd(a, "show stat nosuch 1 2") == "No such proxy.\n"
    assert cmd(a, "show stat domain foo") == "Invalid statistics domain.\n"
    # "up" hides servers down and not coming back, and counts them in the backend's status
    rows = csv_rows(a, "show stat up")
    assert [(r["pxname"], r["svname"]) for r in rows] == [
        ("fe", "FRONTEND"), ("be", "BACKEND"), ("l", "FRONTEND"), ("l", "x1"), ("l", "BACKEND")]
    assert row(rows, "be", "BACKEND")["status"] == "DOWN (0/2)"
    assert row(rows, "l", "BACKEND")["status"] == "UP (1/1)"


def test_addr_and_algo_only_for_operator_sockets(hap_like):
    # as HAProxy's STAT_SHLGNDS: the socket's level decides, not the session's
    for path, shown in ((hap_like.user, False), (hap_like.oper, True), (hap_like.admin, True)):
        rows = csv_rows(path)
        assert (row(rows, "be", "s1")["addr"] != "") == shown
        assert (row(rows, "be", "BACKEND")["algo"] == "roundrobin") == shown
    out = cli(hap_like.admin, "user;show stat\n")  # "user" lowers the session only
    assert out.startswith("\n" + CSV_HEADER + "\n")
    rows = [dict(zip(COLUMNS, r.split(","))) for r in out.splitlines()[2:] if r]
    assert row(rows, "be", "s1")["addr"] == "127.0.0.1:%d" % hap_like.ports[1]


# ---- values with traffic -----------------------------------------------------------

def test_counters_with_traffic(ferry, tmpdir_path, backends):
    s1, s2 = backends(2)
    dead = free_port()
    fe, fe2 = free_port(), free_port()
    cfg = sockets_cfg(tmpdir_path) + DEFAULTS + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
frontend fe2
    bind 127.0.0.1:%d
    default_backend dead
backend be
    balance roundrobin
    server s1 127.0.0.1:%d
    server s2 127.0.0.1:%d
backend dead
    retries 0
    server d1 127.0.0.1:%d
""" % (fe, fe2, s1.port, s2.port, dead)
    f = ferry(cfg, wait_port=fe)
    a = os.path.join(tmpdir_path, "admin.sock")
    held = []
    for _ in range(4):
        c = socket.create_connection(("127.0.0.1", fe), timeout=5)
        assert c.recv(10) in (b"s1\n", b"s2\n")
        c.sendall(b"hello")
        assert c.recv(10) == b"hello"
        held.append(c)
    rows = csv_rows(a)
    assert row(rows, "fe", "FRONTEND")["scur"] == "4"
    assert row(rows, "be", "BACKEND")["scur"] == "4"
    assert row(rows, "be", "s1")["scur"] == "2" and row(rows, "be", "s2")["scur"] == "2"
    assert row(rows, "fe", "FRONTEND")["stot"] == "4"
    assert row(rows, "fe", "FRONTEND")["bin"] == str(4 * 5)
    assert row(rows, "fe", "FRONTEND")["bout"] == str(4 * (3 + 5))
    assert row(rows, "be", "s1")["lbtot"] == "2" and row(rows, "be", "BACKEND")["lbtot"] == "4"
    assert int(row(rows, "fe", "FRONTEND")["rate"]) >= 1
    assert int(row(rows, "fe", "FRONTEND")["rate_max"]) >= int(row(rows, "fe", "FRONTEND")["rate"])
    for c in held:
        c.close()
    assert wait_until(lambda: row(csv_rows(a), "fe", "FRONTEND")["scur"] == "0", 5)
    rows = csv_rows(a)
    assert row(rows, "fe", "FRONTEND")["smax"] == "4"
    assert row(rows, "be", "s1")["smax"] == "2"
    assert row(rows, "be", "s1")["lastsess"] in ("0", "1")
    # a refused server: econ on it and its backend
    with socket.create_connection(("127.0.0.1", fe2), timeout=5) as c:
        assert c.recv(10) == b""
    rows = csv_rows(a)
    assert row(rows, "dead", "d1")["econ"] == "1"
    assert row(rows, "dead", "BACKEND")["econ"] == "1"
    assert row(rows, "dead", "d1")["connect"] == "1"
    # show info adds them up
    info = dict(l.split(": ", 1) for l in cmd(a, "show info").splitlines())
    assert info["CumConns"] == "5" and info["CurrConns"] == "0"
    assert int(info["TotalBytesOut"]) == 4 * 8
    # clear counters: the maxima only; clear counters all: everything
    assert cmd(a, "clear counters") == ""
    rows = csv_rows(a)
    assert row(rows, "fe", "FRONTEND")["smax"] == "0" and row(rows, "fe", "FRONTEND")["stot"] == "4"
    assert cmd(a, "clear counters all") == ""
    rows = csv_rows(a)
    assert row(rows, "fe", "FRONTEND")["stot"] == "0" and row(rows, "dead", "d1")["econ"] == "0"
    assert row(rows, "be", "s1")["lbtot"] == "0"


def test_status_follows_checks(ferry, tmpdir_path, backends):
    port = free_port()
    fe = free_port()
    cfg = sockets_cfg(tmpdir_path) + DEFAULTS + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 127.0.0.1:%d check inter 200ms rise 2 fall 2
""" % (fe, port)
    f = ferry(cfg, wait_port=fe)
    a = os.path.join(tmpdir_path, "admin.sock")
    assert wait_until(lambda: row(csv_rows(a), "be", "s1")["status"] == "DOWN", 5)
    r = row(csv_rows(a), "be", "s1")
    assert (r["check_status"], r["last_chk"], r["check_desc"]) == ("L4CON", "Connection refused",
                                                                  "Layer4 connection problem")
    assert r["chkdown"] == "1" and r["chkfail"] == "1"  # as HAProxy: failures taking health down
    assert row(csv_rows(a), "be", "BACKEND")["status"] == "DOWN"
    b = backends(1)[0]
    b.port = port
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    try:
        # HAProxy's "DOWN 1/2" on the way up, then UP
        seen = set()
        def up():
            st = row(csv_rows(a), "be", "s1")["status"]
            seen.add(st)
            return st == "UP"
        assert wait_until(up, 5, step=0.05)
        assert seen <= {"DOWN", "DOWN 1/2", "UP"}
        r = row(csv_rows(a), "be", "s1")
        assert r["check_status"] == "L4OK" and r["check_desc"] == "Layer4 check passed"
        assert row(csv_rows(a), "be", "BACKEND")["status"] == "UP"
        assert row(csv_rows(a), "be", "BACKEND")["chkdown"] == "1"
    finally:
        srv.close()


# ---- show info, servers state, backend, errors --------------------------------------

def test_show_info(hap_like):
    lines = cmd(hap_like.admin, "show info").splitlines()
    assert [l.split(": ", 1)[0] for l in lines] == INFO_FIELDS
    info = dict(l.split(": ", 1) for l in lines)
    assert info["Name"] == "ferry" and info["Pid"] == str(hap_like.proc.pid)
    assert re.fullmatch(r"\dd \dh\d\dm\d\ds", info["Uptime"])
    assert info["Listeners"] == "5"  # two binds and three stats sockets, as HAProxy counts them
    typed = cmd(hap_like.admin, "show info typed").splitlines()
    assert typed[0] == "0.Name.1:POS:str:ferry"
    assert "15.Maxconn.1:CLP:u32:%s" % info["Maxconn"] in typed
    assert any(l.startswith("49.Idle_pct.1:MaP:u32:") for l in typed)
    assert typed[-1] == "71.Tainted.1:SGP:str:0"
    js = json.loads(cmd(hap_like.admin, "show info json"))
    assert js[3] == {"field": {"pos": 3, "name": "Nbthread"}, "processNum": 1,
                     "tags": {"origin": "Config", "nature": "Gauge", "scope": "Service"},
                     "value": {"type": "u32", "value": int(info["Nbthread"])}}


def test_show_servers_state(hap_like):
    p = hap_like.ports
    out = cmd(hap_like.admin, "show servers state")
    assert out.startswith(SERVERS_STATE_HEADER)
    lines = out[len(SERVERS_STATE_HEADER):].splitlines()
    # HAProxy 2.6.12's lines; field 10 (seconds since the last change) varies
    want = ["3 be 1 s1 127.0.0.1 0 0 1 1 T 8 2 0 6 0 0 0 - %d - 0 0 - - 0" % p[1],
            "3 be 2 s2 127.0.0.1 0 0 3 3 T 8 2 0 6 0 0 0 - %d - 0 0 - - 0" % p[2],
            "4 l 1 x1 127.0.0.1 2 0 1 1 T 1 0 2 0 0 0 0 - %d - 0 0 - - 0" % p[4]]
    assert [re.sub(r"^((?:\S+ ){9})\d+", r"\1T", l) for l in lines] == want
    out = cmd(hap_like.admin, "show servers state l")
    assert out[len(SERVERS_STATE_HEADER):].splitlines()[0].startswith("4 l 1 x1 ")
    assert cmd(hap_like.admin, "show servers state nosuch") == "Can't find backend.\n"


def test_show_backend_and_errors(hap_like):
    assert cmd(hap_like.user, "show backend") == "# name\nbe\nl\n"
    assert re.fullmatch(r"Total events captured on \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] : 0\n",
                        cmd(hap_like.oper, "show errors"))
    assert cmd(hap_like.oper, "show errors nosuch") == "No such proxy.\n"
    assert cmd(hap_like.user, "show errors") == "Permission denied\n"


# ---- the line protocol -------------------------------------------------------------

def test_help_and_unknown_commands(hap_like):
    out = cmd(hap_like.user, "help")
    lines = out.splitlines(True)
    assert lines[0] == "The following commands are valid at this level:\n"
    assert out.endswith(HELP_TAIL)
    listed = lines[1:-3]
    assert listed == sorted(listed) and len(listed) > 10
    assert "  show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server\n" in listed
    assert cmd(hap_like.admin, "help show cli") == (
        "The following commands are valid at this level:\n"
        "  show cli level                          : display the level of the current CLI session\n" + HELP_TAIL)
    # a command that is not one: HAProxy's sentence and its closest guesses
    out = cmd(hap_like.admin, "show stats")
    assert out.startswith("Unknown command, but maybe one of the following ones is a better match:\n  show stat ")
    assert out.endswith(HELP_TAIL)
    assert cmd(hap_like.admin, "").startswith("Unknown command. Please enter one of the following commands only:\n")


def test_pipelined_and_chained_commands(hap_like):
    a = hap_like.admin
    assert cli(a, "show cli level;show cli level\n") == "admin\n\nadmin\n\n"
    assert cli(a, "show cli level\nshow cli level\n") == "admin\n\nadmin\n\n"
    assert cli(a, "user;show cli level;operator\n") == "\nuser\n\nPermission denied\n\n"
    assert cli(a, "show cli level\r\n") == "admin\n\n"
    # a backslash escapes ';', which then belongs to a word
    assert cli(a, "show cli level\\;x\n").startswith("Unknown command, but maybe")
    # garbage does no harm; the next command runs
    out = cli(a, b"\x00\x01\xff garbage\nshow cli level\n")
    assert out.startswith("Unknown command") and out.endswith("admin\n\n")
    # an unfinished last line is dropped at the client's close, as HAProxy
    assert cli(a, "show cli level\nshow cli level", shut=True) == "admin\n\n"
    assert cli(a, "quit\nshow cli level\n") == ""
    # socat, as documented
    out = subprocess.run(["socat", "stdio", "UNIX-CONNECT:" + a], input=b"show backend\n",
                         capture_output=True, timeout=10).stdout
    assert out == b"# name\nbe\nl\n\n"


def test_prompt_mode(hap_like):
    p = Prompt(hap_like.admin)
    assert p.ask("show cli level") == "admin\n\n> "
    assert p.ask("bogus").startswith("Unknown command")
    assert p.ask("show backend") == "# name\nbe\nl\n\n> "
    assert p.ask("show cli level;show cli level") == "admin\n\n> admin\n\n> "
    # "prompt" again leaves interactive mode, so the connection ends after
    # the answers to what came with it (as HAProxy: nothing else waiting)
    p.s.sendall(b"prompt\nshow cli level\n")
    out = b""
    while True:
        d = p.s.recv(1000)
        if not d:
            break
        out += d
    assert out == b"\nadmin\n\n"
    p.close()
    p = Prompt(hap_like.admin)
    p.s.sendall(b"quit\n")
    assert p.s.recv(100) == b""
    p.close()


def test_overlong_line_refused(hap_like):
    a = hap_like.admin
    out = cli(a, "a" * 20000 + "\nshow cli level\n")
    assert out == "Line too long (at most 16383 bytes): ignored.\n\nadmin\n\n"
    p = Prompt(a)
    assert p.ask("x" * 50000) == "Line too long (at most 16383 bytes): ignored.\n\n> "
    assert p.ask("show cli level") == "admin\n\n> "
    p.close()
    # the longest line accepted
    out = cli(a, "show cli level " + "a" * (16383 - 15) + "\n")
    assert out == "admin\n\n"


def test_idle_timeout(ferry, tmpdir_path):
    port = free_port()
    cfg = ("global\n    stats socket %s/a.sock level admin\n    stats timeout 700ms\n" % tmpdir_path
           + DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server x 127.0.0.1:1\n" % port)
    ferry(cfg, wait_port=port)
    p = Prompt(os.path.join(tmpdir_path, "a.sock"))
    time.sleep(0.4)
    assert p.ask("show cli level") == "admin\n\n> "  # activity restarts the clock
    t = time.monotonic()
    assert p.s.recv(100) == b""
    assert 0.5 < time.monotonic() - t < 3
    p.close()
    # "set timeout cli" changes this session's
    p = Prompt(os.path.join(tmpdir_path, "a.sock"))
    assert p.ask("set timeout cli 3") == "\n> "
    time.sleep(1.2)
    assert p.ask("show cli level") == "admin\n\n> "
    assert p.ask("set timeout cli 0") == "Invalid timeout value.\n\n> "
    assert p.ask("set timeout foo") == "'set timeout' only supports 'cli'.\n\n> "
    p.close()


def test_levels(hap_like):
    assert cmd(hap_like.user, "show cli level") == "user\n"
    assert cmd(hap_like.oper, "show cli level") == "operator\n"
    assert cmd(hap_like.admin, "show cli level") == "admin\n"
    assert cmd(hap_like.user, "operator") == "Permission denied\n"
    assert cli(hap_like.oper, "user;show cli level;operator\n") == "\nuser\n\nPermission denied\n\n"
    # HAProxy 2.6.12: operators may clear the maxima, only admins everything
    assert cmd(hap_like.user, "clear counters") == "Permission denied\n"
    assert cmd(hap_like.oper, "clear counters") == ""
    assert cmd(hap_like.oper, "clear counters all") == "Permission denied\n"
    assert cmd(hap_like.admin, "clear counters all") == ""


# ---- sockets -------------------------------------------------------------------------

def test_socket_kinds_and_permissions(ferry, tmpdir_path):
    port, tcp = free_port(), free_port()
    cfg = ("global\n"
           "    stats socket %s/a.sock mode 640 level admin expose-fd listeners\n"
           "    stats socket unix@%s/b.sock\n"
           "    stats socket ipv4@127.0.0.1:%d level user\n" % (tmpdir_path, tmpdir_path, tcp)
           + DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server x 127.0.0.1:1\n" % port)
    f = ferry(cfg, wait_port=port)
    a, b = os.path.join(tmpdir_path, "a.sock"), os.path.join(tmpdir_path, "b.sock")
    assert stat.S_IMODE(os.stat(a).st_mode) == 0o640
    assert stat.S_ISSOCK(os.stat(b).st_mode)
    assert cmd(a, "show cli level") == "admin\n"
    assert cmd(b, "show cli level") == "operator\n"  # HAProxy's default level
    assert cli(("127.0.0.1", tcp), "show cli level\n") == "user\n\n"
    assert not [n for n in os.listdir(tmpdir_path) if n.endswith(".tmp")]
    f.stop()
    # the unix sockets go with the process
    assert not os.path.exists(a) and not os.path.exists(b)


def test_stale_socket_replaced(ferry, tmpdir_path):
    port = free_port()
    path = os.path.join(tmpdir_path, "a.sock")
    old = socket.socket(socket.AF_UNIX)
    old.bind(path)  # left by a process that died: nobody accepts there
    old.close()
    cfg = ("global\n    stats socket %s level admin\n" % path
           + DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server x 127.0.0.1:1\n" % port)
    ferry(cfg, wait_port=port)
    assert cmd(path, "show cli level") == "admin\n"


def test_stats_maxconn(ferry, tmpdir_path):
    port = free_port()
    path = os.path.join(tmpdir_path, "a.sock")
    cfg = ("global\n    stats socket %s level admin\n    stats maxconn 2\n" % path
           + DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server x 127.0.0.1:1\n" % port)
    ferry(cfg, wait_port=port)
    p1, p2 = Prompt(path), Prompt(path)
    third = socket.socket(socket.AF_UNIX)
    third.connect(path)  # waits in the backlog ...
    third.sendall(b"show cli level\n")
    third.settimeout(0.5)
    with pytest.raises(socket.timeout):
        third.recv(100)
    p1.close()  # ... until a connection ends
    third.settimeout(5)
    assert third.recv(100) == b"admin\n\n"
    third.close()
    p2.close()


@pytest.mark.parametrize("line,message", [
    ("stats socket", "'stats socket' in global section expects an address or a path to a UNIX socket"),
    ("stats socket /tmp/x.sock level root",
     "'stats socket': 'level' only supports 'user', 'operator', and 'admin' (got 'root')"),
    ("stats socket /tmp/x.sock expose-fd all", "'stats socket': 'expose-fd' only supports 'listeners' (got 'all')"),
    ("stats socket /tmp/x.sock mode 999", "'stats socket': 'mode' expects an octal mode such as 600 (got '999')"),
    ("stats socket /tmp/x.sock levl admin", "'stats socket': unknown keyword 'levl' (did you mean 'level'?)"),
    ("stats socket 127.0.0.1", "'stats socket 127.0.0.1': "),
    ("stats timeout 0", "'stats timeout' expects a positive value"),
    ("stats timeout 10x", "'stats timeout': invalid duration '10x'"),
    ("stats frobnicate", "'stats' only supports 'socket', 'maxconn', 'bind-process' and 'timeout' (got 'frobnicate')"),
])
def test_config_errors(tmpdir_path, line, message):
    path = os.path.join(tmpdir_path, "bad.cfg")
    with open(path, "w") as f:
        f.write("global\n    %s\n" % line + DEFAULTS + "listen l\n    bind 127.0.0.1:1\n    server x 127.0.0.1:1\n")
    r = subprocess.run([FERRY, "-c", "-f", path], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "%s:2: %s" % (path, message) in r.stderr, r.stderr


def test_socket_that_cannot_open_stops_start(tmpdir_path):
    path = os.path.join(tmpdir_path, "bad.cfg")
    with open(path, "w") as f:
        f.write("global\n    stats socket %s/no/such/dir/a.sock\n" % tmpdir_path + DEFAULTS
                + "listen l\n    bind 127.0.0.1:%d\n    server x 127.0.0.1:1\n" % free_port() + ROOT_OPT_IN)
    r = subprocess.run([FERRY, "-f", path], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "%s:2: Starting stats socket" % path in r.stderr and "cannot bind UNIX socket" in r.stderr


def test_sockets_follow_reloads(ferry, tmpdir_path):
    """A reload opens the stats sockets the new configuration adds, closes
    those it drops, keeps the others (and their open sessions), gives a kept
    socket its new level, mode and stats timeout; a socket that cannot open
    refuses the reload whole."""
    port, tcp = free_port(), free_port()
    a, b, c = (os.path.join(tmpdir_path, n) for n in ("a.sock", "b.sock", "c.sock"))
    tail = DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server x 127.0.0.1:1\n" % port

    def write(lines):
        with open(os.path.join(tmpdir_path, "ferry.cfg"), "w") as f:
            f.write("global\n" + "".join("    %s\n" % l for l in lines) + tail)

    f = ferry("global\n    stats socket %s level admin\n    stats socket %s level user\n" % (a, b) + tail,
              wait_port=port)
    assert cmd(b, "show cli level") == "user\n"
    ino_a = os.stat(a).st_ino
    kept = Prompt(a)  # an interactive session on a socket that stays
    write(["stats socket %s level admin" % a,
           "stats socket %s level operator mode 600" % b,  # changed: new level and mode
           "stats socket %s" % c,                          # added
           "stats socket ipv4@127.0.0.1:%d level user" % tcp,
           "stats timeout 1500ms"])
    out = kept.ask("reload")
    assert "Reloaded" in out, out
    assert kept.ask("show cli level") == "admin\n\n> "  # the session goes on
    assert os.stat(a).st_ino == ino_a  # the same socket, not a new one
    assert cmd(b, "show cli level") == "operator\n"
    assert stat.S_IMODE(os.stat(b).st_mode) == 0o600
    assert cmd(c, "show cli level") == "operator\n"
    assert cli(("127.0.0.1", tcp), "show cli level\n") == "user\n\n"
    # the new stats timeout applies to sessions opened from now on
    p = Prompt(c)
    t = time.monotonic()
    assert p.s.recv(100) == b""
    assert time.monotonic() - t < 5
    p.close()
    # dropped: b and the TCP socket close, b's file goes
    write(["stats socket %s level admin" % a, "stats socket %s" % c])
    assert "Reloaded" in kept.ask("reload")
    assert not os.path.exists(b)
    with pytest.raises(OSError):
        cli(("127.0.0.1", tcp), "show cli level\n", timeout=1)
    # a socket that cannot open: nothing changes, the error says which line
    write(["stats socket %s level admin" % a, "stats socket %s/no/such/dir/d.sock" % tmpdir_path])
    out = kept.ask("reload")
    assert "Starting stats socket" in out and "ferry.cfg:3:" in out, out
    assert "Reloaded" not in out
    assert os.path.exists(c) and cmd(c, "show cli level") == "operator\n"
    assert cmd(a, "show cli level") == "admin\n"
    kept.close()
    f.stop()
    assert not os.path.exists(a) and not os.path.exists(c)
