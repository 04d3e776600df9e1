"""Helpers for the PostgreSQL-at-the-edge tests (test_pg_edge.py):

- certificates: a CA made here and server certificates it signs, each with
  its name in CN and subjectAltName (openssl, EC P-256: fast);
- `openssl s_server` as a TLS peer that says who it is by its certificate;
- the PostgreSQL wire messages a client sends first, and a reader of the
  server's messages (ErrorResponse fields, ReadyForQuery, DataRow);
- FakePg: a PostgreSQL server in Python that speaks just enough of the
  startup to hand out a protocol 3.2 BackendKeyData with a 32-byte key, and
  records the CancelRequests it receives.

Every process or thread started here is stopped by its own stop()."""
import os
import socket
import struct
import subprocess
import threading
import time

from conftest import free_port, wait_until

OPENSSL = "/usr/bin/openssl"

CODE_CANCEL = 80877102
CODE_SSL = 80877103
CODE_GSSENC = 80877104
PROTO_30 = 3 << 16          # 196608
PROTO_32 = (3 << 16) | 2    # 196610


# --- certificates -----------------------------------------------------------

def _openssl(*args):
    subprocess.run([OPENSSL, *args], check=True, capture_output=True, timeout=30)


def make_ca(d, cn="ferry test CA"):
    """A self-signed CA in d; returns (crt, key) paths."""
    crt, key = os.path.join(d, "ca.crt"), os.path.join(d, "ca.key")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", crt, "-subj", "/CN=" + cn, "-days", "2",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    return crt, key


def make_cert(d, name, ca):
    """A server certificate for name (CN and DNS subjectAltName) signed by
    ca = (crt, key); returns (crt, key) paths."""
    crt, key, csr = (os.path.join(d, name + ext) for ext in (".crt", ".key", ".csr"))
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=" + name, "-addext", "subjectAltName=DNS:" + name)
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
             "-out", crt, "-days", "2", "-copy_extensions", "copy")
    os.chmod(key, 0o600)
    return crt, key


class SServer:
    """`openssl s_server -alpn postgresql -www` with its own certificate,
    on a free port; stopped by pid. A client tells it by the certificate."""

    def __init__(self, crt, key):
        self.port = free_port()
        self.proc = subprocess.Popen([OPENSSL, "s_server", "-accept", "127.0.0.1:%d" % self.port,
                                      "-cert", crt, "-key", key, "-alpn", "postgresql", "-www", "-quiet"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if not wait_until(self._up, 10):
            self.stop()
            raise RuntimeError("openssl s_server did not start")

    def _up(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def s_client_subject(port, servername, alpn="postgresql"):
    """Connects with `openssl s_client -servername` (a direct TLS client:
    the ClientHello is its first byte) and returns what it printed."""
    r = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", servername,
                        "-alpn", alpn], input=b"", capture_output=True, timeout=20)
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


# --- wire messages ----------------------------------------------------------

def startup_message(params, proto=PROTO_30):
    """A StartupMessage: length, protocol version, name\\0value\\0 ... \\0."""
    body = struct.pack("!I", proto) + b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                                               for k, v in params.items()) + b"\0"
    return struct.pack("!I", len(body) + 4) + body


def ssl_request():
    return struct.pack("!II", 8, CODE_SSL)


def gssenc_request():
    return struct.pack("!II", 8, CODE_GSSENC)


def cancel_request(pid, key):
    """A CancelRequest; a key longer than 4 bytes is protocol 3.2's."""
    return struct.pack("!III", 12 + len(key), CODE_CANCEL, pid) + key


def query_message(sql):
    body = sql.encode() + b"\0"
    return b"Q" + struct.pack("!I", len(body) + 4) + body


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        d = sock.recv(n - len(data))
        if not d:
            raise EOFError("connection closed after %d of %d bytes" % (len(data), n))
        data += d
    return data


def read_message(sock):
    """One server message: (type byte as str, body bytes)."""
    hdr = recv_exact(sock, 5)
    n = struct.unpack("!I", hdr[1:])[0]
    if n < 4 or n > 1 << 24:
        raise ValueError("bad message length %d (type %r)" % (n, hdr[:1]))
    return hdr[:1].decode("latin1"), recv_exact(sock, n - 4)


