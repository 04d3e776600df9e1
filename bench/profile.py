"""make profile: where ferry's CPU time goes, as written in bench/README.md.

Starts the small nginx HTTP backend on CPU 1 and ferry on CPU 0 (the same
layout as make bench), then for connection churn and for keep-alive
requests:
  1. perf record (software cpu-clock sampling with call graphs: these
     machines have no hardware counters) on ferry during a wrk run, and
     prints the share of ferry's samples under each system call, and the
     share spent in softirq (the loopback TCP receive work of the peer
     sockets, done on the sender's CPU);
  2. valgrind --tool=callgrind on ferry for a bounded wrk run, and prints
     ferry's own instructions per request (user space only: callgrind does
     not see the kernel).
Loopback only; every load is bounded in time."""
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from run import free_port, http_backend_config  # noqa: E402

FERRY = os.path.join(ROOT, "build", "ferry")
SECS = 3


def ferry_config(port, backend):
    return ("global\n    nbthread 1\n    maxconn 7000\n    insecure-run-as-root\ndefaults\n    mode tcp\n    timeout connect 5s\n"
            "    timeout client 60s\n    timeout server 60s\nlisten http\n    bind 127.0.0.1:%d\n"
            "    server s1 127.0.0.1:%d\n" % (port, backend))


def wrk(port, close, secs=SECS):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c50", "-d%ds" % secs, "http://127.0.0.1:%d/" % port]
    if close:
        cmd[4:4] = ["-H", "Connection: close"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 30).stdout
    m = re.search(r"(\d+) requests in", out)
    return int(m.group(1)) if m else 0


def wait_port(port):
    import socket
    end = time.time() + 10
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d" % port)


def syscall_shares(perf_data):
    """Share of samples per system call (the outermost __x64_sys_* frame)."""
    out = subprocess.run(["perf", "script", "-i", perf_data], capture_output=True, text=True).stdout
    per, softirq, total = Counter(), 0, 0
    for block in out.split("\n\n"):
        frames = [ln.split()[1] for ln in block.strip().splitlines()[1:] if len(ln.split()) > 1]
        if not frames:
            continue
        total += 1
        sys_frames = [f for f in frames if f.startswith("__x64_sys_")]
        name = re.sub(r"\+0x.*", "", sys_frames[-1])[len("__x64_sys_"):] if sys_frames else "(user, other)"
        per[name] += 1
        softirq += any(f.startswith("handle_softirqs") or f.startswith("__do_softirq") for f in frames)
    return per, softirq, total


def profile_perf(port, close, tmp):
    pid = int(open(os.path.join(tmp, "ferry.pid")).read())
    data = os.path.join(tmp, "perf-%s.data" % ("churn" if close else "requests"))
    rec = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000", "-g", "-p", str(pid),
                            "-o", data, "--", "sleep", str(SECS)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    n = wrk(port, close, SECS + 1)
    rec.wait(timeout=60)
    per, softirq, total = syscall_shares(data)
    print("\n%s (%d requests; %d samples of ferry)" % ("connection churn" if close else "keep-alive requests",
                                                        n, total))
    for name, c in per.most_common(10):
        print("  %5.1f%%  %s" % (100.0 * c / total, name))
    print("  of all: %.1f%% in softirq (TCP receive work of the peers' sockets)" % (100.0 * softirq / total))


def profile_callgrind(backend, close, tmp):
    port = free_port()
    cfg = os.path.join(tmp, "cg.cfg")
    with open(cfg, "w") as f:
        f.write(ferry_config(port, backend))
    out = os.path.join(tmp, "callgrind.out")
    p = subprocess.Popen(["taskset", "-c", "0", "valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                          FERRY, "-q", "-f", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        n = wrk(port, close, SECS)
    finally:
        p.terminate()
        p.wait(timeout=30)
    ann = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True).stdout
    m = re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", ann) or re.search(r"([\d,]+)\s+PROGRAM TOTALS", ann)
    total = int(m.group(1).replace(",", "")) if m else 0
    print("\ncallgrind, %s: %d requests, %.0f user-space instructions per request (start-up included)"
          % ("churn" if close else "keep-alive", n, total / max(n, 1)))
    lines = [ln for ln in ann.splitlines() if re.match(r"\s*[\d,]+ \(\s*[\d.]+%\)\s+\S", ln)]
    for ln in lines[1:9]:
        print("  " + ln.strip()[:110])


def main():
    tmp = tempfile.mkdtemp(prefix="ferry-profile-")
    backend, port = free_port(), free_port()
    procs = []
    try:
        with open(os.path.join(tmp, "backend.conf"), "w") as f:
            f.write(http_backend_config(backend, tmp))
        procs.append(subprocess.Popen(["taskset", "-c", "1", "nginx", "-c", os.path.join(tmp, "backend.conf")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        cfg = os.path.join(tmp, "ferry.cfg")
        with open(cfg, "w") as f:
            f.write(ferry_config(port, backend))
        procs.append(subprocess.Popen(["taskset", "-c", "0", FERRY, "-q", "-f", cfg, "-p",
                                       os.path.join(tmp, "ferry.pid")]))
        wait_port(backend)
        wait_port(port)
        time.sleep(0.3)
        profile_perf(port, True, tmp)
        profile_perf(port, False, tmp)
        procs[-1].terminate()
        procs[-1].wait(timeout=10)
        profile_callgrind(backend, True, tmp)
        profile_callgrind(backend, False, tmp)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=10)
        subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    sys.exit(main())
