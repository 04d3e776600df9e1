"""HAProxy-compatible protocol checks against small backends that answer
as the protocol demands, agent-check, and on-marked-down/up."""
import collections
import re
import socket
import struct
import time

import pytest

from conftest import DEFAULTS, Backend, ScriptServer, ask_name, free_port, recv_within, wait_until


def start(ferry, server_port, check_lines, server_opts="check inter 300 rise 1 fall 1", extra_servers=""):
    port = free_port()
    cfg = "global\n    log stdout format raw local0\n" + DEFAULTS + "    log global\n" + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    option log-health-checks
%s
    server s1 127.0.0.1:%d %s
%s
""" % (port, check_lines, server_port, server_opts, extra_servers)
    return ferry(cfg, wait_port=port), port


def first_result(f, timeout=3):
    m = f.wait_log(r"^Health check for server be/s1 (succeeded|failed), reason: ([^,]+)(?:, info: \"(.*?)\")?, "
                   r"check duration: \d+ms, status: \d+/\d+ (UP|DOWN)\.$", timeout=timeout)
    assert m, f.stdout()
    return m.group(1), m.group(2), m.group(3)


def pg_error(msg, severity="FATAL", code="28000"):
    body = b"S" + severity.encode() + b"\0C" + code.encode() + b"\0M" + msg.encode() + b"\0\0"
    return b"E" + struct.pack(">I", 4 + len(body)) + body


PG_REPLIES = [
    ("authentication request", b"R" + struct.pack(">II", 8, 3), ("succeeded", "Layer7 check passed", "PostgreSQL server is ok")),
    ("error", pg_error('no pg_hba.conf entry for host "127.0.0.1", user "ferry"'),
     ("failed", "Layer7 invalid response", 'FATAL: no pg_hba.conf entry for host \\"127.0.0.1\\", user \\"ferry\\"')),
    ("garbage", b"HTTP/1.0 400 Bad Request\r\n\r\n", ("failed", "Layer7 wrong status", "PostgreSQL unknown error")),
    ("SASL request", b"R" + struct.pack(">II", 23, 10) + b"SCRAM-SHA-256\0\0",
     ("succeeded", "Layer7 check passed", "PostgreSQL server is ok")),
]


@pytest.mark.parametrize("name,reply,expected", PG_REPLIES, ids=[r[0] for r in PG_REPLIES])
def test_pgsql_check_canned_replies(ferry, name, reply, expected):
    srv = ScriptServer([("recv",), ("send", reply)])
    try:
        f, _ = start(ferry, srv.port, "    option pgsql-check user ferry")
        result = first_result(f)
        assert result[0] == expected[0] and result[1] == expected[1]
        assert result[2] == expected[2].replace('\\"', '"') or result[2] == expected[2]
        # exactly HAProxy's probe: a v3 StartupMessage for user "ferry", nothing else
        assert wait_until(lambda: srv.received, 2)
        assert srv.received[0] == struct.pack(">I", 15 + 5) + b"\x00\x03\x00\x00user\x00ferry\x00\x00"
        if expected[0] == "failed":
            assert f.wait_log(r"^Server be/s1 is DOWN, reason: %s" % expected[1])
    finally:
        srv.stop()


def test_redis_check(ferry):
    good = ScriptServer([("recv",), ("send", b"+PONG\r\n")])
    bad = ScriptServer([("recv",), ("send", b"-LOADING Redis is loading the dataset in memory\r\n")])
    try:
        f, _ = start(ferry, good.port, "    option redis-check",
                     extra_servers="    server s2 127.0.0.1:%d check inter 300 rise 1 fall 1" % bad.port)
        assert first_result(f)[:3] == ("succeeded", "Layer7 check passed", "Redis server is ok")
        assert good.received[0] == b"PING\r\n"
        assert f.wait_log(r"^Server be/s2 is DOWN, reason: Layer7 wrong status, info: \"TCPCHK did not match content '\+PONG' at step 3\"")
    finally:
        good.stop()
        bad.stop()


def mysql_packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


GREETING = mysql_packet(0, b"\x0a8.0.36\x00" + b"\x01\x00\x00\x00" + b"abcdefgh\x00" + b"\xff\xf7\x21\x02\x00" + b"\x00" * 13)


def test_mysql_check_with_user(ferry):
    ok = ScriptServer([("send", GREETING), ("recv",), ("send", mysql_packet(2, b"\x00\x00\x00\x02\x00\x00\x00"))])
    denied = ScriptServer([("send", GREETING), ("recv",),
                           ("send", mysql_packet(2, b"\xff\x15\x04#28000Access denied for user 'ferry'"))])
    try:
        f, _ = start(ferry, ok.port, "    option mysql-check user ferry",
                     extra_servers="    server s2 127.0.0.1:%d check inter 300 rise 1 fall 1" % denied.port)
        assert first_result(f)[:3] == ("succeeded", "Layer7 check passed", "MySQL server is ok")
        login = ok.received[0]
        assert login[3] == 1 and b"ferry\x00" in login  # sequence 1, the user name
        assert f.wait_log(r"^Server be/s2 is DOWN, reason: Layer7 wrong status, info: \"MySQL error 1045: Access denied for user 'ferry'\"")
    finally:
        ok.stop()
        denied.stop()


def test_ssl_hello_check(ferry):
    tls = ScriptServer([("recv",), ("send", b"\x16\x03\x03\x00\x31\x02\x00\x00\x2d\x03\x03" + b"\x00" * 45)])
    plain = ScriptServer([("recv",), ("send", b"SSH-2.0-OpenSSH_9.2\r\n")])
    try:
        f, _ = start(ferry, tls.port, "    option ssl-hello-chk",
                     extra_servers="    server s2 127.0.0.1:%d check inter 300 rise 1 fall 1" % plain.port)
        assert first_result(f)[:2] == ("succeeded", "Layer6 check passed")
        hello = tls.received[0]
        assert hello[0] == 0x16 and hello[5] == 0x01  # a handshake record with a ClientHello
        assert f.wait_log(r"^Server be/s2 is DOWN, reason: Layer6 invalid response")
    finally:
        tls.stop()
        plain.stop()


def test_smtpchk(ferry):
    good = ScriptServer([("send", b"220 mx.example ESMTP\r\n"), ("recv",), ("send", b"250 mx.example\r\n"), ("recv",)])
    bad = ScriptServer([("send", b"554 go away\r\n")])
    try:
        f, _ = start(ferry, good.port, "    option smtpchk EHLO ferry.test",
                     extra_servers="    server s2 127.0.0.1:%d check inter 300 rise 1 fall 1" % bad.port)
        assert first_result(f)[:3] == ("succeeded", "Layer7 check passed", "SMTP server is ok")
        assert wait_until(lambda: good.received and b"EHLO ferry.test\r\n" in good.received[0], 2)
        assert f.wait_log(r"^Server be/s2 is DOWN, reason: Layer7 wrong status")
    finally:
        good.stop()
        bad.stop()


def test_ldap_check(ferry):
    ok = ScriptServer([("recv",), ("send", bytes.fromhex("300c02010161070a010004000400"))])
    refused = ScriptServer([("recv",), ("send", bytes.fromhex("300c02010161070a013104000400"))])
    try:
        f, _ = start(ferry, ok.port, "    option ldap-check",
                     extra_servers="    server s2 127.0.0.1:%d check inter 300 rise 1 fall 1" % refused.port)
        assert first_result(f)[:2] == ("succeeded", "Layer7 check passed")
        assert ok.received[0] == bytes.fromhex("300c020101600702010304008000")
        assert f.wait_log(r"^Server be/s2 is DOWN, reason: Layer7 wrong status")
    finally:
        ok.stop()
        refused.stop()


def test_tcp_check_rules_two_connects(ferry):
    first = ScriptServer([("recv",), ("send", b"OK ready\r\n")])
    second = ScriptServer([("recv",), ("send", b"\x03\x04 fine")])
    try:
        rules = """    option tcp-check
    tcp-check comment "two ports must answer"
    tcp-check connect port %d
    tcp-check send "HELLO\\r\\n"
    tcp-check expect string OK
    tcp-check connect port %d linger
    tcp-check send-binary 0102
    tcp-check expect binary 0304
    tcp-check expect ! string ERR""" % (first.port, second.port)
        f, _ = start(ferry, free_port(), rules)
        assert first_result(f)[:2] == ("succeeded", "Layer7 check passed")
        assert first.received[0] == b"HELLO\r\n"
        assert second.received[0] == b"\x01\x02"
    finally:
        first.stop()
        second.stop()


def test_tcp_check_failure_status_and_message(ferry):
    srv = ScriptServer([("recv",), ("send", b"ERR busy")])
    try:
        rules = """    option tcp-check
    tcp-check send ping
    tcp-check expect min-recv 3 error-status L7STS on-error "service busy" rstring ^OK"""
        f, _ = start(ferry, srv.port, rules)
        assert first_result(f) == ("failed", "Layer7 wrong status", "service busy")
    finally:
        srv.stop()


def test_plain_check_reports_l4(ferry, backends):
    (b,) = backends(1)
    f, _ = start(ferry, b.port, "")
    assert first_result(f) == ("succeeded", "Layer4 check passed", None)


class Agent(ScriptServer):
    """An agent-check peer: reads the agent-send string, answers self.reply."""

    def __init__(self, reply=b"up\n"):
        self.reply = reply
        super().__init__([])

    def _play(self, c):
        try:
            c.recv(100)
            c.sendall(self.reply)
        except OSError:
            pass
        c.close()


def test_agent_check(ferry, backends):
    bs = backends(2)
    agent = Agent()
    try:
        port = free_port()
        cfg = "global\n    log stdout format raw local0\n" + DEFAULTS + "    log global\n" + """
