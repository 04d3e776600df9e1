"""HAProxy-compatible protocol checks against small backends that answer
as the protocol demands, agent-check, and on-marked-down/up."""
import collections
import re
import socket
import struct
import time

import pytest

from conftest import DEFAULTS, Backend, ScriptServer, ask_name, free_port, recv_within, wait_until


def backend_cfg(check_opts, servers):
    """A frontend on a free port and backend "be" with option log-health-checks,
    the check options and the server lines given. Returns (config, port)."""
    port = free_port()
    cfg = "global\n    log stdout format raw local0\n" + DEFAULTS + "    log global\n" + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    option log-health-checks
%s
%s""" % (port, check_opts, servers)
    return cfg, port


def start(ferry, server_port, check_lines, server_opts="check inter 300 rise 1 fall 1", extra_servers=""):
    cfg, port = backend_cfg(check_lines, "    server s1 127.0.0.1:%d %s\n%s\n" % (server_port, server_opts, extra_servers))
    return ferry(cfg, wait_port=port), port


def first_result(f, timeout=3):
    m = f.wait_log(r"^Health check for server be/s1 (succeeded|failed), reason: ([^,]+)(?:, code: \d+)?"
                   r"(?:, info: \"(.*?)\")?, check duration: \d+ms, status: \d+/\d+ (UP|DOWN)\.$", timeout=timeout)
    assert m, f.stdout()
    return m.group(1), m.group(2), m.group(3)


class WirePeer(ScriptServer):
    """Plays its script, then reads until the check closes: records what the
    check sent and whether it closed with a FIN or a reset (RST). With
    wait=False it closes first, once its script is played."""

    def __init__(self, script, wait=True):
        self.ends = []
        self.wait = wait
        super().__init__(script)

    def _play(self, c):
        got, end = b"", "timeout"
        c.settimeout(3)
        try:
            for step in self.script:
                if step[0] == "send":
                    c.sendall(step[1])
                else:
                    got += c.recv(65536)
            while self.wait:
                d = c.recv(65536)
                if not d:
                    end = "FIN"
                    break
                got += d
        except ConnectionResetError:
            end = "RST"
        except OSError:
            pass
        self.received.append(got)
        self.ends.append(end)
        c.close()


def check_lines(ferry, check_opts, peers, inter=700, timeout=3, extra_servers=()):
    """Runs a backend with one server per peer (name -> port) and returns
    each server's first "Health check" line and, when it went down, its
    "Server ... is DOWN" line, with durations as Xms."""
    servers = "".join("    server %s 127.0.0.1:%d check inter %d rise 1 fall 1\n" % (n, p, inter)
                      for n, p in list(peers.items()) + list(extra_servers))
    cfg, port = backend_cfg(check_opts, servers)
    f = ferry(cfg, wait_port=port)
    names = [n for n, _ in list(peers.items()) + list(extra_servers)]
    rx = lambda n: re.compile(r"^Health check for server be/%s .*$" % n, re.M)
    assert wait_until(lambda: all(rx(n).search(f.stdout()) for n in names), timeout), f.stdout()
    out = re.sub(r"check duration: \d+ms", "check duration: Xms", f.stdout())
    lines = {}
    for n in names:
        lines[n] = [rx(n).search(out).group(0)]
        down = re.search(r"^Server be/%s is DOWN\..*$" % n, out, re.M)
        if down:
            lines[n].append(re.sub(r"\d+ active and", "N active and", down.group(0)))
    return f, lines


def ok_line(name, text, code=0):
    return ['Health check for server be/%s succeeded, reason: Layer7 check passed, code: %d, info: "%s", '
            'check duration: Xms, status: 1/1 UP.' % (name, code, text)]


def fail_lines(name, reason):
    return ['Health check for server be/%s failed, reason: %s, check duration: Xms, status: 0/1 DOWN.' % (name, reason),
            'Server be/%s is DOWN. N active and 0 backup servers left. 0 sessions active, 0 requeued, '
            '0 remaining in queue.' % name]


def pg_error(msg, severity="FATAL", code="28000"):
    body = b"S" + severity.encode() + b"\0C" + code.encode() + b"\0M" + msg.encode() + b"\0\0"
    return b"E" + struct.pack(">I", 4 + len(body)) + body


# The log lines HAProxy 2.6.12 (Debian 2.6.12-1+deb12u4, "haproxy -db" with
# "log stdout format raw local0" and "option log-health-checks") printed for
# the same peers, durations written Xms and the number of servers left N.
# "Server ... is DOWN." has no reason with log-health-checks: the reason is on
# the line before. Statuses from Layer 5 up carry a code; the info is what
# the server said, with '"', '<', '>' and non-printable bytes as <XX>.

def test_pgsql_check_as_haproxy(ferry):
    peers = {
        "auth": WirePeer([("recv",), ("send", b"R" + struct.pack(">II", 8, 3))]),
        "sasl": WirePeer([("recv",), ("send", b"R" + struct.pack(">II", 23, 10) + b"SCRAM-SHA-256\0\0")]),
        "err": WirePeer([("recv",), ("send", pg_error('no pg_hba.conf entry for host "127.0.0.1", user "ferry"'))]),
        "garbage": WirePeer([("recv",), ("send", b"HTTP/1.0 400 Bad Request\r\n\r\n")]),
    }
    try:
        _, lines = check_lines(ferry, "    option pgsql-check user ferry", {n: p.port for n, p in peers.items()})
        assert lines == {
            "auth": ok_line("auth", "PostgreSQL server is ok"),
            "sasl": ok_line("sasl", "PostgreSQL server is ok"),
            "err": fail_lines("err", 'Layer7 invalid response, info: "FATAL"'),
            "garbage": fail_lines("garbage", 'Layer7 wrong status, code: 0, info: "PostgreSQL unknown error"'),
        }
        for p in peers.values():  # a v3 StartupMessage for "ferry", closed with a FIN
            assert p.received[0] == b"\x00\x00\x00\x14\x00\x03\x00\x00user\x00ferry\x00\x00"
            assert p.ends[0] == "FIN"
    finally:
        for p in peers.values():
            p.stop()


def test_pgsql_check_libpq_times_out_at_layer7(ferry):
    """ferry's own PostgreSQL check (libpq, with a role) on a server that
    takes the startup packet and never answers: the check's timer ends it
    as a layer-7 timeout, and the check goes on (pgcheck_timeout)."""
    peer = WirePeer([("recv",)])
    try:
        f, _ = start(ferry, peer.port, "    option pgsql-check user ferry role any\n    timeout check 400ms")
        assert first_result(f) == ("failed", "Layer7 timeout", "PostgreSQL did not answer in time")
        assert wait_until(lambda: len(peer.received) >= 2, 4), "the next check never came"
        assert f.proc.poll() is None
    finally:
        peer.stop()


def test_redis_check_as_haproxy(ferry):
    peers = {
        "pong": WirePeer([("recv",), ("send", b"+PONG\r\n")]),
        "loading": WirePeer([("recv",), ("send", b"-LOADING Redis is loading the dataset in memory\r\n")], wait=False),
        "quoted": WirePeer([("recv",), ("send", b"-ERR \"bad\" <x> \x01\xc3\xa9\r\n")], wait=False),
        "silentclose": WirePeer([("recv",)], wait=False),
    }
    try:
        _, lines = check_lines(ferry, "    option redis-check", {n: p.port for n, p in peers.items()},
                               extra_servers=[("closed", free_port())])
        assert lines == {
            "pong": ok_line("pong", "Redis server is ok"),
            "loading": fail_lines("loading", 'Layer7 wrong status, code: 0, '
                                             'info: "-LOADING Redis is loading the dataset in memory"'),
            "quoted": fail_lines("quoted", 'Layer7 wrong status, code: 0, info: "-ERR <22>bad<22> <3C>x<3E> <01><C3><A9>"'),
            "silentclose": fail_lines("silentclose", 'Layer7 wrong status, code: 0, '
                                                     'info: "TCPCHK got an empty response at step 2"'),
            "closed": fail_lines("closed", 'Layer4 connection problem, info: "Connection refused"'),
        }
        # PING as a RESP array (not the inline "PING\r\n"), then a reset: no connect rule, no linger
        assert peers["pong"].received[0] == b"*1\r\n$4\r\nPING\r\n"
        assert peers["pong"].ends[0] == "RST"
    finally:
        for p in peers.values():
            p.stop()


def mysql_packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


GREETING = mysql_packet(0, b"\x0a8.0.19\x00" + b"\x01\x00\x00\x00" + b"abcdefgh\x00" + b"\xff\xf7\x21\x02\x00" + b"\x00" * 13)


def test_mysql_check_as_haproxy(ferry):
    peers = {
        "greet": WirePeer([("send", GREETING)]),
        "err": WirePeer([("send", mysql_packet(0, b"\xff\x6a\x04Host '127.0.0.1' is blocked because of many connection errors"))]),
        "garbage": WirePeer([("send", b"HELLO WORLD\r\n")], wait=False),
    }
    try:
        _, lines = check_lines(ferry, "    option mysql-check", {n: p.port for n, p in peers.items()})
        assert lines == {
            "greet": ok_line("greet", "8.0.19"),  # the server's version
            "err": fail_lines("err", 'Layer7 wrong status, code: 1130, '
                                     'info: "Host \'127.0.0.1\' is blocked because of many connection errors"'),
            "garbage": fail_lines("garbage", "Layer7 invalid response"),
        }
        assert peers["greet"].received[0] == b"" and peers["greet"].ends[0] == "FIN"  # nothing sent
    finally:
        for p in peers.values():
            p.stop()


def test_mysql_check_with_user_as_haproxy(ferry):
    peers = {
        "ok": WirePeer([("send", GREETING), ("recv",), ("send", mysql_packet(2, b"\x00\x00\x00\x02\x00\x00\x00"))]),
        "denied": WirePeer([("send", GREETING), ("recv",),
                            ("send", mysql_packet(2, b"\xff\x15\x04#28000Access denied for user 'ferry'@'localhost' (using password: NO)"))]),
    }
    try:
        _, lines = check_lines(ferry, "    option mysql-check user ferry", {n: p.port for n, p in peers.items()})
        assert lines == {
            "ok": ok_line("ok", "8.0.19"),
            "denied": fail_lines("denied", 'Layer7 wrong status, code: 1045, '
                                           'info: "#28000Access denied for user \'ferry\'@\'localhost\' (using password: NO)"'),
        }
        # HAProxy's 4.1 login (capabilities 0x8200, max packet 0x01800000,
        # utf8), then COM_QUIT in the same write, so MySQL does not log an
        # "Aborted connection"; closed with a FIN
        login = (b"\x27\x00\x00\x01" + b"\x00\x82\x00\x00" + b"\x00\x80\x00\x01" + b"\x21" + b"\x00" * 23 +
                 b"ferry\x00" + b"\x00")
        assert peers["ok"].received[0] == login + b"\x01\x00\x00\x00\x01"
        assert peers["ok"].ends[0] == "FIN"
    finally:
        for p in peers.values():
            p.stop()


def test_mysql_check_pre41_login_bytes(ferry):
    peer = WirePeer([("send", GREETING), ("recv",), ("send", mysql_packet(2, b"\x00\x00\x00\x02\x00\x00\x00"))])
    try:
        check_lines(ferry, "    option mysql-check user ferry pre-41", {"s1": peer.port})
        # HAProxy's pre-4.1 login: header, capabilities 0x8000, max packet, user, COM_QUIT
        assert peer.received[0] == b"\x0c\x00\x00\x01\x00\x80\x00\x00\x01ferry\x00\x00\x01\x00\x00\x00\x01"
    finally:
        peer.stop()


def test_ssl_hello_check_as_haproxy(ferry):
    peers = {
        "tls": WirePeer([("recv",), ("send", b"\x15\x03\x00\x00\x02\x02\x28")]),  # a handshake_failure alert
        "plain": WirePeer([("recv",), ("send", b"SSH-2.0-OpenSSH_9.2\r\n")]),
    }
    try:
        t0 = int(time.time())
        _, lines = check_lines(ferry, "    option ssl-hello-chk", {n: p.port for n, p in peers.items()})
        assert lines == {
            "tls": ['Health check for server be/tls succeeded, reason: Layer6 check passed, check duration: Xms, '
                    'status: 1/1 UP.'],
            "plain": fail_lines("plain", "Layer6 invalid response"),
        }
        # HAProxy's SSLv3 ClientHello: the time at bytes 11-14, its own
        # "random", 39 suites (0x01-0x1B, 0x2F-0x3A), null compression
        hello = peers["tls"].received[0]
        suites = b"".join(b"\x00" + bytes([x]) for x in list(range(0x01, 0x1c)) + list(range(0x2f, 0x3b)))
        assert hello[:11] == b"\x16\x03\x00\x00\x79\x01\x00\x00\x75\x03\x00"
        assert abs(struct.unpack(">I", hello[11:15])[0] - t0) <= 5
        assert hello[15:] == b"HAPROXYSSLCHK\nHAPROXYSSLCHK\n" + b"\x00" + b"\x00\x4e" + suites + b"\x01\x00"
        assert peers["tls"].ends[0] == "RST"
    finally:
        for p in peers.values():
            p.stop()


def test_smtpchk_as_haproxy(ferry):
    peers = {
        "good": WirePeer([("send", b"220 mx.example ESMTP\r\n"), ("recv",),
                          ("send", b"250-mx.example\r\n250 PIPELINING\r\n"), ("recv",), ("send", b"221 2.0.0 Bye closing\r\n")]),
        "no221": WirePeer([("send", b"220 mx.example ESMTP\r\n"), ("recv",), ("send", b"250 mx.example\r\n"), ("recv",)],
                           wait=False),
        "banner554": WirePeer([("send", b"554 go away\r\n")]),
        "quit500": WirePeer([("send", b"220 mx.example ESMTP\r\n"), ("recv",), ("send", b"250 mx.example\r\n"), ("recv",),
                             ("send", b"500 what\r\n")]),
        "garbage": WirePeer([("send", b"hello\r\n")]),
        "banner2": WirePeer([("send", b"220-mx hello\r\n220 mx\r\n")]),
    }
    try:
        _, lines = check_lines(ferry, "    option smtpchk EHLO ferry.test", {n: p.port for n, p in peers.items()})
        assert lines == {
            # the UP waits for the 221 to QUIT, and says it
            "good": ok_line("good", "2.0.0 Bye closing", code=221),
            "no221": fail_lines("no221", 'Layer7 wrong status, code: 0, info: "TCPCHK got an empty response at step 7"'),
            "banner554": fail_lines("banner554", 'Layer7 wrong status, code: 554, info: "go away"'),
            "quit500": fail_lines("quit500", 'Layer7 wrong status, code: 500, info: "what"'),
            "garbage": fail_lines("garbage", 'Layer7 invalid response, info: "hello"'),
            "banner2": fail_lines("banner2", 'Layer7 invalid response, info: "220-mx hello"'),
        }
        assert peers["good"].received[0] == b"EHLO ferry.test\r\nQUIT\r\n"
        assert peers["good"].ends[0] == "FIN"
        assert peers["banner554"].received[0] == b""
    finally:
        for p in peers.values():
            p.stop()


def test_ldap_check_as_haproxy(ferry):
    peers = {n: WirePeer([("recv",), ("send", bytes.fromhex(h))]) for n, h in (
        ("ok", "300c02010161070a010004000400"),
        ("ad4", "3084000000100201016184000000070a010004000400"),  # Active Directory's 4-byte lengths
        ("refused49", "300c02010161070a013104000400"),
        ("notldap", "310c02010161070a010004000400"),
        ("badmsgid", "300c02010261070a010004000400"),
        ("len3", "3083000010020101610a0a0100040004000000"),
    )}
    try:
        _, lines = check_lines(ferry, "    option ldap-check", {n: p.port for n, p in peers.items()})
        not_v3 = 'Layer7 invalid response, info: "Not LDAPv3 protocol"'
        assert lines == {
            "ok": ok_line("ok", "Success"),
            "ad4": ok_line("ad4", "Success"),
            "refused49": fail_lines("refused49", 'Layer7 wrong status, code: 49, '
                                                 'info: "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9"'),
            "notldap": fail_lines("notldap", not_v3),
            "badmsgid": fail_lines("badmsgid", not_v3),
            "len3": fail_lines("len3", not_v3),
        }
        assert peers["ok"].received[0] == bytes.fromhex("300c020101600702010304008000")
        assert peers["ok"].ends[0] == "RST"
    finally:
        for p in peers.values():
            p.stop()


def test_tcp_check_texts_as_haproxy(ferry):
    """What HAProxy 2.6.12 says for tcp-check rules of one's own: the step,
    the pattern, the comment, "(tcp-check)" on success."""
    err = ScriptServer([("recv",), ("send", b"ERR busy\r\n")])
    good = ScriptServer([("recv",), ("send", b"OK fine\r\n")])
    closed = free_port()
    cases = {
        "refused": ("tcp-check connect port %d" % closed,
                    'Layer4 connection problem, info: "Connection refused at step 1 of tcp-check (connect port %d)"'
                    % closed),
        "second": ("tcp-check comment first\n    tcp-check connect port %d\n    tcp-check send hi\\r\\n\n"
                   "    tcp-check expect string OK\n    tcp-check connect port %d comment second" % (good.port, closed),
                   'Layer4 connection problem, info: "Connection refused at step 5 of tcp-check (connect port %d) '
                   "comment: 'second'\"" % closed),
        "implicit": ("", 'Layer4 connection problem, info: "Connection refused at initial connection step of tcp-check"'),
        "str": ("tcp-check connect port %d\n    tcp-check send hi\\r\\n\n    tcp-check expect string OK" % err.port,
                "Layer7 invalid response, info: \"TCPCHK did not match content 'OK' at step 3\""),
        "rstr": ("tcp-check connect port %d\n    tcp-check send hi\\r\\n\n    tcp-check expect rstring ^OK" % err.port,
                 'Layer7 invalid response, info: "TCPCHK did not match content (regex) at step 3"'),
        "bin": ("tcp-check connect port %d\n    tcp-check send hi\\r\\n\n    tcp-check expect binary 4f4b" % err.port,
                'Layer7 invalid response, info: "TCPCHK did not match content (binary) at step 3"'),
        "rbin": ("tcp-check connect port %d\n    tcp-check send hi\\r\\n\n    tcp-check expect rbinary ^4F4B" % err.port,
                 'Layer7 invalid response, info: "TCPCHK did not match content (binary regex) at step 3"'),
        "neg": ("tcp-check connect port %d\n    tcp-check send hi\\r\\n\n    tcp-check expect ! string ERR" % err.port,
                "Layer7 invalid response, info: \"TCPCHK matched unwanted content 'ERR' at step 3\""),
        "cmt": ("tcp-check connect port %d\n    tcp-check send hi\\r\\n\n"
                "    tcp-check expect string OK comment looking-for-ok" % err.port,
                "Layer7 invalid response, info: \"TCPCHK did not match content 'OK' at step 3 comment: looking-for-ok\""),
        "ok": ("tcp-check connect port %d\n    tcp-check send hi\\r\\n\n    tcp-check expect string OK" % good.port, None),
        "okconn": ("tcp-check connect port %d" % good.port, None),
    }
    try:
        got = {}
        for name, (rules, _) in cases.items():
            _, lines = check_lines(ferry, "    option tcp-check\n    " + rules, {"s1": closed})
            got[name] = lines["s1"]
        for name, (_, reason) in cases.items():
            if reason:
                assert got[name] == fail_lines("s1", reason), name
        assert got["ok"] == ok_line("s1", "(tcp-check)")
        assert got["okconn"] == ['Health check for server be/s1 succeeded, reason: Layer4 check passed, '
                                 'info: "(tcp-check)", check duration: Xms, status: 1/1 UP.']
    finally:
        err.stop()
        good.stop()


def test_tcp_check_timeout_names_the_step_as_haproxy(ferry):
    silent = ScriptServer([("recv",), ("recv",)])
    try:
        rules = ("    option tcp-check\n    tcp-check connect port %d\n    tcp-check send hi\\r\\n\n"
                 "    tcp-check expect string OK comment waiting" % silent.port)
        _, lines = check_lines(ferry, rules, {"s1": silent.port}, inter=400)
        assert lines["s1"] == fail_lines("s1", "Layer7 timeout, info: \" at step 3 of tcp-check (expect string 'OK') "
                                               "comment: 'waiting'\"")
        # an option xxx-check says nothing more than the status
        _, lines = check_lines(ferry, "    option smtpchk", {"s2": silent.port}, inter=400)
        assert lines["s2"] == fail_lines("s2", "Layer7 timeout")
    finally:
        silent.stop()


def test_tcp_check_reset_and_nul_bytes_as_haproxy(ferry):
    """A reset before any reply is a socket error; a reply is searched past
    its NUL bytes (HAProxy 2.6.12 finds "OK" in "\\0OK")."""
    class Reset(ScriptServer):
        def _play(self, c):
            try:
                c.recv(100)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            c.close()
    rst = Reset([])
    nul = ScriptServer([("recv",), ("send", b"\x00OK\r\n")])
    try:
        rules = "    option tcp-check\n    tcp-check send hi\\r\\n\n    tcp-check expect %s OK"
        _, lines = check_lines(ferry, rules % "string", {"rst": rst.port, "nul": nul.port})
        assert lines["rst"] == ['Health check for server be/rst failed, reason: Socket error, info: "Connection reset '
                                "by peer at step 2 of tcp-check (expect string 'OK')\", check duration: Xms, "
                                'status: 0/1 DOWN.', 'Server be/rst is DOWN. N active and 0 backup servers left. '
                                '0 sessions active, 0 requeued, 0 remaining in queue.']
        assert lines["nul"] == ok_line("nul", "(tcp-check)")
        _, lines = check_lines(ferry, rules % "rstring", {"nul": nul.port})
        assert lines["nul"] == ok_line("nul", "(tcp-check)")
    finally:
        rst.stop()
        nul.stop()


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
        assert first_result(f) == ("succeeded", "Layer7 check passed", "(tcp-check)")
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
        assert f.wait_log(r'^Health check for server be/s1 failed, reason: Layer7 wrong status, code: 0, '
                          r'info: "service busy"')
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


@pytest.fixture
def agent_ferry(ferry, backends):
    """Factory: (first reply, server options) -> (agent, ferry, port): ferry
    in front of one backend server whose agent answers agent.reply; the agent
    is stopped at teardown."""
    agents = []

    def make(reply, server_opts, queue_timeout="2s"):
        (b,) = backends(1)
        agent = Agent(reply)
        agents.append(agent)
        port = free_port()
        cfg = "global\n    log stdout format raw local0\n" + DEFAULTS + "    log global\n" + """
