"""make demo: three local PostgreSQL servers and ferry in front of them with
the configuration from the README. Ctrl-C stops everything and removes the
temporary files."""
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from pgcluster import PgCluster  # noqa: E402

FRONT = int(os.environ.get("FERRY_DEMO_PORT", "15432"))
NODES = [FRONT + 1, FRONT + 2, FRONT + 3]

CONFIG = """global
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
    bind 127.0.0.1:{front}
    default_backend pgsql_backend
backend pgsql_backend
    balance roundrobin
    server pgsql_node1 127.0.0.1:{n1} check
    server pgsql_node2 127.0.0.1:{n2} check
    server pgsql_node3 127.0.0.1:{n3} check
"""


def main():
    tmp = tempfile.mkdtemp(prefix="ferry-demo-")
    os.chmod(tmp, 0o755)  # the servers run as 'postgres' and must reach their directories
    cfg = os.path.join(tmp, "ferry.cfg")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(front=FRONT, n1=NODES[0], n2=NODES[1], n3=NODES[2]))
    print("demo: starting 3 PostgreSQL servers on 127.0.0.1:%d-%d ..." % (NODES[0], NODES[-1]), flush=True)
    pg = PgCluster(NODES, names=["pgsql_node1", "pgsql_node2", "pgsql_node3"], base=tmp)
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

Stop a node to watch ferry take it out of rotation (and start it again):

    runuser -u postgres -- {bin}/pg_ctl -D {tmp}/pgsql_node2 stop

Ctrl-C stops ferry and the servers and removes {tmp}.
""".format(front=FRONT, cfg=cfg, bin=pg.bin, tmp=pg.base), flush=True)
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
