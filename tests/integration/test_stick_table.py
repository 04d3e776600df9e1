"""Stick tables on the stats socket: show/clear/set table compared line by
line with HAProxy 2.6.12 running the same configuration and the same
commands (entry addresses and remaining expiry times aside), and a reload
that keeps the entries of a table whose layout stays."""
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import DEFAULTS, ask_name, free_port, wait_until
from statsock import cli, cmd

TABLES = """
frontend fe
    bind 127.0.0.1:%(port)d
    stick-table type ip size 1k expire 30s store conn_cnt,conn_cur,conn_rate(10s),gpc0,bytes_in_cnt,server_id,gpt(2),gpc_rate(2,1m),server_key,http_req_rate(10s)
    default_backend be
backend be
    stick-table type string len 8 size 10 store gpc0
    server s1 127.0.0.1:1
backend t_int
    stick-table type integer size 100 expire 1m store gpc0
backend t_v6
    stick-table type ipv6 size 3 store conn_cnt
backend t_bin
    stick-table type binary len 4 size 100 store conn_cnt nopurge
"""

# Every branch of HAProxy's "table" commands: errors, filters, keys of each
# type, the eviction of the oldest entry of a full table, clear by key and
# by filter, "set table t" without a key (which clears it in 2.6).
COMMANDS = r"""show table
show table fe
show table nope
set table fe key 10.0.0.2 data.conn_cnt 5 data.gpc0 3
set table fe key 10.0.0.1 data.conn_rate 7 data.gpc1 2
set table fe key 9.0.0.1 data.conn_rate 7 data.server_id -2 data.bytes_in_cnt 99999999999
set table fe key foo data.gpc0 x
set table fe key 1.2.3.4 conn_cnt 3
set table fe key 1.2.3.5 data.bogus 3
set table fe key
set table fe data.gpc0 1
show table fe
show table fe data.gpc0 gt 1
show table fe data.conn_rate ge 7 data.gpc0 eq 0
show table fe data.conn_rate ge 7 data.gpc0 eq 0 extra
show table fe data.nope eq 1
show table fe data.gpc1 eq 1
show table fe data.gpc0 xx 1
show table fe data.gpc0 eq y
show table fe key 10.0.0.1
show table fe key 10.9.9.9
show table fe foo
clear table
clear table fe foo
clear table fe key 10.0.0.1
clear table fe data.gpc0 eq 0
show table fe
set table t_int key 256
set table t_int key 1
set table t_int key 2
set table t_int key -1
set table t_int key 4294967296
show table t_int
set table be key abcdefghijkl
set table be key ab
set table be key a=b\ c
show table be
show table be key abcdefghZZ
set table t_v6 key ::1
set table t_v6 key ::2
set table t_v6 key ::3
set table t_v6 key ::4
set table t_v6 key zz
show table t_v6
set table t_bin key 1
show table t_bin
show table t_bin key 1
set table fe
show table fe
show table""".split("\n")

USER_COMMANDS = ["show table fe", "show table", "set table fe key 1.1.1.1",
                 "clear table fe data.gpc0 eq 0", "show table fe data.gpc0 eq 0"]


def masked(text):
    """Entry addresses and remaining expiry differ from one process to another."""
    return re.sub(r"exp=\d+", "exp=E", re.sub(r"^0x[0-9a-f]+:", "0xPTR:", text, flags=re.M))


def transcript(sock, user_sock, commands=COMMANDS):
    out = ["> %s\n%s" % (c, cli(sock, c + "\n")) for c in commands]
    out += ["> %s\n%s" % (c, cli(user_sock, c + "\n")) for c in USER_COMMANDS]
    return masked("".join(out))


def sockets_and_tables(tmp, port):
    admin, user = os.path.join(tmp, "admin.sock"), os.path.join(tmp, "user.sock")
    cfg = ("global\n    stats socket %s level admin\n    stats socket %s level user\n" % (admin, user)
           + DEFAULTS + TABLES % {"port": port})
    return cfg, admin, user


def run_ferry(ferry, tmpdir_path):
    port = free_port()
    cfg, admin, user = sockets_and_tables(tmpdir_path, port)
    ferry(cfg, wait_port=port)
    return transcript(admin, user)


