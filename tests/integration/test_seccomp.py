"""The system-call allowlist (src/runtime/seccomp.c): once started, every
thread of ferry runs under one seccomp filter (Seccomp 2 in
/proc/PID/task/TID/status), "global no-seccomp" leaves it off, and a call
outside the list kills ferry with a line naming the call. The other test
files run with the filter on too: it is on by default."""
import grp
import os
import platform
import pwd
import re
import signal
import socket
import subprocess

import pytest

from conftest import DEFAULTS, FERRY, ROOT_OPT_IN, ask_name, free_port, wait_until
from statsock import cli

TRIGGER = {"FERRY_TEST_SECCOMP_TRIGGER": "1"}
# personality(2)'s number, where this test knows it
PERSONALITY_NR = {"x86_64": 135, "aarch64": 92}.get(platform.machine())


def tasks_status(pid):
    """Every thread's /proc status, as dicts of stripped fields."""
    out = []
    for t in sorted(os.listdir("/proc/%d/task" % pid)):
        with open("/proc/%d/task/%s/status" % (pid, t)) as f:
            out.append({k: v.strip() for k, v in (l.split(":", 1) for l in f.read().splitlines() if ":" in l)})
    return out


def config(port, srv_port, sock, extra_global="", threads=4):
    return ("global\n    nbthread %d\n    stats socket %s level admin\n%s" % (threads, sock, extra_global) +
            DEFAULTS + "listen l\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d check inter 100\n"
            % (port, srv_port))


def test_every_thread_is_filtered_and_ferry_still_works(ferry, backends, tmpdir_path):
    """nbthread 4: the main thread and the three workers each show the one
    filter; relaying, checks, the stats socket and a reload that adds a
    listener and a server work under it (and the filter stays)."""
    s1, s2 = backends(2)
    port, port2, sock = free_port(), free_port(), os.path.join(tmpdir_path, "stats.sock")
    text = config(port, s1.port, sock)
    f = ferry(text, wait_port=port, env_threads=False)
    st = tasks_status(f.proc.pid)
    assert len(st) == 4, st
    for s in st:
        assert (s["Seccomp"], s["Seccomp_filters"]) == ("2", "1"), s
    assert [ask_name(port) for _ in range(4)] == ["s1"] * 4
    assert "s1" in cli(sock, "show servers state\n")
    with open(f.cfg_path, "w") as fh:
        fh.write(text + "    server s2 127.0.0.1:%d check inter 100\n" % s2.port +
                 "listen m\n    bind 127.0.0.1:%d\n    server s2 127.0.0.1:%d\n" % (port2, s2.port) + ROOT_OPT_IN)
    os.kill(f.proc.pid, signal.SIGHUP)
    assert f.wait_log(r"Reloaded \(SIGHUP\)", where="stderr"), f.stderr()
    assert ask_name(port2) == "s2"
    assert wait_until(lambda: sorted({ask_name(port) for _ in range(6)}) == ["s1", "s2"], 5)
    assert "Reloaded" in cli(sock, "reload\n")
    assert [s["Seccomp"] for s in tasks_status(f.proc.pid)] == ["2"] * 4
    assert "seccomp:" not in f.stderr()
    assert f.stop() == 0


def test_no_seccomp_leaves_it_off(ferry, backends, tmpdir_path):
    (s1,) = backends(1)
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    f = ferry(config(port, s1.port, sock, "    no-seccomp\n", threads=2), wait_port=port, env_threads=False)
    st = tasks_status(f.proc.pid)
    assert len(st) == 2 and [s["Seccomp"] for s in st] == ["0", "0"], st
    assert ask_name(port) == "s1"


def test_a_reload_cannot_change_the_filter_and_says_so(ferry, backends, tmpdir_path):
    """A filter cannot be taken off a running process, nor is it put on
    after start: a reload that adds or removes no-seccomp serves its
    configuration, keeps the filter as it was and warns (the stats
    socket's reload answer and stderr); a binary upgrade applies it."""
    (s1,) = backends(1)
    for first, then, filt, want in (("", "    no-seccomp\n", "2", r"'no-seccomp' needs a restart"),
                                    ("    no-seccomp\n", "", "0", r"installed at start only")):
        port, sock = free_port(), os.path.join(tmpdir_path, "stats%s.sock" % filt)
        f = ferry(config(port, s1.port, sock, first, threads=2), wait_port=port, env_threads=False)
        with open(f.cfg_path, "w") as fh:
            fh.write(config(port, s1.port, sock, then, threads=2) + ROOT_OPT_IN)
        for _ in range(2):  # each reload says it, not only the one that changed the keyword
            answer = cli(sock, "reload\n")
            assert "Reloaded" in answer and re.search(want, answer), answer
        assert f.wait_log(want, where="stderr"), f.stderr()
        assert [s["Seccomp"] for s in tasks_status(f.proc.pid)] == [filt] * 2
        assert ask_name(port) == "s1"
        assert f.stop() == 0


