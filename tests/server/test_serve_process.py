"""`cairn.testing.serve.ServeProcess`: a server process that dies while starting is reported
at once with its output; one that never answers runs out of time; stopping ends what it
started."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cairn.testing.serve import ServeProcess, free_port


def test_a_process_that_exits_while_starting_is_reported_with_its_log(tmp_path: Path) -> None:
    port = free_port()
    server = ServeProcess(
        "echo 'no such workspace' >&2; exit 3",
        url=f"http://127.0.0.1:{port}",
        env=dict(os.environ),
        log=tmp_path / "serve.log",
    ).start()
    with pytest.raises(RuntimeError, match="exited before it was ready") as raised:
        server.wait_ready(timeout_s=60)
    assert "no such workspace" in str(raised.value)
    assert server.stop() == 3


def test_a_process_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    port = free_port()
    server = ServeProcess(
        ["sleep", "600"], url=f"http://127.0.0.1:{port}", env=dict(os.environ), log=tmp_path / "l"
    ).start()
    try:
        with pytest.raises(RuntimeError, match="not ready after 1 s"):
            server.wait_ready(timeout_s=1)
        assert server.alive()
    finally:
        server.stop(grace_s=30)
    assert not server.alive()