listen l
    bind 127.0.0.1:%d
    server s1 127.0.0.1:%d agent-check agent-port %d agent-inter 200 agent-send "status\\n"
    server s2 127.0.0.1:%d
""" % (port, bs[0].port, agent.port, bs[1].port)
        f = ferry(cfg, wait_port=port)
        time.sleep(0.4)
        assert collections.Counter(ask_name(port) for _ in range(10)) == {"s1": 5, "s2": 5}
        agent.reply = b"down#maintenance window\n"
        assert f.wait_log(r"^Server l/s1 is DOWN, reason: agent replied \"down#maintenance window\"", timeout=2)
        assert collections.Counter(ask_name(port) for _ in range(6)) == {"s2": 6}
        agent.reply = b"up 300%\n"  # back, with three times its weight
        assert f.wait_log(r"^Server l/s1 is UP, reason: agent replied", timeout=2)
        time.sleep(0.3)
        assert collections.Counter(ask_name(port) for _ in range(40)) == {"s1": 30, "s2": 10}
        agent.reply = b"drain\n"
        time.sleep(0.5)
        assert collections.Counter(ask_name(port) for _ in range(5)) == {"s2": 5}
    finally:
        agent.stop()


def test_on_marked_down_shutdown_sessions(ferry, backends):
    (b,) = backends(1)
    checkport = ScriptServer([])  # accepts, closes: a passing L4 check
    port = free_port()
    cfg = "global\n    log stdout format raw local0\n" + DEFAULTS + "    log global\n    option tcplog\n" + """
