"""The command line: -c, -v, -f (files and directories), -p, signals."""
import os
import signal
import socket
import subprocess
import time

from conftest import DEFAULTS, FERRY, ROOT_OPT_IN, free_port, wait_until

GOOD = """global
    maxconn 4000
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 5s
    timeout client 30m
    timeout server 30m
frontend pgsql_frontend
    bind 127.0.0.1:15432
    default_backend pgsql_backend
backend pgsql_backend
    balance roundrobin
    server pgsql_node1 127.0.0.1:15433 check
    server pgsql_node2 127.0.0.1:15434 check
    server pgsql_node3 127.0.0.1:15435 check
"""

BAD = """defaults
    mode tcp
    timeout connect 5s
    timeout client 30m
    timeout server 30m
frontend fe
    bind 127.0.0.1:15432
    default_backend nowhere
    tcp-request session reject
backend pg
    balnce roundrobin
    server a 127.0.0.1:1 weight 999
    server a 127.0.0.1:2
"""


def run(*args, **kw):
    return subprocess.run([FERRY, *args], capture_output=True, text=True, timeout=20, **kw)


def write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def test_version():
    r = run("-v")
    assert r.returncode == 0
    assert r.stdout.startswith("ferry version ")


def test_usage_without_file():
    r = run()
    assert r.returncode == 1
    assert "Usage: ferry -f" in r.stderr


def test_check_good_file(tmpdir_path):
    p = write(tmpdir_path, "ok.cfg", GOOD + ROOT_OPT_IN)
    r = run("-c", "-f", p)
    assert (r.returncode, r.stdout, r.stderr) == (0, "Configuration file is valid\n", "")


def test_check_bad_file_reports_every_error(tmpdir_path):
    p = write(tmpdir_path, "bad.cfg", BAD)
    r = run("-c", "-f", p)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == (
        f"{p}:9: 'tcp-request session' in frontend 'fe' is an HAProxy keyword that ferry does not support yet\n"
        f"{p}:11: unknown keyword 'balnce' in backend 'pg' (did you mean 'balance'?)\n"
        f"{p}:12: 'weight': invalid value '999' (expects an integer from 0 to 256)\n"
        f"{p}:13: server 'a' is already declared in backend 'pg' at line 12\n"
        f"{p}:8: frontend 'fe': default_backend 'nowhere' does not exist\n"
        "ferry: configuration has 5 errors; nothing started\n")


def test_missing_file(tmpdir_path):
    r = run("-c", "-f", os.path.join(tmpdir_path, "nope.cfg"))
    assert r.returncode == 1
    assert r.stderr.startswith(os.path.join(tmpdir_path, "nope.cfg") + ": cannot open configuration file: No such file or directory\n")


def test_directory_loads_cfg_files_in_order(tmpdir_path):
    d = os.path.join(tmpdir_path, "conf.d")
    os.mkdir(d)
    write(d, "10-defaults.cfg", DEFAULTS)
    write(d, "20-be.cfg", "backend be\n    server s 127.0.0.1:1\n")
    write(d, "30-fe.cfg", "frontend fe\n    bind 127.0.0.1:%d\n    default_backend be\n" % free_port())
    write(d, "README", "not a config file\n")
    r = run("-c", "-f", d)
    assert (r.returncode, r.stdout) == (0, "Configuration file is valid\n"), r.stderr
    # the same files, but the frontend first: the backend is still found
    os.rename(os.path.join(d, "30-fe.cfg"), os.path.join(d, "15-fe.cfg"))
    assert run("-c", "-f", d).returncode == 0


def test_several_files(tmpdir_path):
    a = write(tmpdir_path, "a.cfg", DEFAULTS + "backend be\n    server s 127.0.0.1:1\n")
    b = write(tmpdir_path, "b.cfg", "frontend fe\n    bind 127.0.0.1:1\n    default_backend be\n")
    assert run("-c", "-f", a, "-f", b).returncode == 0
    assert run("-c", "-f", b).returncode == 1


