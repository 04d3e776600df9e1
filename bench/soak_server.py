"""A backend for make soak (bench/soak.py), one process per server so the
fault loop can kill, stop or blackhole one server alone. Run as

    soak_server.py NAME ADDRESS PORT

It prints "ready" once listening. Every connection starts with one line
from the client, which chooses what the connection does:

    S <hex>\\n             short: answers "NAME <sha256 of hex>\\n" and closes
    E\\n                   echo: answers "NAME\\n", then echoes until EOF, closes
    G <seed> <len> <bps>\\n generate: answers "NAME\\n", then sends <len> bytes of
                          stream(<seed>) at <bps> bytes a second, closes

Anything else (a health check's empty connection) is closed.

SOAK_CORRUPT=1 in the environment (soak.py --self-test): every generated
stream gets one byte flipped at offset 300000, to show the checks catch it."""
import hashlib
import os
import random
import signal
import socket
import sys
import threading
import time

BLOCK = 16384
CORRUPT_AT = 300000 if os.environ.get("SOAK_CORRUPT") == "1" else -1


class Stream:
    """The pseudo-random byte stream of a seed: block k is
    Random(seed * 1000003 + k).randbytes(BLOCK), so both ends compute any
    part of it without keeping what went before."""

    def __init__(self, seed):
        self.seed = seed
        self.k = -1
        self.block = b""

    def _block(self, k):
        if k != self.k:
            self.k = k
            self.block = random.Random(self.seed * 1000003 + k).randbytes(BLOCK)
        return self.block

    def take(self, off, n):
        out = []
        while n > 0:
            k, o = divmod(off, BLOCK)
            part = self._block(k)[o:o + n]
            out.append(part)
            off += len(part)
            n -= len(part)
        return b"".join(out)


def read_line(c, limit=256):
    buf = b""
    while b"\n" not in buf and len(buf) < limit:
        d = c.recv(limit - len(buf))
        if not d:
            break
        buf += d
    line, _, rest = buf.partition(b"\n")
    return line, rest


def serve(c, name):
    try:
        c.settimeout(60)
        line, rest = read_line(c)
        words = line.split()
        if not words:
            return
        if words[0] == b"S" and len(words) == 2:
            c.sendall(b"%s %s\n" % (name, hashlib.sha256(words[1]).hexdigest().encode()))
        elif words[0] == b"E":
            c.sendall(name + b"\n")
            if rest:
                c.sendall(rest)
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        elif words[0] == b"G" and len(words) == 4:
            seed, total, bps = int(words[1]), int(words[2]), int(words[3])
            c.sendall(name + b"\n")
            st, sent, t0 = Stream(seed), 0, time.monotonic()
            while sent < total:
                n = min(8192, total - sent)
                chunk = st.take(sent, n)
                if sent <= CORRUPT_AT < sent + n:
                    i = CORRUPT_AT - sent
                    chunk = chunk[:i] + bytes([chunk[i] ^ 1]) + chunk[i + 1:]
                c.sendall(chunk)
                sent += n
                ahead = sent / bps - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
    except OSError:
        pass
    finally:
        c.close()


def main():
    name, addr, port = sys.argv[1].encode(), sys.argv[2], int(sys.argv[3])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(512)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, name), daemon=True).start()


if __name__ == "__main__":
    main()
