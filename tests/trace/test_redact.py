"""What `trace.prompts` keeps of a prompt."""

from __future__ import annotations

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
