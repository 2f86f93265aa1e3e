"""The dependencies declared in pyproject.toml cover what the code imports and calls."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "cairn"

NEWER_APIS = [
    # (distribution, text in src/ that needs it, a version too old to have it)
    ("numpy", "np.bitwise_count", "1.26.4"),  # added in NumPy 2.0
    ("anyio", "token=token", "4.0.0"),  # from_thread.run(..., token=): anyio 4.1
]


def _declared() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    return {canonicalize_name(r.name): r for r in requirements}


def _imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _pinned_by_hash() -> set[str]:
    """Distributions installed from requirements/*.txt (pinned by hash, not in pyproject)."""
    names = set()
    for path in (ROOT / "requirements").glob("*.txt"):
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "--")):
                names.add(canonicalize_name(Requirement(line.split()[0]).name))
    return names


def _is_optional(module: str) -> bool:
    """Imported lazily behind an install hint: the extras, and the pinned test servers."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = extras.get("optional-dependencies", {}).values()
    optional = {canonicalize_name(Requirement(r).name) for deps in groups for r in deps}
    optional |= _pinned_by_hash()
    # A module not installed here (an extra `make setup` leaves out) is known by its name:
    # `presidio_analyzer` is the `presidio-analyzer` distribution.
    owners = packages_distributions().get(module) or [module]
    return any(canonicalize_name(d) in optional for d in owners)


def test_every_imported_package_is_declared() -> None:
    declared = _declared()
    distributions = packages_distributions()
    missing = []
    for module in sorted(_imported_top_level_modules()):
        if module in sys.stdlib_module_names or module == "cairn":
            continue
        owners = {canonicalize_name(d) for d in distributions.get(module, [])}
        if not owners & declared.keys() and not _is_optional(module):
            missing.append(f"{module} (from {sorted(owners) or 'not installed'})")
    assert not missing, f"add these to [project] dependencies in pyproject.toml: {missing}"


@pytest.mark.parametrize(("distribution", "usage", "too_old"), NEWER_APIS)
def test_declared_minimums_cover_the_apis_used(distribution: str, usage: str, too_old: str) -> None:
    used = any(usage in p.read_text() for p in SRC.rglob("*.py"))
    assert used, f"src/ no longer uses {usage}: drop it from NEWER_APIS"
    requirement = _declared().get(distribution)
    assert requirement is not None, f"src/ uses {usage}: declare {distribution} in pyproject.toml"
    assert not requirement.specifier.contains(too_old, prereleases=True), (
        f"src/ uses {usage}, which {distribution} {too_old} lacks: raise the minimum in "
        f"pyproject.toml (declared: {requirement})"
    )
