"""make soak MINUTES=n: ferry under steady mixed load while a fault loop
breaks its servers and reloads and upgrades ferry itself; at the end, what
was lost, corrupted or refused, and how ferry's descriptors, memory and
half-closed sockets moved.

Layout. ferry runs in the machine's network namespace on 127.0.0.1; its
six servers (bench/soak_server.py, one process each) run in a network
namespace of this script's own, joined by a veth pair: the host end is
169.254.88.1/24, server i listens on 169.254.88.(10+i). PostgreSQL runs on
127.0.0.1 (scripts/pgcluster.py). Three listeners:

    short  -> s1 s2 s3  one request, one answer, close (hash-checked)
    long   -> l1 l2 l3  checksummed streams: echo (the client sends a
                        pseudo-random stream and checks what comes back) and
                        generate (the server sends one, the client checks it)
    pg     -> PostgreSQL, pgbench -c 2 -R 40 through ferry, in runs of 20 s

Load, every loop bounded by the run's end and by rate: 4 short-connection
clients at 25 connections/s each, 6 echo and 4 generate streams of 0.5-2.5
MiB at 128 KiB/s each, one after the other.

Faults, one at a time, one every 4 s (--fault-every), each kind once per
round in a random order (--seed), a server's lasting 1-4 s:
    kill       SIGKILL a server, restart it after the pause
    blackhole  nft drops every packet to and from the server (a set in
               its namespace), removed after the pause
    stall      SIGSTOP a server, SIGCONT after the pause
    reset      ss -K: RST every connection of a server
    reload     SIGHUP ferry with the next configuration variant
    upgrade    a new ferry takes over: ferry -x <stats socket> -sf <old pid>

Watched once a second: the descriptors and RSS of every live ferry process
(summed: during an upgrade the old one drains beside the new one), and the
CLOSE-WAIT and TIME-WAIT sockets on ferry's side (local port one of its
listeners, or peer one of its servers).

Exit status 1 when any of these holds (each is printed):
  - a byte corrupted, in any stream or short answer;
  - a byte lost in a stream not cut by a fault: a stream counts as cut when
    it ended early and its own server was killed or reset during its life
    (a stall or a blackhole is shorter than every timeout, so a stream
    must survive it; a reload or an upgrade must cut nothing);
  - a ferry process crashed (died by a signal, or exited non-zero, or the
    serving one exited at all), a reload was refused or an upgrade failed;
  - descriptors leaked: once the load has stopped, every old process has
    exited and the configuration is the first one again, the serving
    process holds more than BASELINE + 2 descriptors other than pipes
    (BASELINE: the same measure before any load; +2 for health checks in
    flight; the lowest of 5 samples over 2.5 s), or its pipe descriptors
    are not exactly the pipes its show info counts (PipesUsed + PipesFree:
    splice pipes kept in a bounded per-thread pool for reuse, as HAProxy
    keeps them);
  - half-closed sockets stuck: a ferry-side socket stays in CLOSE-WAIT
    longer than 40 s (every timeout in the configuration is at most 30 s),
    or any is left at the end.
Exit status 2: the set-up failed.

Drift per hour is a least-squares line through the samples after the
warm-up (the first third of the run, at most 60 s) in which one ferry
process ran (while an old one drains after an upgrade, the sum holds two);
reported, not judged: a few minutes cannot tell a slope from noise, the
end-state rules above can. After an upgrade the figures are the new
process's, which starts small: --faults without "upgrade" gives one
process's drift over the whole run.

--self-test makes the servers flip one byte of every generated stream: the
run must then fail with corrupted bytes.
"""
import argparse
import hashlib
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
from pgcluster import PgCluster  # noqa: E402
from soak_server import Stream, read_line  # noqa: E402

FERRY = os.path.abspath(os.environ.get("FERRY_BIN", os.path.join(ROOT, "build", "ferry")))
NET = "169.254.88."
SERVERS = ["s1", "s2", "s3", "l1", "l2", "l3"]
SRV_PORT = 7000
FAULT_KINDS = ["kill", "blackhole", "stall", "reset", "reload", "upgrade"]
CUTTING = ("kill", "reset")      # faults that may cut a stream of their server
GRACE = 3.0                      # s after a fault during which failures are still its
STUCK_CW = 40.0                  # s in CLOSE-WAIT that counts as stuck
FD_SLACK = 2
SHORT_CLIENTS, SHORT_RATE = 4, 25.0
ECHO_STREAMS, GEN_STREAMS, STREAM_BPS = 6, 4, 128 * 1024
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def now():
    return time.monotonic()


