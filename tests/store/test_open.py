"""`open_store` chooses the backend by `store.url`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cairn.config import Settings, load_settings
from cairn.errors import ConfigError, StoreError
from cairn.store.base import Store
from cairn.store.open import DB_FILE, open_store, sqlite_path


def _settings(tmp_path: Path, url: str | None) -> Settings:
    return Settings(workspace=tmp_path / "ws", store={"url": url})


def _opened_at(settings: Settings) -> Path:
    store = open_store(settings)
    try:
        assert isinstance(store, Store)
        store.generation()
    finally:
        store.close()
    path = sqlite_path(settings)
    assert path is not None and path.is_file()
    return path


def test_default_is_sqlite_in_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    assert _opened_at(_settings(tmp_path, None)) == tmp_path / "ws" / DB_FILE


def test_sqlite_url_relative_to_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "ws" / "data").mkdir(parents=True)
    settings = _settings(tmp_path, "sqlite:///data/corpus.db")
    assert _opened_at(settings) == tmp_path / "ws" / "data" / "corpus.db"


def test_sqlite_url_with_an_absolute_path(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "corpus.db"
    target.parent.mkdir()
    assert _opened_at(_settings(tmp_path, f"sqlite:///{target}")) == target


def test_the_url_is_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_STORE_URL", "sqlite:///from-env.db")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(workspace=tmp_path)
    assert settings.store.url == "sqlite:///from-env.db"
    assert sqlite_path(settings) == tmp_path / "from-env.db"


def test_an_unreachable_postgres_says_how_to_start_it(tmp_path: Path) -> None:
    pytest.importorskip("psycopg_pool", reason="the postgres extra is not installed")
    for create in (True, False):
        with pytest.raises(StoreError, match=r"(?s)cannot reach Postgres.*cairn services up"):
            open_store(_settings(tmp_path, "postgresql://127.0.0.1:1/cairn"), create=create)


@pytest.mark.parametrize("url", ["mysql://db/cairn", "cairn.db", "redis://localhost"])
def test_an_unknown_scheme_names_the_known_ones(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match=r"unknown store\.url scheme.*sqlite"):
        open_store(_settings(tmp_path, url))


@pytest.mark.parametrize("url", ["sqlite://host/cairn.db", "sqlite:///", "sqlite:"])
def test_a_malformed_sqlite_url_says_how_to_write_one(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match=re.escape("sqlite:///PATH")):
        open_store(_settings(tmp_path, url))


def test_a_missing_database_is_not_created_when_asked_not_to(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cairn ingest"):
        open_store(_settings(tmp_path, None), create=False)
    assert not (tmp_path / "ws" / DB_FILE).exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [("mysql://db/cairn", "unknown store.url scheme")],
)
def test_doctor_reports_a_store_url_it_cannot_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    from typer.testing import CliRunner

    from cairn.cli import app

    monkeypatch.setenv("CAIRN_STORE_URL", url)
    result = CliRunner().invoke(app, ["doctor", "--json", "--workspace", str(tmp_path)])
    data = json.loads(result.stdout)
    assert data["checks"]["store"] == url
    [problem] = [p for p in data["problems"] if expected in p["problem"]]
    assert "store.url" in problem["fix"]
    assert result.exit_code == 1
