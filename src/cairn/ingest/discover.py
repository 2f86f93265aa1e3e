"""Finding the files to ingest under the given paths."""

from __future__ import annotations

import fnmatch
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path
    root: Path
    source: str
    """Path relative to `root`, with `/` separators."""


def matches(source: str, patterns: Sequence[str]) -> bool:
    """fnmatch on the relative path; `**/x` also matches `x` at the top."""
    for pattern in patterns:
        if fnmatch.fnmatchcase(source, pattern):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatchcase(source, pattern[3:]):
            return True
        # a bare name pattern (no slash) also matches the file name in any folder
        if "/" not in pattern and fnmatch.fnmatchcase(source.rsplit("/", 1)[-1], pattern):
            return True
    return False


def discover(
    paths: Sequence[Path],
    *,
    suffixes: frozenset[str],
    excludes: Sequence[str],
    includes: Sequence[str] = (),
    skipped: Counter[str] | None = None,
) -> Iterator[SourceFile]:
    """Files under `paths` in a stable order.

    A file is taken when its suffix is supported, it matches an include (if any are given)
    and it matches no exclude. (The caller drops the default excludes when includes are given,
    so an explicit include wins over them.) Files left out only because their type is not
    supported are counted by extension in `skipped` (`""` for none), so the caller can say so.
    """
    for given in paths:
        path = given.resolve()
        if path.is_file():
            yield SourceFile(path, path.parent, path.name)
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for name in sorted(filenames):
                file = Path(dirpath) / name
                source = file.relative_to(path).as_posix()
                if includes and not matches(source, includes):
                    continue
                if matches(source, excludes):
                    continue
                suffix = file.suffix.lower()
                if suffix not in suffixes:
                    if skipped is not None:
                        skipped[suffix] += 1
                    continue
                yield SourceFile(file, path, source)
