"""The relay: bytes unchanged both ways, half-close, resets, timeouts, retries."""
import hashlib
import os
import random
import re
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import DEFAULTS, FERRY, free_port, listener, recv_all, wait_until


def simple(port, server_port, extra_be="", extra_fe="", defaults=DEFAULTS, server_opts=""):
    return defaults + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
%s
backend be
%s
    server s1 127.0.0.1:%d %s
""" % (port, extra_fe, extra_be, server_port, server_opts)


def test_64mib_each_way_byte_exact(ferry, backends):
    """64 MiB up and 64 MiB down at once, random write sizes, SHA-256 on both ends."""
    size = 64 << 20
    seed = 1234
    srv = listener()
    sport = srv.getsockname()[1]
    port = free_port()
    ferry(simple(port, sport), wait_port=port)
    result = {}

    def gen(rng, total):
        left = total
        while left:
            n = min(left, rng.randint(1, 300000))
            yield rng.randbytes(n)
            left -= n

    def server_side():
        c, _ = srv.accept()
        up = hashlib.sha256()
        sent = hashlib.sha256()

        def writer():
            for chunk in gen(random.Random(seed + 1), size):
                sent.update(chunk)
                c.sendall(chunk)
            c.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=writer)
        t.start()
        n = 0
        while True:
            d = c.recv(1 << 20)
            if not d:
                break
            up.update(d)
            n += len(d)
        t.join()
        result["server_got"] = (n, up.hexdigest())
        result["server_sent"] = sent.hexdigest()
        c.close()

    st = threading.Thread(target=server_side)
    st.start()
    c = socket.create_connection(("127.0.0.1", port))
    sent = hashlib.sha256()

    def client_writer():
        for chunk in gen(random.Random(seed), size):
            sent.update(chunk)
            c.sendall(chunk)
        c.shutdown(socket.SHUT_WR)
    wt = threading.Thread(target=client_writer)
    wt.start()
    down = hashlib.sha256()
    n = 0
    c.settimeout(60)
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        down.update(d)
        n += len(d)
    wt.join()
    st.join(timeout=60)
    c.close()
    srv.close()
    assert result["server_got"] == (size, sent.hexdigest())
    assert (n, down.hexdigest()) == (size, result["server_sent"])


def test_half_close_client_to_server(ferry, backends):
    """The client shuts its write side; the server still answers after reading EOF."""
    (b,) = backends(1, mode="hash")
    port = free_port()
    ferry(simple(port, b.port), wait_port=port)
    payload = os.urandom(300000)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        got = recv_all(c)
    assert got.decode() == hashlib.sha256(payload).hexdigest()


def test_half_close_server_to_client(ferry):
    """The server sends and shuts its write side; the client can still send, and
    the server receives everything afterwards."""
    srv = listener()
    port = free_port()
    ferry(simple(port, srv.getsockname()[1]), wait_port=port)
    got = {}

    def server_side():
        c, _ = srv.accept()
        c.sendall(b"bye from server")
        c.shutdown(socket.SHUT_WR)
        got["data"] = recv_all(c)
        c.close()
    t = threading.Thread(target=server_side)
    t.start()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        data = recv_all(c)  # ends when the server's FIN reached us
        assert data == b"bye from server"
        time.sleep(0.2)
        c.sendall(b"late data " * 1000)  # still flows the other way
        c.shutdown(socket.SHUT_WR)
        t.join(timeout=10)
    srv.close()
    assert got["data"] == b"late data " * 1000


def test_server_speaks_first(ferry, backends):
    (b,) = backends(1, names=["greeter"])
    port = free_port()
    ferry(simple(port, b.port), wait_port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(100) == b"greeter\n"  # without sending anything first
        c.sendall(b"ping")
        assert c.recv(100) == b"ping"


def test_server_reset_is_propagated(ferry):
    srv = listener()
    port = free_port()
    f = ferry(simple(port, srv.getsockname()[1], extra_fe="    log stdout format raw local0\n    option tcplog"),
              wait_port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        s, _ = srv.accept()
        c.sendall(b"x")
        assert s.recv(1) == b"x"
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST
        err = None
        try:
            while c.recv(100):
                pass
        except ConnectionResetError as e:
            err = e
        assert err is not None, "the client saw a clean FIN instead of a reset"
    srv.close()
    assert f.wait_log(r" fe be/s1 0/\d+/\d+ 0 SD ")


def test_client_reset_is_propagated(ferry):
    srv = listener()
    port = free_port()
    ferry(simple(port, srv.getsockname()[1]), wait_port=port)
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    s, _ = srv.accept()
    c.sendall(b"x")
    assert s.recv(1) == b"x"
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    s.settimeout(5)
    err = None
    try:
        while s.recv(100):
            pass
    except ConnectionResetError as e:
        err = e
    s.close()
    srv.close()
    assert err is not None


def test_client_timeout(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    d = DEFAULTS.replace("timeout client 30s", "timeout client 300ms")
    f = ferry(simple(port, b.port, defaults=d, extra_fe="    log stdout format raw local0\n    option tcplog"),
              wait_port=port)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(100) == b"s1\n"
        assert c.recv(100) == b""  # closed for inactivity
    assert 0.25 < time.monotonic() - t0 < 2
    assert f.wait_log(r" fe be/s1 0/\d+/\d+ 3 cD ")


def test_server_timeout(ferry, backends):
    (b,) = backends(1, mode="silent")
    port = free_port()
    d = DEFAULTS.replace("timeout server 30s", "timeout server 300ms")
    f = ferry(simple(port, b.port, defaults=d, extra_fe="    log stdout format raw local0\n    option tcplog"),
              wait_port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(100) == b""
    assert f.wait_log(r" fe be/s1 0/\d+/\d+ 0 sD ")


def test_tunnel_timeout_overrides(ferry, backends):
    """timeout tunnel replaces client/server once connected (here: longer)."""
    (b,) = backends(1)
    port = free_port()
    d = DEFAULTS.replace("timeout client 30s", "timeout client 200ms").replace(
        "timeout server 30s", "timeout server 200ms")
    ferry(simple(port, b.port, defaults=d, extra_be="    timeout tunnel 2s"), wait_port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(100) == b"s1\n"
        time.sleep(0.6)  # longer than client/server, shorter than tunnel
        c.sendall(b"still here")
        assert c.recv(100) == b"still here"


def test_client_fin_timeout(ferry):
    """After the client half-closes, timeout client-fin applies instead of timeout client."""
    srv = listener()
    port = free_port()
    d = DEFAULTS + "    timeout client-fin 300ms\n"
    ferry(simple(port, srv.getsockname()[1], defaults=d), wait_port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        s, _ = srv.accept()
        c.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        s.settimeout(5)
        assert s.recv(10) == b""  # FIN forwarded
        c.settimeout(5)
        assert c.recv(10) == b""  # then closed after client-fin, not 30 s
        assert time.monotonic() - t0 < 2
        s.close()
    srv.close()


def test_connect_retries_then_sc(ferry):
    port = free_port()
    dead = free_port()
    f = ferry(simple(port, dead, extra_be="    retries 2",
                     extra_fe="    log stdout format raw local0\n    option tcplog",
                     defaults=DEFAULTS.replace("timeout connect 2s", "timeout connect 100ms")),
              wait_port=port)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(10) == b""
    # two turn-around waits of min(timeout connect, 1s) = 100 ms each
    assert 0.15 < time.monotonic() - t0 < 2
    assert f.wait_log(r" fe be/s1 0/-1/\d+ 0 SC \d+/\d+/\d+/\d+/2 0/0")


def dead_and_alive(port, dead, alive, retries):
    """A logged frontend and a backend with option redispatch: a refusing
    server first, a live one second."""
    return DEFAULTS + """
