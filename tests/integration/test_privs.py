"""Least privilege (global user/group/chroot, setcap, insecure-run-as-root):
ferry started as root opens what needs root, then serves as the user, in
the chroot, without capabilities, with no_new_privs; it still relays,
checks, logs, answers on its stats socket and reloads."""
import grp
import os
import pwd
import signal
import socket
import subprocess

import pytest

from conftest import DEFAULTS, FERRY, ask_name, free_port, wait_until
from statsock import cli

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")

NOBODY = pwd.getpwnam("nobody").pw_uid
NOGROUP = grp.getgrnam("nogroup").gr_gid


def status(pid, task=None):
    """/proc/PID/status (or a thread's) as a dict of its fields."""
    path = "/proc/%d/task/%d/status" % (pid, task) if task else "/proc/%d/status" % pid
    with open(path) as f:
        return dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)


def assert_dropped(pid, caps="0000000000000000"):
    """Every thread: nobody/nogroup, no supplementary group, no capability
    but caps, no_new_privs."""
    tasks = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
    assert len(tasks) == 2, tasks  # nbthread 2: the drop covers both
    for t in tasks:
        st = {k: v.strip() for k, v in status(pid, t).items()}
        assert st["Uid"].split() == [str(NOBODY)] * 4, (t, st["Uid"])
        assert st["Gid"].split() == [str(NOGROUP)] * 4, (t, st["Gid"])
        assert st["Groups"] == "", (t, st["Groups"])
        assert (st["CapEff"], st["CapPrm"], st["CapInh"], st["CapAmb"]) == (caps, caps, "0" * 16, "0" * 16), st
        assert st["NoNewPrivs"] == "1", st


def assert_no_forks(pid):
    """RLIMIT_NPROC 0 once the threads run, as HAProxy 2.6 (not in the
    sanitizer build: LeakSanitizer starts a thread at exit)."""
    with open("/proc/%d/limits" % pid) as f:
        line = [l for l in f if l.startswith("Max processes")][0].split()
    if "/asan/" not in FERRY:
        assert line[2:4] == ["0", "0"], line


def readable_by_nobody(d):
    """The test's directory, so that ferry as nobody reads its file again."""
    os.chmod(d, 0o755)


def config(port, srv_port, sock, extra_global="", extra_listen="", log=""):
    return ("global\n    user nobody\n    group nogroup\n    nbthread 2\n"
            "    stats socket %s level admin\n%s%s" % (sock, log, extra_global) + DEFAULTS +
            "listen l\n    bind 127.0.0.1:%d\n%s    server s1 127.0.0.1:%d check inter 200\n"
            % (port, extra_listen, srv_port))


def server_state(sock, be="l"):
    """server name -> operational state (2 up, 0 down) from show servers state."""
    out = {}
    for line in cli(sock, "show servers state %s\n" % be).splitlines()[2:]:
        f = line.split()
        if len(f) > 5:
            out[f[3]] = f[5]
    return out


def test_drops_to_user_in_chroot_and_still_serves(ferry, backends, tmpdir_path):
    """As root with user nobody, group nogroup and an empty chroot: the
    status shows the drop in every thread; it relays, checks its server,
    logs to a unix datagram socket outside the chroot (opened before it),
    answers on its stats socket (outside too), and a reload reads the
    configuration at its path inside the chroot."""
    readable_by_nobody(tmpdir_path)
    jail = os.path.join(tmpdir_path, "jail")
    os.mkdir(jail, 0o755)
    logpath = os.path.join(tmpdir_path, "log.sock")
    logsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    logsock.bind(logpath)
    logsock.settimeout(5)
    s1, s2 = backends(2)
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    text = config(port, s1.port, sock, "    chroot %s\n" % jail,
                  "    log global\n    option tcplog\n", "    log %s local0\n" % logpath)
    # LeakSanitizer reads /proc at exit, which the empty chroot does not
    # have: leaks are looked for by the tests without a chroot
    env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"}
    try:
        f = ferry(text, wait_port=port, env=env, root_opt_in=False)
        pid = f.proc.pid
        assert_dropped(pid)
        assert_no_forks(pid)
        assert os.readlink("/proc/%d/root" % pid) == jail
        assert "Running as user nobody (uid %d, gid %d) in chroot %s, without capabilities" % (
            NOBODY, NOGROUP, jail) in f.stderr()
        assert ask_name(port) == "s1"
        assert b"l l/s1" in logsock.recv(4096)  # tcplog: frontend, backend/server
        assert "Pid: %d" % pid in cli(sock, "show info\n")
        assert wait_until(lambda: server_state(sock).get("s1") == "2", 5)
        s1.stop()  # the check sees it go
        assert wait_until(lambda: server_state(sock).get("s1") == "0", 5), server_state(sock)
        # a reload reads the files at their paths inside the chroot: not there yet
        answer = cli(sock, "reload\n")
        assert "cannot open configuration file" in answer and "chroot %s" % jail in answer, answer
        inside = jail + f.cfg_path
        os.makedirs(os.path.dirname(inside))
        with open(inside, "w") as fh:
            fh.write(text + "    server s2 127.0.0.1:%d\n" % s2.port)
        os.kill(pid, signal.SIGHUP)
        assert wait_until(lambda: "s2" in server_state(sock), 5), f.stderr()
        assert [ask_name(port) for _ in range(2)] == ["s2", "s2"]  # s1 is down
        logs = []  # the socket taken over by the new configuration: its lines arrive
        assert wait_until(lambda: logs.append(logsock.recv(4096)) or b"".join(logs).count(b"l l/s2") == 2, 5)
        assert_dropped(pid)
    finally:
        logsock.close()


