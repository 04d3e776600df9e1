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

    def __init__(self, ports, names=None, base=None, ssl=None):
        """ssl: None (no TLS, as before), or one (certificate, key) pair of
        file paths per server: each server gets a copy of its pair in its
        data directory and ssl = on (clients may still connect without TLS)."""
        self.ports = list(ports)
        self.names = names or ["pg%d" % (i + 1) for i in range(len(self.ports))]
        self.ssl = list(ssl) if ssl else None
        if self.ssl and len(self.ssl) != len(self.ports):
            raise ValueError("ssl: one (cert, key) pair per server")
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
            self._install_ssl(d, name)
            self.dirs.append(d)
        for d in self.dirs:
            self._run([os.path.join(self.bin, "pg_ctl"), "-D", d, "-l", d + ".log", "-w", "-t", "60", "start"])
            self.started.append(d)
        return self

    def _install_ssl(self, d, name):
        """Copies the server's certificate and key into its data directory
        (the key owned by the server's user, mode 0600, as PostgreSQL
        demands) and turns ssl on in postgresql.auto.conf."""
        if not self.ssl:
            return
        crt, key = self.ssl[self.names.index(name)]
        dst_crt, dst_key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
        shutil.copyfile(crt, dst_crt)
        shutil.copyfile(key, dst_key)
        os.chmod(dst_crt, 0o644)
        os.chmod(dst_key, 0o600)
        if os.geteuid() == 0:
            for f in (dst_crt, dst_key):
                shutil.chown(f, "postgres", "postgres")
        with open(os.path.join(d, "postgresql.auto.conf"), "a") as f:
            f.write("ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" % (dst_crt, dst_key))

    def stop(self):
        for d in self.started:
            subprocess.run(_as_pg([os.path.join(self.bin, "pg_ctl"), "-D", d, "-m", "fast", "-w", "stop"]),
                           capture_output=True)
        self.started = []
        shutil.rmtree(self.base, ignore_errors=True)


class PgReplicaSet(PgCluster):
    """A primary and streaming replicas made with pg_basebackup -R.
    names[0] is the primary; the others replicate from it."""

    def start(self):
        first = os.path.join(self.base, self.names[0])
        self._run([os.path.join(self.bin, "initdb"), "-D", first, "-U", "postgres",
                   "--auth=trust", "-N", "-E", "UTF8", "--locale=C"])
        self._configure(first, self.names[0], self.ports[0])
        self.dirs.append(first)
        self._pg_ctl(first, "start")
        self.started.append(first)
        for port, name in zip(self.ports[1:], self.names[1:]):
            d = os.path.join(self.base, name)
            self._run([os.path.join(self.bin, "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.ports[0]),
                       "-U", "postgres", "-D", d, "-R", "-X", "stream", "-c", "fast"])
            self._configure(d, name, port)
            self.dirs.append(d)
            self._pg_ctl(d, "start")
            self.started.append(d)
        return self

    def _configure(self, d, name, port):
        with open(os.path.join(d, "postgresql.auto.conf"), "a") as f:
            f.write("cluster_name = '%s'\nport = %d\nlisten_addresses = '127.0.0.1'\n"
                    "unix_socket_directories = '%s'\nfsync = off\nmax_connections = 200\n"
                    "wal_keep_size = 256MB\n" % (name, port, self.base))
        self._install_ssl(d, name)
        if os.geteuid() == 0:
            subprocess.run(["chown", "postgres:postgres", os.path.join(d, "postgresql.auto.conf")], check=True)

    def _pg_ctl(self, d, *args):
        return self._run([os.path.join(self.bin, "pg_ctl"), "-D", d, "-l", d + ".log", "-w", "-t", "60", *args])

    def dir_of(self, name):
        return os.path.join(self.base, name)

    def stop_one(self, name, mode="fast"):
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.dir_of(name), "-m", mode, "-w", "stop"])
        self.started.remove(self.dir_of(name))

    def promote(self, name):
        self._pg_ctl(self.dir_of(name), "promote")

    def set_hba(self, name, lines):
        """Puts lines first in pg_hba.conf (first match wins) and reloads."""
        path = os.path.join(self.dir_of(name), "pg_hba.conf")
        with open(path) as f:
            old = f.read()
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n" + old)
        self._pg_ctl(self.dir_of(name), "reload")
