"""An echo server for load tests, in its own process: one thread, non-blocking
sockets, every port given on the command line. Each connection is greeted
with the port's name ("e1\n") and then echoed until the peer closes.
Usage: echo.py NAME:PORT [NAME:PORT ...]; stops on SIGTERM."""
import selectors
import signal
import socket
import sys

sel = selectors.DefaultSelector()
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
for spec in sys.argv[1:]:
    name, port = spec.split(":")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(port)))
    ls.listen(4096)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, ("listen", name.encode() + b"\n"))
print("ready", flush=True)
while running:
    for key, _ in sel.select(0.2):
        kind, data = key.data
        if kind == "listen":
            while True:
                try:
                    c, _ = key.fileobj.accept()
                except (BlockingIOError, OSError):
                    break
                c.setblocking(False)
                try:
                    c.send(data)
                except OSError:
                    c.close()
                    continue
                sel.register(c, selectors.EVENT_READ, ("conn", b""))
        else:
            c = key.fileobj
            try:
                d = c.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if not d:
                sel.unregister(c)
                c.close()
                continue
            try:
                c.setblocking(True)
                c.sendall(d)
                c.setblocking(False)
            except OSError:
                sel.unregister(c)
                c.close()
