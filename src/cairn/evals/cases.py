"""Golden cases: the YAML format, its validation, and loading a folder of case files.

A case file is a YAML list of cases (see docs/evals.md):

    - id: dataclass-mutable-default
      question: "How do I give a dataclass field a list default?"
      expect: answer                 # answer | abstain | refuse
      gold:                          # omitted or empty for abstain / refuse
        match: any                   # any: one gold source suffices; all: every one is needed
        sources:
          - source: library/dataclasses.html
            anchor: mutable-default-values   # optional
      reference: "Use field(default_factory=list)."
      checkpoints: ["default_factory", "ValueError | mutable default"]
      tags: [how-to]
      history: ["..."]               # optional: earlier questions of a conversation

Errors name the file and the case id, so a typo in one of sixty cases is quick to find.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from cairn.errors import UserError

Expect = Literal["answer", "abstain", "refuse"]

KNOWN_TAGS: tuple[str, ...] = (
    "how-to",
    "concept",
    "api-lookup",
    "version-specific",
    "multi-hop",
    "unanswerable",
    "adversarial",
    "multi-turn",
)
"""The tags the golden set uses; others are accepted (reports group by any tag)."""

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class CaseError(UserError):
    """A case file is missing, unreadable or invalid; the message names the file and case."""


class GoldSource(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    source: str = Field(min_length=1)
    """Path relative to the ingest root, as in `Chunk.source` (e.g. `library/json.html`)."""
    anchor: str | None = None
    """Section anchor (`Chunk.anchor`); without one the whole document counts as the section."""

    @field_validator("source")
    @classmethod
    def _relative(cls, value: str) -> str:
        value = value.strip().replace("\\", "/")
        if value.startswith("/") or "://" in value:
            raise ValueError(
                f"source {value!r} must be relative to the ingest root (e.g. library/json.html)"
            )
        return value

    @field_validator("anchor")
    @classmethod
    def _anchor(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lstrip("#")
        return value or None

    @property
    def key(self) -> str:
        """`source#anchor` (or the source alone): the section-level identity."""
        return f"{self.source}#{self.anchor}" if self.anchor else self.source


class Gold(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    match: Literal["any", "all"] = "any"
    """`any`: the sources are alternatives, one suffices; `all`: each is needed (multi-hop)."""
    sources: tuple[GoldSource, ...] = ()


class Case(BaseModel):
    """One hand-written evaluation case."""

    model_config = {"extra": "forbid", "frozen": True}

    id: str
    question: str = Field(min_length=1)
    expect: Expect = "answer"
    gold: Gold | None = None
    reference: str = ""
    """A reference answer for humans and judges; not scored directly."""
    checkpoints: tuple[str, ...] = ()
    """Facts the answer must contain; alternatives split on ` | `, case-insensitive."""
    tags: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    """For a turn of a conversation: the user's earlier questions, oldest first. The runner
    asks `question` with them as history, so a follow-up is rewritten before retrieval
    (`cairn.conversation`); gold and checkpoints are this turn's."""
    file: str = ""
    """The file the case was loaded from (set by the loader, not written in YAML)."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(
                f"id {value!r} must be letters, digits, '-', '_', '.' or ':' (no spaces)"
            )
        return value

    @field_validator("gold", mode="before")
    @classmethod
    def _empty_gold(cls, value: Any) -> Any:
        return None if value in ({}, [], "") else value

    @field_validator("checkpoints", "tags", "history", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    @field_validator("checkpoints")
    @classmethod
    def _checkpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for checkpoint in value:
            if not any(alt.strip() for alt in checkpoint.split(" | ")):
                raise ValueError("a checkpoint must not be empty")
        return value

    @field_validator("history")
    @classmethod
    def _history(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not q.strip() for q in value):
            raise ValueError("a history question must not be empty")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t.strip().lower() for t in value if t.strip())

    @model_validator(mode="after")
    def _gold_matches_expect(self) -> Case:
        has_gold = self.gold is not None and bool(self.gold.sources)
        if self.expect == "answer" and not has_gold:
            raise ValueError(
                "expect: answer needs gold.sources (the documents that answer the question)"
            )
        if self.expect != "answer" and has_gold:
            raise ValueError(f"expect: {self.expect} cases take no gold sources; remove gold")
        return self

    @property
    def gold_sources(self) -> tuple[GoldSource, ...]:
        return self.gold.sources if self.gold is not None else ()

    @property
    def match(self) -> Literal["any", "all"]:
        return self.gold.match if self.gold is not None else "any"


def checkpoint_alternatives(checkpoint: str) -> list[str]:
    """`"ValueError | mutable default"` -> `["valueerror", "mutable default"]`."""
    return [alt.strip().lower() for alt in checkpoint.split(" | ") if alt.strip()]


def case_files(path: Path) -> list[Path]:
    """The case files at `path`: the file itself, or every `*.yaml` / `*.yml` in the folder."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    raise CaseError(f"no case file or folder at {path}: pass --cases PATH (default evals/golden)")


def load_cases(paths: Path | Sequence[Path]) -> list[Case]:
    """Every case under `paths`, in file then list order; duplicate ids are an error."""
    import yaml

    files = [f for p in ([paths] if isinstance(paths, Path) else paths) for f in case_files(p)]
    if not files:
        where = paths if isinstance(paths, Path) else ", ".join(str(p) for p in paths)
        raise CaseError(f"no *.yaml case files in {where}; add one (docs/evals.md)")
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise CaseError(f"{file}: cannot read ({exc})") from None
        except yaml.YAMLError as exc:
            raise CaseError(f"{file}: invalid YAML ({_yaml_where(exc)})") from None
        for case in parse_cases(data, str(file)):
            if case.id in seen:
                raise CaseError(
                    f"{file}: case {case.id!r} repeats an id already used in {seen[case.id]}"
                )
            seen[case.id] = str(file)
            cases.append(case)
    return cases


def parse_cases(data: object, file: str = "<cases>") -> list[Case]:
    """Validate one file's parsed YAML (a list of mappings, or nothing)."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise CaseError(f"{file}: expected a YAML list of cases ('- id: ...'), got a mapping")
    out: list[Case] = []
    for index, item in enumerate(data, start=1):
        label = f"case #{index}"
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            label = f"case {item['id']!r}"
        if not isinstance(item, dict):
            raise CaseError(f"{file}: {label}: expected a mapping with id, question, expect")
        if "file" in item:
            raise CaseError(f"{file}: {label}: 'file' is set by the loader; remove it")
        try:
            out.append(Case.model_validate({**item, "file": file}))
        except ValidationError as exc:
            raise CaseError(f"{file}: {label}: {_problems(exc)}") from None
    return out


def filter_cases(
    cases: Iterable[Case], *, tags: Sequence[str] = (), ids: Sequence[str] = ()
) -> list[Case]:
    """Cases carrying any of `tags` and (when given) whose id is in `ids`."""
    wanted = {t.lower() for t in tags}
    out = [c for c in cases if (not wanted or wanted & set(c.tags)) and (not ids or c.id in ids)]
    missing = [i for i in ids if i not in {c.id for c in out}]
    if missing:
        raise CaseError(f"no case with id {', '.join(missing)}")
    return out


def _problems(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _yaml_where(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)
