"""A real PgBouncer in transaction mode in front of a test Postgres, on 127.0.0.1.

cairn promises to work behind PgBouncer's transaction pooling (`cairn.pg`: no server-side
prepared statements, only transaction-scoped advisory locks, leases instead of session
locks). Tests prove it by running the conformance suites through one:

    bouncer = PgBouncer(postgres).start()      # postgres: a started `PostgresServer`
    url = bouncer.url(postgres.new_database())  # the same database, through PgBouncer
    ...
    bouncer.stop()

Needs Debian's `pgbouncer` (`make setup` installs it). Started as root, it runs as the
Postgres server's user (PgBouncer refuses to run as root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from cairn.testing import processes
from cairn.testing.postgres import PostgresServer


class PgBouncer:
    def __init__(self, postgres: PostgresServer, *, pool_size: int = 20) -> None:
        self.postgres = postgres
        self.pool_size = pool_size
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str | None:
        """The pgbouncer program (Debian puts it in /usr/sbin, not on every user's PATH)."""
        found = shutil.which("pgbouncer")
        if found is None and os.access("/usr/sbin/pgbouncer", os.X_OK):
            found = "/usr/sbin/pgbouncer"
        return found

    @classmethod
    def available(cls) -> bool:
        return cls.binary() is not None

    def start(self, timeout_s: float = 30.0) -> PgBouncer:
        parts = urlsplit(self.postgres.url)
        socket_dir = parse_qs(parts.query).get("host", [parts.hostname or "127.0.0.1"])[0]
        user = parts.username or "postgres"
        self._dir = tempfile.TemporaryDirectory(prefix="cairn-pgbouncer-")
        folder = Path(self._dir.name)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        (folder / "users.txt").write_text(f'"{user}" ""\n')
        (folder / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={socket_dir} port={parts.port or 5432}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {folder / 'users.txt'}\n"
            "pool_mode = transaction\n"
            "max_client_conn = 500\n"
            f"default_pool_size = {self.pool_size}\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {folder / 'pgbouncer.log'}\n"
        )
        binary = self.binary()
        if binary is None:
            raise RuntimeError("pgbouncer is not installed: apt-get install pgbouncer")
        command = [binary, str(folder / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer will not run as root: as the server's socket owner
            owner = (
                pwd.getpwuid(os.stat(socket_dir).st_uid).pw_name
                if os.path.isdir(socket_dir)
                else "nobody"
            )
            folder.chmod(0o777)
            for path in folder.iterdir():
                path.chmod(0o666)
            command += ["-u", owner]
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=folder
        )
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                out = self._process.stdout.read().decode() if self._process.stdout else ""
                raise RuntimeError(f"pgbouncer exited with {self._process.returncode}: {out}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("pgbouncer did not listen in time") from None
                time.sleep(0.05)

    def url(self, database_url: str) -> str:
        """`database_url` (a database of the Postgres server) reached through PgBouncer."""
        parts = urlsplit(database_url)
        user = parts.username or "postgres"
        return urlunsplit(("postgresql", f"{user}@127.0.0.1:{self.port}", parts.path, "", ""))

    def stop(self) -> None:
        if self._process is not None:
            processes.stop(self._process)
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
