from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PY_DOCS = Path("/usr/share/doc/python3.11/html")
PAGES = ("library/dataclasses.html", "library/json.html", "tutorial/datastructures.html")


@pytest.fixture(scope="session")
def docs_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real pages of the Python docs, in their original folder layout."""
    if not PY_DOCS.is_dir():
        pytest.skip("the demo corpus is missing: apt-get install -y python3.11-doc")
    root = tmp_path_factory.mktemp("pydocs")
    for page in PAGES:
        (root / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PY_DOCS / page, root / page)
    return root
