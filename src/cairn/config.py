"""All configuration in one validated object.

Sources, strongest first: explicit overrides (CLI flags), `CAIRN_*` environment variables
(nested with one `_`, e.g. `CAIRN_LLM_MODEL`, `CAIRN_CHUNK_TARGET_TOKENS`), the `cairn.toml`
file (`CAIRN_CONFIG`, else the workspace's, named by `--workspace DIR` or `CAIRN_WORKSPACE`,
else the current directory's), then defaults.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_EXCLUDES: tuple[str, ...] = (
    "_sources/*",
    "_static/*",
    "_images/*",
    "_downloads/*",
    "**/_sources/*",
    "**/_static/*",
    "**/_images/*",
    "**/_downloads/*",
    "genindex*",
    "search.html",
    "py-modindex.html",
    ".git/*",
    "**/.git/*",
    "node_modules/*",
    "**/node_modules/*",
)
"""Generated pages and build artefacts skipped by default (`--exclude` adds, `--include` wins)."""


class _Section(BaseModel):
    # the docstring under each field is its description (docs/configuration.md is built from it)
    model_config = {"extra": "forbid", "use_attribute_docstrings": True}


class ChunkSettings(_Section):
    target_tokens: int = Field(200, ge=16, le=2048)
    """Chunks are filled up to about this many tokens of the embedding model's tokenizer."""
    overlap_tokens: int = Field(32, ge=0, le=512)
    """Tokens of the previous chunk repeated at the start of the next one, within a section."""
    min_tokens: int = Field(24, ge=0)
    """A short trailing piece of a section is merged into its neighbour below this size."""

    @model_validator(mode="after")
    def _overlap_below_target(self) -> ChunkSettings:
        if self.overlap_tokens >= self.target_tokens:
            raise ValueError("chunk.overlap_tokens must be smaller than chunk.target_tokens")
        return self


class EmbedSettings(_Section):
    backend: Literal["minilm-onnx"] = "minilm-onnx"
    batch_size: int = Field(8, ge=1, le=1024)
    """Texts per model call; small batches of similar token counts are fastest on CPU
    (8: 2.9x the old fp32 batch-32 rate with int8, docs/benchmarks.md)."""
    max_tokens: int = Field(256, ge=16, le=512)
    """Texts are truncated to this many tokens before embedding (MiniLM's position limit is 512)."""
    threads: int = Field(0, ge=0)
    """onnxruntime intra-op threads; 0 means one per core."""
    precision: Literal["fp32", "int8"] = "int8"
    """The model variant: `int8` (dynamic quantisation, about 3x faster on CPUs with VNNI at
    unchanged retrieval quality) or `fp32`. Changing it re-embeds on the next ingest."""
    model_dir: Path | None = None
    """Where the exported ONNX model lives; default `~/.cache/cairn/models`."""


class IngestSettings(_Section):
    max_file_mb: float = Field(50.0, gt=0)
    """Files larger than this are refused with a clear error (raise it for big PDFs)."""
    excludes: tuple[str, ...] = DEFAULT_EXCLUDES
    near_duplicate_bits: int = Field(3, ge=0, le=16)
    """Chunks under the same last heading whose 64-bit SimHash differs in at most this many
    bits are near-duplicates (stored, not indexed); 0 disables."""


class StoreSettings(_Section):
    url: str | None = None
    """Where documents, chunks and embeddings live, by URL: `sqlite:///cairn.db` (a path
    relative to the workspace; `sqlite:////abs/path.db` for an absolute one), or
    `postgresql://user@host/db` (Postgres with pgvector, shared by replicas; the cost ledger,
    traces, API keys, ingest jobs, feedback, agent runs, conversations and evaluation runs
    move there too; `pip install 'cairn[postgres]'`; copy a workspace with `cairn migrate
    --to URL`). None: SQLite in the workspace folder (`cairn.db`)."""
    ann_threshold: int = Field(200_000, ge=0)
    """SQLite store: from this many indexed vectors of a model, dense search uses an
    approximate (HNSW) index saved next to the database (`cairn.db.ann/`, float16, kept up to
    date as documents change; `pip install 'cairn[ann]'`) instead of the exact in-memory
    scan (~1.5 GB and ~0.3 s a query at a million 384-d vectors). 0: always."""


class RedisSettings(_Section):
    url: str | None = None
    """`redis://host:port/db` (`CAIRN_REDIS_URL`): rate limits and the answer cache shared by
    every cairn process using it (`pip install 'cairn[redis]'`). None: each process keeps its
    rate limits in memory and the answer cache in the workspace (`cache.db`)."""