def error_fields(body):
    """An ErrorResponse's fields: {'S': 'FATAL', 'V': ..., 'C': '08004', 'M': ...}."""
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[part[:1].decode()] = part[1:].decode(errors="replace")
    return out


def read_until_ready(sock, limit=100):
    """Reads the server's messages until ReadyForQuery ('Z') or an
    ErrorResponse ('E'); returns the list of (type, body)."""
    msgs = []
    for _ in range(limit):
        t, body = read_message(sock)
        msgs.append((t, body))
        if t in ("Z", "E"):
            return msgs
    raise AssertionError("no ReadyForQuery within %d messages" % limit)


def simple_query_value(sock, sql):
    """Runs sql with the simple query protocol on an authenticated
    connection; returns the first column of the first row (str)."""
    sock.sendall(query_message(sql))
    value = None
    for t, body in read_until_ready(sock):
        if t == "D" and value is None:
            ncols = struct.unpack("!H", body[:2])[0]
            assert ncols >= 1
            n = struct.unpack("!i", body[2:6])[0]
            value = body[6:6 + n].decode()
        if t == "E":
            raise AssertionError("query failed: %r" % error_fields(body))
    return value


def refusal(port, first, timeout=5):
    """Sends first (bytes) to port and returns the ErrorResponse fields the
    answer holds, or raises AssertionError with what came instead. An
    answer to an SSLRequest is the ErrorResponse itself (its 'E' byte in
    place of 'S'/'N')."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(first)
        t, body = read_message(c)
        assert t == "E", "expected an ErrorResponse, got %r %r" % (t, body[:200])
        return error_fields(body)


# --- a fake PostgreSQL server with protocol 3.2 keys ------------------------

def notice(size):
    """A NoticeResponse of size bytes in all (b"" for 0): severity NOTICE,
    a message of 'n's."""
    if not size:
        return b""
    fields = b"SNOTICE\x00M" + b"n" * (size - 16) + b"\x00\x00"
    assert len(fields) + 5 == size
    return b"N" + struct.pack("!I", 4 + len(fields)) + fields


class FakePg:
    """Accepts connections on a free port. A StartupMessage (any protocol
    3.x) is answered with AuthenticationOk, ParameterStatus, BackendKeyData
    (self.pid, self.key) and ReadyForQuery, then the connection is held
    until the client closes it. A CancelRequest's bytes are appended to
    self.cancels and the connection closed, as PostgreSQL does. An
    SSLRequest or GSSENCRequest is answered 'N'. self.notice_size > 0: a
    NoticeResponse of that many bytes (whole message) comes right after
    AuthenticationOk (the servers' chatter before the key)."""

    def __init__(self, pid, key, cancel_delay=0.0):
        self.pid, self.key = pid, key
        self.notice_size = 0
        self.cancel_delay = cancel_delay  # seconds before closing a cancel's connection
        self.cancels = []
        self.startups = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = free_port()
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        self.conns = []
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(30)
        try:
            while True:
                head = recv_exact(c, 8)
                n, code = struct.unpack("!II", head)
                if n == 8 and code in (CODE_SSL, CODE_GSSENC):
                    c.sendall(b"N")
                    continue
                rest = recv_exact(c, n - 8) if n > 8 else b""
                if code == CODE_CANCEL:
                    with self.lock:
                        self.cancels.append(head + rest)
                    time.sleep(self.cancel_delay)  # "processing" it, then close
                    return
                with self.lock:
                    self.startups.append(head + rest)
                c.sendall(b"R" + struct.pack("!II", 8, 0) + notice(self.notice_size)
                          + b"S" + struct.pack("!I", 4 + 15 + 5) + b"server_version\x0018.0\x00"
                          + b"K" + struct.pack("!II", 8 + len(self.key), self.pid) + self.key
                          + b"Z" + struct.pack("!I", 5) + b"I")
                while c.recv(65536):
                    pass
                return
        except (OSError, EOFError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def stop(self):
        self.running = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.thread.join(timeout=2)