def start(tmpdir_path, text, env):
    path = os.path.join(tmpdir_path, "t.cfg")
    with open(path, "w") as fh:
        fh.write(text + ROOT_OPT_IN)
    return subprocess.Popen([FERRY, "-f", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, **env), text=True)


def test_a_call_outside_the_list_kills_ferry_and_is_named(tmpdir_path):
    """FERRY_TEST_SECCOMP_TRIGGER: right after the filter is in place,
    ferry asks personality(2) for its persona, a call outside the list:
    ferry dies of SIGSYS and says which call it was: on stderr, and to the
    global section's log targets (a syslog socket here, rfc5424 to check a
    full header), sent from the signal handler."""
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(10)
        logcfg = "    log 127.0.0.1:%d format rfc5424 local0 notice\n" % rx.getsockname()[1]
        p = start(tmpdir_path, config(port, 1, sock, logcfg, threads=2), TRIGGER)
        try:
            out, err = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        lines = []
        rx.settimeout(0.5)
        try:
            while True:
                lines.append(rx.recv(4096).decode())
        except socket.timeout:
            pass
    assert p.returncode == -signal.SIGSYS, (p.returncode, err)
    m = re.search(r"^\[ALERT\]    \(%d\) : seccomp: system call personality \((\d+)\) not allowed$" % p.pid,
                  err, re.M)
    assert m, err
    if PERSONALITY_NR is not None:
        assert int(m.group(1)) == PERSONALITY_NR
    # <129>: local0 (16) * 8 + alert (1); then rfc5424's version, time, host, app, pid
    want = re.compile(r"^<129>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ ferry %d - - "
                      r"seccomp: system call personality \(%s\) not allowed$" % (p.pid, m.group(1)))
    assert [l for l in lines if want.match(l)], lines


def test_the_trigger_is_harmless_without_the_filter(tmpdir_path, backends):
    """The same trigger with no-seccomp: the query changes nothing and
    ferry serves, so the death above is the filter's doing."""
    (s1,) = backends(1)
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    p = start(tmpdir_path, config(port, s1.port, sock, "    no-seccomp\n", threads=2), TRIGGER)
    try:
        assert wait_until(lambda: p.poll() is not None or os.path.exists(sock), 10)
        assert p.poll() is None
        assert wait_until(lambda: _serves(port), 5)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0 and "seccomp:" not in err, err


def _serves(port):
    try:
        return ask_name(port, timeout=1) == "s1"
    except OSError:
        return False


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_after_the_drop_the_filter_is_on_too(ferry, backends, tmpdir_path):
    """What issue 14 asks /proc/PID/status to show once ferry serves as a
    user: its Uid/Gid, no capability, no_new_privs, the filter."""
    os.chmod(tmpdir_path, 0o755)
    (s1,) = backends(1)
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    f = ferry(config(port, s1.port, sock, "    user nobody\n    group nogroup\n", threads=2),
              wait_port=port, env_threads=False, root_opt_in=False)
    for s in tasks_status(f.proc.pid):
        assert s["Uid"].split() == [str(nobody)] * 4 and s["Gid"].split() == [str(nogroup)] * 4, s
        assert (s["CapEff"], s["NoNewPrivs"], s["Seccomp"], s["Seccomp_filters"]) == ("0" * 16, "1", "2", "1"), s
    assert ask_name(port) == "s1"
    assert "Reloaded" in cli(sock, "reload\n")
    assert ask_name(port) == "s1"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_insecure_setuid_wanted_after_a_drop_needs_no_seccomp(tmpdir_path):
    """Without no_new_privs only root may install a filter: ferry as a user
    with insecure-setuid-wanted refuses to serve unfiltered and says what
    to change."""
    os.chmod(tmpdir_path, 0o755)
    port, sock = free_port(), os.path.join(tmpdir_path, "stats.sock")
    path = os.path.join(tmpdir_path, "t.cfg")
    with open(path, "w") as fh:
        fh.write(config(port, 1, sock, "    user nobody\n    group nogroup\n    insecure-setuid-wanted\n",
                        threads=2))
    r = subprocess.run([FERRY, "-f", path], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, r.stderr
    assert "seccomp: cannot install the system-call filter: Permission denied (with 'insecure-setuid-wanted', " \
           "only root may: add 'no-seccomp', or remove 'insecure-setuid-wanted')" in r.stderr, r.stderr
