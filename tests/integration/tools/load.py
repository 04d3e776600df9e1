"""Load for reload and upgrade tests, in its own process: new connections
at a steady rate (each reads the greeting line, sends 16 bytes, reads them
back, closes) and long-lived streams that keep exchanging data through
the whole run, each checked byte for byte. Bounded in time.
Usage: load.py SHORT_PORT LONG_PORT RATE NLONG SECONDS
Prints one JSON line at the end: counts of successes and of each failure."""
import json
import os
import selectors
import socket
import sys
import threading
import time

short_port, long_port, rate, nlong, seconds = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                               int(sys.argv[4]), float(sys.argv[5]))
res = {"short_ok": 0, "refused": 0, "reset": 0, "timeout": 0, "other": 0, "bad_data": 0,
       "long_ok": 0, "long_bytes": 0, "long_broken": 0, "errors": []}
lock = threading.Lock()
end = time.monotonic() + seconds


def note(kind, e=None):
    with lock:
        res[kind] += 1
        if e is not None and len(res["errors"]) < 20:
            res["errors"].append("%s: %r" % (kind, e))


def short_one():
    payload = os.urandom(16)
    try:
        with socket.create_connection(("127.0.0.1", short_port), timeout=3) as c:
            greet = b""
            while not greet.endswith(b"\n"):
                d = c.recv(64)
                if not d:
                    raise ConnectionResetError("closed before the greeting")
                greet += d
            c.sendall(payload)
            got = b""
            while len(got) < len(payload):
                d = c.recv(64)
                if not d:
                    raise ConnectionResetError("closed before the echo")
                got += d
            if got != payload:
                note("bad_data")
                return
        note("short_ok")
    except ConnectionRefusedError as e:
        note("refused", e)
    except ConnectionResetError as e:
        note("reset", e)
    except socket.timeout as e:
        note("timeout", e)
    except OSError as e:
        note("other", e)


def shorts(share):
    period = share / rate
    nxt = time.monotonic()
    while time.monotonic() < end:
        short_one()
        nxt += period
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def longs():
    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(nlong):
        c = socket.create_connection(("127.0.0.1", long_port), timeout=5)
        greet = b""
        while not greet.endswith(b"\n"):
            greet += c.recv(64)
        c.setblocking(False)
        st = {"sock": c, "sent": b"", "got": b"", "inflight": False}
        conns.append(st)
        sel.register(c, selectors.EVENT_READ, st)
    i = 0
    while time.monotonic() < end:
        st = conns[i % nlong]
        i += 1
        if not st["inflight"] and st["sock"] is not None:
            chunk = os.urandom(64)
            try:
                st["sock"].send(chunk)
                st["sent"] += chunk
                st["inflight"] = True
            except OSError:
                st["sock"] = None
        for key, _ in sel.select(0.001):
            s = key.data
            try:
                d = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if not d:
                sel.unregister(key.fileobj)
                s["sock"] = None
                continue
            s["got"] += d
            if len(s["got"]) == len(s["sent"]):
                s["inflight"] = False
    time.sleep(0.3)
    for st in conns:
        if st["sock"] is not None:
            st["sock"].setblocking(True)
            st["sock"].settimeout(2)
            try:
                while len(st["got"]) < len(st["sent"]):
                    d = st["sock"].recv(65536)
                    if not d:
                        break
                    st["got"] += d
            except OSError:
                pass
        if st["sock"] is not None and st["got"] == st["sent"]:
            res["long_ok"] += 1
            res["long_bytes"] += len(st["got"])
        else:
            res["long_broken"] += 1
        if st["sock"] is not None:
            st["sock"].close()


threads = [threading.Thread(target=shorts, args=(2,)) for _ in range(2)]
lt = threading.Thread(target=longs) if nlong else None
for t in threads + ([lt] if lt else []):
    t.start()
print("started", flush=True)
for t in threads + ([lt] if lt else []):
    t.join()
res["seconds"] = seconds
print(json.dumps(res), flush=True)