def test_pidfile_and_sigterm(tmpdir_path):
    port = free_port()
    cfg = write(tmpdir_path, "f.cfg", DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s 127.0.0.1:1\n" % port
                + ROOT_OPT_IN)
    pidfile = os.path.join(tmpdir_path, "ferry.pid")
    p = subprocess.Popen([FERRY, "-f", cfg, "-p", pidfile], stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), 5)
        assert int(open(pidfile).read()) == p.pid
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=5) == 0
        assert not os.path.exists(pidfile)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_bind_failure_is_reported(tmpdir_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    cfg = write(tmpdir_path, "f.cfg", DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s 127.0.0.1:1\n" % port
                + ROOT_OPT_IN)
    # SO_REUSEPORT lets two sockets share a port only when both set it: this one did not
    r = run("-f", cfg)
    busy.close()
    assert r.returncode == 1
    assert "%s:8: Starting frontend l: cannot bind to 127.0.0.1:%d: Address already in use" % (cfg, port) in r.stderr


def test_sigusr1_graceful_stop(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    f = ferry(DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (port, b.port),
              wait_port=port)
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert c.recv(10) == b"s1\n"
    f.proc.send_signal(signal.SIGUSR1)
    assert f.wait_log("stopping gracefully", where="stderr")
    # new connections are refused: the listener is closed
    assert wait_until(lambda: not f._can_connect(port), 2)
    # the running session still works
    c.sendall(b"still served")
    assert c.recv(100) == b"still served"
    assert f.proc.poll() is None
    c.close()
    assert f.proc.wait(timeout=5) == 0  # exits once the last session ended


def test_hard_stop_after_bounds_graceful_stop(ferry, backends):
    (b,) = backends(1)
    port = free_port()
    f = ferry("global\n    hard-stop-after 500ms\n" + DEFAULTS +
              "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (port, b.port), wait_port=port)
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert c.recv(10) == b"s1\n"
    t0 = time.monotonic()
    f.proc.send_signal(signal.SIGUSR1)
    assert f.proc.wait(timeout=5) == 0
    assert 0.4 < time.monotonic() - t0 < 3
    assert c.recv(10) == b""
    c.close()


def all_threads_stopped(pid):
    states = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as fh:
            states.append(fh.read().rsplit(")", 1)[1].split()[0])
    return all(st == "T" for st in states)


def test_graceful_stop_frees_listeners_after_the_event_batch(ferry, backends):
    """A connection that arrives in the same epoll batch as SIGUSR1 must not
    touch a freed listener (issue 8, item 1): the process is stopped, gets
    SIGUSR1, then a client connects, then it resumes, so one epoll_wait
    returns the signal and the listener's event together."""
    (b,) = backends(1)
    port = free_port()
    f = ferry("global\n    nbthread 1\n" + DEFAULTS +
              "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (port, b.port),
              wait_port=port)
    f.proc.send_signal(signal.SIGSTOP)
    try:
        # SIGUSR1 only once every thread is stopped: sent earlier, it could
        # wake epoll_wait before the stop
        assert wait_until(lambda: all_threads_stopped(f.proc.pid), 5)
        f.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.1)
        c = socket.create_connection(("127.0.0.1", port), timeout=5)  # the kernel's backlog takes it
    finally:
        f.proc.send_signal(signal.SIGCONT)
    assert f.proc.wait(timeout=5) == 0
    c.close()
    f.stop()  # fails on a sanitizer report (heap-use-after-free before the fix)


def test_graceful_stop_under_a_connection_flood(ferry, backends):
    """SIGUSR1 while clients keep connecting, with every thread accepting:
    the process ends cleanly (no sanitizer report) once its sessions end."""
    (b,) = backends(1, mode="echo")
    port = free_port()
    f = ferry(DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (port, b.port),
              wait_port=port)
    stop = time.monotonic() + 3
    done = []

    def flood():
        n = 0
        while time.monotonic() < stop and f.proc.poll() is None and n < 5000:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    c.sendall(b"x")
                    c.recv(1)
            except OSError:
                pass
            n += 1
        done.append(n)

    import threading
    ts = [threading.Thread(target=flood) for _ in range(4)]
    for t in ts:
        t.start()
    time.sleep(0.5)
    f.proc.send_signal(signal.SIGUSR1)
    assert f.proc.wait(timeout=10) == 0
    for t in ts:
        t.join()
    assert sum(done) > 0
    f.stop()
