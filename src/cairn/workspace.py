"""Building the pieces of a workspace (store, embedder, retriever, answerer) from settings."""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cairn.config import Settings
from cairn.embed.minilm import MiniLMEmbedder
from cairn.pipeline import Pipeline
from cairn.stages import (
    ContextGuard,
    GuardVerdict,
    InputGuard,
    LedgerSettler,
    OutputGuard,
    Reranker,
)
from cairn.store.base import Store
from cairn.store.open import DB_FILE, open_store, sqlite_path

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from cairn.answer.assembly import ContextAssembler
    from cairn.answer.attribute import Attributor
    from cairn.answer.base import Answerer, Draft
    from cairn.answer.evidence import EvidenceCheck
    from cairn.answer.generative import GenerativeAnswerer
    from cairn.answer.prompt import PromptParts
    from cairn.answer.router import Router
    from cairn.answer.verify import CitationVerifier, Verifier
    from cairn.budget.reservations import Budget
    from cairn.cache import AnswerCache
    from cairn.guard.detector import InjectionDetector
    from cairn.guard.leaks import Canary
    from cairn.guard.pii import PIIDetector
    from cairn.guard.surfaces import Scrub
    from cairn.llm.base import Provider
    from cairn.retrieve.base import Retriever
    from cairn.shadow import ShadowStage, ShadowStore
    from cairn.types import Chunk, Hit, Risk


