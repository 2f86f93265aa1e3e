"""Fixtures for the HTTP service: a real workspace (three Python docs pages ingested once with
the real model, copied per test module), apps in-process (TestClient) and on a real uvicorn
server on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cairn.config import ServerSettings, Settings, TraceSettings
from cairn.server.app import create_app
from cairn.server.db import SERVER_FILE, ServerDB
from cairn.server.keys import SQLiteKeyStore
from cairn.server.state import AppState


@pytest.fixture(scope="session")
def base_workspace(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus ingested once with the real model (never served: tests use copies)."""
    from cairn.ingest.pipeline import ingest
    from cairn.workspace import Workspace

    root = tmp_path_factory.mktemp("ws-base")
    ws = Workspace(Settings(workspace=root), create=True)
    try:
        report = ingest(
            [docs_corpus],
            store=ws.store,
            embedder=ws.embedder,
            tokenizer=ws.embedder.tokenizer,
            settings=ws.settings,
        )
    finally:
        ws.close()
    assert report.ingested == 3 and not report.failures
    return root


def copy_workspace(base: Path, target: Path) -> Path:
    shutil.copytree(base, target)
    return target


@pytest.fixture
def workspace(base_workspace: Path, tmp_path: Path) -> Path:
    return copy_workspace(base_workspace, tmp_path / "ws")


def settings_for(workspace: Path, **sections: Any) -> Settings:
    """Settings for a test app: `server={...}`, `trace={...}` update those sections."""
    server = ServerSettings.model_validate(sections.pop("server", {}))
    trace = TraceSettings.model_validate(sections.pop("trace", {}))
    return Settings(workspace=workspace, server=server, trace=trace, **sections)


@contextmanager
def app_client(settings: Settings) -> Iterator[TestClient]:
    """An app on the TestClient, its lifespan run (start-up and shutdown)."""
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def state_of(client: TestClient) -> AppState:
    app = client.app
    assert isinstance(app, FastAPI)
    state = app.state.cairn
    assert isinstance(state, AppState)
    return state


def create_key(workspace: Path, tenant: str, *scopes: str, name: str | None = None) -> str:
    db = ServerDB(workspace / SERVER_FILE)
    try:
        _, secret = SQLiteKeyStore(db).create(tenant=tenant, scopes=scopes, name=name)
    finally:
        db.close()
    return secret


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class LiveServer:
    """A real uvicorn server on 127.0.0.1 (a free port), in a thread."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


@pytest.fixture
def live_server() -> Callable[[Settings], LiveServer]:
    """`with live_server(settings) as server: httpx.get(server.url + ...)`."""
    return lambda settings: LiveServer(create_app(settings))