frontend fe
    bind 127.0.0.1:%d
    default_backend be
    log stdout format raw local0
    option tcplog
backend be
    balance roundrobin
    retries %d
    option redispatch
    server dead 127.0.0.1:%d
    server alive 127.0.0.1:%d
""" % (port, retries, dead, alive)


def test_redispatch_to_another_server(ferry, backends):
    (b,) = backends(1, names=["alive"])
    port = free_port()
    f = ferry(dead_and_alive(port, free_port(), b.port, 1), wait_port=port)
    names = []
    for _ in range(4):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            names.append(c.recv(100))
    assert names == [b"alive\n"] * 4
    assert f.wait_log(r" fe be/alive 0/\d+/\d+ 6 -- \d+/\d+/\d+/\d+/\+1 0/0")


def test_half_close_during_splice(ferry, backends):
    """A bulk upload (spliced) followed at once by the client's FIN: the
    server still gets every byte, then the FIN, and its answer comes back."""
    (b,) = backends(1, mode="hash")
    port = free_port()
    ferry(simple(port, b.port), wait_port=port)
    payload = os.urandom(8 << 20)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as c:
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        got = recv_all(c)
    assert got.decode() == hashlib.sha256(payload).hexdigest()


def test_reset_during_splice(ferry):
    """The server resets in the middle of a bulk download: the client sees a reset."""
    srv = listener()
    port = free_port()
    ferry(simple(port, srv.getsockname()[1]), wait_port=port)
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    s, _ = srv.accept()
    s.sendall(os.urandom(4 << 20))  # bulk: ferry splices it
    got = 0
    while got < 1 << 20:
        got += len(c.recv(1 << 16))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    srv.close()
    err = None
    try:
        while c.recv(1 << 16):
            pass
    except ConnectionResetError as e:
        err = e
    c.close()
    assert err is not None, "the client saw a clean end instead of a reset"


def test_fin_after_bulk_waits_for_a_slow_server(ferry):
    """The client's FIN arrives while a spliced pipe still holds data for a
    server that reads slowly: every byte is delivered before the FIN."""
    srv = listener()
    port = free_port()
    ferry(simple(port, srv.getsockname()[1]), wait_port=port)
    payload = os.urandom(16 << 20)
    c = socket.create_connection(("127.0.0.1", port), timeout=20)
    s, _ = srv.accept()
    sender = threading.Thread(target=lambda: (c.sendall(payload), c.shutdown(socket.SHUT_WR)))
    sender.start()
    time.sleep(0.5)  # let the proxy's pipe and buffers fill up while nobody reads
    got = hashlib.sha256()
    n = 0
    s.settimeout(20)
    while True:
        d = s.recv(65536)
        if not d:
            break
        got.update(d)
        n += len(d)
        if n < (4 << 20):
            time.sleep(0.001)  # slow at first
    sender.join(timeout=20)
    s.close()
    c.close()
    srv.close()
    assert (n, got.hexdigest()) == (len(payload), hashlib.sha256(payload).hexdigest())


def _keepalive_on(port_filter):
    out = subprocess.run(["ss", "-tno", "state", "established", port_filter],
                         capture_output=True, text=True).stdout
    return "timer:(keepalive" in out


@pytest.mark.parametrize("option,expected", [("    option tcpka", True), ("", False)])
def test_tcpka_sets_keepalive_on_both_sides(ferry, option, expected):
    """option tcpka: SO_KEEPALIVE on ferry's client-side and server-side sockets, and only then."""
    srv = listener()
    sport = srv.getsockname()[1]
    port = free_port()
    ferry(simple(port, sport, extra_be=option, extra_fe=option), wait_port=port)
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    s, _ = srv.accept()
    try:
        assert _keepalive_on("( sport = :%d )" % port) is expected   # ferry's client-side socket
        assert _keepalive_on("( dport = :%d )" % sport) is expected  # ferry's server-side socket
    finally:
        s.close()
        c.close()
        srv.close()