class RetrieveSettings(_Section):
    mode: Literal["lexical", "dense", "hybrid"] = "hybrid"
    k: int = Field(5, ge=1, le=1000)
    candidates: int = Field(100, ge=1, le=5000)
    """How many hits each retriever contributes to hybrid fusion."""
    fusion: Literal["convex", "rrf"] = "convex"
    alpha: float = Field(0.5, ge=0.0, le=1.0)
    """Weight of the dense score in convex fusion (1 - alpha goes to lexical)."""
    rrf_k: int = Field(60, ge=1)
    named_pages: bool = True
    """Bring the opening of the page of a module the query names ("What is the pwd module
    for?") into the hits when the ranking has it among its first 20 (`cairn.retrieve.
    pages`)."""


class GuardSettings(_Section):
    """Guardrails at the pipeline's stages (docs/guard.md). `off` runs nothing; `flag` lets
    the request through and marks the decision (trace, `guard` in the answer); `block`
    refuses with an abstention that reveals nothing (`refused: true`)."""

    input: Literal["off", "flag", "block"] = "block"
    """Prompt injection, jailbreak and system-prompt extraction in the question
    (`CAIRN_GUARD_INPUT`)."""
    output: Literal["off", "flag", "block"] = "block"
    """The answer: a copy of cairn's instructions is withheld under `block`; secrets are
    masked and links to other hosts neutralised under `flag` and `block`
    (`CAIRN_GUARD_OUTPUT`)."""
    allow_hosts: list[str] = Field(default_factory=list)
    """Hosts an answer may link to or embed images from (others are neutralised)."""
    ingest: Literal["off", "flag", "quarantine"] = "flag"
    """Every chunk is scanned for planted instructions at ingest and its risk stored: `flag`
    keeps a flagged chunk retrievable and marked, `quarantine` keeps it out of search until
    `cairn guard quarantine release` (`CAIRN_GUARD_INGEST`)."""
    context: Literal["off", "flag", "block"] = "flag"
    """Retrieved chunks are rescanned at query time: `flag` marks a flagged passage (a
    warning in the prompt, `risk` on hits and citations), `block` drops it from the prompt
    and the extractive answer (`CAIRN_GUARD_CONTEXT`)."""
    spotlight: Literal["delimit", "datamark"] = "delimit"
    """How passages are set off in the LLM prompt: `delimit` wraps each in a `<passage>`
    element; `datamark` also interleaves a marker between its words (flagged passages are
    always datamarked)."""
    pii: Literal["off", "mask", "redact"] = "off"
    """Personal data (e-mail, phone, card, IBAN, IP, national ids): `mask` (`j***@e***.com`)
    or `redact` (`[EMAIL_ADDRESS]`) it in answers, traces, logs and the answer cache, which
    then never stores a question holding any (`CAIRN_GUARD_PII`; needs the `pii` extra:
    pip install 'cairn[pii]'; see docs/guard.md)."""
    pii_placeholders: bool = False
    """Personal data in what is sent to a model (passages, question, history) is swapped for
    reversible placeholders (`<PERSON_1>`, `<EMAIL_ADDRESS_1>`) and restored in the answer,
    so it never reaches a hosted model; traces and logs keep the placeholders, and the answer
    cache stores no answer holding personal data (`CAIRN_GUARD_PII_PLACEHOLDERS`; needs the
    `pii` extra)."""