listen l
    bind 127.0.0.1:%d
    server s1 127.0.0.1:%d check port %d inter 200 fall 1 rise 1 on-marked-down shutdown-sessions
""" % (port, b.port, checkport.port)
    f = ferry(cfg, wait_port=port)
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert c.recv(10) == b"s1\n"
    checkport.stop()  # the check fails; the traffic port still works
    assert f.wait_log(r"^Server l/s1 is DOWN", timeout=2)
    assert c.recv(10) == b""  # the session was shut down
    c.close()
    assert f.wait_log(r" l l/s1 \d+/\d+/\d+ 3 DD ")


def test_on_marked_up_shutdown_backup_sessions(ferry, backends):
    bs = backends(2)
    checkport_port = free_port()
    port = free_port()
    cfg = DEFAULTS + """
listen l
    bind 127.0.0.1:%d
    server s1 127.0.0.1:%d check port %d inter 200 fall 1 rise 1 on-marked-up shutdown-backup-sessions
    server s2 127.0.0.1:%d backup
""" % (port, bs[0].port, checkport_port, bs[1].port)
    f = ferry(cfg, wait_port=port)
    assert f.wait_log(r"Server l/s1 is DOWN", timeout=2, where="stderr")
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert c.recv(10) == b"s2\n"  # on the backup
    checker = Backend("check", port=checkport_port, mode="echo").start()
    try:
        assert f.wait_log(r"Server l/s1 is UP", timeout=2, where="stderr")
        assert c.recv(10) == b""  # the backup session was closed
        assert ask_name(port) == "s1"
    finally:
        c.close()
        checker.stop()


def test_tcp_check_connect_send_proxy(ferry):
    srv = ScriptServer([("until", b"HELLO\r\n"), ("send", b"READY\r\n")])
    try:
        rules = """    option tcp-check
    tcp-check connect send-proxy
    tcp-check send "HELLO\\r\\n"
    tcp-check expect string READY"""
        f, _ = start(ferry, srv.port, rules)
        assert first_result(f)[:2] == ("succeeded", "Layer7 check passed")
        got = srv.received[0]
        m = __import__("re").match(rb"^PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 (\d+) (\d+)\r\nHELLO\r\n$", got)
        assert m, got
        assert int(m.group(2)) == srv.port
    finally:
        srv.stop()


def agent_listen(agent, backend, server_opts=""):
    port = free_port()
    cfg = "global\n    log stdout format raw local0\n" + DEFAULTS + "    log global\n" + """
