"""The public surface of `cairn.evals` is what `__all__` says, and it all imports."""

from __future__ import annotations

import cairn.evals


def test_public_names_exist() -> None:
    assert sorted(cairn.evals.__all__) == cairn.evals.__all__
    for name in cairn.evals.__all__:
        assert hasattr(cairn.evals, name), name
