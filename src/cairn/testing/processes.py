"""Servers the tests start as child processes (redis-server, pgbouncer): stopping one."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """Terminate `process`, kill it if it has not exited within `timeout_s`, and reap it
    (closing its captured output, if any)."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
