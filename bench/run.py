"""make bench: ferry against HAProxy (and nginx stream, pen when installed)
and a direct connection, on this machine, in one run.

The proxy under test gets CPU 0 (taskset); the load generators and backends
get CPU 1. Every scenario is repeated ROUNDS times, interleaved between
proxies, and medians are reported. Figures per CPU-second use the proxy
process's utime+stime from /proc/PID/stat over the measurement.

Only loopback is used. Every load runs for a bounded time."""
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from pgcluster import PgCluster  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECS = float(os.environ.get("BENCH_SECONDS", "3"))
IDLE_CONNS = int(os.environ.get("BENCH_IDLE", "5000"))
# A newer HAProxy than Debian's (built from source elsewhere): another peer, same config file.
HAPROXY_NEW = os.environ.get("BENCH_HAPROXY_NEW")
# Another ferry binary (an earlier commit's build/ferry): a peer named "ferry-before",
# measured in the same interleaved rounds, to show what a change bought.
FERRY_BEFORE = os.environ.get("BENCH_FERRY_BEFORE")
# BENCH_ONLY=churn,requests runs only those scenarios (bulk_1 bulk_4 churn requests
# pgbench pgbench_C idle); default: all.
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
PROXY_CPU, LOAD_CPU = "0", "1"
TICK = os.sysconf("SC_CLK_TCK")
T0 = time.time()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_of(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TICK


def rss_of(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
            total += int(m.group(1)) * 1024
        except (OSError, AttributeError):
            pass
    return total


def children(pid):
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        return [int(x) for x in out]
    except OSError:
        return []


class Proxy:
    """A proxy process on CPU 0 with four listeners: bulk, http, idle, pg."""

    def __init__(self, name, ports):
        self.name = name
        self.ports = ports
        self.proc = None
        self.pids = []

    def start(self, cmd, wait_port):
        """Starts cmd on CPU 0. wait_port: a listener whose backend tolerates an
        empty probe connection (the http one), or None to wait on ss(8)."""
        self.proc = subprocess.Popen(["taskset", "-c", PROXY_CPU] + cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        end = time.time() + 10
        while wait_port is None and time.time() < end:
            out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
            if "pid=%d," % self.proc.pid in out:
                break
            time.sleep(0.05)
        while wait_port and time.time() < end:
            try:
                socket.create_connection(("127.0.0.1", wait_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.2)
        kids = children(self.proc.pid)
        # nginx: the worker does the work (the master only supervises); others: the process itself
        self.pids = kids if self.name == "nginx" and kids else [self.proc.pid]
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def ops_config(ports, tmp):
    """What ferry-ops adds: two stats sockets and the stats/metrics frontend
    (issue 9: watching a ferry must cost its data path nothing measurable)."""
    return """    stats socket {tmp}/ops1.sock level admin
    stats socket {tmp}/ops2.sock level user
frontend stats
    mode http
    bind 127.0.0.1:{stats}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    stats enable
    stats uri /
    stats refresh 5s
""".format(tmp=tmp, stats=ports["stats"])


def rules_files(tmp):
    """ferry-rules' files: 100,000 networks no client is in (65,536 /24s of
    10.0.0.0/8, then /32s of 172.16.0.0/12) and a map of 10,000 SNI names."""
    nets, sni = os.path.join(tmp, "nets100k.lst"), os.path.join(tmp, "sni10k.map")
    if not os.path.exists(nets):
        with open(nets, "w") as f:
            f.write("# 100,000 networks, none of them loopback\n")
            for i in range(100000):
                f.write("10.%d.%d.0/24\n" % (i // 256 % 256, i % 256) if i < 65536
                        else "172.%d.%d.%d/32\n" % (16 + (i >> 16) % 16, (i >> 8) % 256, i % 256))
        with open(sni, "w") as f:
            for i in range(10000):
                f.write("host%d.example.com bk_sni\n" % i)
    return nets, sni


def rules_lines(ports, tmp):
    """What ferry-rules adds to the 'http' listener: the issue's rule set of
    20 ACLs with an SNI map of 10,000 names and a list of 100,000 networks
    (issue 11: at most 10 % more CPU per churned connection). The requests
    are plain HTTP, so the TLS rules decide on the first bytes. (A rule
    such as "accept if !{ req.len lt 4 }" would wait the whole inspect-delay
    here, in HAProxy too: req.len may still grow, so "not below 4" is never
    known before the end.)"""
    nets, sni = rules_files(tmp)
    acls = [
        "acl blocked src -f %s" % nets,
        "acl local src 127.0.0.0/8 ::1",
        "acl our_port dst_port %d" % ports["http"],
        "acl our_fe fe_name http",
        "acl crowded fe_conn gt 100000",
        "acl none_up nbsrv(bk_http) lt 1",
        "acl s1_up srv_is_up(bk_http/s1)",
        "acl slots connslots(bk_http) gt 0",
        "acl queued queue(bk_http) gt 1000",
        "acl high_port src_port 1024:65535",
        "acl tls req.ssl_hello_type 1",
        "acl known_sni req.ssl_sni,lower,map_dom(%s) -m found" % sni,
        "acl old_tls req.ssl_ver lt 3.1",
        "acl http_req req.proto_http",
        "acl big req.len gt 16000",
        "acl get req.payload(0,3) -m str GET",
        "acl lan src 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16",
        "acl v6 src ::/0",
        "acl yes always_true",
        "acl no always_false",
    ]
    rules = [
        "tcp-request inspect-delay 2s",
        "tcp-request connection reject if blocked",
        "tcp-request connection reject if crowded || no",
        "tcp-request content reject if tls old_tls || tls big",
        "tcp-request content accept if tls",
        "tcp-request content reject if none_up !s1_up",
        "tcp-request content accept if http_req get",
        "use_backend %%[req.ssl_sni,lower,map_dom(%s)] if tls known_sni" % sni,
        "use_backend bk_http if local our_port our_fe high_port slots !queued yes !lan",
    ]
    return "".join("    %s\n" % l for l in acls + rules)


class OpsPoller:
    """Polls ferry-ops every second as operators' tools do: show stat on
    both sockets, the dashboard's data, and /metrics."""

    def __init__(self, ports, tmp):
        self.ports, self.tmp, self.running, self.polls = ports, tmp, True, 0
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _cli(self, path, cmd):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(path)
            s.sendall(cmd.encode() + b"\n")
            while s.recv(65536):
                pass

    def _http(self, path):
        with socket.create_connection(("127.0.0.1", self.ports["stats"]), timeout=2) as s:
            s.sendall(b"GET %s HTTP/1.0\r\n\r\n" % path.encode())
            while s.recv(65536):
                pass

    def _loop(self):
        while self.running:
            try:
                self._cli(os.path.join(self.tmp, "ops1.sock"), "show stat")
                self._cli(os.path.join(self.tmp, "ops2.sock"), "show info")
                self._http("/;data")
                self._http("/metrics")
                self.polls += 1
            except OSError:
                pass
            time.sleep(1)

    def stop(self):
        self.running = False


def root_opt_in(binary, tmp):
    """The line ferry needs to run as root without "user" (HAProxy does not
    know it, and a ferry older than it refuses it): when binary takes it."""
    path = os.path.join(tmp, "opt-in.cfg")
    text = "global\n    insecure-run-as-root\n"
    with open(path, "w") as f:
        f.write(text + "listen probe\n    mode tcp\n    timeout client 1s\n    timeout server 1s\n"
                "    timeout connect 1s\n    bind 127.0.0.1:1\n    server s 127.0.0.1:1\n")
    r = subprocess.run([binary, "-q", "-c", "-f", path], capture_output=True)
    return "\n" + text if r.returncode == 0 else ""


def haproxy_style_config(ports, backends, nbthread=1, ops="", rules=""):
    """The one config file given to both ferry and HAProxy (ops: ferry-ops'
    lines; rules: ferry-rules' lines for the http listener, whose servers
    then are backend bk_http's)."""
    pg = "\n".join("    server pg%d 127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(backends["pg"]))
    return """global
    nbthread {nbthread}
    maxconn 7000
{ops}
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option splice-auto
listen bulk
    bind 127.0.0.1:{bulk}
    server s1 127.0.0.1:{iperf}
{http_section}listen idle
    bind 127.0.0.1:{idle}
    server s1 127.0.0.1:{hold}
listen pg
    bind 127.0.0.1:{pgp}
    balance roundrobin
{pg}
""".format(bulk=ports["bulk"], http=ports["http"], idle=ports["idle"], pgp=ports["pg"],
           iperf=backends["iperf"], nginx=backends["nginx"], hold=backends["hold"], pg=pg, nbthread=nbthread,
           ops=ops, http_section=http_section(ports, backends, rules))


def http_section(ports, backends, rules):
    if not rules:
        return "listen http\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%d\n" % (ports["http"], backends["nginx"])
    return ("frontend http\n    bind 127.0.0.1:%d\n%s    default_backend bk_http\n"
            "backend bk_http\n    server s1 127.0.0.1:%d\n"
            "backend bk_sni\n    server s1 127.0.0.1:%d\n" % (ports["http"], rules, backends["nginx"], backends["nginx"]))


def nginx_stream_config(ports, backends, tmp):
    ups = "".join("        server 127.0.0.1:%d;\n" % p for p in backends["pg"])
    return """load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
worker_processes 1;
pid {tmp}/nginx-proxy.pid;
error_log {tmp}/nginx-proxy.err;
worker_rlimit_nofile 30000;
events {{ worker_connections 20000; }}
stream {{
    upstream pg {{
{ups}    }}
    server {{ listen 127.0.0.1:{bulk}; proxy_pass 127.0.0.1:{iperf}; }}
    server {{ listen 127.0.0.1:{http}; proxy_pass 127.0.0.1:{nginx}; }}
    server {{ listen 127.0.0.1:{idle}; proxy_pass 127.0.0.1:{hold}; }}
    server {{ listen 127.0.0.1:{pgp}; proxy_pass pg; }}
}}
""".format(tmp=tmp, ups=ups, bulk=ports["bulk"], http=ports["http"], idle=ports["idle"], pgp=ports["pg"],
           iperf=backends["iperf"], nginx=backends["nginx"], hold=backends["hold"])


def http_backend_config(port, tmp):
    return """daemon off;
worker_processes 1;
pid {tmp}/nginx-backend.pid;
error_log {tmp}/nginx-backend.err;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""".format(tmp=tmp, port=port)


class HoldServer:
    """Accepts connections and holds them (idle-connection scenario)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8192)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.running = True
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                return

    def drop_all(self):
        for c in self.conns:
            c.close()
        self.conns = []

    def stop(self):
        self.running = False
        self.sock.close()
        self.drop_all()


def on_load_cpu(cmd):
    return ["taskset", "-c", LOAD_CPU] + cmd


def measure(proxy, fn):
    """Runs fn() and returns (its result, proxy CPU seconds used)."""
    c0 = cpu_of(proxy.pids) if proxy else 0
    r = fn()
    c1 = cpu_of(proxy.pids) if proxy else 0
    return r, c1 - c0


def iperf(port, streams):
    out = subprocess.run(on_load_cpu(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(SECS),
                                      "-P", str(streams), "-J", "-O", "0.5"]),
                         capture_output=True, text=True, timeout=SECS + 30).stdout
    for attempt in range(3):  # iperf3's server serves one test at a time: retry if busy
        j = json.loads(out)
        if "sum_received" in j.get("end", {}):
            return j["end"]["sum_received"]["bits_per_second"] / 1e9
        time.sleep(1)
        out = subprocess.run(on_load_cpu(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(SECS),
                                          "-P", str(streams), "-J", "-O", "0.5"]),
                             capture_output=True, text=True, timeout=SECS + 30).stdout
    raise RuntimeError("iperf3 through port %d failed: %s" % (port, j.get("error")))



def wrk(port, close):
    cmd = ["wrk", "-t1", "-c50", "-d%ds" % int(SECS), "--latency", "http://127.0.0.1:%d/" % port]
    if close:
        cmd[2:2] = ["-H", "Connection: close"]
    out = subprocess.run(on_load_cpu(cmd), capture_output=True, text=True, timeout=SECS + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def lat(q):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % q, out, re.M)
        v, u = float(m.group(1)), m.group(2)
        return v * {"us": 1, "ms": 1000, "s": 1e6}[u]
    errors = re.search(r"Socket errors: (.*)", out)
    return rps, lat("50"), lat("99"), errors.group(1) if errors else ""


def idle_memory(proxy, port, hold):
    hold.drop_all()
    time.sleep(0.3)
    before = rss_of(proxy.pids)
    conns = []
    try:
        for _ in range(IDLE_CONNS):
            conns.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        end = time.time() + 15
        while len(hold.conns) < IDLE_CONNS and time.time() < end:
            time.sleep(0.05)
        time.sleep(0.5)
        after = rss_of(proxy.pids)
        proxied = len(hold.conns)
    finally:
        for c in conns:
            c.close()
        hold.drop_all()
    time.sleep(0.5)
    return (after - before) / max(proxied, 1), proxied, after


def pgbench(port, connect_each):
    cmd = ["pgbench", "-n", "-S", "-c", "8", "-j", "1", "-T", str(int(SECS)), "-h", "127.0.0.1",
           "-p", str(port), "-U", "postgres", "postgres"]
    if connect_each:
        cmd.insert(2, "-C")
    out = subprocess.run(on_load_cpu(cmd), capture_output=True, text=True, timeout=SECS + 60).stdout
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out) or re.search(r"tps = ([\d.]+)", out)
    return float(m.group(1))


def start_proxies(names, backends, tmp):
    """Starts every proxy but "direct", each with its own four listeners."""
    proxies = []
    for name in names[1:]:
        ports = {k: free_port() for k in ("bulk", "http", "idle", "pg", "stats")}
        px = Proxy(name, ports)
        if name in ("ferry", "ferry2t", "ferry-before", "ferry-ops", "ferry-rules", "haproxy", "haproxy-new"):
            # ferry2t: ferry with nbthread 2, both threads on the same CPU 0,
            # to show what threads cost per connection (not to add a CPU)
            cfg = os.path.join(tmp, "%s.cfg" % name)
            with open(cfg, "w") as f:
                ops = ops_config(ports, tmp) if name == "ferry-ops" else ""
                rules = rules_lines(ports, tmp) if name == "ferry-rules" else ""
                f.write(haproxy_style_config(ports, backends, 2 if name == "ferry2t" else 1, ops, rules))
            binary = FERRY_BEFORE if name == "ferry-before" else os.path.join(ROOT, "build", "ferry")
            if name.startswith("ferry"):
                with open(cfg, "a") as f:
                    f.write(root_opt_in(binary, tmp))
            cmd = [binary, "-q", "-f", cfg] if name.startswith("ferry") \
                else [HAPROXY_NEW if name == "haproxy-new" else "haproxy", "-db", "-f", cfg]
            px.start(cmd, ports["http"])
            if name == "ferry-ops":
                px.extra_poller = OpsPoller(ports, tmp)
        elif name == "nginx":
            conf = os.path.join(tmp, "proxy.conf")
            with open(conf, "w") as f:
                f.write(nginx_stream_config(ports, backends, tmp))
            px.start(["nginx", "-c", conf], ports["http"])
        else:  # pen: one process per listener; CPU is summed over them
            pens = []
            for key, target in (("bulk", [backends["iperf"]]), ("http", [backends["nginx"]]),
                                ("idle", [backends["hold"]]), ("pg", backends["pg"])):
                p = Proxy("pen", ports).start(["pen", "-f", "-r", "-x", "20000", "-c", "20000",
                                               "127.0.0.1:%d" % ports[key]] +
                                              ["127.0.0.1:%d" % t for t in target],
                                              ports[key] if key == "http" else None)
                pens.append(p)
            px.proc = pens[0].proc
            px.pids = [q.proc.pid for q in pens]
            px.extra = pens
        proxies.append(px)
    return proxies


def stop_proxies(proxies):
    for px in proxies:
        if getattr(px, "extra_poller", None):
            px.extra_poller.stop()
        for p in getattr(px, "extra", [px]):
            p.stop()


def main():
    os.sched_setaffinity(0, {int(LOAD_CPU)})  # backends and clients inherit CPU 1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # HAProxy wants about 2.5 descriptors per maxconn (7000 → 17500): the
    # hard limit here is 20000, which is why maxconn is 7000 in the config
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="ferry-bench-")
    os.chmod(tmp, 0o755)
    procs, proxies = [], []
    backends = {"iperf": free_port(), "nginx": free_port()}
    hold = HoldServer()
    backends["hold"] = hold.port
    pg = PgCluster([free_port() for _ in range(3)], names=["b1", "b2", "b3"], base=tmp)
    backends["pg"] = pg.ports
    results = {"machine": os.uname().release, "rounds": ROUNDS, "seconds": SECS, "scenarios": {}}
    try:
        print("bench: starting backends (iperf3, nginx http, 3 PostgreSQL servers) on CPU %s" % LOAD_CPU,
              flush=True)
        procs.append(subprocess.Popen(["iperf3", "-s", "-p", str(backends["iperf"])],
                                      stdout=open(os.path.join(tmp, "iperf3.log"), "w"), stderr=subprocess.STDOUT))
        with open(os.path.join(tmp, "backend.conf"), "w") as f:
            f.write(http_backend_config(backends["nginx"], tmp))
        procs.append(subprocess.Popen(["nginx", "-c", os.path.join(tmp, "backend.conf")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        pg.start()
        for p in pg.ports:
            subprocess.run(["pgbench", "-i", "-q", "-s", "1", "-h", "127.0.0.1", "-p", str(p), "-U", "postgres",
                            "postgres"], capture_output=True, check=True)
        time.sleep(0.5)

        names = ["direct", "ferry", "haproxy"]
        if os.path.exists("/usr/lib/nginx/modules/ngx_stream_module.so"):
            names.append("nginx")
        if shutil.which("pen"):
            names.append("pen")
        if HAPROXY_NEW and os.access(HAPROXY_NEW, os.X_OK):
            names.append("haproxy-new")
        if FERRY_BEFORE and os.access(FERRY_BEFORE, os.X_OK):
            names.append("ferry-before")
        proxies = start_proxies(names + ["ferry2t", "ferry-ops", "ferry-rules"], backends, tmp)
        direct_ports = {"bulk": backends["iperf"], "http": backends["nginx"], "idle": backends["hold"],
                        "pg": backends["pg"][0]}
        table = {}

        def run(scenario, fn, extra=()):
            if ONLY and scenario not in ONLY:
                return
            for r in range(ROUNDS):
                for name in names + list(extra):
                    px = None if name == "direct" else next(p for p in proxies if p.name == name)
                    ports = direct_ports if px is None else px.ports
                    try:
                        value, cpu = measure(px, lambda: fn(ports))
                    except Exception as e:
                        raise RuntimeError("%s via %s: %s" % (scenario, name, e)) from e
                    table.setdefault(scenario, {}).setdefault(name, []).append((value, cpu))
                    time.sleep(0.2)
            print("bench: %s done (%.0f s so far)" % (scenario, time.time() - T0), flush=True)

        run("bulk_1", lambda ports: iperf(ports["bulk"], 1))
        run("bulk_4", lambda ports: iperf(ports["bulk"], 4))
        run("churn", lambda ports: wrk(ports["http"], True), extra=["ferry2t", "ferry-ops", "ferry-rules"])
        run("requests", lambda ports: wrk(ports["http"], False), extra=["ferry2t", "ferry-ops", "ferry-rules"])
        run("pgbench", lambda ports: pgbench(ports["pg"], False))
        run("pgbench_C", lambda ports: pgbench(ports["pg"], True))
        # memory: fresh processes each round, so what earlier scenarios left
        # resident (buffers, pipes, allocator arenas) does not hide the cost
        stop_proxies(proxies)
        proxies = []
        idle = {}
        for r in range(ROUNDS if not ONLY or "idle" in ONLY else 0):
            fresh = start_proxies(names, backends, tmp)
            try:
                for px in fresh:
                    idle.setdefault(px.name, []).append(idle_memory(px, px.ports["idle"], hold))
            finally:
                stop_proxies(fresh)
        print("bench: idle done (%.0f s so far)" % (time.time() - T0), flush=True)
        results["scenarios"] = summarize(table, idle, names + ["ferry2t", "ferry-ops", "ferry-rules"])
    finally:
        stop_proxies(proxies)
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        hold.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    return 0


def med(xs):
    return statistics.median(xs) if xs else None


def summarize(table, idle, names):
    s = {}
    for sc, per in table.items():
        s[sc] = {}
        for name in names:
            rows = per.get(name, [])
            if sc.startswith("bulk"):
                gbps = med([v for v, _ in rows])
                eff = med([v * SECS / c for v, c in rows if c > 0]) if name != "direct" else None
                s[sc][name] = {"gbit_s": gbps, "gbit_per_cpu_s": eff}
            elif sc in ("churn", "requests"):
                rps = med([v[0] for v, _ in rows])
                eff = med([v[0] * SECS / c for v, c in rows if c > 0]) if name != "direct" else None
                s[sc][name] = {"per_s": rps, "per_cpu_s": eff, "p50_us": med([v[1] for v, _ in rows]),
                               "p99_us": med([v[2] for v, _ in rows]),
                               "errors": sorted({v[3] for v, _ in rows if v[3]})}
            else:
                s[sc][name] = {"tps": med([v for v, _ in rows])}
    s["idle"] = {name: {"bytes_per_conn": med([b for b, _, _ in v]), "proxied": min(n for _, n, _ in v),
                        "rss_mb_with_conns": med([r for _, _, r in v]) / 2**20}
                 for name, v in idle.items()}
    return s


def report(res):
    sc = res["scenarios"]
    lines = []

    def row(label, key, field, fmt, higher_better=True):
        data = sc.get(key, {})
        vals = {n: d.get(field) for n, d in data.items() if d.get(field) is not None}
        if not vals:
            return
        peers = {n: v for n, v in vals.items() if n not in ("ferry", "ferry2t", "ferry-before", "ferry-ops", "ferry-rules", "direct")}
        f = vals.get("ferry")
        cells = " ".join("%s=%s" % (n, fmt % v) for n, v in vals.items())
        ratio = ""
        if f and peers:
            best_name = max(peers, key=peers.get) if higher_better else min(peers, key=peers.get)
            best = peers[best_name]
            ratio = "  ferry/best(%s)=%.2f" % (best_name, (f / best) if higher_better else (best / f if f else 0))
            if "direct" in vals and higher_better:
                ratio += " ferry/direct=%.2f" % (f / vals["direct"])
        if f and vals.get("ferry-before"):
            b = vals["ferry-before"]
            ratio += "  ferry/before=%.2f" % ((f / b) if higher_better else (b / f))
        lines.append("%-34s %s%s" % (label, cells, ratio))

    row("bulk 1 stream, Gbit/s", "bulk_1", "gbit_s", "%.1f")
    row("bulk 1 stream, Gbit per CPU-s", "bulk_1", "gbit_per_cpu_s", "%.1f")
    row("bulk 4 streams, Gbit/s", "bulk_4", "gbit_s", "%.1f")
    row("bulk 4 streams, Gbit per CPU-s", "bulk_4", "gbit_per_cpu_s", "%.1f")
    row("churn, conn/s", "churn", "per_s", "%.0f")
    row("churn, conn per CPU-s", "churn", "per_cpu_s", "%.0f")
    row("requests, req/s", "requests", "per_s", "%.0f")
    row("requests, req per CPU-s", "requests", "per_cpu_s", "%.0f")
    row("requests, p50 us (lower better)", "requests", "p50_us", "%.0f", higher_better=False)
    row("requests, p99 us (lower better)", "requests", "p99_us", "%.0f", higher_better=False)
    row("idle, bytes per conn (lower better)", "idle", "bytes_per_conn", "%.0f", higher_better=False)
    row("idle, total RSS MB with the conns", "idle", "rss_mb_with_conns", "%.1f", higher_better=False)
    for key, label in (("churn", "churn, conn per CPU-s"), ("requests", "requests, req per CPU-s")):
        d = sc.get(key, {})
        one, two = d.get("ferry", {}).get("per_cpu_s"), d.get("ferry2t", {}).get("per_cpu_s")
        if one and two:
            lines.append("%-34s 1 thread=%.0f 2 threads=%.0f  2 threads/1=%.2f"
                         % ("nbthread 2 on one CPU, " + label.split(",")[0], one, two, two / one))
        ruled = d.get("ferry-rules", {}).get("per_cpu_s")
        if one and ruled:
            lines.append("%-34s none=%.0f rules=%.0f  rules/none=%.2f"
                         % ("20 ACLs, 10k SNI map, 100k nets, " + label.split(",")[0], one, ruled, ruled / one))
        watched = d.get("ferry-ops", {}).get("per_cpu_s")
        if one and watched:
            lines.append("%-34s none=%.0f watched=%.0f  watched/none=%.2f"
                         % ("2 stats sockets + page polled 1/s, " + label.split(",")[0], one, watched,
                            watched / one))
    row("pgbench -S, tps", "pgbench", "tps", "%.0f")
    row("pgbench -S -C, tps", "pgbench_C", "tps", "%.0f")
    text = "\n".join(lines)
    print("\nferry bench (medians of %d rounds, %gs each; proxy on CPU %s, load on CPU %s)\n%s\n"
          % (res["rounds"], res["seconds"], PROXY_CPU, LOAD_CPU, text))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "latest.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(HERE, "results", "latest.txt"), "w") as f:
        f.write(text + "\n")
    print(json.dumps(res["scenarios"]))


if __name__ == "__main__":
    sys.exit(main())
