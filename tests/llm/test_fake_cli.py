"""`cairn fake-llm` serves the protocol from a separate process and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from cairn.llm.base import Message
from cairn.llm.openai import OpenAIProvider


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("stop_with", "sigint_ignored"),
    [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["sigint", "sigint-when-started-ignoring-it", "sigterm"],
)
def test_fake_llm_command_serves_until_interrupted(
    stop_with: signal.Signals, sigint_ignored: bool
) -> None:
    """Stopped by Ctrl-C or SIGTERM, also when started as a script's background job (which a
    shell starts with SIGINT ignored)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cairn", "fake-llm", "--port", "0", "--model", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_ignore_sigint if sigint_ignored else None,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", banner)
        assert match, banner
        with OpenAIProvider("demo", base_url=match.group(1)) as provider:
            assert provider.generate([Message.user("ping")]).text == "ping"
        process.send_signal(stop_with)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopped" in out
