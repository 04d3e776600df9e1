"""make demo: three local PostgreSQL servers (a primary and two streaming
replicas) and ferry in front of them: the README's roundrobin frontend,
role-aware ports for writes and reads, the stats socket and the live
dashboard. Ctrl-C stops everything and removes the temporary files."""
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from pgcluster import PgReplicaSet  # noqa: E402

FRONT = int(os.environ.get("FERRY_DEMO_PORT", "15432"))
NODES = [FRONT + 1, FRONT + 2, FRONT + 3]
RW, RO, STATS = FRONT + 10, FRONT + 11, FRONT + 12

CONFIG = """global
    # the demo runs as whoever starts it, root included, in a scratch directory
    insecure-run-as-root
    maxconn 4000
    log stdout format raw local0
    stats socket {tmp}/admin.sock mode 600 level admin expose-fd listeners
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 5s
    timeout client 30m
    timeout server 30m
frontend pgsql_frontend
    bind 127.0.0.1:{front}
    default_backend pgsql_backend
backend pgsql_backend
    balance roundrobin
    server pgsql_node1 127.0.0.1:{n1} check
    server pgsql_node2 127.0.0.1:{n2} check
    server pgsql_node3 127.0.0.1:{n3} check

# ferry's own: ask each server whether it is primary or replica
frontend pg_rw
    bind 127.0.0.1:{rw}
    default_backend pg_primary
frontend pg_ro
    bind 127.0.0.1:{ro}
    default_backend pg_replicas
backend pg_primary
    option pgsql-check user postgres role primary
    default-server check inter 1s rise 2 fall 3
    server pgsql_node1 127.0.0.1:{n1}
    server pgsql_node2 127.0.0.1:{n2}
    server pgsql_node3 127.0.0.1:{n3}
backend pg_replicas
    balance leastconn
    option pgsql-check user postgres role replica max-lag 16MB
    default-server check inter 1s rise 2 fall 3
    server pgsql_node1 127.0.0.1:{n1}
    server pgsql_node2 127.0.0.1:{n2}
    server pgsql_node3 127.0.0.1:{n3}

frontend stats
    mode http
    bind 127.0.0.1:{stats}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    stats enable
    stats uri /
    stats refresh 5s
    stats admin if {{ src 127.0.0.1 }}
"""


def main():
    tmp = tempfile.mkdtemp(prefix="ferry-demo-")
    os.chmod(tmp, 0o755)  # the servers run as 'postgres' and must reach their directories
    cfg = os.path.join(tmp, "ferry.cfg")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(front=FRONT, n1=NODES[0], n2=NODES[1], n3=NODES[2], rw=RW, ro=RO, stats=STATS,
                              tmp=tmp))
    print("demo: starting a PostgreSQL primary and 2 replicas on 127.0.0.1:%d-%d ..." % (NODES[0], NODES[-1]),
          flush=True)
    pg = PgReplicaSet(NODES, names=["pgsql_node1", "pgsql_node2", "pgsql_node3"], base=tmp)
    ferry = None
    # Ctrl-C reaches the whole process group; we clean up in `finally`.
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        pg.start()
        ferry = subprocess.Popen([os.path.join(ROOT, "build", "ferry"), "-f", cfg])
        time.sleep(0.5)
        if ferry.poll() is not None:
            print("demo: ferry did not start", file=sys.stderr)
            return 1
        print("""
demo: ferry listens on 127.0.0.1:{front} in front of pgsql_node1..3 (config: {cfg}).
Connect through ferry; each run lands on the next node (roundrobin):

    psql -h 127.0.0.1 -p {front} -U postgres -Atc "select current_setting('cluster_name')"

Writes always reach the primary (pgsql_node1), reads a replica, because
ferry asks each server its role:

    psql -h 127.0.0.1 -p {rw} -U postgres -Atc "select current_setting('cluster_name'), pg_is_in_recovery()"
    psql -h 127.0.0.1 -p {ro} -U postgres -Atc "select current_setting('cluster_name'), pg_is_in_recovery()"

Watch and steer it: the live dashboard at http://127.0.0.1:{stats}/ (metrics at
/metrics), and HAProxy's runtime API on the stats socket:

    echo "show stat" | socat stdio UNIX-CONNECT:{sock}
    echo "show pg" | socat stdio UNIX-CONNECT:{sock}
    echo "set server pgsql_backend/pgsql_node3 state drain" | socat stdio UNIX-CONNECT:{sock}

Stop a node to watch ferry take it out of rotation (and start it again);
edit {cfg} and reload without dropping a connection:

    runuser -u postgres -- {bin}/pg_ctl -D {tmp}/pgsql_node2 stop
    kill -HUP {pid}

Ctrl-C stops ferry and the servers and removes {top}.
""".format(front=FRONT, rw=RW, ro=RO, stats=STATS, cfg=cfg, bin=pg.bin, tmp=pg.base, pid=ferry.pid,
                   sock=os.path.join(tmp, "admin.sock"), top=tmp),
              flush=True)
        ferry.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if ferry and ferry.poll() is None:
            ferry.send_signal(signal.SIGTERM)
            ferry.wait()
        pg.stop()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
        print("\ndemo: stopped, temporary files removed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
