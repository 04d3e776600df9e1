"""Reloads inside the running process (SIGHUP, SIGUSR2): the same listening
sockets go on, sessions finish on the configuration they started with,
server state carries over by name, and a configuration with an error
changes nothing."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import DEFAULTS, Backend, free_port, recv_within, wait_until

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools")
LOGGED = "global\n    log stdout format raw local0\n" + DEFAULTS.replace("mode tcp", "mode tcp\n    log global\n    option tcplog")


def reload(f, sig=signal.SIGHUP, n=None):
    """Sends sig and waits for the reload's answer on stderr; returns it."""
    before = f.stderr().count("Reload")
    f.proc.send_signal(sig)
    assert wait_until(lambda: f.stderr().count("Reload") > before, 5), f.stderr()
    return f.stderr()


def write(f, text):
    with open(f.cfg_path, "w") as fh:
        fh.write(text)


def test_reload_adds_and_removes_proxies_and_keeps_sockets(ferry, backends):
    s1, s2 = backends(2)
    p1, p2 = free_port(), free_port()
    a = LOGGED + "frontend fe\n    bind 127.0.0.1:%d\n    default_backend be\nbackend be\n    server s1 127.0.0.1:%d\n" % (p1, s1.port)
    b = a + "    server s2 127.0.0.1:%d\nfrontend fe2\n    bind 127.0.0.1:%d\n    default_backend be2\n" \
            "backend be2\n    server t1 127.0.0.1:%d\n" % (s2.port, p2, s2.port)
    f = ferry(a, wait_port=p1)
    listen_inode = sockets_of(f.proc.pid, p1)
    write(f, b)
    err = reload(f)
    assert "Reloaded (SIGHUP): generation 2 replaces 1." in err
    for line in ("frontend fe2 added", "backend be2 added", "server be/s2 added"):
        assert line in err
    assert sockets_of(f.proc.pid, p1) == listen_inode  # the same listening sockets
    names = sorted(recv_line(p1) for _ in range(4))
    assert names == ["s1", "s1", "s2", "s2"]
    assert recv_line(p2) == "s2"
    write(f, a)
    err = reload(f, signal.SIGUSR2)
    assert "generation 3 replaces 2" in err
    for line in ("frontend fe2 removed", "backend be2 removed", "server be/s2 removed"):
        assert line in err
    assert wait_until(lambda: not can_connect(p2), 2)
    assert [recv_line(p1) for _ in range(3)] == ["s1"] * 3


def sockets_of(pid, port):
    """The inodes of the process's listening sockets on port."""
    out = subprocess.run(["ss", "-Hltnpe", "sport = :%d" % port], capture_output=True, text=True).stdout
    return sorted(re.findall(r"ino:(\d+)", out))