def test_server_fin_timeout(ferry):
    """After the server half-closes, timeout server-fin applies instead of timeout server."""
    srv = listener()
    port = free_port()
    d = DEFAULTS + "    timeout server-fin 300ms\n"
    ferry(simple(port, srv.getsockname()[1], defaults=d), wait_port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        s, _ = srv.accept()
        s.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        assert c.recv(10) == b""  # the server's FIN reached the client
        s.settimeout(5)
        assert s.recv(10) == b""  # then ferry closed after server-fin, not 30 s
        assert time.monotonic() - t0 < 2
        s.close()
    srv.close()


def segments_received(sock):
    """tcpi_segs_in of a connected socket (struct tcp_info, Linux >= 4.2)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return struct.unpack_from("I", info, 140)[0]


def test_last_data_and_fin_reach_the_client_in_one_segment(ferry):
    """A server that answers and closes at once (data and FIN in one
    segment): ferry forwards both in one segment too (MSG_MORE until the
    FIN), so the client wakes up once: it receives the SYN-ACK and that one
    segment, not a separate FIN."""
    srv = listener()
    port = free_port()
    ferry(simple(port, srv.getsockname()[1]), wait_port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        s, _ = srv.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)  # data and FIN leave together
        s.sendall(b"bye\n")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(c) == b"bye\n"
        assert segments_received(c) == 2
        s.close()
    srv.close()


def callgrind_calls(out_file, fn):
    """How many times callgrind saw `fn` called (sum of its call edges)."""
    total, target = 0, False
    names = {}  # callgrind names a function once, "(id) name", then "(id)"
    with open(out_file) as f:
        for line in f:
            m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line.strip())
            if m:
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                if line.startswith("cfn="):
                    target = names.get(m.group(1)) == fn
            elif line.startswith("calls=") and target:
                total += int(line.split("=")[1].split()[0])
                target = False
    return total


@pytest.mark.skipif("asan" in FERRY, reason="valgrind cannot run an ASan binary")
def test_keepalive_requests_after_bulk_do_not_rearm_the_timer(ferry, tmpdir_path):
    """Once a direction has carried bulk data (SF_BULK1, 0x100), a later
    request/response must not re-arm the session timer at every event: the
    timer moves only when a half-close changes which timeout applies. A
    uint8_t copy of the flags dropped SF_BULK1/RDHUP and re-armed it at
    every event (issue 8, item 7). callgrind counts loop_timer_arm calls
    exactly."""
    srv = listener()
    port = free_port()
    out = os.path.join(tmpdir_path, "callgrind.out")
    f = ferry("global\n    nbthread 1\n" + simple(port, srv.getsockname()[1]), wait_port=port,
              wrapper=["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out])
    rounds = 200
    with socket.create_connection(("127.0.0.1", port), timeout=20) as c:
        s, _ = srv.accept()
        s.sendall(b"b" * (1 << 20))  # bulk server→client: fills a whole buffer
        got = 0
        while got < 1 << 20:
            got += len(c.recv(1 << 20))
        for _ in range(rounds):
            c.sendall(b"q")
            assert s.recv(10) == b"q"
            s.sendall(b"r")
            assert c.recv(10) == b"r"
        s.close()
        assert recv_all(c) == b""
    srv.close()
    f.stop(timeout=30)
    arms = callgrind_calls(out, "loop_timer_arm")
    # before the fix: about two per round (each side's event); now a handful
    assert 0 < arms < rounds / 4, "loop_timer_arm called %d times for %d rounds" % (arms, rounds)
    print("loop_timer_arm calls: %d" % arms)


def tcp_state(sock):
    """tcpi_state of a socket (1 ESTABLISHED, 7 CLOSE, 8 CLOSE_WAIT, ...)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


@pytest.mark.parametrize("side", ["client", "server"])
def test_reset_after_half_close_is_passed_on_at_once(ferry, side):
    """One side half-closes (its FIN is forwarded), then resets while the
    other side is silent: ferry sees the reset although it no longer reads
    that socket for data, resets the other side at once and logs CD or SD
    (issue 8, item 5; HAProxy 2.6 leaves the other side open)."""
    srv = listener()
    port = free_port()
    f = ferry(simple(port, srv.getsockname()[1], extra_fe="    log stdout format raw local0\n    option tcplog"),
              wait_port=port)
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    s, _ = srv.accept()
    s.settimeout(5)
    c.sendall(b"x")
    assert s.recv(1) == b"x"
    closer, other = (c, s) if side == "client" else (s, c)
    closer.shutdown(socket.SHUT_WR)
    assert other.recv(10) == b""  # the FIN reached the other side
    closer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    closer.close()  # RST
    # the other side is reset at once (it was in CLOSE_WAIT: FIN received)
    assert wait_until(lambda: tcp_state(other) == 7, 2), "state %d" % tcp_state(other)
    other.close()
    srv.close()
    assert f.wait_log(r" fe be/s1 0/\d+/\d+ \d+ %s " % ("CD" if side == "client" else "SD"))


@pytest.mark.parametrize("bulk", [False, True])
@pytest.mark.parametrize("fin", [False, True])
@pytest.mark.parametrize("direction", ["up", "down"])
def test_urgent_data_is_relayed_inline_without_loss_or_stall(ferry, direction, fin, bulk):
    """TCP urgent data (send(MSG_OOB)) stops recv() at the urgent mark, and
    splice() cannot pass it at all (it even returns 0 there once a FIN
    follows). No byte may be lost or wait: the urgent byte travels inline
    (SO_OOBINLINE) and the bytes after the mark follow at once, with or
    without a FIN behind them, also right behind 1 MiB of bulk data that
    ferry is splicing (issue 8, item 6: they stalled, or were dropped before
    the FIN)."""
    srv = listener()
    port = free_port()
    ferry(simple(port, srv.getsockname()[1]), wait_port=port)
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    s, _ = srv.accept()
    sender, receiver = (c, s) if direction == "up" else (s, c)
    receiver.settimeout(2)
    sender.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    blob = os.urandom(1 << 20) if bulk else b""

    def send():
        sender.sendall(blob)  # back to back: ferry is still splicing it
        sender.sendall(b"AAAA")
        sender.send(b"!", socket.MSG_OOB)
        sender.sendall(b"CCCC")
        if fin:
            sender.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=send)
    t.start()
    want = blob + b"AAAA!CCCC"
    got = b""
    try:
        while len(got) < len(want):
            d = receiver.recv(1 << 20)
            if not d:
                break
            got += d
    except socket.timeout:
        pass
    t.join()
    assert len(got) == len(want) and got == want, got[len(blob):]
    if fin:
        assert receiver.recv(100) == b""
    c.close()
    s.close()
    srv.close()


