"""Local PostgreSQL servers for the demo and the tests: initdb once, copy the
data directory for the others, start each on its own loopback port.

As root, PostgreSQL refuses to run, so every server command runs as the
'postgres' user (created by Debian's postgresql package) via runuser."""
import glob
import os
import shutil
import subprocess
import tempfile


def bindir():
    """The newest PostgreSQL server binaries installed (Debian keeps them off PATH)."""
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if cands:
        return os.path.dirname(cands[-1])
    path = shutil.which("initdb")
    if path:
        return os.path.dirname(os.path.realpath(path))
    raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")


def _as_pg(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


class PgCluster:
    """n independent PostgreSQL servers on 127.0.0.1 at the given ports."""

    def __init__(self, ports, names=None, base=None):
        self.ports = list(ports)
        self.names = names or ["pg%d" % (i + 1) for i in range(len(self.ports))]
        self.base = tempfile.mkdtemp(prefix="ferry-pg-", dir=base)
        os.chmod(self.base, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self.bin = bindir()
        self.dirs = []
        self.started = []

    def _run(self, cmd, **kw):
        r = subprocess.run(_as_pg(cmd), capture_output=True, text=True, **kw)
        if r.returncode != 0:
            raise RuntimeError("%s failed (exit %d):\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r

    def start(self):
        first = os.path.join(self.base, "template")
        self._run([os.path.join(self.bin, "initdb"), "-D", first, "-U", "postgres",
                   "--auth=trust", "-N", "-E", "UTF8", "--locale=C"])
        for port, name in zip(self.ports, self.names):
            d = os.path.join(self.base, name)
            self._run(["cp", "-a", first, d])
            with open(os.path.join(d, "postgresql.auto.conf"), "a") as f:
                f.write("cluster_name = '%s'\nport = %d\nlisten_addresses = '127.0.0.1'\n"
                        "unix_socket_directories = '%s'\nfsync = off\nmax_connections = 200\n"
                        % (name, port, self.base))
            self.dirs.append(d)
        for d in self.dirs:
            self._run([os.path.join(self.bin, "pg_ctl"), "-D", d, "-l", d + ".log", "-w", "-t", "60", "start"])
            self.started.append(d)
        return self

    def stop(self):
        for d in self.started:
            subprocess.run(_as_pg([os.path.join(self.bin, "pg_ctl"), "-D", d, "-m", "fast", "-w", "stop"]),
                           capture_output=True)
        self.started = []
        shutil.rmtree(self.base, ignore_errors=True)
