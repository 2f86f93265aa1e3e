from __future__ import annotations

from pathlib import Path

import pytest

from cairn.config import DEFAULT_EXCLUDES, load_settings
from cairn.errors import ConfigError


def test_defaults() -> None:
    s = load_settings()
    assert s.workspace == Path(".cairn")
    assert s.retrieve.mode == "hybrid" and s.llm.provider == "extractive"
    assert "genindex*" in s.ingest.excludes and s.ingest.excludes == DEFAULT_EXCLUDES


def test_environment_variables_fill_nested_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_LLM_PROVIDER", "openai")
    monkeypatch.setenv("CAIRN_LLM_BASE_URL", "http://127.0.0.1:9999/v1")
    monkeypatch.setenv("CAIRN_LLM_PRICE_INPUT_PER_MTOK", "0.5")
    monkeypatch.setenv("CAIRN_BUDGET_DAILY_USD", "3")
    monkeypatch.setenv("CAIRN_CHUNK_TARGET_TOKENS", "120")
    s = load_settings()
    assert s.llm.provider == "openai" and s.llm.base_url == "http://127.0.0.1:9999/v1"
    assert s.llm.price_input_per_mtok == 0.5
    assert s.budget.daily_usd == 3.0
    assert s.chunk.target_tokens == 120


def test_toml_file_and_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cairn.toml").write_text(
        '[retrieve]\nmode = "lexical"\nk = 7\n[chunk]\ntarget_tokens = 150\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAIRN_RETRIEVE_K", "9")  # environment beats the file
    s = load_settings()
    assert s.config_file == Path("cairn.toml")
    assert (s.retrieve.mode, s.retrieve.k, s.chunk.target_tokens) == ("lexical", 9, 150)
    assert load_settings(workspace=tmp_path / "w").workspace == tmp_path / "w"  # flags beat all


def test_workspace_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cairn.toml").write_text("[answer]\nmax_sentences = 2\n")
    monkeypatch.setenv("CAIRN_WORKSPACE", str(tmp_path))
    assert load_settings().answer.max_sentences == 2


def test_workspace_flag_reads_the_workspace_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cairn.toml").write_text("[answer]\nmax_sentences = 2\n")
    monkeypatch.delenv("CAIRN_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path.parent)
    settings = load_settings(workspace=tmp_path)  # what `--workspace DIR` passes
    assert settings.answer.max_sentences == 2
    assert settings.config_file == tmp_path / "cairn.toml"


def test_errors_name_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cairn.toml").write_text('[retrieve]\nmode = "psychic"\n[nope]\nx = 1\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "retrieve.mode" in message and "nope" in message and "cairn.toml" in message
