"""ferry's own "show pg" and ferry_server_pg_* metrics, against a real primary and
a streaming replica on loopback."""
import os
import re
import sys

import pytest

from conftest import DEFAULTS, ROOT, free_port, wait_until
from statsock import cmd, csv_rows, row

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from pgcluster import PgReplicaSet  # noqa: E402

HEADER = "# be_name srv_name role timeline lag_bytes lag_seconds check_status last_chk\n"


@pytest.fixture(scope="module")
def pair():
    s = PgReplicaSet([free_port() for _ in range(2)], names=["pg1", "pg2"]).start()
    yield s
    s.stop()


def test_show_pg(ferry, tmpdir_path, pair):
    fe = free_port()
    servers = "\n".join("    server %s 127.0.0.1:%d check inter 300ms" % (n, p)
                        for n, p in zip(pair.names, pair.ports))
    cfg = ("global\n    stats socket %s/a.sock level user\n" % tmpdir_path) + DEFAULTS + """
frontend f
    bind 127.0.0.1:%d
    default_backend pg_any
backend pg_any
    option pgsql-check user postgres role any
%s
backend plain
    server other 127.0.0.1:1
""" % (fe, servers)
    f = ferry(cfg, wait_port=fe)
    a = os.path.join(tmpdir_path, "a.sock")

    def lines():
        return cmd(a, "show pg").splitlines()[1:]
    assert wait_until(lambda: all(l.split()[2] != "-" for l in lines()), 10)
    out = cmd(a, "show pg")
    assert out.startswith(HEADER)
    pg1, pg2 = lines()
    assert re.fullmatch(r"pg_any pg1 primary \d+ 0 0\.000 L7OK primary, timeline \d+", pg1), pg1
    assert re.fullmatch(r"pg_any pg2 replica - \d+ \d+\.\d{3} L7OK replica, lag \d+[kMG]?B", pg2), pg2
    assert cmd(a, "show pg plain") == HEADER  # no role-aware check there
    assert cmd(a, "show pg nosuch") == "No such backend.\n"
    metrics = cmd(a, "show metrics")
    assert re.search(r'^ferry_server_pg_role\{proxy="pg_any",server="pg1",role="primary"\} 1$', metrics, re.M)
    assert re.search(r'^ferry_server_pg_role\{proxy="pg_any",server="pg2",role="primary"\} 0$', metrics, re.M)
    assert re.search(r'^ferry_server_pg_role\{proxy="pg_any",server="pg2",role="replica"\} 1$', metrics, re.M)
    assert re.search(r'^ferry_server_pg_lag_bytes\{proxy="pg_any",server="pg2"\} \d+$', metrics, re.M)
    assert row(csv_rows(a), "pg_any", "pg1")["check_desc"] == "Layer7 check passed"
