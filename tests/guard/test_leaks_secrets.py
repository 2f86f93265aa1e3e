"""Secret shapes and link neutralisation, one case per shape."""

from __future__ import annotations

import pytest

from cairn.guard.links import LinkNeutraliser
from cairn.guard.secrets import SecretFinder

# Built by concatenation so no scanner mistakes the test file for a leak.
SHAPES = {
    "cairn_key": "cairn_" + "Zm9vYmFyYmF6cXV4" * 3,
    "openai_key": "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2",
    "stripe_key": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "aws_access_key": "AKIA" + "IOSFODNN7EXAMPLE",
    "github_token": "ghp_" + "a" * 36,
    "slack_token": "xoxb-" + "123456789012-abcdefABCDEF",
    "google_api_key": "AIza" + "SyA-1234567890abcdefghijklmnopqrstu",
    "jwt": "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0." + "dozjgNryP4J3jVmNHl0w5N",
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
}


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_each_shape_is_found_and_scrubbed(kind: str) -> None:
    value = SHAPES[kind]
    text = f"config: {value} (rotate it)"
    finder = SecretFinder()
    assert [s.kind for s in finder.find(text)] == [kind]
    assert finder.scrub(text) == f"config: [SECRET:{kind}] (rotate it)"


def test_url_credentials_keep_user_and_host() -> None:
    text = "clone https://bob:t0ps3cret@git.example.com/repo.git"
    assert (
        SecretFinder().scrub(text)
        == "clone https://bob:[SECRET:url_password]@git.example.com/repo.git"
    )


def test_assigned_values() -> None:
    finder = SecretFinder()
    assert finder.scrub("set PASSWORD=hunter22 then") == "set PASSWORD=[SECRET:assigned] then"
    assert finder.scrub('api_key: "a1b2c3d4e5"') == 'api_key: "[SECRET:assigned]"'
    assert finder.find("password: required, token: see below") == []


def test_ordinary_text_has_no_secrets() -> None:
    text = (
        "Ask the desk (skeleton key policy, task-force notes) at https://docs.example.com/a "
        "or run `pip install sk-learn`; tokens expire after 3600 seconds."
    )
    assert SecretFinder().find(text) == []


def test_short_configured_values_are_ignored() -> None:
    finder = SecretFinder(known=["abc", "longer-secret-1"])
    assert finder.scrub("abc and longer-secret-1") == "abc and [SECRET:configured_key]"


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("![a](https://evil.example/p.png?d=1)", "a (image from evil[.]example)"),
        ("[a](javascript:alert(1))", "a (javascript)"),
        ('<img src="https://evil.example/x?d=1">', "(evil[.]example)"),
        ("[ref]: https://evil.example/x?d=1", "[ref]: evil[.]example"),
        ("go to www.evil.example/x?d=1 now", "go to www[.]evil[.]example/… now"),
        ("[docs](https://sub.docs.example.com/a)", "[docs](https://sub.docs.example.com/a)"),
        ("[rel](/guide#install)", "[rel](/guide#install)"),
    ],
)
def test_links_off_the_allow_list_are_neutralised(markdown: str, expected: str) -> None:
    result = LinkNeutraliser(allow_hosts=["docs.example.com"]).neutralise(markdown)
    assert result.text == expected


def test_no_allow_list_neutralises_every_absolute_link() -> None:
    result = LinkNeutraliser().neutralise("see https://docs.example.com and [x](http://a.b/c)")
    assert result.text == "see docs[.]example[.]com and x (a[.]b)"
    assert result.removed == ("a.b", "docs.example.com")
