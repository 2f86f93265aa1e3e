"""Finding the files to ingest under the given paths, and saying why every other one is not.

A file is taken when its type is supported and no rule leaves it out. The rules, in order:

- `excluded`: it matches an exclude pattern (`--exclude`, or the default excludes);
- `ignored`: a `.gitignore` ignores it (or a folder above it): one under the ingested folder,
  or, inside a git repository, one in a folder between the repository's top and it;
- `vendored`: it lies in a folder of third-party code (`vendor/`, `node_modules/`,
  `third_party/`, `site-packages/`...), a virtual environment (a folder with `pyvenv.cfg`),
  a bytecode cache or version-control data; the folder is listed once, not walked;
- `generated`: it is generated, not written (minified JavaScript or CSS, `*_pb2.py`, a
  `Code generated ... DO NOT EDIT.` or `@generated` header, lock files, Sphinx build files);
- `empty`: the file is empty (a package's `__init__.py`, a placeholder): nothing to index;
- `unsupported`: cairn cannot read its type (a file without an extension is read as text
  when it starts as text: `LICENSE`, `Makefile`);
- `excluded` also covers hidden files (`.gitignore`, `.env`) and symbolic links to folders,
  which are listed, not followed.

Only `unsupported` files are *left out* against the user's wish (the CLI's exit status says
so); the other rules are deliberate and listed with the reason. Given includes
(`--include`), only matching files are taken and the default rules (default excludes,
`.gitignore`, vendored, generated) are dropped: an explicit include wins over them.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

SkipRule = Literal["excluded", "ignored", "vendored", "generated", "empty", "unsupported"]


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path
    root: Path
    source: str
    """Path relative to `root`, with `/` separators."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file (or a whole folder, its path ending in `/`) that is not ingested, and why."""

    path: str
    rule: SkipRule
    reason: str

    @property
    def left_out(self) -> bool:
        """True when the file was left out against the user's wish (not by a rule)."""
        return self.rule == "unsupported"


VENDORED_DIRS: dict[str, str] = {
    **dict.fromkeys(
        (
            "vendor",
            "vendored",
            "node_modules",
            "third_party",
            "third-party",
            "thirdparty",
            "site-packages",
            "dist-packages",
            "bower_components",
        ),
        "vendored third-party code",
    ),
    "__pycache__": "compiled bytecode cache",
    ".tox": "test environments",
    ".git": "version-control data",
    ".hg": "version-control data",
    ".svn": "version-control data",
}
"""Folders of third-party code, caches and version-control data, never walked by default,
with what they hold. A folder holding a `pyvenv.cfg` (a virtual environment) is another."""

_LOCK_FILES = frozenset(
    {
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "pipfile.lock",
        "cargo.lock",
        "gemfile.lock",
        "composer.lock",
        "go.sum",
        "uv.lock",
        "pdm.lock",
        "flake.lock",
    }
)
_GENERATED_NAMES = (
    "*.min.js",
    "*.min.css",
    "*_pb2.py",
    "*_pb2.pyi",
    "*_pb2_grpc.py",
    "*.pb.go",
    "*.pb.cc",
    "*.pb.h",
    "*.g.cs",
    "*.designer.cs",
    ".buildinfo",
    "objects.inv",
)
_GENERATED_HEADER = re.compile(
    rb"code generated .{0,200}do not edit|@generated\b|auto-?generated .{0,80}do not (edit|modify)",
    re.I,
)
_SNIFFED = frozenset({".js", ".mjs", ".cjs", ".css", ".ts", ".go", ".py", ".rs", ".java", ".cs"})
_SNIFF_BYTES = 4096
_MINIFIED_LINE = 500
"""Average line length (characters) above which JavaScript or CSS is taken as minified."""


def matches(source: str, patterns: Sequence[str]) -> bool:
    """fnmatch on the relative path; `**/x` also matches `x` at the top."""
    return _matching(source, patterns) is not None


