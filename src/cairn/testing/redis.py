"""A real `redis-server` on 127.0.0.1 for tests: started on a free port with its data in a
temporary folder, stopped (and its folder removed) on exit.

    with RedisServer() as server:
        limiter = RedisRateLimiter(server.url, 60, 10)

`redis-server` comes from the distribution (Debian: `apt-get install redis-server`);
`RedisServer.available()` says whether it is on PATH.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from cairn.testing import processes


class RedisServer:
    def __init__(self, *, binary: str = "redis-server", startup_timeout_s: float = 30.0) -> None:
        self.binary = binary
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available(binary: str = "redis-server") -> bool:
        return shutil.which(binary) is not None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        if not self.available(self.binary):
            raise RuntimeError(
                f"{self.binary} is not installed: apt-get install redis-server (make setup does)"
            )
        self._dir = tempfile.TemporaryDirectory(prefix="cairn-redis-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        args = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", self._dir.name,
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip
        log = Path(self._dir.name) / "redis.log"
        with log.open("wb") as out:  # the child keeps its own descriptor
            self._process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {log.read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} in time")

    def flush(self) -> None:
        """Remove every key (between tests sharing one server)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as conn:
            conn.sendall(b"FLUSHALL\r\n")
            conn.recv(16)

    def stop(self) -> None:
        if self._process is not None:
            processes.stop(self._process)
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