class AnswerSettings(_Section):
    max_sentences: int = Field(4, ge=1, le=20)
    max_sources: int = Field(3, ge=1, le=20)
    abstain_threshold: float = Field(0.41, ge=0.0, le=1.0)
    """With `abstention = "similarity"`: abstain when the best chunk's dense similarity to
    the question is below this."""
    abstention: Literal["evidence", "similarity"] = "evidence"
    """How the extractive answerer decides that the documents do not answer: `evidence`, an
    answerability model over the best sentences' scores, the chunks' relevance and the
    question's terms the chunks lack (trained and calibrated on training data only,
    bench/train_answerer.py); `similarity`, the best chunk's similarity alone."""
    answerable_threshold: float | None = Field(None, ge=0.0, le=1.0)
    """With `abstention = "evidence"`: abstain below this answerability probability; unset,
    the threshold calibrated with the shipped model (docs/benchmarks.md, "Extractive
    answers")."""
    absent_names: bool = True
    """Abstain on a question about a qualified name (`Path.walk`, `sys.monitoring`) that no
    retrieved passage mentions while they document its qualifier (`pathlib.Path`, `sys`),
    and that a lexical look-up of the name (under the request's filters) does not find
    either: the documents do not describe it, however close the passages about its
    neighbours are (`cairn.answer.absent`; also withholds a model's answer to it). The same
    for a numbered reference ("PEP 701", "RFC 9110") that documents citing others of its
    series never cite."""
    sentence_margin: float = Field(1.5, ge=0.0, le=20.0)
    """The extractive answer quotes the best sentence and the next ones whose score (a
    logit) is within this margin of it."""
    lead_margin: float | None = Field(None, ge=0.0, le=20.0)
    """The margin for the next sentences of the chunk the best sentence comes from (unset:
    `sentence_margin`)."""
    verify_policy: Literal["flag", "remove"] = "flag"
    """Unsupported sentences: `flag` keeps them (citation `verified: false`), `remove` drops
    them (see docs/benchmarks.md, "Citation verification")."""
    fallback: Literal["extractive", "error"] = "extractive"
    """When the model cannot serve a request (provider down after retries and fallbacks,
    circuit open, budget or rate limit refused): `extractive` answers with the extractive
    answerer, cited and verified, marked `degraded` (it spends nothing); `error` fails the
    request (HTTP 503, or the budget's 402, with `Retry-After` where known). See
    docs/api.md, "Degraded mode"."""
    attribute: bool = True
    """A model's answer: cite each sentence by the passage that supports it, whatever
    markers the model wrote (none, lumped at the end, numbers it was not given); a sentence
    no passage supports is left uncited and flagged (see docs/llm.md, "Post-hoc
    attribution"). `false` keeps the model's markers, and an answer without any abstains."""
    withhold_unsupported: bool = True
    """A model's answer in which no sentence is supported by any passage is withheld (the
    "not found" abstention, with the reason on the trace); `false` shows it, flagged. With
    `abstention = "evidence"`, so is one whose passages do not answer the question (the
    answerability model, `evidence_scope`)."""
    evidence_scope: Literal["given", "cited"] = "given"
    """With a model, the passages the answerability model judges once attribution has cited
    the answer (`abstention = "evidence"` and `withhold_unsupported`): `given`, every passage
    the model was given; `cited`, only those the answer's supported sentences cite
    (stricter, withholds more correct answers)."""
    context_tokens: int = Field(2000, ge=100, le=200_000)
    """Passages given to a model: filled by rank within this many tokens, overlapping or
    adjacent chunks of a document merged, a passage cut mid-answer given its neighbouring
    chunk (see docs/llm.md, "Context assembly")."""
    history_tokens: int = Field(1024, ge=32, le=100_000)
    """A conversation's history read to make a follow-up question standalone is kept within
    this many tokens: older turns are folded into a summary of their key terms, then
    dropped (see docs/api.md, "Conversations")."""


class RerankSettings(_Section):
    """The rerank stage (docs/rerank.md): reorders the retrieved candidates before the first
    `retrieve.k` are kept."""

    backend: Literal["off", "llm", "cross-encoder"] = "off"
    """`off`: the retriever's order; `llm`: one listwise call to the model of the `rerank`
    task (needs `llm.provider`; metered under the feature `rerank`); `cross-encoder`: an ONNX
    cross-encoder you supply in `model_path` (no package ships one)."""
    depth: int = Field(20, ge=1, le=200)
    """Candidates retrieved and reranked per question (at least `retrieve.k`)."""
    passage_tokens: int = Field(128, ge=16, le=4096)
    """`llm`: each passage is cut to about this many tokens in the ranking prompt."""
    model_path: Path | None = None
    """`cross-encoder`: the folder holding `model.onnx` and `tokenizer.json`."""
    max_tokens: int = Field(256, ge=16, le=4096)
    """`cross-encoder`: each (question, passage) pair is truncated to this many tokens."""
    batch_size: int = Field(16, ge=1, le=1024)
    """`cross-encoder`: pairs scored per model run."""
    threads: int = Field(0, ge=0)
    """`cross-encoder`: onnxruntime intra-op threads (0: its default)."""

    @model_validator(mode="after")
    def _model_path_for_cross_encoder(self) -> RerankSettings:
        if self.backend == "cross-encoder" and self.model_path is None:
            raise ValueError(
                "rerank.backend = 'cross-encoder' needs rerank.model_path (a folder with "
                "model.onnx and tokenizer.json)"
            )
        return self