def _matching(source: str, patterns: Sequence[str]) -> str | None:
    for pattern in patterns:
        if fnmatch.fnmatchcase(source, pattern):
            return pattern
        if pattern.startswith("**/") and fnmatch.fnmatchcase(source, pattern[3:]):
            return pattern
        # a bare name pattern (no slash) also matches the file name in any folder
        if "/" not in pattern and fnmatch.fnmatchcase(source.rsplit("/", 1)[-1], pattern):
            return pattern
    return None


def generated_reason(path: Path) -> str | None:
    """Why `path` looks generated (by its name or its first bytes), or None."""
    name = path.name.lower()
    if name in _LOCK_FILES:
        return "generated: a dependency lock file"
    pattern = next((p for p in _GENERATED_NAMES if fnmatch.fnmatchcase(name, p)), None)
    if pattern is not None:
        return f"generated: file name matches '{pattern}'"
    suffix = path.suffix.lower()
    if suffix not in _SNIFFED:
        return None
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return None  # reading it later reports the error
    if _GENERATED_HEADER.search(head[:1024]):
        return "generated: its header says it is generated (do not edit)"
    if suffix in (".js", ".mjs", ".cjs", ".css") and len(head) >= _SNIFF_BYTES // 2:
        lines = head.count(b"\n") + 1
        if len(head) / lines > _MINIFIED_LINE:
            return "generated: minified (very long lines)"
    return None


class _GitIgnores:
    """The `.gitignore` files that apply under an ingest root: those of the folders above it
    up to its repository's top (the folder holding `.git`), and those met while walking
    down, each applied below its own folder."""

    def __init__(self, root: Path) -> None:
        self._specs: list[tuple[str, GitIgnoreSpec]] = []
        self._outer: list[tuple[str, GitIgnoreSpec]] = []
        folder, inside = root, ""
        while folder.parent != folder and not (folder / ".git").exists():
            inside = f"{folder.name}/{inside}"
            folder = folder.parent
            spec = _load(folder)
            if spec is not None:
                self._outer.append((inside, spec))
        if not (folder / ".git").exists():
            self._outer = []  # not in a repository: the .gitignore files above do not apply

    def enter(self, folder: Path, relative: str) -> None:
        """Load `folder/.gitignore` (if any); `relative` is the folder's path from the root."""
        spec = _load(folder)
        if spec is not None:
            self._specs.append((f"{relative}/" if relative else "", spec))

    def ignored(self, source: str, *, folder: bool) -> bool:
        tail = "/" if folder else ""
        for inside, spec in self._outer:
            if spec.match_file(inside + source + tail):
                return True
        return any(
            source.startswith(prefix) and spec.match_file(source[len(prefix) :] + tail)
            for prefix, spec in self._specs
        )


def _load(folder: Path) -> GitIgnoreSpec | None:
    """The `.gitignore` of `folder` as a pathspec, or None when it has none (or unreadable)."""
    from pathspec import GitIgnoreSpec

    ignore = folder / ".gitignore"
    try:
        if not ignore.is_file():
            return None
        lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return GitIgnoreSpec.from_lines(lines)


def discover(
    paths: Sequence[Path],
    *,
    suffixes: frozenset[str],
    excludes: Sequence[str],
    includes: Sequence[str] = (),
    skipped: list[Skipped] | None = None,
) -> Iterator[SourceFile]:
    """Files under `paths` in a stable order; every file (or pruned folder) not taken is
    appended to `skipped` with its rule and reason. A file named directly is always taken
    (reading it reports an unsupported type)."""
    out: list[Skipped] = [] if skipped is None else skipped
    rules = not includes
    for given in paths:
        path = given.resolve()
        if path.is_file():
            yield SourceFile(path, path.parent, path.name)
            continue
        ignores = _GitIgnores(path) if rules else _GitIgnores(Path("/"))
        for dirpath, dirnames, filenames in os.walk(path):
            here = Path(dirpath)
            relative = here.relative_to(path).as_posix()
            relative = "" if relative == "." else relative
            if rules:
                ignores.enter(here, relative)
            dirnames[:] = _walked(here, sorted(dirnames), relative, ignores, out, rules=rules)
            for name in sorted(filenames):
                file = here / name
                source = f"{relative}/{name}" if relative else name
                found = _skip(file, source, suffixes, excludes, includes, ignores, rules=rules)
                if found is None:
                    yield SourceFile(file, path, source)
                elif found is not _NOT_INCLUDED:
                    out.append(found)


