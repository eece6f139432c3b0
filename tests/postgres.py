"""A throwaway PostgreSQL cluster for the tests and bench/web.py: Debian's `postgresql` package, a real server.

`TemporaryPostgres` runs `initdb` in a temporary folder and `pg_ctl` on a free port, listening on 127.0.0.1
only (its Unix socket in that folder), trust authentication for its one superuser; `database()` creates a
fresh database and returns its URL; `restart_immediately()` is `pg_ctl restart -m immediate` (a crash and
recovery, as after a power cut of the database alone); `stop()` stops it and removes the folder.

initdb refuses to run as root: as root, the cluster belongs to the `postgres` user that the package
creates (its folder is chowned to it, the commands run through runuser); otherwise to the current user.
The binaries are found in /usr/lib/postgresql/<version>/bin (the newest version), never on PATH.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.load import HOST, free_port

POSTGRES_LIB = Path("/usr/lib/postgresql")
SUPERUSER = "cropstyle"


def postgres_bin() -> Path:
    """The newest installed server's bin folder."""
    versions = sorted(
        (p for p in POSTGRES_LIB.glob("*/bin") if (p / "initdb").is_file()),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.name.split(".")],
    )
    if not versions:
        raise FileNotFoundError(
            f"PostgreSQL is not installed (no {POSTGRES_LIB}/*/bin/initdb): "
            "scripts/setup.sh installs it (apt-get install postgresql)"
        )
    return versions[-1]


def options_file(port: int, socket_folder: Path) -> str:
    """The cluster's settings: loopback only, its socket in its own folder, room for several servers' pools."""
    return (
        f"listen_addresses = '{HOST}'\nport = {port}\nunix_socket_directories = '{socket_folder}'\n"
        "max_connections = 200\nshared_buffers = '64MB'\n"
    )


class TemporaryPostgres:
    def __init__(self, port: int | None = None):
        self.bin = postgres_bin()
        self.port = port or free_port()
        self.owner = "postgres" if os.geteuid() == 0 else None
        self.folder = Path(tempfile.mkdtemp(prefix="cropstyle-postgres-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        if self.owner:
            entry = pwd.getpwnam(self.owner)  # KeyError: the package's user is missing
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        os.chmod(self.folder, 0o700)
        self.started = False

    def _run(self, *command: str) -> str:
        argv = [str(self.bin / command[0]), *command[1:]]
        if self.owner:
            argv = ["runuser", "-u", self.owner, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.folder)
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self._readable(self.log) else ""
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()}\n{log}")
        return done.stdout

    @staticmethod
    def _readable(path: Path) -> bool:
        try:
            return path.is_file()
        except OSError:
            return False

    def start(self) -> TemporaryPostgres:
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"
        )
        with open(self.data / "postgresql.conf", "a") as conf:  # last wins; every (re)start reads it
            conf.write(options_file(self.port, self.folder))
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def database(self, name: str | None = None) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = name or f"store_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def restart_immediately(self) -> None:
        """`pg_ctl restart -m immediate`: every backend is killed without a checkpoint; recovery replays the WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "immediate", "-w", "-t", "60", "restart")

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop_server(self) -> None:
        """Stop the server, keep the cluster (`start_server` brings it back on the same port)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def start_server(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        if self.started:
            self.started = False
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> TemporaryPostgres:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
