"""`cairn serve` as a real process, for tests that need replicas as separate processes (their
own memory, their own uvicorn, killed like a crashed server), not apps in one test process.

    replica = ServeProcess(["cairn", "serve", "--port", str(port)], url=f"http://127.0.0.1:{port}",
                           env=env, log=tmp / "a.log").start()
    replica.wait_ready()            # polls /readyz until 200 (or fails with the log's tail)
    ...
    replica.kill()                  # SIGKILL: a crash (leases are not released)
    replica.stop()                  # SIGTERM, then SIGKILL after the grace period

A command given as one string is run by `bash -c` (a line copied from the docs, with its
`VAR=value` prefixes). The process gets a session of its own, so stopping it stops whatever
it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

READY_TIMEOUT_S = 300.0
"""Loading the embedding model and warming the indexes on a busy 2-core machine."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    def __init__(
        self,
        command: Sequence[str] | str,
        *,
        url: str,
        env: Mapping[str, str],
        log: Path,
        cwd: Path | None = None,
    ) -> None:
        self.command = command
        self.url = url.rstrip("/")
        self.env = dict(env)
        self.log = log
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServeProcess:
        args = ["bash", "-c", self.command] if isinstance(self.command, str) else self.command
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                list(args),
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the server was not started")
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def readyz(self, timeout_s: float = 10.0) -> tuple[int, dict[str, Any]]:
        """`GET /readyz`: its status code and body (raises `OSError` when nothing answers)."""
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=timeout_s) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:  # 503 while starting
            with exc:
                return exc.code, json.loads(exc.read() or b"{}")

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> dict[str, Any]:
        """Poll `/readyz` until it answers 200; its body. Raises `RuntimeError` (with the
        end of the server's log) if the process exits or the time runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.alive():
                raise RuntimeError(f"{self.url} exited before it was ready:\n{self.log_tail()}")
            with contextlib.suppress(OSError, ValueError):
                status, body = self.readyz()
                if status == 200:
                    return body
            if time.monotonic() > deadline:
                waited = f"{timeout_s:.0f} s"
                raise RuntimeError(f"{self.url} not ready after {waited}:\n{self.log_tail()}")
            time.sleep(0.2)  # polling interval, not synchronisation: readiness is the test

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL the server and what it started (a crash: nothing is cleaned up)."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=60)

    def stop(self, grace_s: float = 60.0) -> int | None:
        """SIGTERM (uvicorn shuts down gracefully), SIGKILL after `grace_s`; the exit status."""
        if self.process is None:
            return None
        self._signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.returncode

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