def run(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r


def free_port():
    """A port below the ephemeral range, free on 127.0.0.1."""
    for _ in range(200):
        p = random.randrange(20000, 30000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
                return p
            except OSError:
                continue
    raise RuntimeError("no free port")


class Log:
    """Events with times, shared by the threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.faults = []      # dicts: kind target start end ok note
        self.shorts = {"ok": 0, "corrupted": 0}
        self.short_fail = []  # (start, end, how)
        self.streams = []     # dicts, see StreamClient
        self.pgbench = []     # dicts per run
        self.samples = []     # (t, procs, fds, rss, cw, tw)
        self.cw_first = {}    # 4-tuple -> first time seen in CLOSE-WAIT
        self.cw_stuck = set()
        self.notes = []

    def note(self, text):
        with self.lock:
            self.notes.append("%6.1f s %s" % (now() - T0, text))
        print("soak: %6.1f s %s" % (now() - T0, text), flush=True)


T0 = now()


class Netns:
    """The servers' namespace and its veth pair; del_() removes both."""

    def __init__(self):
        tag = str(os.getpid())
        self.name, self.host_if, self.ns_if = "ferrysoak" + tag, "fysk" + tag, "fyskn" + tag
        self.made = False

    def create(self):
        run("ip", "netns", "add", self.name)
        self.made = True
        run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if, "netns", self.name)
        run("ip", "addr", "add", NET + "1/24", "dev", self.host_if)
        run("ip", "link", "set", self.host_if, "up")
        for i in range(len(SERVERS)):
            run("ip", "-n", self.name, "addr", "add", NET + "%d/24" % (11 + i), "dev", self.ns_if)
        run("ip", "-n", self.name, "link", "set", self.ns_if, "up")
        run("ip", "-n", self.name, "link", "set", "lo", "up")
        # nft in the servers' namespace: the addresses in set "bh" neither
        # receive nor send a packet (a host gone silent, no RST, no ICMP)
        nft = ("ip", "netns", "exec", self.name, "nft")
        run(*nft, "add", "table", "inet", "soak")
        run(*nft, "add", "set", "inet", "soak", "bh", "{ type ipv4_addr; }")
        run(*nft, "add", "chain", "inet", "soak", "in", "{ type filter hook input priority 0; }")
        run(*nft, "add", "rule", "inet", "soak", "in", "ip", "daddr", "@bh", "drop")
        run(*nft, "add", "chain", "inet", "soak", "out", "{ type filter hook output priority 0; }")
        run(*nft, "add", "rule", "inet", "soak", "out", "ip", "saddr", "@bh", "drop")

    def blackhole(self, addr, on):
        run("ip", "netns", "exec", self.name, "nft", "add" if on else "delete", "element", "inet", "soak", "bh",
            "{ %s }" % addr)

    def delete(self):
        if self.made:
            run("ip", "netns", "del", self.name, check=False)
            self.made = False
        if os.path.exists("/sys/class/net/" + self.host_if):  # goes with its peer, normally
            run("ip", "link", "del", self.host_if, check=False)


class Server:
    def __init__(self, name, idx, ns):
        self.name, self.addr, self.ns, self.proc = name, NET + str(11 + idx), ns, None

    def start(self):
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns.name, sys.executable,
                                      os.path.join(HERE, "soak_server.py"), self.name, self.addr, str(SRV_PORT)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("server %s did not start" % self.name)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except OSError:
                pass
            self.proc.kill()
            self.proc.wait()


def ferry_config(ports, tmp, variant, user):
    """variant 0: the first configuration; 1: weights, balance and a timeout
    change; 2: an extra listener added (gone again in variant 0)."""
    short_srv = "".join("    server %s %s:%d check inter 1s fall 2 rise 2%s\n"
                        % (n, NET + str(11 + i), SRV_PORT, " weight 10" if variant == 1 and i == 0 else "")
                        for i, n in enumerate(SERVERS[:3]))
    long_srv = "".join("    server %s %s:%d check inter 1s fall 2 rise 2\n" % (n, NET + str(14 + i), SRV_PORT)
                       for i, n in enumerate(SERVERS[3:]))
    text = """global
    {who}
    stats socket {tmp}/admin.sock mode 600 level admin expose-fd listeners
    maxconn 4000
defaults
    mode tcp
    timeout connect {tc}
    timeout client 30s
    timeout server 30s
    retries 2
    option redispatch
listen short
    bind 127.0.0.1:{short}
    balance {bal}
{short_srv}listen long
    bind 127.0.0.1:{long}
    balance leastconn
{long_srv}listen pg
    bind 127.0.0.1:{pg}
    server pg1 127.0.0.1:{pgsrv}
""".format(who="user nobody" if user else "insecure-run-as-root", tmp=tmp, tc="2s" if variant == 1 else "1s",
           short=ports["short"], long=ports["long"], pg=ports["pg"], pgsrv=ports["pgsrv"],
           bal="leastconn" if variant == 1 else "roundrobin", short_srv=short_srv, long_srv=long_srv)
    if variant == 2:
        text += "listen extra\n    bind 127.0.0.1:%d\n    server s1 %s11:%d\n" % (ports["extra"], NET, SRV_PORT)
    return text


class FerryProc:
    n = 0

    def __init__(self, cfg, tmp, extra=()):
        FerryProc.n += 1
        self.gen = FerryProc.n
        self.err_path = os.path.join(tmp, "ferry%d.err" % self.gen)
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([FERRY, "-f", cfg, *extra], stdout=self.err, stderr=self.err,
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.expected_exit = False   # set once it was told to finish (-sf)

    def text(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_started(self, timeout=10):
        end = now() + timeout
        while now() < end:
            if " started: " in self.text():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


class Soak:
    def __init__(self, args):
        self.args = args
        self.log = Log()
        self.stop_load = threading.Event()
        self.stop_all = threading.Event()
        self.tmp = tempfile.mkdtemp(prefix="ferry-soak-")
        os.chmod(self.tmp, 0o755)   # ferry re-reads its configuration as nobody
        self.ns = Netns()
        self.servers = [Server(n, i, self.ns) for i, n in enumerate(SERVERS)]
        self.ports = {k: free_port() for k in ("short", "long", "pg", "extra", "pgsrv")}
        self.cfg = os.path.join(self.tmp, "ferry.cfg")
        self.variant = 0
        self.ferries = []        # every FerryProc started
        self.current = None
        self.pg = None
        self.pgbench_proc = None
        self.threads = []
        self.crashes = []
        self.flock = threading.Lock()

    # ---- set-up -------------------------------------------------------------------
    def write_cfg(self, variant):
        self.variant = variant
        with open(self.cfg + ".tmp", "w") as f:
            f.write(ferry_config(self.ports, self.tmp, variant, not self.args.root))
        os.chmod(self.cfg + ".tmp", 0o644)
        os.rename(self.cfg + ".tmp", self.cfg)

    def setup(self):
        self.ns.create()
        for s in self.servers:
            s.start()
        self.pg = PgCluster([self.ports["pgsrv"]]).start()
        run("pgbench", "-i", "-q", "-s", "1", "-h", "127.0.0.1", "-p", str(self.ports["pgsrv"]), "-U", "postgres",
            "postgres")
        self.write_cfg(0)
        f = FerryProc(self.cfg, self.tmp)
        self.ferries.append(f)
        if not f.wait_started():
            raise RuntimeError("ferry did not start:\n" + f.text())
        self.current = f
        time.sleep(2.5)   # the first health checks pass (rise 2, inter 1s)

    def ferry_fds(self):
        """Descriptors of the serving process, the lowest of 5 samples, and
        what they are then (fd -> target) for the report."""
        best = None
        for _ in range(5):
            fds = fd_targets(self.current.pid)
            if best is None or len(fds) < len(best):
                best = fds
            time.sleep(0.5)
        return len(best), best

    # ---- load ---------------------------------------------------------------------
    def short_client(self, idx):
        rng = random.Random(idx)
        period = 1.0 / SHORT_RATE
        nxt = now()
        while not self.stop_load.is_set():
            nxt += period
            t0 = now()
            tok = b"%032x" % rng.getrandbits(128)
            how = None
            try:
                with socket.create_connection(("127.0.0.1", self.ports["short"]), timeout=15) as c:
                    c.sendall(b"S " + tok + b"\n")
                    data = recv_all(c)
                words = data.split()
                if not data:
                    how = "closed without an answer"
                elif len(words) != 2 or words[1] != hashlib.sha256(tok).hexdigest().encode():
                    how = "corrupted"
            except ConnectionRefusedError:
                how = "refused"
            except ConnectionResetError:
                how = "reset"
            except socket.timeout:
                how = "timeout"
            except OSError as e:
                how = "error %s" % e.strerror
            with self.log.lock:
                if how is None:
                    self.log.shorts["ok"] += 1
                elif how == "corrupted":
                    self.log.shorts["corrupted"] += 1
                else:
                    self.log.short_fail.append((t0, now(), how))
            delay = nxt - now()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = now()

    def stream_client(self, idx, kind):
        rng = random.Random(1000 + idx)
        while not self.stop_load.is_set():
            seed = rng.getrandbits(48)
            total = rng.randrange(512 * 1024, 2560 * 1024)
            rec = {"kind": kind, "server": None, "start": now(), "end": None, "expected": total,
                   "verified": 0, "corrupted": 0, "complete": False, "how": None}
            try:
                with socket.create_connection(("127.0.0.1", self.ports["long"]), timeout=20) as c:
                    if kind == "echo":
                        self._echo(c, seed, total, rec)
                    else:
                        self._generated(c, seed, total, rec)
            except ConnectionRefusedError:
                rec["how"] = "refused"
            except ConnectionResetError:
                rec["how"] = "reset"
            except socket.timeout:
                rec["how"] = "timeout"
            except OSError as e:
                rec["how"] = "error %s" % e.strerror
            rec["end"] = now()
            with self.log.lock:
                self.log.streams.append(rec)
            if rec["corrupted"]:
                self.log.note("stream %s via %s corrupted at byte %d" % (kind, rec["server"], rec["verified"]))

    def _header(self, c, rec):
        line, extra = read_line(c)
        if not line:
            rec["how"] = "closed before the server's name"
            return None
        rec["server"] = line.decode(errors="replace")
        return extra

    def _check(self, st, rec, data):
        """Compares data with the stream at rec["verified"]; False on a mismatch."""
        want = st.take(rec["verified"], len(data))
        if data != want:
            rec["corrupted"] += sum(1 for a, b in zip(data, want) if a != b) + abs(len(data) - len(want))
            return False
        rec["verified"] += len(data)
        return True

    def _generated(self, c, seed, total, rec):
        c.sendall(b"G %d %d %d\n" % (seed, total, STREAM_BPS))
        extra = self._header(c, rec)
        if extra is None:
            return
        st = Stream(seed)
        data = extra
        while True:
            if data:
                if rec["verified"] + len(data) > total:
                    rec["corrupted"] += rec["verified"] + len(data) - total
                    rec["how"] = "more bytes than sent"
                    return
                if not self._check(st, rec, data):
                    rec["how"] = "corrupted"
                    return
            data = c.recv(65536)
            if not data:
                break
        rec["complete"] = rec["verified"] == total
        if not rec["complete"]:
            rec["how"] = "closed early"

    def _echo(self, c, seed, total, rec):
        c.sendall(b"E\n")
        extra = self._header(c, rec)
        if extra is None:
            return
        st, sent, t0 = Stream(seed), 0, now()
        c.setblocking(False)
        pending = extra
        deadline = now() + 20
        while True:
            if pending:
                if rec["verified"] + len(pending) > sent:
                    rec["corrupted"] += len(pending)
                    rec["how"] = "more bytes than sent"
                    return
                if not self._check(st, rec, pending):
                    rec["how"] = "corrupted"
                    return
                pending = b""
                deadline = now() + 20
            if rec["verified"] == total:
                break
            want_write = sent < total and sent <= (now() - t0) * STREAM_BPS
            r, w, _ = select.select([c], [c] if want_write else [], [], 0.05)
            if r:
                try:
                    pending = c.recv(65536)
                except BlockingIOError:
                    pending = b""
                    continue
                if not pending:
                    rec["how"] = "closed early"
                    return
            if w:
                n = min(8192, total - sent)
                try:
                    sent += c.send(st.take(sent, n))
                except BlockingIOError:
                    pass
                if sent == total:
                    c.shutdown(socket.SHUT_WR)
            if now() > deadline:
                raise socket.timeout()
        c.setblocking(True)
        c.settimeout(20)
        if c.recv(1):
            rec["how"] = "more bytes than sent"
            rec["corrupted"] += 1
            return
        rec["complete"] = True

    def pgbench_loop(self):
        end = T0 + self.args.minutes * 60
        while not self.stop_load.is_set():
            secs = int(min(20, end - now()))
            if secs < 3:
                break
            t0 = now()
            p = subprocess.Popen(["pgbench", "-n", "-c", "2", "-j", "1", "-T", str(secs), "-R", "40",
                                  "-h", "127.0.0.1", "-p", str(self.ports["pg"]), "-U", "postgres", "postgres"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.pgbench_proc = p
            try:
                out, err = p.communicate(timeout=secs + 60)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            self.pgbench_proc = None
            tx = re.search(r"number of transactions actually processed: (\d+)", out)
            failed = re.search(r"number of failed transactions: (\d+)", out)
            aborted = len(re.findall(r"client \d+ aborted", err))
            self.log.pgbench.append({"start": t0, "end": now(), "rc": p.returncode, "tx": int(tx.group(1)) if tx else 0,
                                     "failed": int(failed.group(1)) if failed else None, "aborted_clients": aborted,
                                     "err": err.strip()[-300:]})
            if (p.returncode != 0 or aborted) and not self.stop_all.is_set():
                self.log.note("pgbench exit %d, %d client(s) aborted: %s" % (p.returncode, aborted,
                                                                             err.strip().splitlines()[-1:]))

    # ---- faults -------------------------------------------------------------------
    def fault_loop(self):
        rng = random.Random(self.args.seed)
        end = T0 + self.args.minutes * 60
        bag = []
        while not self.stop_load.is_set() and now() + 5 < end:
            if self.stop_load.wait(self.args.fault_every):
                break
            if not bag:  # every kind once per round, in a random order
                bag = list(self.args.faults)
                rng.shuffle(bag)
            kind = bag.pop()
            pause = rng.uniform(1, 4)
            srv = rng.choice(self.servers)
            rec = {"kind": kind, "target": srv.name if kind not in ("reload", "upgrade") else "ferry",
                   "start": now(), "end": None, "ok": True, "note": ""}
            with self.log.lock:
                self.log.faults.append(rec)
            try:
                getattr(self, "fault_" + kind)(srv, pause, rec)
            except Exception as e:  # noqa: B902 — a fault that could not be made is reported
                rec["ok"], rec["note"] = False, "%s: %s" % (type(e).__name__, e)
            rec["end"] = now()
            if not rec["ok"]:
                self.log.note("fault %s %s failed: %s" % (kind, rec["target"], rec["note"]))

    def fault_kill(self, srv, pause, rec):
        srv.proc.kill()
        srv.proc.wait()
        time.sleep(pause)
        srv.start()

    def fault_blackhole(self, srv, pause, rec):
        self.ns.blackhole(srv.addr, True)
        try:
            time.sleep(pause)
        finally:
            self.ns.blackhole(srv.addr, False)

    def fault_stall(self, srv, pause, rec):
        os.kill(srv.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(pause)
        finally:
            os.kill(srv.proc.pid, signal.SIGCONT)

    def fault_reset(self, srv, pause, rec):
        r = run("ip", "netns", "exec", self.ns.name, "ss", "-K", "-Htn", "src", srv.addr)
        rec["note"] = "%d connection(s) reset" % len(r.stdout.splitlines())
        time.sleep(0.5)

    def fault_reload(self, srv, pause, rec):
        f = self.current
        before = f.text().count("Reloaded (SIGHUP)")
        refused = f.text().count("refused")
        self.write_cfg((self.variant + 1) % 3)
        os.kill(f.pid, signal.SIGHUP)
        end = now() + 10
        while now() < end:
            t = f.text()
            if t.count("Reloaded (SIGHUP)") > before:
                rec["note"] = "variant %d" % self.variant
                return
            if t.count("refused") > refused:
                break
            time.sleep(0.05)
        raise RuntimeError("reload to variant %d not done: %s" % (self.variant, f.text()[-500:]))

    def fault_upgrade(self, srv, pause, rec):
        old = self.current
        with self.flock:
            new = FerryProc(self.cfg, self.tmp, ("-x", os.path.join(self.tmp, "admin.sock"), "-sf", str(old.pid)))
            self.ferries.append(new)
            old.expected_exit = True
        if not new.wait_started():
            old.expected_exit = False
            raise RuntimeError("the new ferry did not start: %s" % new.text()[-500:])
        self.current = new
        rec["note"] = "pid %d -> %d" % (old.pid, new.pid)

    def show_info(self):
        """The serving process's show info fields (name -> text), {} if none."""
        try:
            with socket.socket(socket.AF_UNIX) as c:
                c.settimeout(5)
                c.connect(os.path.join(self.tmp, "admin.sock"))
                c.sendall(b"show info\n")
                data = recv_all(c)
        except OSError:
            return {}
        return dict(line.split(": ", 1) for line in data.decode(errors="replace").splitlines() if ": " in line)

    # ---- watching -----------------------------------------------------------------
    def ferry_side(self, local, peer):
        lport = int(local.rsplit(":", 1)[1])
        paddr, pport = peer.rsplit(":", 1)
        return (local.startswith("127.0.0.1:") and lport in self.listen_ports) or paddr.startswith(NET) or \
            (paddr == "127.0.0.1" and int(pport) == self.ports["pgsrv"])

    def watch(self):
        self.listen_ports = {self.ports[k] for k in ("short", "long", "pg", "extra")}
        while not self.stop_all.is_set():
            t = now()
            with self.flock:
                live = [f for f in self.ferries if f.proc.poll() is None]
                for f in self.ferries:
                    rc = f.proc.poll()
                    if rc is not None and not getattr(f, "reaped", False):
                        f.reaped = True
                        if rc != 0 or not f.expected_exit:
                            self.crashes.append("ferry pid %d (generation %d) exited with %s%s"
                                                % (f.pid, f.gen, rc, "" if f.expected_exit else ", unasked"))
                            self.log.note(self.crashes[-1])
                            self.stop_load.set()
            fds = sum(count_fds(f.pid) for f in live)
            rss = sum(rss_kib(f.pid) for f in live)
            cw = tw = 0
            out = run("ss", "-Htan", check=False).stdout
            seen = set()
            for line in out.splitlines():
                w = line.split()
                if len(w) < 5 or w[0] not in ("CLOSE-WAIT", "TIME-WAIT") or not self.ferry_side(w[3], w[4]):
                    continue
                if w[0] == "TIME-WAIT":
                    tw += 1
                    continue
                cw += 1
                key = (w[3], w[4])
                seen.add(key)
                first = self.log.cw_first.setdefault(key, t)
                if t - first > STUCK_CW and key not in self.log.cw_stuck:
                    self.log.cw_stuck.add(key)
                    self.log.note("CLOSE-WAIT stuck for %.0f s: %s -> %s" % (t - first, *key))
            for key in list(self.log.cw_first):
                if key not in seen:
                    del self.log.cw_first[key]
            self.log.samples.append((t - T0, len(live), fds, rss, cw, tw))
            self.stop_all.wait(max(0.0, 1.0 - (now() - t)))

    # ---- the run ------------------------------------------------------------------
    def start_thread(self, fn, *args):
        th = threading.Thread(target=fn, args=args, daemon=True)
        th.start()
        self.threads.append(th)
        return th

    def run(self):
        global T0
        self.setup()
        self.baseline_fds, self.baseline_list = self.ferry_fds()
        T0 = now()
        self.log.note("ferry pid %d, %d descriptors before load; running %g min, a fault every %g s"
                      % (self.current.pid, self.baseline_fds, self.args.minutes, self.args.fault_every))
        watcher = threading.Thread(target=self.watch, daemon=True)
        watcher.start()
        for i in range(SHORT_CLIENTS):
            self.start_thread(self.short_client, i)
        for i in range(ECHO_STREAMS):
            self.start_thread(self.stream_client, i, "echo")
        for i in range(GEN_STREAMS):
            self.start_thread(self.stream_client, ECHO_STREAMS + i, "gen")
        self.start_thread(self.pgbench_loop)
        faults = self.start_thread(self.fault_loop)
        end = T0 + self.args.minutes * 60
        last = now()
        while now() < end and not self.stop_load.is_set():
            time.sleep(0.5)
            if now() - last >= 30:
                last = now()
                s = self.log.samples[-1] if self.log.samples else None
                if s:
                    self.log.note("%d short ok, %d streams, %d faults; ferry: %d process(es), %d fds, %d KiB, "
                                  "CLOSE-WAIT %d, TIME-WAIT %d" % (self.log.shorts["ok"], len(self.log.streams),
                                                                   len(self.log.faults), *s[1:]))
        self.load_end = now() - T0
        self.stop_load.set()
        faults.join(timeout=30)
        for th in self.threads:
            th.join(timeout=90)
        self.log.note("load stopped; quiescing")
        if self.variant != 0 and not self.crashes:
            rec = {"kind": "reload", "target": "ferry", "start": now(), "end": None, "ok": True, "note": "back to 0"}
            try:
                self.variant = 2   # fault_reload takes the next one: 0
                self.fault_reload(None, 0, rec)
            except RuntimeError as e:
                rec["ok"], rec["note"] = False, str(e)
            rec["end"] = now()
            self.log.faults.append(rec)
        end = now() + 60
        while now() < end and any(f.proc.poll() is None for f in self.ferries if f is not self.current):
            time.sleep(0.5)
        time.sleep(2)
        self.final_fds, self.final_list = self.ferry_fds() if self.current.proc.poll() is None else (None, {})
        self.final_info = self.show_info()

        time.sleep(1.5)
        self.stop_all.set()
        watcher.join(timeout=5)
        self.lingering = [f.pid for f in self.ferries if f is not self.current and f.proc.poll() is None]
        return self.report()

    # ---- the report ---------------------------------------------------------------
    def report(self):
        L = self.log
        faults_by = {}
        for f in L.faults:
            faults_by.setdefault(f["kind"], [0, 0])
            faults_by[f["kind"]][0 if f["ok"] else 1] += 1

        def cause(t0, t1, server=None):
            """The fault whose window [start, end + GRACE] meets [t0, t1] (the
            latest one), as 'kind' — or 'no fault'."""
            best = None
            for f in L.faults:
                e = (f["end"] or now()) + GRACE
                if f["start"] <= t1 and e >= t0 and (server is None or f["target"] in (server, "ferry")):
                    best = f
            return best["kind"] if best else "no fault"

        short_fail = {}
        for t0, t1, how in L.short_fail:
            c = cause(t0, t1)
            k = "%s (%s)" % (how, c if c == "no fault" else "during " + c)
            short_fail[k] = short_fail.get(k, 0) + 1

        st = {"complete": 0, "cut": {}, "lost": 0, "lost_bytes": 0, "lost_detail": {}, "not_connected": {},
              "bytes_verified": 0, "corrupted_bytes": 0, "corrupted_streams": 0}
        for s in L.streams:
            st["bytes_verified"] += s["verified"]
            st["corrupted_bytes"] += s["corrupted"]
            if s["complete"]:
                st["complete"] += 1
                continue
            if s["corrupted"]:
                st["corrupted_streams"] += 1
                continue
            if s["server"] is None:
                k = "%s (%s)" % (s["how"], cause(s["start"], s["end"]))
                st["not_connected"][k] = st["not_connected"].get(k, 0) + 1
                continue
            cutters = [f for f in L.faults if f["kind"] in CUTTING and f["target"] == s["server"]
                       and f["start"] <= s["end"] and (f["end"] or now()) + GRACE >= s["start"]]
            if cutters:
                k = "by " + cutters[-1]["kind"]
                st["cut"][k] = st["cut"].get(k, 0) + 1
                continue
            st["lost"] += 1
            st["lost_bytes"] += s["expected"] - s["verified"]
            k = "%s via %s (%s)" % (s["how"], s["server"], cause(s["start"], s["end"], s["server"]))
            st["lost_detail"][k] = st["lost_detail"].get(k, 0) + 1

        pg = {"runs": len(L.pgbench), "tx": sum(r["tx"] for r in L.pgbench),
              "failed_tx": sum(r["failed"] or 0 for r in L.pgbench),
              "aborted_clients": sum(r["aborted_clients"] for r in L.pgbench),
              "bad_runs": sum(1 for r in L.pgbench if r["rc"] != 0)}

        warm = min(60.0, self.load_end / 3)
        pts = [s for s in L.samples if warm <= s[0] <= self.load_end and s[1] == 1]
        drift = {"fds": fit(pts, 2), "rss_kib": fit(pts, 3), "close_wait": fit(pts, 4), "time_wait": fit(pts, 5)}
        maxima = {"fds": max((s[2] for s in L.samples), default=0), "rss_kib": max((s[3] for s in L.samples), default=0),
                  "close_wait": max((s[4] for s in L.samples), default=0),
                  "time_wait": max((s[5] for s in L.samples), default=0),
                  "processes": max((s[1] for s in L.samples), default=0)}
        end_cw = L.samples[-1][4] if L.samples else 0

        sanitizer = [f.pid for f in self.ferries if any(m in f.text() for m in SANITIZER_MARKS)]
        failures = []
        corrupted = st["corrupted_bytes"] + L.shorts["corrupted"]
        if corrupted:
            failures.append("%d byte(s)/answer(s) corrupted" % corrupted)
        if st["lost"]:
            failures.append("%d stream(s) not cut by a fault lost %d byte(s)" % (st["lost"], st["lost_bytes"]))
        if self.crashes:
            failures.extend(self.crashes)
        if sanitizer:
            failures.append("sanitizer report in ferry pid(s) %s" % sanitizer)
        bad_faults = [f for f in L.faults if not f["ok"] and f["kind"] in ("reload", "upgrade")]
        if bad_faults:
            failures.append("%d reload/upgrade(s) not taken: %s" % (len(bad_faults), bad_faults[0]["note"][:200]))
        if self.final_fds is not None and self.final_fds != self.baseline_fds:
            kinds = lambda fds: sorted(re.sub(r"\[\d+\]", "", v) for v in fds.values())  # noqa: E731
            extra, gone = list(kinds(self.final_list)), kinds(self.baseline_list)
            for k in gone:
                if k in extra:
                    extra.remove(k)
            self.log.note("descriptors %d before the load, %d at the end; more at the end: %s"
                          % (self.baseline_fds, self.final_fds, extra or "none"))
        pipes = int(self.final_info.get("PipesUsed", 0)) + int(self.final_info.get("PipesFree", 0))
        pipe_fds = sum(1 for v in self.final_list.values() if v.startswith("pipe:"))
        others = None if self.final_fds is None else self.final_fds - pipe_fds
        if others is None or others > self.baseline_fds + FD_SLACK:
            failures.append("descriptors: %s (not counting pipes) at the end against %d before the load "
                            "(rule: at most +%d)" % (others, self.baseline_fds, FD_SLACK))
        if pipe_fds != 2 * pipes:
            failures.append("%d pipe descriptors at the end, but show info counts %d pipes (PipesUsed + PipesFree)"
                            % (pipe_fds, pipes))
        if self.lingering:
            failures.append("old ferry process(es) %s still running 60 s after the load" % self.lingering)
        if L.cw_stuck or end_cw:
            failures.append("CLOSE-WAIT: %d stuck over %g s, %d left at the end" % (len(L.cw_stuck), STUCK_CW, end_cw))

        res = {"minutes": self.args.minutes, "seconds_loaded": round(self.load_end, 1), "ferry": FERRY,
               "faults": {k: {"done": v[0], "failed": v[1]} for k, v in sorted(faults_by.items())},
               "short": {"ok": L.shorts["ok"], "corrupted": L.shorts["corrupted"], "failed": short_fail},
               "streams": {"total": len(L.streams), **st},
               "pgbench": pg,
               "fds": {"before": self.baseline_fds, "end": self.final_fds, "end_pipes": pipe_fds, "max": maxima["fds"]},
               "max": maxima, "drift_per_hour": drift, "close_wait_stuck": len(L.cw_stuck),
               "upgrades": sum(1 for f in self.ferries) - 1, "failures": failures}
        print_table(res)
        print(json.dumps(res, sort_keys=True))
        return 1 if failures else 0

    def cleanup(self):
        self.stop_load.set()
        self.stop_all.set()
        p = self.pgbench_proc
        if p and p.poll() is None:
            p.kill()
            p.wait()
        for f in self.ferries:
            f.stop()
        for s in self.servers:
            s.stop()
        self.ns.delete()
        if self.pg:
            self.pg.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def recv_all(c):
    data = b""
    while True:
        d = c.recv(65536)
        if not d:
            return data
        data += d


def fd_targets(pid):
    out = {}
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                out[fd] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                pass
    except OSError:
        pass
    return out


def count_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
        return int(m.group(1)) if m else 0
    except OSError:
        return 0


def fit(pts, i):
    """Least-squares slope of column i against time, per hour."""
    if len(pts) < 3:
        return None
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[i] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    return round(sum((p[0] - mx) * (p[i] - my) for p in pts) / sxx * 3600, 1)


def print_table(r):
    rows = []
    f = r["faults"]
    rows.append(("faults injected", ", ".join("%s %d%s" % (k, v["done"], " (+%d failed)" % v["failed"] if v["failed"]
                                                          else "") for k, v in f.items()) or "none"))
    rows.append(("ferry processes (upgrades)", "%d" % (r["upgrades"] + 1)))
    s = r["short"]
    rows.append(("short connections ok", "%d" % s["ok"]))
    rows.append(("short answers corrupted", "%d" % s["corrupted"]))
    for k, v in sorted(s["failed"].items()):
        rows.append(("short failed: " + k, "%d" % v))
    t = r["streams"]
    rows.append(("streams complete / total", "%d / %d" % (t["complete"], t["total"])))
    rows.append(("stream bytes verified", "%d (%.1f MiB)" % (t["bytes_verified"], t["bytes_verified"] / 2**20)))
    rows.append(("stream bytes corrupted (streams)", "%d (%d)" % (t["corrupted_bytes"], t["corrupted_streams"])))
    for k, v in sorted(t["cut"].items()):
        rows.append(("streams cut " + k, "%d" % v))
    rows.append(("streams lost, not cut by a fault", "%d (%d bytes)" % (t["lost"], t["lost_bytes"])))
    for k, v in sorted(t["lost_detail"].items()):
        rows.append(("  lost: " + k, "%d" % v))
    for k, v in sorted(t["not_connected"].items()):
        rows.append(("streams not connected: " + k, "%d" % v))
    p = r["pgbench"]
    rows.append(("pgbench runs / transactions", "%d / %d" % (p["runs"], p["tx"])))
    rows.append(("pgbench failed tx / aborted clients", "%d / %d" % (p["failed_tx"], p["aborted_clients"])))
    rows.append(("fds before load / at the end (pipes) / max", "%s / %s (%s) / %s" % (
        r["fds"]["before"], r["fds"]["end"], r["fds"]["end_pipes"], r["fds"]["max"])))
    m, d = r["max"], r["drift_per_hour"]
    rows.append(("max RSS KiB (all ferry processes)", "%d" % m["rss_kib"]))
    rows.append(("max CLOSE-WAIT / TIME-WAIT", "%d / %d" % (m["close_wait"], m["time_wait"])))
    rows.append(("CLOSE-WAIT stuck > 40 s", "%d" % r["close_wait_stuck"]))
    rows.append(("drift per hour: fds, RSS KiB", "%s, %s" % (d["fds"], d["rss_kib"])))
    rows.append(("drift per hour: CLOSE-WAIT, TIME-WAIT", "%s, %s" % (d["close_wait"], d["time_wait"])))
    rows.append(("verdict", "FAIL: " + "; ".join(r["failures"]) if r["failures"] else "pass"))
    w = max(len(a) for a, _ in rows)
    print("\nferry soak, %g min (%.0f s of load)" % (r["minutes"], r["seconds_loaded"]))
    for a, b in rows:
        print("%-*s  %s" % (w, a, b))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("MINUTES", "10")))
    ap.add_argument("--fault-every", type=float, default=4.0, help="seconds between faults (default 4)")
    ap.add_argument("--seed", type=int, default=1, help="the fault loop's random seed")
    ap.add_argument("--faults", default=",".join(FAULT_KINDS),
                    help="the kinds of fault, comma-separated (default: all: %(default)s)")
    ap.add_argument("--self-test", action="store_true",
                    help="the servers corrupt one byte per generated stream (the run must fail)")
    ap.add_argument("--root", action="store_true", help="run ferry as root (insecure-run-as-root), not as nobody")
    args = ap.parse_args()
    args.faults = [k for k in args.faults.split(",") if k]
    if not args.faults or set(args.faults) - set(FAULT_KINDS):
        ap.error("--faults: a list of %s" % ",".join(FAULT_KINDS))
    if os.geteuid() != 0:
        print("soak: needs root (a network namespace, policy routing, ss -K)", file=sys.stderr)
        return 2
    if args.self_test:
        os.environ["SOAK_CORRUPT"] = "1"
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    soak = Soak(args)
    try:
        return soak.run()
    except KeyboardInterrupt:
        print("soak: interrupted; stopping everything", file=sys.stderr)
        return 130
    except RuntimeError as e:
        print("soak: set-up failed: %s" % e, file=sys.stderr)
        return 2
    finally:
        soak.cleanup()


if __name__ == "__main__":
    sys.exit(main())