class LLMRoute(_Section):
    """A model for one task (`answer`, `rewrite`, `judge`, `agent`); unset fields inherit."""

    provider: Literal["openai", "anthropic"] | None = None
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = Field(None, repr=False)
    fallback_models: list[str] | None = None
    """None = inherit `llm.fallback_models`."""


class LLMSettings(_Section):
    """The language model, when one is used (`extractive` needs none); see docs/llm.md."""

    provider: Literal["extractive", "openai", "anthropic"] = "extractive"
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = Field(None, repr=False)
    price_input_per_mtok: float | None = None
    price_output_per_mtok: float | None = None
    price_cache_read_per_mtok: float | None = None
    """Price of prompt tokens read from the provider's prompt cache (US dollars per million);
    unset: the price map's, or the input price when the input price is configured."""
    price_cache_write_per_mtok: float | None = None
    """Price of prompt tokens written to the provider's prompt cache; unset as above."""
    timeout_s: float = Field(60.0, gt=0)
    """Deadline per model, retries included."""
    connect_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(30.0, gt=0)
    """Time to the first token and between tokens."""
    retries: int = Field(2, ge=0, le=10)
    retry_base_delay_s: float = Field(0.5, ge=0)
    max_retry_after_s: float = Field(30.0, ge=0)
    breaker_threshold: int = Field(5, ge=1)
    breaker_reset_s: float = Field(30.0, gt=0)
    max_tokens: int | None = Field(None, ge=1)
    """Output limit per answer; budgets reserve for it (default 1024 when unset)."""
    temperature: float | None = Field(None, ge=0, le=2)
    fallback_models: list[str] = Field(default_factory=list)
    """Tried in order when the main model fails: "model" or "provider:model"."""
    routes: dict[str, LLMRoute] = Field(default_factory=dict)
    """Per-task models, e.g. a cheap `judge` and `rewrite` model and a strong `answer` one."""
    prompt_cache: Literal["auto", "all", "off"] = "auto"
    """Provider prompt caching. `auto`: Anthropic requests mark the stable prefix (tools,
    system instructions) with a `cache_control` breakpoint, and the last turn of a
    conversation that goes on (an agent loop); OpenAI caches stable prefixes by itself.
    `all`: also the last turn of every request (pays Anthropic's write premium on each; for
    traffic whose requests extend one another). `off`: no breakpoints. See docs/costs.md,
    "Prompt caching"."""


class RouterSettings(_Section):
    """Routing by difficulty: which model answers each request (docs/costs.md, "Routing")."""

    mode: Literal["off", "difficulty"] = "off"
    """`off`: the `answer` model answers everything. `difficulty`: confident, verified
    extractive answers need no model, single-source lookups go to the cheap model,
    multi-hop or low-confidence questions to the strong (`answer`) model."""
    cheap_route: str = "cheap"
    """The `[llm.routes]` entry of the cheap model (e.g. `[llm.routes.cheap] model =
    "gpt-4o-mini"`)."""
    extractive: bool = True
    """Answer without a model when the extractive answer is confident and fully verified."""
    escalate: bool = True
    """A cheap model's answer that abstains or has no verified citation, or a cheap model that
    cannot serve, is replaced by the strong model's (route `escalated`); the cheap answer is
    then checked whole before it is sent, so a stream starts when it is done."""
    extractive_confidence: float = Field(0.7, ge=0.0, le=1.0)
    """Best dense similarity (or fused score) from which the extractive answer is tried."""
    min_confidence: float = Field(0.45, ge=0.0, le=1.0)
    """Below this best similarity the question goes to the strong model."""
    max_sources_cheap: int = Field(1, ge=1)
    """Evidence from more distinct sources than this (among the near-top hits) is multi-hop:
    the strong model answers."""
    near_share: float = Field(0.9, gt=0.0, le=1.0)
    """A hit counts as near-top when its score is at least this share of the best score."""


class ShadowSettings(_Section):
    """Shadow A/B: a share of requests also goes to a candidate model, after the answer is
    sent; both are scored and stored for `cairn eval shadow` (docs/costs.md, "Shadow A/B")."""

    fraction: float = Field(0.0, ge=0.0, le=1.0)
    """Share of answered requests also sent to the candidate (0 = off)."""
    route: str = "shadow"
    """The `[llm.routes]` entry of the candidate model."""
    judge: bool = False
    """Also score both answers with the `judge` model (spent under feature `shadow`)."""
    seed: int | None = None
    """Fixes the sampling (tests, benchmarks); None = random."""