def _walked(
    here: Path,
    names: list[str],
    relative: str,
    ignores: _GitIgnores,
    out: list[Skipped],
    *,
    rules: bool,
) -> list[str]:
    """The subfolders to walk into; the others are listed in `out` once, with the reason."""
    kept = []
    for name in names:
        source = f"{relative}/{name}" if relative else name
        if (here / name).is_symlink():  # os.walk never follows one: say so
            out.append(
                Skipped(
                    f"{source}/",
                    "excluded",
                    "a symbolic link to a folder, not followed (ingest its target directly)",
                )
            )
            continue
        if not rules:
            kept.append(name)
            continue
        holds = VENDORED_DIRS.get(name.lower())
        if holds is None and (here / name / "pyvenv.cfg").is_file():
            holds = "a virtual environment"
        if holds is not None:
            out.append(
                Skipped(
                    f"{source}/",
                    "vendored",
                    f"{holds}, not walked (--include '{source}/**' to ingest it)",
                )
            )
        elif ignores.ignored(source, folder=True):
            out.append(Skipped(f"{source}/", "ignored", "ignored by .gitignore, not walked"))
        else:
            kept.append(name)
    return kept


_NOT_INCLUDED = Skipped("", "excluded", "matches no --include pattern")
"""Files outside the given includes: not listed (the user asked for the others only)."""


def _skip(
    file: Path,
    source: str,
    suffixes: frozenset[str],
    excludes: Sequence[str],
    includes: Sequence[str],
    ignores: _GitIgnores,
    *,
    rules: bool,
) -> Skipped | None:
    """Why `file` is not taken, or None when it is."""
    if includes and not matches(source, includes):
        return _NOT_INCLUDED
    pattern = _matching(source, excludes)
    if pattern is not None:
        return Skipped(source, "excluded", f"excluded by pattern '{pattern}'")
    if rules and ignores.ignored(source, folder=False):
        return Skipped(source, "ignored", "ignored by .gitignore")
    if rules:
        reason = generated_reason(file)
        if reason is not None:
            return Skipped(source, "generated", f"{reason}; --include it to ingest it")
    if rules and file.name.startswith("."):
        return Skipped(source, "excluded", "hidden file; --include it to ingest it")
    suffix = file.suffix.lower()
    if suffix not in suffixes and not (not suffix and _text_head(file)):
        kind = f"'{suffix}'" if suffix else "(no extension, not text)"
        return Skipped(source, "unsupported", f"unsupported file type {kind}")
    if _empty(file):
        return Skipped(source, "empty", "empty file")
    return None


_EMPTY_CHECK_BYTES = 4096


def _empty(file: Path) -> bool:
    """No bytes, or only whitespace (a blank `__init__.py`)."""
    try:
        size = file.stat().st_size
        if size > _EMPTY_CHECK_BYTES:
            return False
        return size == 0 or not file.read_bytes().strip()
    except OSError:
        return False  # reading it later reports the error


def _text_head(file: Path) -> bool:
    """True when a file without an extension (`LICENSE`, `Makefile`) starts as text: the
    readers take such files as plain text (or HTML)."""
    from cairn.ingest.readers import looks_binary

    try:
        with file.open("rb") as f:
            head = f.read(8192)
    except OSError:
        return True  # reading it later reports the error
    return not looks_binary(head)