class Workspace:
    """One workspace folder: configuration and, by default, the store (`cairn.db`, SQLite;
    `store.url` may put it elsewhere). Components load lazily."""

    def __init__(self, settings: Settings, *, create: bool = False) -> None:
        self.settings = settings
        self.create = create
        self._providers: list[Provider] = []
        self._stages: list[ShadowStage] = []

    @property
    def root(self) -> Path:
        return self.settings.workspace

    @property
    def db_path(self) -> Path:
        """The store's SQLite file (where the workspace's store is SQLite)."""
        return sqlite_path(self.settings) or self.root / DB_FILE

    @cached_property
    def store(self) -> Store:
        return open_store(self.settings, create=self.create)

    @cached_property
    def embedder(self) -> MiniLMEmbedder:
        e = self.settings.embed
        return MiniLMEmbedder(
            self.settings.model_dir,
            max_tokens=e.max_tokens,
            batch_size=e.batch_size,
            threads=e.threads,
            precision=e.precision,
        )

    @cached_property
    def budget(self) -> Budget:
        """The workspace's ledger and limits (`ledger.db`)."""
        from cairn.budget.reservations import Budget

        self.root.mkdir(parents=True, exist_ok=True)
        return Budget.from_settings(self.settings)

    @cached_property
    def answer_cache(self) -> AnswerCache | None:
        """The workspace's answer cache (`cache.db`, or Redis when `redis.url` is set), or
        None when switched off."""
        from cairn.cache import open_answer_cache

        c = self.settings.cache
        self.root.mkdir(parents=True, exist_ok=True)
        cache = open_answer_cache(
            self.root,
            exact=c.exact,
            semantic=c.semantic,
            semantic_threshold=c.semantic_threshold,
            ttl_s=c.ttl_s,
            max_entries=c.max_entries,
            embedder=self.embedder if c.semantic else None,
            url=self.settings.redis.url,
        )
        if cache is not None and self.pii is not None:
            from cairn.guard.surfaces import PIIAnswerCache

            detector, scrub = self.pii
            cache = PIIAnswerCache(cache, detector, scrub)
        if cache is not None and self.placeholders is not None:
            from cairn.guard.placeholders import PlaceholderAnswerCache

            cache = PlaceholderAnswerCache(cache, self.placeholders)
        return cache

    def provider(self, task: str = "answer", model: str | None = None) -> Provider | None:
        """The metered model for `task` (`None` in extractive mode); `model` overrides
        `llm.model` for this call."""
        from cairn.budget.providers import metered_provider

        llm = self.settings.llm
        if model is not None:
            llm = llm.model_copy(update={"model": model})
        provider = metered_provider(llm, task, self.budget)
        if provider is not None:
            self._providers.append(provider)
            if self.placeholders is not None:  # the model sees <PERSON_1>, not the name
                from cairn.guard.placeholders import PlaceholderProvider

                provider = PlaceholderProvider(provider, self.placeholders)
        return provider

    def retriever(self, mode: str | None = None) -> Retriever:
        from cairn.embed.variants import NAMES
        from cairn.ingest.embedded import check_embedded_with
        from cairn.retrieve.hybrid import build_retriever

        check_embedded_with(self.store, self.embedder.name, list(NAMES.values()))
        return build_retriever(self.store, self.embedder, self.settings.retrieve, mode)

    def pipeline(
        self,
        mode: str | None = None,
        *,
        model: str | None = None,
        cache: bool = False,
        fallback: bool = True,
        shadow: bool = True,
    ) -> Pipeline:
        """The ask pipeline. `cache=True` reuses answers across requests (the CLI and the
        server); evaluations and benchmarks leave it off so they always measure the code.
        `fallback=False` ignores `answer.fallback = "extractive"` (a model failure raises):
        evaluations measure the model, never a stand-in. `shadow=False` leaves the shadow stage
        out (`shadow.fraction`): an evaluation spends nothing on a candidate."""
        from cairn.answer.extractive import ExtractiveAnswerer
        from cairn.answer.verify import CitationVerifier

        retriever = self.retriever(mode)
        provider = self.provider("answer", model)
        answerer: Answerer
        stand_in: Answerer | None = None
        if provider is None:
            answerer = ExtractiveAnswerer(self.store, self.embedder, self.settings.answer)
        else:
            answerer = self.generative(provider)
            if fallback and self.settings.answer.fallback == "extractive":  # degraded mode
                stand_in = ExtractiveAnswerer(self.store, self.embedder, self.settings.answer)
        from cairn.cache import config_fingerprint
        from cairn.conversation import build_rewriter

        input_guard, output_guard = self.guards()
        verifier = CitationVerifier(
            self.embedder, store=self.store, policy=self.settings.answer.verify_policy
        )
        context_guard = self.context_guard()
        assembler, attributor = self.model_stages(provider is not None, verifier, context_guard)
        router, answerers = self.router(provider is not None, model, verifier)
        reranker = self.reranker(model)
        fingerprint_extra: dict[str, object] = {}
        if self.pii is not None:
            fingerprint_extra["guard_pii"] = self.settings.guard.pii
        if self.settings.rerank.backend != "off":
            fingerprint_extra["rerank"] = self.settings.rerank.model_dump(mode="json")
        return Pipeline(
            retriever,
            answerer,
            verifier,
            k=self.settings.retrieve.k,
            settler=LedgerSettler(self.budget),
            fallback=stand_in,
            cache=self.answer_cache if cache else None,
            generation=self.store.generation,
            cache_config=config_fingerprint(
                self.settings,
                mode=mode,
                model=model,
                extra=fingerprint_extra or None,
            ),
            input_guard=input_guard,
            reranker=reranker,
            rerank_depth=0 if self.settings.rerank.backend == "off" else self.settings.rerank.depth,
            context_guard=context_guard,
            output_guard=output_guard,
            rewriter=build_rewriter(self.provider("rewrite", model)),
            history_tokens=self.settings.answer.history_tokens,
            assembler=assembler,
            attributor=attributor,
            evidence=self.evidence_check(provider is not None),
            router=router,
            answerers=answerers,
            shadow=self.shadow(verifier, output_guard) if shadow and provider is not None else None,
        )

    def reranker(self, model: str | None = None) -> Reranker:
        """The rerank stage `rerank.backend` asks for (`cairn.rerank`); the LLM backend calls
        the `rerank` task's model, metered under the feature `rerank`."""
        from cairn.budget.providers import metered_provider
        from cairn.rerank import build_reranker

        r = self.settings.rerank
        provider = None
        if r.backend == "llm":
            llm = self.settings.llm
            if model is not None:
                llm = llm.model_copy(update={"model": model})
            provider = metered_provider(llm, "rerank", self.budget, feature="rerank")
            if provider is not None:
                self._providers.append(provider)
        return build_reranker(r, provider=provider, spotlight=self.settings.guard.spotlight)

    def generative(self, provider: Provider) -> GenerativeAnswerer:
        """A model's answerer as every route uses it: the shipped prompt with the canary and
        the spotlighting of `guard.spotlight`; markers required unless attribution cites
        after the fact."""
        from cairn.answer.generative import GenerativeAnswerer

        parts = self.prompt_parts.replace(spotlight=self.settings.guard.spotlight)
        return GenerativeAnswerer(
            provider, parts=parts, require_citations=not self.settings.answer.attribute
        )

    def model_stages(
        self,
        model: bool,
        verifier: CitationVerifier | None = None,
        context_guard: ContextGuard | None = None,
    ) -> tuple[ContextAssembler, Attributor]:
        """The stages a model's answers go through: a token budget for its passages, and
        post-hoc attribution of its sentences (`answer.attribute`) with `verifier`'s support
        model (the pipeline's own, so each sentence is embedded once); no-ops without a
        model."""
        from cairn.answer.assembly import BudgetedContext, KeepHits
        from cairn.answer.attribute import KeepCitations, PostHocAttributor
        from cairn.answer.verify import CitationVerifier

        if not model:
            return KeepHits(), KeepCitations()
        answer = self.settings.answer
        attributor: Attributor = KeepCitations()
        if answer.attribute:
            attributor = PostHocAttributor(
                verifier or CitationVerifier(self.embedder, store=self.store),
                withhold=answer.withhold_unsupported,
            )
        from cairn.guard.context import InjectionContextGuard

        screen = None
        if isinstance(context_guard, InjectionContextGuard):
            guard = context_guard  # the pipeline's: neighbours added to a passage are rescanned

            def screen(chunk: Chunk) -> Risk:
                return guard.assess(chunk.text, chunk.hash)

        assembler = BudgetedContext(self.store, max_tokens=answer.context_tokens, screen=screen)
        return assembler, attributor

    def evidence_check(self, model: bool) -> EvidenceCheck:
        """Abstention on evidence for a model's answers (`cairn.answer.evidence`): with a
        model, `answer.abstention = "evidence"` and `answer.withhold_unsupported`; else none."""
        from cairn.answer.evidence import AnswerabilityCheck, KeepAnswer

        answer = self.settings.answer
        if not model or answer.abstention != "evidence" or not answer.withhold_unsupported:
            return KeepAnswer()
        from cairn.answer.extractive import ExtractiveAnswerer

        extractive = ExtractiveAnswerer(self.store, self.embedder, answer)
        return AnswerabilityCheck.of(extractive, scope=answer.evidence_scope)

    def router(
        self, generative: bool, model: str | None, verifier: Verifier
    ) -> tuple[Router, dict[str, Answerer]]:
        """The router `router.mode` asks for and the answerers of its routes (no router in
        the extractive mode, or when `model` pins one model)."""
        from cairn.answer.router import DifficultyRouter, NoRouter

        r = self.settings.router
        if r.mode == "off" or not generative or model is not None:
            return NoRouter(), {}
        from cairn.answer.extractive import ExtractiveAnswerer

        cheap = self.provider(r.cheap_route)
        answerers: dict[str, Answerer] = {}
        if cheap is not None:
            answerers["cheap"] = self.generative(cheap)
        extractive = ExtractiveAnswerer(self.store, self.embedder, self.settings.answer)
        return DifficultyRouter(r, extractive=extractive, verifier=verifier), answerers

    @cached_property
    def shadow_store(self) -> ShadowStore:
        from cairn.shadow import SHADOW_FILE, ShadowStore

        return ShadowStore(self.root / SHADOW_FILE)

    def shadow(self, verifier: Verifier, output_guard: OutputGuard) -> ShadowStage | None:
        """The shadow stage `shadow.fraction` asks for (None when 0); the candidate's answers
        go through the pipeline's `output_guard`."""
        s = self.settings.shadow
        if s.fraction <= 0:
            return None
        if self.settings.guard.pii != "off" or self.settings.guard.pii_placeholders:
            # shadow.db would hold questions and candidate answers unscrubbed
            log.warning("shadow comparisons are off while guard.pii is %s", self.settings.guard.pii)
            return None
        from cairn.budget.providers import metered_provider
        from cairn.llm.routing import resolve_routes
        from cairn.shadow import FEATURE, ShadowStage

        candidate = metered_provider(self.settings.llm, s.route, self.budget, feature=FEATURE)
        if candidate is None:
            return None
        self._providers.append(candidate)
        grader = None
        if s.judge:
            from cairn.evals.judge import ModelJudge

            judge = metered_provider(self.settings.llm, "judge", self.budget, feature=FEATURE)
            if judge is not None:
                self._providers.append(judge)
                grader = ModelJudge(judge)
        stage = ShadowStage(
            self.generative(candidate),
            verifier,
            self.shadow_store,
            fraction=s.fraction,
            candidate_model=resolve_routes(self.settings.llm, s.route)[0].model,
            primary_model=resolve_routes(self.settings.llm, "answer")[0].model,
            grader=grader,
            seed=s.seed,
            output_guard=output_guard,
        )
        self._stages.append(stage)
        return stage

    @cached_property
    def pii(self) -> tuple[PIIDetector, Scrub] | None:
        """The detector and the scrub `guard.pii` asks for (None when `off`); a policy other
        than `off` also scrubs every trace attribute and log message of this process."""
        from cairn.guard.surfaces import install_log_scrubber, make_scrub, pii_detector
        from cairn.trace.redact import register_scrubber

        policy = self.settings.guard.pii
        detector = pii_detector(policy)
        if detector is None:
            return None
        scrub = make_scrub(detector, policy)
        register_scrubber(scrub)
        install_log_scrubber(scrub)
        return detector, scrub

    @cached_property
    def placeholders(self) -> PIIDetector | None:
        """The detector of `guard.pii_placeholders` (None when off). Without a `guard.pii`
        policy of its own, traces and logs of this process then keep placeholders."""
        if not self.settings.guard.pii_placeholders:
            return None
        from cairn.guard.placeholders import placeholder_detector, pseudonymise_text
        from cairn.guard.surfaces import install_log_scrubber
        from cairn.trace.redact import register_scrubber

        if self.pii is not None:  # guard.pii scrubs traces and logs its own way
            return self.pii[0]
        detector = placeholder_detector()
        scrub = pseudonymise_text(detector)
        register_scrubber(scrub)
        install_log_scrubber(scrub)
        return detector

    @cached_property
    def canary(self) -> Canary:
        """The workspace's canary token (`guard-canary` in the workspace, owner-only), placed
        in the system prompt and masked in every trace."""
        from cairn.guard.leaks import Canary
        from cairn.trace.redact import register_secret

        canary = Canary.for_workspace(self.root)
        register_secret(canary.token)
        return canary

    @cached_property
    def prompt_parts(self) -> PromptParts:
        """The prompt the generative answerer sends: the shipped one with the canary."""
        from cairn.answer.prompt import PromptParts
        from cairn.guard.leaks import with_canary

        return with_canary(PromptParts(), self.canary)

    @cached_property
    def injection_detector(self) -> InjectionDetector:
        """Rules and the shipped classifier, its weights read once per workspace."""
        from cairn.guard.detector import InjectionDetector

        return InjectionDetector.load()

    def guards(self) -> tuple[InputGuard, OutputGuard]:
        """The input and output guards `guard.*` asks for (the no-op ones when `off`)."""
        from cairn.stages import NoInputGuard, NoOutputGuard

        g = self.settings.guard
        input_guard: InputGuard = NoInputGuard()
        output_guard: OutputGuard = NoOutputGuard()
        if g.input != "off":
            from cairn.guard.input import InjectionInputGuard

            input_guard = InjectionInputGuard(self.injection_detector, policy=g.input)
        if g.output != "off":
            output_guard = _OutputPolicy(
                g.output,
                parts=self.prompt_parts,
                canary=self.canary,
                known_secrets=[s for s in (self.settings.llm.api_key,) if s],
                allow_hosts=g.allow_hosts,
            )
        if self.pii is not None:
            from cairn.guard.surfaces import PIIOutputGuard

            output_guard = PIIOutputGuard(output_guard, self.pii[1])
        return input_guard, output_guard

    def context_guard(self) -> ContextGuard:
        """The context guard `guard.context` asks for: retrieved chunks rescanned at query
        time (the no-op one when `off`); chunks released from quarantine are never dropped."""
        from cairn.stages import NoContextGuard

        policy = self.settings.guard.context
        if policy == "off":
            return NoContextGuard()
        from cairn.guard.context import InjectionContextGuard

        store = self.store
        return InjectionContextGuard(self.injection_detector, policy, released=store.released)

    def close(self) -> None:
        """Close what this workspace opened: HTTP clients, the ledger, the database."""
        for stage in self._stages:
            stage.close()  # queued shadow comparisons finish first
        self._stages.clear()
        if "shadow_store" in self.__dict__:
            self.shadow_store.close()
        for provider in self._providers:
            close = getattr(provider, "close", None)
            if callable(close):
                close()
        self._providers.clear()
        if "store" in self.__dict__:
            self.store.close()
        if "budget" in self.__dict__:
            self.budget.close()
        if "answer_cache" in self.__dict__ and self.answer_cache is not None:
            self.answer_cache.close()


class _OutputPolicy:
    """`OutputLeakGuard` under a policy: `block` withholds a leak, `flag` lets it through
    marked; both mask secrets and neutralise links."""

    def __init__(
        self,
        policy: str,
        *,
        parts: PromptParts,
        canary: Canary,
        known_secrets: list[str],
        allow_hosts: list[str],
    ) -> None:
        from cairn.guard.leaks import OutputLeakGuard

        self.policy = policy
        self.guard = OutputLeakGuard(
            parts=parts, canary=canary, known_secrets=known_secrets, allow_hosts=allow_hosts
        )

    def check(self, draft: Draft, hits: list[Hit]) -> GuardVerdict:
        verdict = self.guard.check(draft, hits)
        if verdict.blocked and self.policy == "flag":  # let it through, but never a secret
            clean = self.guard.sanitise(draft).draft
            return GuardVerdict(status="flagged", reason=verdict.reason, draft=clean)
        return verdict
