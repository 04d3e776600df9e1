"""psql through ferry to real PostgreSQL servers."""
import collections
import os
import shutil
import subprocess
import sys

import pytest

from conftest import DEFAULTS, ROOT, free_port

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from pgcluster import PgCluster  # noqa: E402


@pytest.fixture(scope="module")
def pg():
    c = PgCluster([free_port() for _ in range(3)], names=["pgsql_node1", "pgsql_node2", "pgsql_node3"]).start()
    yield c
    c.stop()


def psql(port, sql):
    psql_bin = shutil.which("psql") or "/usr/bin/psql"
    r = subprocess.run([psql_bin, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres",
                        "-Atc", sql], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PGCONNECT_TIMEOUT="5"))
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def cfg(port, pg):
    servers = "\n".join("    server %s 127.0.0.1:%d check inter 1s" % (n, p) for n, p in zip(pg.names, pg.ports))
    return DEFAULTS + """
frontend pgsql_frontend
    bind 127.0.0.1:%d
    default_backend pgsql_backend
backend pgsql_backend
    balance roundrobin
%s
""" % (port, servers)


def test_psql_through_ferry_roundrobin(ferry, pg):
    port = free_port()
    ferry(cfg(port, pg), wait_port=port)
    seen = collections.Counter(psql(port, "select current_setting('cluster_name')") for _ in range(6))
    assert seen == {"pgsql_node1": 2, "pgsql_node2": 2, "pgsql_node3": 2}


def test_psql_large_result_and_copy(ferry, pg):
    port = free_port()
    ferry(cfg(port, pg), wait_port=port)
    out = psql(port, "select count(*), sum(length(repeat('x', g))) from generate_series(1, 2000) g")
    assert out == "2000|2001000"
    out = psql(port, "select md5(string_agg(repeat(g::text, 100), ',')) from generate_series(1, 20000) g")
    direct = psql(pg.ports[0], "select md5(string_agg(repeat(g::text, 100), ',')) from generate_series(1, 20000) g")
    assert out == direct and len(out) == 32