class BudgetSettings(_Section):
    """Hard spending limits in US dollars (None = no limit); see docs/costs.md."""

    request_usd: Decimal | None = Field(None, ge=0)
    daily_usd: Decimal | None = Field(None, ge=0)
    """Global daily limit, all users and tenants together."""
    monthly_usd: Decimal | None = Field(None, ge=0)
    user_daily_usd: Decimal | None = Field(None, ge=0)
    user_monthly_usd: Decimal | None = Field(None, ge=0)
    tenant_daily_usd: Decimal | None = Field(None, ge=0)
    tenant_monthly_usd: Decimal | None = Field(None, ge=0)
    alert_thresholds: tuple[int, ...] = (50, 80, 100)
    """Percentages of each limit at which an alert fires (once per period and limit)."""
    alert_webhook_url: str | None = Field(None, repr=False)
    alert_webhook_timeout_s: float = Field(5.0, gt=0)
    reservation_ttl_s: float = Field(900.0, gt=0)
    """A reservation never settled (crashed process) is charged its worst case after this."""


class ServerSettings(_Section):
    """`cairn serve`: the HTTP API, the OpenAI-compatible endpoint and the web UI."""

    host: str = "127.0.0.1"
    port: int = Field(8321, ge=1, le=65535)
    auth: Literal["local", "keys"] = "local"
    """`local`: one user, no API key (bind to loopback only); `keys`: every request needs a
    key created with `cairn keys create`."""
    cors_origins: tuple[str, ...] = ()
    max_request_mb: float = Field(25.0, gt=0)
    """Largest request body (uploads included)."""
    request_timeout_s: float = Field(60.0, gt=0)
    rate_limit_per_minute: int = Field(120, ge=0)
    """Token-bucket refill per API key (0 disables rate limiting)."""
    rate_limit_burst: int = Field(30, ge=1)
    job_lease_s: float = Field(60.0, ge=1.0)
    """How long an ingest job stays its server's without a heartbeat (renewed every third of
    it): after a crash, another replica takes the job over once this has passed."""
    check_llm_at_start: bool = False
    """At start, check that the model's endpoint answers by listing its models (`GET
    /models`: free, no tokens). A failure is logged and shown by `/readyz` (`llm:
    unavailable`); it never stops the start. Off: nothing is sent to the provider at start."""


class TraceSettings(_Section):
    store: bool = True
    """Keep traces in the workspace database."""
    prompts: Literal["full", "redacted", "none"] = "redacted"
    """How prompts and answers are stored in spans (`redacted` masks PII-like strings)."""
    otlp_endpoint: str | None = None
    """OTLP/HTTP endpoint (e.g. http://127.0.0.1:4318) to export spans to; none = no export."""
    service_name: str = "cairn"


class CacheSettings(_Section):
    """The answer cache (`cache.db`); see docs/benchmarks.md, "Answer cache"."""

    exact: bool = True
    semantic: bool = False
    """Also reuse answers of rephrased questions (implies exact)."""
    semantic_threshold: float = Field(0.89, ge=0.0, le=1.0)
    ttl_s: float | None = Field(86_400.0, gt=0)
    """None = until the corpus or the settings change."""
    max_entries: int = Field(10_000, ge=1)


class McpSettings(_Section):
    """cairn as an MCP server (docs/mcp.md): `cairn mcp serve`, and `/mcp` in `cairn serve`."""

    mount: bool = True
    """Serve the MCP endpoint at `/mcp` in `cairn serve` (same keys and tenants as the API;
    needs the `mcp` extra)."""


