from __future__ import annotations

import socket

import pytest


def test_network_guard_blocks_outside_addresses() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(RuntimeError, match="network"):
        s.connect(("192.0.2.1", 80))
    s.close()
