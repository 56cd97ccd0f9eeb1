"""A throwaway PostgreSQL server on loopback for the tests that share one Orthanc index between nodes.

Uses the Debian packages `postgresql` (initdb/postgres under /usr/lib/postgresql/<version>/bin) and
`orthanc-postgresql` (the index plugin); `available()` says whether both are installed, so the tests
that need them skip otherwise. The cluster lives in its own directory, listens on 127.0.0.1 and a free
port, trusts local connections, and is stopped (by PID) when the test ends. When the tests run as root,
PostgreSQL runs as the `postgres` user (it refuses root).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from orthanc_server import free_port

INDEX_PLUGIN = "/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so"
DATABASE = "orthanc"
USER = "orthanc"


def _bin_dir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


def available() -> bool:
    """Both packages installed (and, as root, the postgres system user to run the server)."""
    if _bin_dir() is None or not os.path.exists(INDEX_PLUGIN):
        return False
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False
    return True


class PostgresServer:
    def __init__(self, workdir: Path):
        self.dir = Path(workdir)
        self.data = self.dir / "pgdata"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "postgres.log"

    def _as_owner(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def start(self, timeout: float = 30.0) -> "PostgresServer":
        bin_dir = _bin_dir()
        assert bin_dir, "PostgreSQL is not installed"
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in (self.dir,):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            # the parent directories must be traversable by the postgres user
            for parent in self.dir.parents:
                if str(parent).startswith("/tmp/"):
                    os.chmod(parent, os.stat(parent).st_mode | 0o111)
        subprocess.run(self._as_owner([f"{bin_dir}/initdb", "-D", str(self.data), "-U", USER, "--auth=trust",
                                       "-E", "UTF8", "--no-sync"]), check=True, capture_output=True, timeout=120)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                self._as_owner([f"{bin_dir}/postgres", "-D", str(self.data), "-p", str(self.port),
                                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}",
                                "-c", "fsync=off"]),
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            ready = subprocess.run([f"{bin_dir}/pg_isready", "-h", "127.0.0.1", "-p", str(self.port)],
                                   capture_output=True)
            if ready.returncode == 0:
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        subprocess.run([f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, DATABASE],
                       check=True, capture_output=True)
        return self

    def orthanc_config(self) -> dict:
        """The part of an Orthanc configuration that puts its index in this server (several nodes may share it)."""
        return {"PostgreSQL": {"EnableIndex": True, "EnableStorage": False, "Host": "127.0.0.1",
                               "Port": self.port, "Database": DATABASE, "Username": USER, "Password": "",
                               "Lock": False}}

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()  # SIGTERM to our runuser/postgres: "smart" shutdown
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        shutil.rmtree(self.data, ignore_errors=True)