class McpServerSettings(_Section):
    """One MCP server whose tools the agent may use (`[[agent.mcp_servers]]`)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$")
    """Names its tools for the model: `<name>_<tool>`."""
    command: str | None = None
    """Start the server as a subprocess speaking MCP over stdio (e.g. `mcp-server-time`)."""
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict, repr=False)
    """Environment variables for the subprocess (on top of a minimal safe environment)."""
    url: str | None = None
    """Or reach it over streamable HTTP at this URL."""
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    """HTTP headers to send (e.g. `Authorization`)."""
    side_effect: Literal["none", "write", "external"] = "external"
    """What its tools do, unless `read_only` names them: an unknown tool may act on the world."""
    read_only: list[str] = Field(default_factory=list)
    """Tools (by their MCP name) that only read: side effect `none`."""
    idempotent: list[str] = Field(default_factory=list)
    """Tools that are safe to call again after a crash mid-call (none by default)."""
    policies: dict[str, Literal["always", "ask", "deny"]] = Field(default_factory=dict)
    """Policy per tool (by its MCP name); default: `always` for read-only tools, else `ask`."""
    tools: list[str] | None = None
    """Only these tools (by MCP name); None: all the server lists."""
    timeout_s: float = Field(60.0, gt=0)
    """Longest wait for the server to start or a call to return."""

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSettings:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"MCP server {self.name!r}: give exactly one of command or url")
        return self


AgentPolicy = Literal["always", "ask", "deny"]


class AgentSettings(_Section):
    """Agent runs (`cairn agent`): tool policies and the action tools' servers; see
    docs/agents.md."""

    policies: dict[str, AgentPolicy] = Field(default_factory=dict)
    """Policy per tool, e.g. `{send_email = "ask", search_docs = "always"}`; a tool not named
    here runs if it only reads and asks a human if it has a side effect."""
    tenant_policies: dict[str, dict[str, AgentPolicy]] = Field(default_factory=dict)
    """Policy per tenant and tool (wins over `policies`), e.g.
    `{acme = {create_issue = "deny"}}`."""
    smtp_host: str | None = None
    """SMTP server for `send_email` (unset: no e-mail tool)."""
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_sender: str = "cairn@localhost"
    """The `From:` address; its domain ends every Message-ID the tool makes."""
    smtp_username: str | None = None
    smtp_password: str | None = Field(None, repr=False)
    smtp_starttls: bool = False
    caldav_url: str | None = None
    """The CalDAV calendar collection for `free_slots` and `create_event` (unset: no
    calendar tools), e.g. http://127.0.0.1:5232/alice/work/."""
    caldav_username: str | None = None
    caldav_password: str | None = Field(None, repr=False)
    tracker_url: str | None = None
    """A Roundup issue tracker (its REST API) for `create_issue` (unset: no tracker tool)."""
    tracker_username: str | None = None
    tracker_password: str | None = Field(None, repr=False)
    timeout_s: float = Field(20.0, gt=0)
    """Deadline of each action tool's network call."""
    mcp_servers: list[McpServerSettings] = Field(default_factory=list)
    """MCP servers whose tools the agent may use: `[[agent.mcp_servers]]` tables with `name`
    and `command`/`args` or `url` (fields in docs/mcp.md)."""


def _default_workspace() -> Path:
    return Path(".cairn")


class Settings(BaseSettings):
    """The effective configuration of one cairn process."""

    model_config = SettingsConfigDict(
        env_prefix="CAIRN_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
    )

    workspace: Path = Field(default_factory=_default_workspace)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    retrieve: RetrieveSettings = Field(default_factory=RetrieveSettings)
    rerank: RerankSettings = Field(default_factory=RerankSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    router: RouterSettings = Field(default_factory=RouterSettings)
    shadow: ShadowSettings = Field(default_factory=ShadowSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    trace: TraceSettings = Field(default_factory=TraceSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        flag = getattr(init_settings, "init_kwargs", {}).get("workspace")
        toml = _config_file(Path(flag) if flag is not None else None)
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @property
    def config_file(self) -> Path | None:
        """The `cairn.toml` these settings were read from, if any."""
        return _config_file(self.workspace)

    @property
    def model_dir(self) -> Path:
        if self.embed.model_dir is not None:
            return self.embed.model_dir
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "cairn" / "models"


def _config_file(workspace: Path | None = None) -> Path | None:
    """`CAIRN_CONFIG`, else the workspace's `cairn.toml`, else `./cairn.toml`.

    The workspace is the one given as a flag (`--workspace DIR`), else `CAIRN_WORKSPACE`,
    else the default; both ways of naming it read the same file.
    """
    explicit = os.environ.get("CAIRN_CONFIG")
    if explicit:
        return Path(explicit)
    if workspace is None:
        named = os.environ.get("CAIRN_WORKSPACE")
        workspace = Path(named) if named else _default_workspace()
    candidates = [workspace / "cairn.toml", Path("cairn.toml")]
    return next((c for c in candidates if c.is_file()), None)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; raise `ConfigError` with every problem listed and how to fix it."""
    from pydantic import ValidationError

    from cairn.errors import ConfigError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        flag = overrides.get("workspace")
        where = _config_file(Path(flag) if flag is not None else None)
        hint = (
            f" (check {where} and CAIRN_* environment variables)"
            if where
            else (" (check CAIRN_* environment variables)")
        )
        raise ConfigError(f"invalid configuration: {problems}{hint}") from exc