def recv_line(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        data = b""
        while not data.endswith(b"\n"):
            d = c.recv(100)
            if not d:
                break
            data += d
        return data.decode().strip()


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_a_session_goes_on_across_reloads_that_remove_its_backend(ferry, backends):
    (s1,) = backends(1, mode="echo")
    p1 = free_port()
    a = LOGGED + "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (p1, s1.port)
    f = ferry(a, wait_port=p1)
    c = socket.create_connection(("127.0.0.1", p1), timeout=5)
    c.sendall(b"before")
    assert c.recv(100) == b"before"
    p2 = free_port()
    write(f, LOGGED + "listen other\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (p2, s1.port))
    assert "backend l removed" in reload(f)
    assert wait_until(lambda: not can_connect(p1), 2)
    blob = os.urandom(1 << 20)
    c.sendall(blob)
    got = b""
    while len(got) < len(blob):
        got += c.recv(1 << 20)
    assert got == blob  # byte-exact on the configuration it started with
    c.close()
    # its generation goes once its last session ended; the log line names the old proxy
    assert f.wait_log(r"^127\.0\.0\.1:\d+ \[[^]]+\] l l/s1 ")


def test_a_broken_configuration_changes_nothing(ferry, backends):
    (s1,) = backends(1)
    p1 = free_port()
    a = LOGGED + "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (p1, s1.port)
    f = ferry(a, wait_port=p1)
    write(f, a + "    balnce roundrobin\n" + "listen l2\n    bind 127.0.0.1:%d\n" % free_port())
    err = reload(f)
    assert "Reload (SIGHUP) refused, the configuration in use goes on:" in err
    line = len(a.splitlines()) + 1
    assert "%s:%d: unknown keyword 'balnce' in listen 'l' (did you mean 'balance'?)" % (f.cfg_path, line) in err
    assert recv_line(p1) == "s1"
    # a bind that fails is refused as well, the old listeners untouched
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    write(f, a + "listen l3\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (busy.getsockname()[1], s1.port))
    err = reload(f)
    assert re.search(r"ferry\.cfg:%d: Starting frontend l3: cannot bind to 127\.0\.0\.1:\d+: Address already in use"
                     % (line + 1), err), err
    busy.close()
    assert recv_line(p1) == "s1"
    assert f.proc.poll() is None


def test_a_server_down_before_a_reload_gets_no_connection_after(ferry, backends):
    s1, s2 = backends(2)
    p1 = free_port()
    a = LOGGED + "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d check inter 200 fall 1 rise 3\n" \
                 "    server s2 127.0.0.1:%d check inter 200 fall 1 rise 3\n" % (p1, s1.port, s2.port)
    f = ferry(a, wait_port=p1)
    port1 = s1.port
    s1.stop()
    assert f.wait_log(r"^Server l/s1 is DOWN", timeout=3)
    s1 = Backend("s1", port=port1).start()  # back, but not yet checked UP (rise 3)
    try:
        write(f, a)
        reload(f)
        before = s1.accepted
        assert [recv_line(p1) for _ in range(8)] == ["s2"] * 8
        assert s1.accepted - before <= 1  # at most a health check's connection, no client
        assert f.wait_log(r"^Server l/s1 is UP", timeout=3)  # rises after 3 checks, as carried
    finally:
        s1.stop()


def test_reloads_under_load_drop_nothing(ferry, tmpdir_path):
    """The issue's measure: 1000 new connections per second and 200
    long-lived streams, 100 reloads alternating two configurations (one adds
    a backend, a frontend and a server) with a broken one in the middle:
    no connect refused, reset or timed out, every stream byte-exact."""
    ports = {n: free_port() for n in ("e1", "e2", "e3", "e4")}
    echo = subprocess.Popen([sys.executable, os.path.join(TOOLS, "echo.py")] +
                            ["%s:%d" % kv for kv in ports.items()], stdout=subprocess.PIPE, text=True)
    try:
        assert echo.stdout.readline().strip() == "ready"
        short, long_ = free_port(), free_port()
        base = DEFAULTS + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
listen long
    bind 127.0.0.1:%d
    server e3 127.0.0.1:%d
backend be
    server e1 127.0.0.1:%d check inter 500
    server e2 127.0.0.1:%d check inter 500
""" % (short, long_, ports["e3"], ports["e1"], ports["e2"])
        other = base + "    server e4 127.0.0.1:%d\nfrontend extra\n    bind 127.0.0.1:%d\n    default_backend more\n" \
                       "backend more\n    server e4 127.0.0.1:%d\n" % (ports["e4"], free_port(), ports["e4"])
        f = ferry(base, wait_port=short)
        load = subprocess.Popen([sys.executable, os.path.join(TOOLS, "load.py"), str(short), str(long_),
                                 "1000", "200", "14"], stdout=subprocess.PIPE, text=True)
        assert load.stdout.readline().strip() == "started"
        t0 = time.monotonic()
        for i in range(100):
            if i == 50:
                write(f, base + "    bogus\n")
                assert "refused" in reload(f)
            write(f, other if i % 2 == 0 else base)
            reload(f)
            time.sleep(0.08)  # 100 reloads spread over the load's 14 s
        took = time.monotonic() - t0
        res = json.loads(load.stdout.readline())
        load.wait(timeout=30)
        gens = re.findall(r"generation (\d+) replaces", f.stderr())
        assert len(gens) == 100 and gens[-1] == "101"
        fails = {k: res[k] for k in ("refused", "reset", "timeout", "other", "bad_data", "long_broken")}
        assert all(v == 0 for v in fails.values()), (fails, res["errors"])
        assert res["long_ok"] == 200 and res["long_bytes"] > 200 * 64
        assert res["short_ok"] >= 1000 * 10, res  # at least 1000/s held over the reloads
        print("reloads: 100 in %.1f s; %d short connections, %d long streams, %d bytes"
              % (took, res["short_ok"], res["long_ok"], res["long_bytes"]))
    finally:
        echo.send_signal(signal.SIGTERM)
        echo.wait(timeout=10)


STATE_HEADER = ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
                "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
                "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
                "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n")


@pytest.mark.parametrize("where", ["global", "local"])
def test_server_state_file_restores_states_at_start(ferry, backends, tmpdir_path, where):
    """server-state-file / load-server-state-from-file, as HAProxy: a server
    saved DOWN (op state 0) stays out until its checks see it rise, one
    saved in maintenance (admin state 1) stays there, a weight set at run
    time (uweight 3, iweight as configured) comes back."""
    s1, s2, s3 = backends(3)
    port = free_port()
    lines = ["3 be 1 s1 127.0.0.1 0 0 1 1 5 8 2 0 6 0 0 0 - %d - 0 0 - - 0" % s1.port,
             "3 be 2 s2 127.0.0.1 2 1 1 1 5 6 3 4 6 0 0 0 - %d - 0 0 - - 0" % s2.port,
             "3 be 3 s3 127.0.0.1 2 0 3 1 5 6 3 4 6 0 0 0 - %d - 0 0 - - 0" % s3.port,
             "3 gone 1 x 127.0.0.1 2 0 1 1 5 6 3 4 6 0 0 0 - 1 - 0 0 - - 0"]
    name = os.path.join(tmpdir_path, "state" if where == "global" else "be")
    with open(name, "w") as fh:
        fh.write(STATE_HEADER + "\n".join(lines) + "\n")
    glob = ("    server-state-file %s\n" % name) if where == "global" else ("    server-state-base %s\n" % tmpdir_path)
    f = ferry("global\n" + glob + DEFAULTS + "    load-server-state-from-file %s\n" % where +
              "listen be\n    bind 127.0.0.1:%d\n    balance roundrobin\n" % port +
              "".join("    server s%d 127.0.0.1:%d check inter 300 rise 3\n" % (i + 1, b.port)
                      for i, b in enumerate((s1, s2, s3))), wait_port=port)
    got = [recv_line(port) for _ in range(6)]
    assert got == ["s3"] * 6  # s1 DOWN as saved, s2 in maintenance
    # s1's checks pass: it rises after 3 of them (300 ms apart), s2 stays out
    assert f.wait_log(r"Server be/s1 is UP", timeout=3, where="stderr")
    got = sorted(recv_line(port) for _ in range(8))
    assert got.count("s3") == 6 and got.count("s1") == 2  # weights 1 and 3 (restored): 2 and 6 of 8