listen l
    bind 127.0.0.1:%d
    timeout queue %s
    server s1 127.0.0.1:%d agent-check agent-port %d agent-inter 200 agent-send "ping\\n" %s
""" % (port, queue_timeout, b.port, agent.port, server_opts)
        return agent, ferry(cfg, wait_port=port), port

    yield make
    for a in agents:
        a.stop()


def test_agent_reply_out_of_range_is_ignored_and_logged(agent_ferry):
    """Replies come from the network: a percentage or a maxconn too large for
    any integer must neither overflow (UBSan aborts the ASan build) nor take
    the server out. As HAProxy (server_parse_weight_change_request), a
    percentage is capped at 25600% and the weight at 256; a maxconn out of
    range is ignored (HAProxy 2.6 stores it truncated to an int) and ferry
    says so once."""
    agent, f, port = agent_ferry(b"9999999999999999999%\n", "weight 10 maxconn 3")
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


def test_agent_maxconn_rise_serves_queued_clients_at_once(agent_ferry):
    """Server maxconn 1, three clients queued behind a held one: when the
    agent raises maxconn to 10, all three are served at once, not when an
    unrelated session closes."""
    agent, f, port = agent_ferry(b"up\n", "maxconn 1", queue_timeout="5s")
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


def test_agent_drain_and_ready_are_logged_as_haproxy(agent_ferry):
    """HAProxy 2.6.12 (Debian) logs, for an agent saying drain then ready:
    Server be/s1 enters drain state. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.
    backend be has no server available!
    Server be/s1 is UP (leaving forced drain).
    and nothing for a weight (50%) or maxconn change."""
    agent, f, port = agent_ferry(b"up\n", "weight 10")
    time.sleep(0.3)
    agent.reply = b"50% maxconn:5\n"
    time.sleep(0.5)
    agent.reply = b"drain\n"
    assert f.wait_log(r"^Server l/s1 enters drain state\. 0 active and 0 backup servers online\. "
                      r"0 sessions requeued, 0 total in queue\.$", timeout=2), f.stdout()
    # a listen section: HAProxy says "proxy l" (proxy_type_str), "backend be" for a backend
    assert f.wait_log(r"^proxy l has no server available!$", timeout=1)
    agent.reply = b"ready\n"
    assert f.wait_log(r"^Server l/s1 is UP \(leaving forced drain\)\.$", timeout=2), f.stdout()
    assert ask_name(port) == "s1"
    lines = [ln for ln in f.stdout().splitlines() if "s1" in ln]
    assert len(lines) == 2, lines  # the weight and maxconn change said nothing


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


def test_rstring_with_backslash_classes(ferry):
    """The issue's own line (item 17): HAProxy 2.6 runs it and its check
    passes against a server answering "+OK 12"; the lexer keeps the
    backslashes and PCRE2 reads \\d and \\s."""
    srv = ScriptServer([("recv",), ("send", b"+OK 12\r\n")])
    try:
        rules = """    option tcp-check
    tcp-check send PING\\r\\n
    tcp-check expect rstring ^\\+OK\\s\\d+"""
        f, _ = start(ferry, srv.port, rules)
        assert first_result(f)[:2] == ("succeeded", "Layer7 check passed")
    finally:
        srv.stop()