def test_reload_after_drop_and_a_privileged_port(ferry, backends, tmpdir_path):
    """After the drop a reload adds a server; one adding a bind below 1024
    is refused with the reason, and the old configuration serves on."""
    readable_by_nobody(tmpdir_path)
    s1, s2 = backends(2)
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    text = config(port, s1.port, sock)
    f = ferry(text, wait_port=port, root_opt_in=False)
    assert_dropped(f.proc.pid)
    with open(f.cfg_path, "w") as fh:
        fh.write(text + "    server s2 127.0.0.1:%d\n" % s2.port)
    assert "Reloaded" in cli(sock, "reload\n")
    assert sorted({ask_name(port) for _ in range(6)}) == ["s1", "s2"]
    low = 997
    with open(f.cfg_path, "w") as fh:
        fh.write(text.replace("    server s1", "    bind 127.0.0.1:%d\n    server s1" % low))
    answer = cli(sock, "reload\n")
    assert "cannot bind to 127.0.0.1:%d: Permission denied; port %d is below 1024 and ferry, now user nobody, " \
           "gave up the right to bind it" % (low, low) in answer, answer
    assert sorted({ask_name(port) for _ in range(6)}) == ["s1", "s2"]  # the old one serves
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", low), timeout=1).close()


def test_setcap_keeps_only_net_bind_service(ferry, backends, tmpdir_path):
    """setcap cap_net_bind_service: the one capability kept, so a reload
    may bind a port below 1024."""
    readable_by_nobody(tmpdir_path)
    (s1,) = backends(1)
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    text = config(port, s1.port, sock, "    setcap cap_net_bind_service\n")
    f = ferry(text, wait_port=port, root_opt_in=False)
    assert_dropped(f.proc.pid, caps="%016x" % (1 << 10))
    assert "CapBnd:\t%016x" % (1 << 10) in open("/proc/%d/status" % f.proc.pid).read()
    low = 996
    with open(f.cfg_path, "w") as fh:
        fh.write(text.replace("    server s1", "    bind 127.0.0.1:%d\n    server s1" % low))
    assert "Reloaded" in cli(sock, "reload\n")
    assert ask_name(low) == "s1"


def run(path, *args):
    return subprocess.run([FERRY, *args, "-f", path], capture_output=True, text=True, timeout=20)


def test_root_without_user_refuses_to_start_and_check_warns(tmpdir_path):
    path = os.path.join(tmpdir_path, "f.cfg")
    body = DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s 127.0.0.1:1\n" % free_port()
    with open(path, "w") as fh:
        fh.write(body)
    r = run(path)
    assert r.returncode == 1
    assert "ferry refuses to start as root without 'user': set 'user' and 'group' (or 'uid' and 'gid') " \
           "in the global section" in r.stderr and "'insecure-run-as-root'" in r.stderr, r.stderr
    assert " started: " not in r.stderr
    r = run(path, "-c")
    assert r.returncode == 0 and r.stdout == "Configuration file is valid\n"
    assert "[WARNING]" in r.stderr and "ferry would refuse to start as root without 'user'" in r.stderr
    with open(path, "w") as fh:
        fh.write("global\n    insecure-run-as-root\n" + body)
    r = run(path, "-c")
    assert (r.returncode, r.stderr) == (0, ""), r.stderr


@pytest.mark.parametrize("line, message", [
    ("user no-such-user-here", "cannot find user id for 'no-such-user-here' (0:Success)"),
    ("group no-such-group-here", "cannot find group id for 'no-such-group-here' (0:Success)"),
    ("user", "cannot find user id for '' (0:Success)"),  # HAProxy 2.6's sentences for a missing name
    ("group", "cannot find group id for '' (0:Success)"),
    ("uid", "'uid' expects an integer argument."),
    ("chroot", "'chroot' expects a directory as an argument."),
    ("user nobody extra", "'user' cannot handle unexpected argument 'extra'."),
    ("setcap cap_net_raw", "'setcap': capability 'cap_net_raw' is not supported"),
])
def test_bad_lines(tmpdir_path, line, message):
    path = os.path.join(tmpdir_path, "f.cfg")
    with open(path, "w") as fh:
        fh.write("global\n    %s\n" % line + DEFAULTS + "listen l\n    bind 127.0.0.1:1\n    server s 127.0.0.1:1\n")
    r = run(path, "-c")
    assert r.returncode == 1 and "%s:2: %s" % (path, message) in r.stderr, r.stderr


def test_chroot_that_fails_stops_the_start(tmpdir_path):
    path = os.path.join(tmpdir_path, "f.cfg")
    missing = os.path.join(tmpdir_path, "no-such-dir")
    with open(path, "w") as fh:
        fh.write("global\n    user nobody\n    chroot %s\n" % missing + DEFAULTS +
                 "listen l\n    bind 127.0.0.1:%d\n    server s 127.0.0.1:1\n" % free_port())
    r = run(path)
    assert r.returncode == 1 and "Cannot chroot(%s): No such file or directory" % missing in r.stderr, r.stderr
