"""The value types that travel through cairn: documents, chunks, hits, citations, answers.

They are plain frozen dataclasses so any stage (and any test) can build them by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["text", "code", "table", "list"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Block:
    """One structural unit of a parsed document, in reading order."""

    kind: BlockKind
    """`code` and `table` blocks are never split by the chunker."""
    text: str
    section: tuple[str, ...] = ()
    """Heading path above this block, outermost first (the title is not repeated)."""
    anchor: str | None = None
    """Id of the nearest heading (or element) above, for `uri#anchor` links."""
    page: int | None = None
    """1-based page number, for paginated formats such as PDF."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ParsedDocument:
    """What a format reader extracts from one file: a title and ordered blocks."""

    title: str
    blocks: tuple[Block, ...]
    doc_type: str
    """`html`, `sphinx`, `markdown`, `pdf`, `text`, `notion`, `confluence`, `csv`, `docx`,
    `pptx`, `xlsx`, `email`."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    """What of the file could not be read while the rest was (a damaged PDF page, an
    unreadable e-mail attachment): shown in the ingest summary, never dropped silently."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Document:
    """A stored document: one source file."""

    id: str
    source: str
    """Path relative to the ingest root, with `/` separators (e.g. `library/dataclasses.html`)."""
    uri: str
    """Where the original lives (`file:///...`)."""
    title: str
    doc_type: str
    content_hash: str
    """Hash of the raw file bytes; an unchanged hash means the file is skipped on re-ingest."""
    text: str = ""
    """The extracted text that chunk offsets point into."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    acl: tuple[str, ...] = ()
    """Principals allowed to read the document; empty means everyone."""


@dataclass(frozen=True, slots=True)
class Risk:
    """How likely a text is a prompt injection (`cairn.guard`): `score` in [0, 1] (0.5 at the
    detector's threshold), `flagged`, and why (rule names, `model:injection`, evasions)."""

    score: float
    flagged: bool
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"score": self.score, "flagged": self.flagged, "reasons": list(self.reasons)}


NO_RISK = Risk(score=0.0, flagged=False, reasons=())


@dataclass(frozen=True, kw_only=True, slots=True)
class Chunk:
    """A retrievable span of a document."""

    id: str
    doc_id: str
    ordinal: int
    text: str
    section: tuple[str, ...]
    anchor: str | None
    start: int
    """Character offset of the chunk in `Document.text` (inclusive)."""
    end: int
    """Character offset of the chunk in `Document.text` (exclusive)."""
    token_count: int
    hash: str
    """Content hash of the normalised chunk text; keys the embedding cache."""
    page: int | None = None
    # Denormalised from the document so a hit is self-describing.
    source: str = ""
    uri: str = ""
    title: str = ""
    risk: Risk | None = None
    """Its injection risk as scanned at ingest (or rescanned since; by a context guard at
    query time); None when it was never scanned."""

    @property
    def section_path(self) -> str:
        return " > ".join(self.section)

    @property
    def anchored_uri(self) -> str:
        return f"{self.uri}#{self.anchor}" if self.anchor else self.uri


@dataclass(frozen=True, kw_only=True, slots=True)
class Hit:
    """A chunk returned by a retriever, with its score and the scores that made it."""

    chunk: Chunk
    score: float
    lexical: float | None = None
    dense: float | None = None

    @property
    def risk(self) -> Risk | None:
        """The chunk's injection risk (`Chunk.risk`)."""
        return self.chunk.risk


@dataclass(frozen=True, slots=True)
class Ranked:
    """A chunk id in a ranking, with its score and the scores that made it.

    Retrievers rank and fuse ids; only the final `k` are fetched as `Hit`s with their text.
    """

    chunk_id: str
    score: float
    lexical: float | None = None
    dense: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Filters:
    """Metadata filters applied inside the store query."""

    source_globs: tuple[str, ...] = ()
    """Keep chunks whose source matches any of these globs (fnmatch syntax)."""
    doc_types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    """Keep chunks whose document carries all of these tags."""
    principals: tuple[str, ...] | None = None
    """The caller's principals; `None` means no ACL check (local single-user mode)."""
    languages: tuple[str, ...] = ()
    """Keep chunks of documents in any of these languages (`metadata.language`: source code
    and notebooks, e.g. `python`, `rust`)."""
    date_from: str | None = None
    """Keep documents dated on or after this ISO date (`metadata.date`, e.g. a PDF's)."""
    date_to: str | None = None
    """Keep documents dated on or before this ISO date (`YYYY-MM-DD`, the day included)."""

    @property
    def empty(self) -> bool:
        return (
            not (self.source_globs or self.doc_types or self.tags or self.languages)
            and self.date_from is None
            and self.date_to is None
            and self.principals is None
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Citation:
    """An `[n]` marker in an answer resolved to the chunk and span it cites."""

    n: int
    chunk_id: str
    source: str
    uri: str
    section: str
    quote: str
    verified: bool | None = None
    """True when the cited chunk was checked to support the sentence."""
    support: float | None = None
    risk: Risk | None = None
    """The cited chunk's injection risk (`Chunk.risk`, as the context guard last scanned it);
    a flagged source is shown with a warning."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Usage:
    input_tokens: int = 0
    """Every prompt token, cached or not."""
    output_tokens: int = 0
    estimated: bool = False
    cache_read_tokens: int = 0
    """Prompt tokens the provider read from its prompt cache (part of `input_tokens`)."""
    cache_write_tokens: int = 0
    """Prompt tokens the provider wrote to its prompt cache (part of `input_tokens`)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Degraded:
    """Why an answer came from the fallback answerer instead of the model."""

    reason: str
    """`unavailable` (provider down after retries and fallbacks), `circuit_open`,
    `budget_exhausted` (a budget limit refused the call) or `rate_limited`."""
    detail: str
    """The model's or the budget's error message."""
    retry_after: float | None = None
    """Seconds after which the model may serve again, where known."""
    caller_only: bool = False
    """A budget refusal by one caller's limit (a user's, a tenant's) or by the per-request
    cap: the model still serves others."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Route:
    """The router's decision for one request (`cairn.answer.router`): the route that
    answered (`extractive`, `cheap`, `strong`), why, and the signals it read."""

    route: str
    reason: str = ""
    signals: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class GuardDecisions:
    """What each guard stage decided for one request: `off` (no guard), `pass`, `flagged`
    (let through and marked) or `blocked` (the request was refused)."""

    input: str = "off"
    context: str = "off"
    output: str = "off"
    reason: str = ""
    """Why a guard blocked or flagged (its reason code, e.g. `input:rule:ignore-instructions`)."""

    @property
    def refused(self) -> bool:
        return "blocked" in (self.input, self.context, self.output)


@dataclass(frozen=True, kw_only=True, slots=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    trace_id: str = ""
    hits: tuple[Hit, ...] = ()
    cached: bool = False
    """True when served from the answer cache (usage and cost are then zero)."""
    degraded: Degraded | None = None
    """Set when the model could not serve and the fallback answerer (`answer.fallback`)
    answered instead."""
    guard: GuardDecisions = field(default_factory=GuardDecisions)
    """The guard stages' decisions; a refused request has `abstained` and `guard.refused`."""
    query: str | None = None
    """The standalone query answered, when a question with history was rewritten."""
    route: Route | None = None
    """The router's decision (`router.mode = "difficulty"`); None without a router."""
