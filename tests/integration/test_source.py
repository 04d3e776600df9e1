"""HAProxy's "source ADDR[:PORT]": the connections to a server leave from
that address (the backend's "source" for servers without their own, a
server's "source" option overriding it), health checks too. A server on
127.0.0.1 sees where each connection came from."""
import socket
import threading

import pytest

from conftest import DEFAULTS, free_port, wait_until


class PeerRecorder:
    """A TCP server on 127.0.0.1 that writes back the client's address
    ("127.0.0.2\\n") and records every peer it accepted (checks included)."""

    def __init__(self):
        self.port = free_port()
        self.peers = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                c, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer[0])
            try:
                c.sendall(peer[0].encode() + b"\n")
            except OSError:
                pass
            c.close()

    def stop(self):
        self.sock.close()


@pytest.fixture
def recorder():
    r = PeerRecorder()
    yield r
    r.stop()


def ask(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        return s.makefile().readline().strip()


def test_backend_source_and_server_override(ferry, recorder):
    p1, p2, p3 = free_port(), free_port(), free_port()
    cfg = DEFAULTS + f"""
listen from_backend
    bind 127.0.0.1:{p1}
    source 127.0.0.2
    server s1 127.0.0.1:{recorder.port}
listen from_server
    bind 127.0.0.1:{p2}
    source 127.0.0.2
    server s1 127.0.0.1:{recorder.port} source 127.0.0.3
listen no_source
    bind 127.0.0.1:{p3}
    server s1 127.0.0.1:{recorder.port}
"""
    ferry(cfg, wait_port=p3)
    for _ in range(3):
        assert ask(p1) == "127.0.0.2"
        assert ask(p2) == "127.0.0.3"
        assert ask(p3) == "127.0.0.1"


def test_default_server_and_defaults_source(ferry, recorder):
    p1, p2 = free_port(), free_port()
    cfg = DEFAULTS.replace("defaults\n", "defaults\n    source 127.0.0.4\n") + f"""
listen inherited
    bind 127.0.0.1:{p1}
    server s1 127.0.0.1:{recorder.port}
listen from_default_server
    bind 127.0.0.1:{p2}
    default-server source 127.0.0.5
    server s1 127.0.0.1:{recorder.port}
"""
    ferry(cfg, wait_port=p2)
    assert ask(p1) == "127.0.0.4"
    assert ask(p2) == "127.0.0.5"


def test_health_checks_leave_from_the_source(ferry, recorder):
    p = free_port()
    cfg = DEFAULTS + f"""
listen checked
    bind 127.0.0.1:{p}
    server s1 127.0.0.1:{recorder.port} source 127.0.0.6 check inter 100ms
"""
    ferry(cfg, wait_port=p)
    assert wait_until(lambda: len(recorder.peers) >= 2, 5)
    assert set(recorder.peers) == {"127.0.0.6"}


def test_agent_checks_leave_from_the_source(ferry, recorder, backends):
    p = free_port()
    srv = backends(1)[0]
    cfg = DEFAULTS + f"""
listen agented
    bind 127.0.0.1:{p}
    server s1 127.0.0.1:{srv.port} source 127.0.0.9 agent-check agent-port {recorder.port} agent-inter 100ms
"""
    ferry(cfg, wait_port=p)
    assert wait_until(lambda: len(recorder.peers) >= 2, 5)
    assert set(recorder.peers) == {"127.0.0.9"}


def test_source_port_is_bound(ferry):
    p, sport, lport = free_port(), free_port(), free_port()
    with socket.socket() as lsock:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", lport))
        lsock.listen(1)
        lsock.settimeout(5)
        ferry(DEFAULTS + f"""
listen fixed_port
    bind 127.0.0.1:{p}
    server s1 127.0.0.1:{lport} source 127.0.0.7:{sport}
""", wait_port=p)
        with socket.create_connection(("127.0.0.1", p), timeout=5):
            c, peer = lsock.accept()
            c.close()
    assert peer == ("127.0.0.7", sport)


@pytest.mark.parametrize("line,error", [
    ("source 127.0.0.2 usesrc clientip", "'source ... usesrc' is an HAProxy keyword that ferry does not support yet"),
    ("source 127.0.0.2 interface lo", "'source ... interface' is an HAProxy keyword that ferry does not support yet"),
    ("source 127.0.0.2:1024-2047", "a port range is an HAProxy feature that ferry does not support yet"),
    ("source", "'source' expects <addr>[:<port>] as argument."),
])
def test_what_source_does_not_do_yet(tmpdir_path, line, error):
    import os
    import subprocess
    from conftest import FERRY
    path = os.path.join(tmpdir_path, "s.cfg")
    with open(path, "w") as f:
        f.write(DEFAULTS + f"backend b\n    {line}\n    server s1 127.0.0.1:1\n")
    r = subprocess.run([FERRY, "-c", "-f", path], capture_output=True, text=True)
    assert r.returncode == 1
    assert error in r.stderr, r.stderr
