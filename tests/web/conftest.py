"""Browser tests of the web UI: Debian's Chromium driven by Playwright, against a real
`cairn serve` subprocess on 127.0.0.1 over a small real workspace (three Python docs pages),
answering through the fake OpenAI-compatible server so tokens stream at a human pace.

Skipped when Playwright for Python or /usr/bin/chromium is missing:
    .venv/bin/pip install playwright && apt-get install -y chromium
(never `playwright install`: the tests use the system browser).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cairn.llm.fake_server import FakeLLMServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
SERVER_START_S = 90.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def _run_cairn(*args: str, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cairn", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"cairn {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


@dataclass
class Server:
    url: str
    workspace: Path
    log: Path
    proc: subprocess.Popen[bytes] = field(repr=False)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-6000:]


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + SERVER_START_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"cairn serve exited ({server.proc.returncode}):\n{server.logs()}")
        try:
            with urllib.request.urlopen(server.url + "/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(
        f"cairn serve not ready after {SERVER_START_S}s ({last}):\n{server.logs()}"
    )


@pytest.fixture(scope="session")
def playwright_browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: .venv/bin/pip install playwright")
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: apt-get update && apt-get install -y chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def web_workspace(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the shared corpus, made with `cairn ingest`."""
    ws = tmp_path_factory.mktemp("web-ws")
    cwd = tmp_path_factory.mktemp("web-cwd")
    out = _run_cairn(
        "ingest", str(docs_corpus), "--workspace", str(ws), "--json", cwd=cwd, env=_clean_env()
    )
    assert json.loads(out)["ingested"] == 3
    return ws


@contextlib.contextmanager
def serve(workspace: Path, cwd: Path, env: dict[str, str], *extra: str) -> Iterator[Server]:
    """Run `cairn serve` on a free loopback port until the block ends."""
    port = _free_port()
    log = cwd / f"serve-{port}.log"
    command = [sys.executable, "-m", "cairn", "serve", "--port", str(port)]
    command += ["--workspace", str(workspace), "--log-level", "warning", *extra]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
        )
    srv = Server(f"http://127.0.0.1:{port}", workspace, log, proc)
    try:
        _wait_ready(srv)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLMServer]:
    # About 25 tokens a second: an answer takes a second or two to stream, as a person
    # would see it, so a test can watch tokens arrive before the answer is done.
    with FakeLLMServer(tps=25.0) as fake:
        yield fake


@pytest.fixture(scope="session")
def server(
    playwright_browser: Browser,
    web_workspace: Path,
    fake_llm: FakeLLMServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """`cairn serve` (local auth) over the docs workspace, answering through the fake LLM."""
    env = _clean_env(
        CAIRN_LLM_PROVIDER="openai",
        CAIRN_LLM_BASE_URL=fake_llm.url,
        CAIRN_LLM_MODEL="fake-model",
        CAIRN_LLM_API_KEY="test-key",
        CAIRN_LLM_PRICE_INPUT_PER_MTOK="1.0",
        CAIRN_LLM_PRICE_OUTPUT_PER_MTOK="2.0",
        # The tests watch tokens arrive as the model writes them; the default output guard
        # checks an answer whole before sending it (docs/guard.md), which they do not cover.
        CAIRN_GUARD_OUTPUT="off",
        # nor attribution's withholding of an unsupported answer (it also checks whole)
        CAIRN_ANSWER_WITHHOLD_UNSUPPORTED="false",
    )
    with serve(web_workspace, tmp_path_factory.mktemp("web-serve"), env) as srv:
        yield srv


@dataclass
class KeysServer:
    server: Server
    key: str


@pytest.fixture(scope="module")
def keys_server(
    playwright_browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeysServer]:
    """`cairn serve --auth keys` over an empty workspace, with one admin key."""
    ws = tmp_path_factory.mktemp("web-keys-ws")
    cwd = tmp_path_factory.mktemp("web-keys-serve")
    env = _clean_env()
    out = _run_cairn(
        "keys", "create", "--tenant", "acme", "--scope", "admin", "--name", "ada",
        "--json", "--workspace", str(ws), cwd=cwd, env=env,
    )  # fmt: skip
    key = json.loads(out)["key"]
    with serve(ws, cwd, env, "--auth", "keys") as srv:
        yield KeysServer(srv, key)


class PageErrors(list[str]):
    """Uncaught script errors of a page; a test fails if any happened."""


@pytest.fixture
def new_page(playwright_browser: Browser, server: Server) -> Iterator[Any]:
    """new_page(viewport=DESKTOP, color_scheme="light") -> a Page on the server's origin."""
    contexts: list[BrowserContext] = []
    errors = PageErrors()

    def make(viewport: dict[str, int] | None = None, color_scheme: str = "light") -> Page:
        context = playwright_browser.new_context(
            viewport=viewport or DESKTOP,  # type: ignore[arg-type]
            color_scheme=color_scheme,  # type: ignore[arg-type]
            base_url=server.url,
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    try:
        yield make
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):
                context.close()
    assert not errors, f"script errors in the page: {errors}"


def shot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot under tests/web/screenshots/ (ignored by git)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path