def test_redispatch_at_once_when_another_server_is_up(ferry, backends):
    """option redispatch, roundrobin, two active servers, one refusing: as
    HAProxy (stream_choose_redispatch, back_handle_st_cer), the retry goes
    to the other server at once, without the turn-around pause, which only
    applies when retrying the same server (issue 8, item 11: every other
    connection took 2 s, logged 0/2004/...)."""
    (b,) = backends(1, names=["alive"])
    port = free_port()
    f = ferry(dead_and_alive(port, free_port(), b.port, 3), wait_port=port)
    for _ in range(6):
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            assert c.recv(100) == b"alive\n"
        assert time.monotonic() - t0 < 0.5
    # the ones roundrobin first sent to the dead server: one retry, elsewhere
    assert f.wait_log(r" fe be/alive 0/([0-9]|[1-9][0-9])/\d+ 6 -- \d+/\d+/\d+/\d+/\+1 0/0$")
    assert not re.search(r" fe be/\w+ 0/\d{3,}/", f.stdout()), f.stdout()


def test_connect_timeout_is_retried_without_a_pause(ferry):
    """A connect that times out is retried at once: HAProxy's turn-around
    pause follows only an error the server sent (refused, reset). The
    server's accept queue is full, so its SYNs go unanswered."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    filler = socket.create_connection(srv.getsockname(), timeout=5)  # fills the accept queue
    port = free_port()
    f = ferry(simple(port, srv.getsockname()[1], extra_be="    retries 2",
                     extra_fe="    log stdout format raw local0\n    option tcplog",
                     defaults=DEFAULTS.replace("timeout connect 2s", "timeout connect 200ms")),
              wait_port=port)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(10) == b""
    took = time.monotonic() - t0
    # three attempts of 200 ms; two pauses of 200 ms more would make 1 s
    assert 0.55 < took < 0.85, took
    assert f.wait_log(r" fe be/s1 0/-1/\d+ 0 sC \d+/\d+/\d+/\d+/2 0/0")
    filler.close()
    srv.close()