def test_show_clear_set_table(ferry, tmpdir_path):
    out = run_ferry(ferry, tmpdir_path)
    # a few landmarks (the whole transcript is compared with HAProxy below)
    assert "> show table\n# table: t_bin, type: binary, size:100, used:0\n" in out
    assert ("> show table fe data.gpc0 gt 1\n# table: fe, type: ip, size:1024, used:6\n"
            "0xPTR: key=10.0.0.2 use=0 exp=E server_id=0 gpc0=3 conn_cnt=5 conn_rate(10000)=0 conn_cur=0"
            " http_req_rate(10000)=0 bytes_in_cnt=0 server_key=- gpt0=0 gpt1=0 gpc0_rate(60000)=0"
            " gpc1_rate(60000)=0\n\n") in out
    assert ("> show table t_int\n# table: t_int, type: integer, size:100, used:3\n"
            "0xPTR: key=256 use=0 exp=E gpc0=0\n0xPTR: key=1 use=0 exp=E gpc0=0\n"
            "0xPTR: key=2 use=0 exp=E gpc0=0\n\n") in out
    # the oldest of a full table went to make room
    assert ("# table: t_v6, type: ipv6, size:3, used:3\n0xPTR: key=::2 use=0 exp=E conn_cnt=0\n"
            "0xPTR: key=::3 use=0 exp=E conn_cnt=0\n0xPTR: key=::4 use=0 exp=E conn_cnt=0\n") in out
    assert "> set table fe key 1.1.1.1\nPermission denied\n" in out
    assert "# contents not dumped due to insufficient privileges\n" in out


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy is not installed")
def test_same_transcript_as_haproxy(ferry, tmpdir_path):
    ours = run_ferry(ferry, tmpdir_path)
    hdir = os.path.join(tmpdir_path, "haproxy")
    os.mkdir(hdir)
    cfg, admin, user = sockets_and_tables(hdir, free_port())
    path = os.path.join(hdir, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(cfg)
    hap = subprocess.Popen(["haproxy", "-db", "-f", path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: os.path.exists(user), 10), "haproxy did not start"
        theirs = transcript(admin, user)
    finally:
        hap.send_signal(signal.SIGTERM)
        hap.wait(timeout=10)
    assert ours == theirs


def test_reload_keeps_a_table_that_stays(ferry, tmpdir_path):
    port = free_port()
    admin = os.path.join(tmpdir_path, "admin.sock")
    head = "global\n    stats socket %s level admin\n" % admin + DEFAULTS

    def tables(kept_expire, other_size):
        return head + ("frontend fe\n    bind 127.0.0.1:%d\n"
                       "    stick-table type ip size 100 expire %s store gpc0\n    default_backend other\n"
                       "backend other\n    stick-table type ip size %d store gpc0\n"
                       "    server s1 127.0.0.1:1\n") % (port, kept_expire, other_size)

    ferry(tables("30s", 10), wait_port=port)
    assert cmd(admin, "set table fe key 10.0.0.1 data.gpc0 4") == ""
    assert cmd(admin, "set table other key 10.0.0.2 data.gpc0 5") == ""
    with open(os.path.join(tmpdir_path, "ferry.cfg"), "w") as f:
        f.write(tables("1m", 20))  # fe: a new expire only; other: a new size
    assert "Reloaded" in cmd(admin, "reload")
    # fe kept its entry, and its next touch uses the new expire
    assert re.fullmatch(r"# table: fe, type: ip, size:100, used:1\n0x[0-9a-f]+: key=10.0.0.1 use=0 "
                        r"exp=\d+ gpc0=4\n", cmd(admin, "show table fe"))
    assert cmd(admin, "set table fe key 10.0.0.1 data.gpc0 6") == ""
    exp = int(re.search(r"exp=(\d+)", cmd(admin, "show table fe")).group(1))
    assert 30000 < exp <= 60000
    # other is a new, empty table
    assert cmd(admin, "show table other") == "# table: other, type: ip, size:20, used:0\n"


def test_a_huge_key_length_is_tracked_not_a_crash(ferry, backends, tmpdir_path):
    """"stick-table type binary len 20000000" (HAProxy accepts any len):
    a lookup's key no longer goes on the thread's stack (20 MB would
    overflow it: ferry died of SIGSEGV at the first tracked connection),
    so connections are tracked and relayed."""
    (s1,) = backends(1)
    port = free_port()
    admin = os.path.join(tmpdir_path, "admin.sock")
    f = ferry("global\n    stats socket %s level admin\n" % admin + DEFAULTS +
              "frontend fe\n    bind 127.0.0.1:%d\n    tcp-request connection track-sc0 src table t\n"
              "    default_backend b\n"
              "backend t\n    stick-table type binary len 20000000 size 10 store conn_cnt\n"
              "backend b\n    server s1 127.0.0.1:%d\n" % (port, s1.port), wait_port=port)
    assert [ask_name(port) for _ in range(3)] == ["s1"] * 3
    assert f.proc.poll() is None
    assert "# table: t, type: binary, size:10, used:1\n" in cmd(admin, "show table")
    # cleared once the last session let go of its entry (a session still
    # tracking keeps it, as in HAProxy)
    assert wait_until(lambda: cmd(admin, "clear table t") == "" and
                      "# table: t, type: binary, size:10, used:0\n" in cmd(admin, "show table"), 5)
    assert f.proc.poll() is None
