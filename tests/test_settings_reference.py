"""docs/configuration.md lists every setting, generated from the settings model."""

from __future__ import annotations

from pathlib import Path

from cairn.config import Settings
from cairn.settings_reference import BEGIN, main, reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_the_configuration_page_is_up_to_date() -> None:
    assert main(["--check", "--doc", str(DOC)]) == 0, "run: python -m cairn.settings_reference"


def test_every_setting_has_a_row_with_its_environment_variable() -> None:
    block = reference()
    for section, info in Settings.model_fields.items():
        model = info.annotation
        if not hasattr(model, "model_fields"):
            continue
        for key in model.model_fields:
            assert f"| `{key}` | `CAIRN_{section.upper()}_{key.upper()}` |" in block


def test_a_stale_page_is_detected_and_rewritten(tmp_path: Path) -> None:
    doc = tmp_path / "configuration.md"
    doc.write_text(DOC.read_text(encoding="utf-8").replace("CAIRN_RETRIEVE_ALPHA", "GONE"))
    assert main(["--check", "--doc", str(doc)]) == 1
    assert main(["--doc", str(doc)]) == 0
    assert main(["--check", "--doc", str(doc)]) == 0
    assert doc.read_text(encoding="utf-8").count(BEGIN) == 1
