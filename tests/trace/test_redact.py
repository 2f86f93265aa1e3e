"""What `trace.prompts` keeps of a prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairn.trace.redact import apply_policy, mask_credentials, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail alice.smith+x@example.co.uk now", "mail [email] now"),
        ("card 4111 1111 1111 1111 please", "card [number] please"),
        ("call +44 20 7946 0958", "call [number]"),
        ("key cairn_AbCdEfGhIjKlMnOpQrStUvWxYz012345", "key [secret]"),
        ("sk-proj-abcdefghijklmnop1234", "[secret]"),
        ("Authorization: Bearer abc.def.ghi", "[secret]"),
        ("api_key=hunter2hunter2", "[secret]"),
        ("token a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8", "token [secret]"),
        ("python 3.11 in 2024, section 8.1.2", "python 3.11 in 2024, section 8.1.2"),
        ("list.sort(key=None)", "list.sort(key=None)"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_credentials_are_masked_even_in_full_mode() -> None:
    out = apply_policy({"question": "my key cairn_abcdefghijklmnopqrstuvwxyz mail a@b.io"}, "full")
    assert out == {"question": "my key [secret] mail a@b.io"}
    assert mask_credentials("Bearer cairn_x") == "[secret]"


def test_none_drops_content_but_keeps_the_rest() -> None:
    attributes = {
        "question": "q",
        "answer": "a",
        "k": 5,
        "chunk_ids": ["a-1"],
        "gen_ai.prompt": "p",
    }
    assert apply_policy(attributes, "none") == {"k": 5, "chunk_ids": ["a-1"]}


def test_redacted_reaches_nested_values() -> None:
    out = apply_policy({"messages": [{"content": "x@y.org"}], "n": 1}, "redacted")
    assert out == {"messages": [{"content": "[email]"}], "n": 1}


SECRETS = [
    "sk-proj-abcdefghijklmnop1234",
    "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv0123456789",
    "pk_live_51HxYzAbCdEfGhIjKlMn",
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "glpat-AbCdEfGhIjKlMnOpQrSt",
    "xoxb-123456789012-abcdefghijABCDEF",
    "AKIAIOSFODNN7EXAMPLE",
    "AIzaSyA1234567890abcdefghijklmnopqrstu",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "Bearer abc.def.ghi",
    "password: hunter2hunter2",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VS5JJcd\n-----END RSA PRIVATE KEY-----",
    "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0",  # a 40-hex token (a SHA-1 shaped secret)
    "d41d8cd98f00b204e9800998ecf8427e",  # 32 hex digits, not a uuid4
]


@pytest.mark.parametrize("secret", SECRETS)
def test_every_secret_shape_is_masked(secret: str) -> None:
    text = f"see {secret} here"
    assert redact(text) == "see [secret] here"


def test_cairn_api_keys_are_masked_whatever_their_random_part() -> None:
    from cairn.server.keys import new_key

    for _ in range(50):
        key, secret = new_key(tenant="acme", scopes=["ask"], name=None)
        assert redact(f"key {secret}.") == "key [secret]."
        assert mask_credentials(secret) == "[secret]"
        assert redact(key.id) == key.id  # the key's id is not its secret


def test_url_passwords_are_masked_in_every_mode() -> None:
    url = "postgresql://cairn:s3cr3t-Passw0rd@db.internal:5432/cairn"
    assert mask_credentials(url) == "postgresql://[secret]@db.internal:5432/cairn"
    assert redact(f"dsn {url}") == "dsn postgresql://[secret]@db.internal:5432/cairn"
    assert redact("https://example.com/a?b=1") == "https://example.com/a?b=1"


def test_e_mail_and_long_digit_runs_are_still_masked() -> None:
    assert redact("ask bob@example.org, call 0044 20 7946 0958") == ("ask [email], call [number]")


def test_configured_keys_are_masked_verbatim() -> None:
    from cairn.trace.redact import register_configured_secrets

    register_configured_secrets({"llm": {"api_key": "plainpassphrase42", "model": "m"}})
    out = apply_policy({"note": "the key is plainpassphrase42", "model": "m"}, "full")
    assert out == {"note": "the key is [secret]", "model": "m"}


def test_cairn_ids_survive() -> None:
    from cairn.context import request_context
    from cairn.ingest.pipeline import document_id

    for n in range(200):
        with request_context() as ctx:
            trace_id = ctx.trace_id
        doc_id = document_id(Path("/docs"), f"file-{n}.md")
        chunk_id = f"{doc_id}-{n}"
        text = f"trace {trace_id} cites {chunk_id} of {doc_id}; job_{n:016x}, fb_{n:016x}"
        assert redact(text) == text
        attributes = {"cache_source_trace_id": trace_id, "chunk_ids": [chunk_id, chunk_id]}
        assert apply_policy(attributes, "redacted") == attributes


def test_a_cache_hit_trace_links_to_its_source(
    docs_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cairn.cli import app
    from cairn.trace import SQLiteTraceStore

    runner = CliRunner()
    monkeypatch.setenv("CAIRN_TRACE_PROMPTS", "redacted")
    ws = str(tmp_path / "ws")
    assert runner.invoke(app, ["ingest", str(docs_corpus), "-w", ws, "--json"]).exit_code == 0
    answers = []
    for _ in range(2):
        result = runner.invoke(app, ["ask", "How do I parse JSON?", "--json", "-w", ws])
        assert result.exit_code == 0, result.output
        answers.append(json.loads(result.stdout))
    first, second = answers
    assert first["cached"] is False and second["cached"] is True
    store = SQLiteTraceStore(tmp_path / "ws" / "traces.db")
    try:
        trace = store.get(second["trace_id"], all_tenants=True)
    finally:
        store.close()
    assert trace is not None
    sources = [
        s["attributes"]["cache_source_trace_id"]
        for s in trace["spans"]
        if "cache_source_trace_id" in s["attributes"]
    ]
    assert sources == [first["trace_id"]]
