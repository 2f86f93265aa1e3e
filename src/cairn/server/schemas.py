"""Request bodies (validated) and response shapes (documented in the OpenAPI schema).

Answers and search results are the payload models of `cairn.payloads`, shared with the
CLI, so `POST /v1/ask` returns exactly what `cairn ask --json` prints; the other response
models below describe the rest of the API for `/openapi.json`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cairn.payloads import RiskOut

Mode = Literal["lexical", "dense", "hybrid"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskRequest(_Body):
    question: str = Field(min_length=1, max_length=4000)
    k: int | None = Field(None, ge=1, le=50, description="Chunks to read (default retrieve.k).")
    mode: Mode | None = Field(None, description="Retrieval mode (default retrieve.mode).")
    stream: bool = Field(False, description="Answer as Server-Sent Events.")


class SearchRequest(_Body):
    query: str = Field(min_length=1, max_length=4000)
    k: int | None = Field(None, ge=1, le=100, description="Results (default retrieve.k).")
    mode: Mode | None = None


class FeedbackRequest(_Body):
    trace_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=4000)


class EvalRunRequest(_Body):
    cases: str = Field(
        "evals/golden",
        max_length=500,
        description="Case file or folder, relative to the server's working directory.",
    )
    mode: Mode | None = None
    k: int | None = Field(None, ge=1, le=100)
    epochs: int = Field(1, ge=1, le=10)
    tags: list[str] = Field(default_factory=list, max_length=50)
    include_drafts: bool = False


# -- responses ---------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    type: str
    message: str
    detail: Any = None


class ErrorOut(BaseModel):
    error: ErrorDetail


class ChunkOut(BaseModel):
    chunk_id: str
    doc_id: str
    source: str
    uri: str
    title: str
    section: str
    text: str
    start: int
    end: int
    risk: RiskOut | None = None
    """The chunk's injection risk as last scanned (null: never scanned)."""


class QuarantinedOut(BaseModel):
    """A chunk kept out of search as possible prompt injection."""

    chunk_id: str
    doc_id: str
    source: str
    section: str
    text: str
    risk: RiskOut | None = None


class ReleasedOut(BaseModel):
    chunk_id: str
    released: bool


class DocumentOut(BaseModel):
    id: str
    source: str
    title: str
    doc_type: str
    chunks: int


class DeletedOut(BaseModel):
    id: str
    deleted: bool


class JobFailure(BaseModel):
    path: str
    reason: str


class JobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    files: list[str]
    done: int
    failed: int
    chunks: int
    flagged: int = 0
    """Chunks the ingest scan flagged as possible prompt injection (`guard.ingest`),
    quarantined ones included."""
    quarantined: int = 0
    """Flagged chunks kept out of search until an admin releases them."""
    failures: list[JobFailure]
    error: str | None


class FeedbackOut(BaseModel):
    id: str
    trace_id: str
    rating: Literal["up", "down"]
    comment: str | None
    user: str | None
    created_at: str


class TraceSummary(BaseModel):
    trace_id: str
    name: str
    started_at: str
    duration_ms: float
    status: Literal["ok", "error"]
    attributes: dict[str, Any]


class SpanOut(BaseModel):
    span_id: str
    parent_id: str | None
    name: str
    start_ms: float = Field(description="Milliseconds since the start of the trace.")
    duration_ms: float
    status: Literal["ok", "error"]
    attributes: dict[str, Any]


class TraceOut(TraceSummary):
    spans: list[SpanOut]