listen l
    bind 127.0.0.1:%d
    server s1 127.0.0.1:%d agent-check agent-port %d agent-inter 200 agent-send "ping\\n" %s
""" % (port, backend.port, agent.port, server_opts)
    return cfg, port


def test_agent_reply_out_of_range_is_ignored_and_logged(ferry, backends):
    """Replies come from the network: a percentage or a maxconn too large for
    any integer must neither overflow (UBSan aborts the ASan build) nor take
    the server out. As HAProxy (server_parse_weight_change_request), a
    percentage is capped at 25600% and the weight at 256; a maxconn out of
    range is ignored (HAProxy 2.6 stores it truncated to an int) and ferry
    says so once."""
    (b,) = backends(1)
    agent = Agent(b"9999999999999999999%\n")
    try:
        cfg, port = agent_listen(agent, b, "weight 10 maxconn 3")
        f = ferry(cfg, wait_port=port)
        time.sleep(0.5)
        assert ask_name(port) == "s1"  # still weighs something: not drained by a -1
        agent.reply = b"maxconn:99999999999999999999\n"
        assert f.wait_log(r'^Agent check for server l/s1: agent warns : maxconn 99999999999999999999 out of range '
                          r'\(0-10000000\), ignored\.$', timeout=2), f.stdout()
        time.sleep(0.5)
        assert len(re.findall("out of range", f.stdout())) == 1  # said once, not at every agent-inter
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
        try:
            assert all(c.recv(10) == b"s1\n" for c in held)  # maxconn 3 still applies...
            late = socket.create_connection(("127.0.0.1", port), timeout=5)
            assert recv_within(late, 0.5) is None  # ...so a fourth client waits in the queue
            late.close()
        finally:
            for c in held:
                c.close()
    finally:
        agent.stop()


def test_agent_maxconn_rise_serves_queued_clients_at_once(ferry, backends):
    """Server maxconn 1, three clients queued behind a held one: when the
    agent raises maxconn to 10, all three are served at once, not when an
    unrelated session closes."""
    (b,) = backends(1)
    agent = Agent(b"up\n")
    try:
        cfg, port = agent_listen(agent, b, "maxconn 1")
        f = ferry(cfg.replace("timeout connect 2s", "timeout connect 5s"), wait_port=port)
        held = socket.create_connection(("127.0.0.1", port), timeout=5)
        assert held.recv(10) == b"s1\n"
        queued = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
        for c in queued:
            assert recv_within(c, 0.3) is None  # waiting for a slot
        t0 = time.monotonic()
        agent.reply = b"maxconn:10\n"
        for c in queued:
            c.settimeout(3)
            assert c.recv(10) == b"s1\n"
        took = time.monotonic() - t0
        assert took < 0.6, took  # one agent-inter (200 ms) and a little
        for c in queued + [held]:
            c.close()
        assert "Server l/s1 is" not in f.stdout()  # a capacity change, not an UP/DOWN one
    finally:
        agent.stop()


def test_agent_drain_and_ready_are_logged_as_haproxy(ferry, backends):
    """HAProxy 2.6.12 (Debian) logs, for an agent saying drain then ready:
    Server be/s1 enters drain state. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.
    backend be has no server available!
    Server be/s1 is UP (leaving forced drain).
    and nothing for a weight (50%) or maxconn change."""
    (b,) = backends(1)
    agent = Agent(b"up\n")
    try:
        cfg, port = agent_listen(agent, b, "weight 10")
        f = ferry(cfg, wait_port=port)
        time.sleep(0.3)
        agent.reply = b"50% maxconn:5\n"
        time.sleep(0.5)
        agent.reply = b"drain\n"
        assert f.wait_log(r"^Server l/s1 enters drain state\. 0 active and 0 backup servers online\. "
                          r"0 sessions requeued, 0 total in queue\.$", timeout=2), f.stdout()
        assert f.wait_log(r"^backend l has no server available!$", timeout=1)
        agent.reply = b"ready\n"
        assert f.wait_log(r"^Server l/s1 is UP \(leaving forced drain\)\.$", timeout=2), f.stdout()
        assert ask_name(port) == "s1"
        lines = [ln for ln in f.stdout().splitlines() if "s1" in ln]
        assert len(lines) == 2, lines  # the weight and maxconn change said nothing
    finally:
        agent.stop()


def test_rstring_uses_pcre_syntax_as_haproxy(ferry):
    """HAProxy matches with PCRE2: case-insensitive groups, lazy quantifiers
    and POSIX classes all work (POSIX regcomp rejected "(?i)")."""
    srv = ScriptServer([("recv",), ("send", b"+PONG 12 from a replica\r\n")])
    try:
        rules = """    option tcp-check
    tcp-check send PING\\r\\n
    tcp-check expect rstring (?i)^[+]pong[[:space:]][[:digit:]]+
    tcp-check expect rstring from.*?replica"""
        f, _ = start(ferry, srv.port, rules)
        assert first_result(f)[:2] == ("succeeded", "Layer7 check passed"), f.stdout() + f.stderr()
    finally:
        srv.stop()


@pytest.mark.xfail(strict=False, reason="needs the lexer fix: today the lexer strips the backslashes")
def test_rstring_with_backslash_classes(ferry):
    srv = ScriptServer([("recv",), ("send", b"+OK 12\r\n")])
    try:
        rules = """    option tcp-check
    tcp-check send PING\\r\\n
    tcp-check expect rstring ^\\+OK\\s\\d+"""
        f, _ = start(ferry, srv.port, rules)
        assert first_result(f)[:2] == ("succeeded", "Layer7 check passed")
    finally:
        srv.stop()
