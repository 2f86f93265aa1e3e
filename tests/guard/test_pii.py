"""PII detection with Presidio's pattern recognizers, run offline (no spaCy model download)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cairn.guard.pii import PIIDetector, PIIPolicy, Span, restore

pytest.importorskip("presidio_analyzer")

CARD = "4111 1111 1111 1111"  # Luhn-valid test number
BAD_CARD = "4111 1111 1111 1112"  # same shape, checksum fails
IBAN = "GB82WEST12345698765432"  # valid check digits
TEXT = (
    f"Write to jane.roe@example.com or pay with {CARD}; "
    f"IBAN {IBAN}, server 192.168.10.4, SSN 536-22-1234."
)


@pytest.fixture(scope="module")
def pii() -> PIIDetector:
    return PIIDetector()


def _found(pii: PIIDetector, text: str) -> dict[str, str]:
    return {s.entity: text[s.start : s.end] for s in pii.find(text)}


def test_finds_each_pattern_type_with_exact_spans(pii: PIIDetector) -> None:
    assert _found(pii, TEXT) == {
        "EMAIL_ADDRESS": "jane.roe@example.com",
        "CREDIT_CARD": CARD,
        "IBAN_CODE": IBAN,
        "IP_ADDRESS": "192.168.10.4",
        "US_SSN": "536-22-1234",
    }


def test_card_checksum_decides(pii: PIIDetector) -> None:
    assert "CREDIT_CARD" not in _found(pii, f"order number {BAD_CARD}")
    # issuers outside Presidio's own card patterns (Mastercard 2-series) still count
    assert _found(pii, "card 2223 0000 4841 0010")["CREDIT_CARD"] == "2223 0000 4841 0010"


def test_an_international_number_is_a_phone_not_a_card(pii: PIIDetector) -> None:
    # 447700677662 passes Luhn, but a card is never written after "+"
    text = "Fax +447700 208 815 or mobile +447700677662."
    assert [(s.entity, text[s.start : s.end]) for s in pii.find(text)] == [
        ("PHONE_NUMBER", "+447700 208 815"),
        ("PHONE_NUMBER", "+447700677662"),
    ]


def test_a_phone_shaped_nhs_number_is_a_phone_unless_health_is_spoken_of(
    pii: PIIDetector,
) -> None:
    # 943 476 5919 passes the NHS check digit, as one random 10-digit number in eleven does
    assert _found(pii, "Office 943-476-5919 fax") == {"PHONE_NUMBER": "943-476-5919"}
    assert _found(pii, "Patient NHS number 943 476 5919.") == {"UK_NHS": "943 476 5919"}


def test_phone_with_context(pii: PIIDetector) -> None:
    text = "Call me on +44 20 7946 0958 tomorrow."
    assert _found(pii, text) == {"PHONE_NUMBER": "+44 20 7946 0958"}


def test_spans_do_not_overlap_and_are_ordered(pii: PIIDetector) -> None:
    spans = pii.find(TEXT + " Call 212-555-0199.")
    assert all(isinstance(s, Span) for s in spans)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


def test_mask_keeps_shape_hides_value(pii: PIIDetector) -> None:
    masked = pii.mask(TEXT)
    assert "j***@e***.com" in masked
    assert "**** **** **** 1111" in masked
    for value in ("jane.roe", CARD, IBAN, "192.168.10.4", "536-22-1234"):
        assert value not in masked


def test_redact_names_the_type(pii: PIIDetector) -> None:
    assert pii.redact("mail jane.roe@example.com now") == "mail [EMAIL_ADDRESS] now"
    assert pii.apply("mail jane.roe@example.com now", "redact") == "mail [EMAIL_ADDRESS] now"
    assert pii.apply(TEXT, PIIPolicy.OFF) == TEXT


def test_unknown_policy_is_an_error(pii: PIIDetector) -> None:
    with pytest.raises(ValueError):
        pii.apply(TEXT, "hide")


def test_pseudonymise_round_trip(pii: PIIDetector) -> None:
    text = TEXT + " Again: jane.roe@example.com."
    hidden, mapping = pii.pseudonymise(text)
    assert "jane.roe@example.com" not in hidden
    assert hidden.count("<EMAIL_ADDRESS_1>") == 2  # same value, same placeholder
    assert restore(hidden, mapping) == text
    answer = "Send it to <EMAIL_ADDRESS_1> from card <CREDIT_CARD_1>."
    assert restore(answer, mapping) == f"Send it to jane.roe@example.com from card {CARD}."


def test_pseudonymise_never_reuses_a_placeholder_in_the_text(pii: PIIDetector) -> None:
    text = "literal <EMAIL_ADDRESS_1> and jane.roe@example.com"
    hidden, mapping = pii.pseudonymise(text)
    assert mapping == {"<EMAIL_ADDRESS_2>": "jane.roe@example.com"}
    assert restore(hidden, mapping) == text


def test_no_pii_no_change(pii: PIIDetector) -> None:
    text = "The cache is cleared when the service restarts (see section 4.2)."
    assert pii.find(text) == []
    assert pii.mask(text) == text
    assert pii.pseudonymise(text) == (text, {})
    assert pii.find("") == []


def test_names_model_not_installed_is_a_config_error() -> None:
    from cairn.errors import ConfigError

    with pytest.raises(ConfigError, match="not installed"):
        PIIDetector(names_model="no_such_spacy_pipeline").find("Jane Roe")


def test_no_network_attempt_at_load_or_use(tmp_path: Path) -> None:
    """Presidio's e-mail check would fetch the public suffix list; cairn's engine does not
    try (a fresh process, since the swap is process-wide once made)."""
    script = (
        "import socket\n"
        "tried = []\n"
        "def refuse(*args, **kwargs):\n"
        "    tried.append(args[0])\n"
        "    raise OSError('no network')\n"
        "socket.getaddrinfo = refuse\n"
        "from cairn.guard.pii import PIIDetector\n"
        "spans = PIIDetector().find('mail jo@example.co.uk')\n"
        "print(len(spans), tried)\n"
    )
    # an empty tldextract cache: a list cached by an earlier run would hide a fetch
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "TLDEXTRACT_CACHE": str(tmp_path / "tldextract"),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "[]"]
