"""Shadow A/B: a share of requests also answered by a candidate model after the answer is
returned, both scored by the verifier (and a judge), stored, spent under `shadow`, and
compared by `cairn eval shadow`.

Real SQLite store and retrieval (the synthetic evaluation corpus), real ledger, scripted
models, and the CLI run in a subprocess against a real workspace folder."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from cairn.answer.base import Draft
from cairn.answer.generative import GenerativeAnswerer
from cairn.answer.prompt import SENTINEL
from cairn.answer.verify import CitationVerifier
from cairn.budget import Budget, PriceBook
from cairn.budget.metered import MeteredProvider
from cairn.config import RetrieveSettings
from cairn.evals.judge import OverlapJudge
from cairn.llm.scripted import ScriptedModel
from cairn.pipeline import Pipeline
from cairn.retrieve.hybrid import build_retriever
from cairn.shadow import FEATURE, SHADOW_FILE, ShadowStage, ShadowStore, compare
from cairn.stages import GuardVerdict, LedgerSettler, OutputGuard
from cairn.store.base import Store
from cairn.testing.evalcorpus import EMBEDDER, NAMES, build_store
from cairn.types import Filters, Hit

PRICES = PriceBook.fixed({"primary": ("2.5", "10"), "candidate": ("0.15", "0.6")})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = build_store(tmp_path_factory.mktemp("shadow") / "cairn.db")
    yield s
    s.close()


@pytest.fixture
def budget(tmp_path: Path) -> Iterator[Budget]:
    b = Budget(tmp_path / "ledger.db", prices=PRICES)
    yield b
    b.close()


def _setup(
    store: Store,
    budget: Budget,
    tmp_path: Path,
    *,
    fraction: float,
    candidate: ScriptedModel,
    output_guard: OutputGuard | None = None,
) -> tuple[Pipeline, ShadowStage, ShadowStore]:
    verifier = CitationVerifier(EMBEDDER, store=store)
    shadows = ShadowStore(tmp_path / SHADOW_FILE)
    stage = ShadowStage(
        GenerativeAnswerer(MeteredProvider(candidate, budget, feature=FEATURE)),
        verifier,
        shadows,
        fraction=fraction,
        candidate_model="candidate",
        primary_model="primary",
        grader=OverlapJudge(),
        seed=7,
        output_guard=output_guard,
    )
    pipeline = Pipeline(
        build_retriever(store, EMBEDDER, RetrieveSettings(), None),
        GenerativeAnswerer(MeteredProvider(ScriptedModel(model="primary"), budget)),
        verifier,
        k=3,
        settler=LedgerSettler(budget),
        shadow=stage,
    )
    return pipeline, stage, shadows


def test_every_shadowed_request_is_compared_stored_and_spent_on_its_own_line(
    store: Store, budget: Budget, tmp_path: Path
) -> None:
    candidate = ScriptedModel(model="candidate")
    pipeline, stage, shadows = _setup(store, budget, tmp_path, fraction=1.0, candidate=candidate)
    questions = [f"How do I change the {name} timeout?" for name in NAMES[:6]]
    answers = [pipeline.ask(q, user="alice", tenant="acme") for q in questions]
    stage.drain()
    pairs = shadows.pairs()
    assert len(pairs) == len(questions)
    assert {p.trace_id for p in pairs} == {a.trace_id for a in answers}
    assert all(p.error is None and p.candidate_answer for p in pairs)
    assert all(0.0 <= p.candidate_verified <= 1.0 and p.candidate_judge is not None for p in pairs)
    lines = budget.entries()
    shadow_lines = [e for e in lines if e.feature == FEATURE]
    assert len(shadow_lines) == len(questions)
    assert {(e.model, e.user, e.tenant) for e in shadow_lines} == {("candidate", "alice", "acme")}
    assert sum(p.candidate_cost_nanos for p in pairs) > 0
    # the caller's answer never carries the candidate's cost
    assert all(
        a.cost_usd == float(e.cost_usd)
        for a, e in zip(answers, [e for e in lines if e.feature == "ask"], strict=True)
    )
    stage.close()
    shadows.close()


def test_the_fraction_samples_and_a_failing_candidate_is_recorded_not_raised(
    store: Store, budget: Budget, tmp_path: Path
) -> None:
    candidate = ScriptedModel(model="candidate")
    candidate.add_rule(lambda request: (_ for _ in ()).throw(RuntimeError("candidate down")))
    pipeline, stage, shadows = _setup(store, budget, tmp_path, fraction=0.5, candidate=candidate)
    for name in NAMES:
        assert not pipeline.ask(f"How do I change the {name} timeout?").abstained
    stage.drain()
    pairs = shadows.pairs()
    assert 0 < len(pairs) < len(NAMES)  # about half, never all or none with 20 draws
    assert all(p.error and "candidate down" in p.error for p in pairs)
    report = compare(pairs)
    assert report.failed == len(pairs) and report.metrics == ()
    stage.close()
    shadows.close()


def test_compare_reports_the_paired_gap_with_an_interval(
    store: Store, budget: Budget, tmp_path: Path
) -> None:
    candidate = ScriptedModel(model="candidate")
    candidate.add_rule(lambda request: SENTINEL)  # the candidate never answers
    pipeline, stage, shadows = _setup(store, budget, tmp_path, fraction=1.0, candidate=candidate)
    for name in NAMES[:10]:
        pipeline.ask(f"How do I change the {name} timeout?")
    stage.drain()
    report = compare(shadows.pairs())
    answered = next(m for m in report.metrics if m.name == "answered")
    assert (answered.primary, answered.candidate, answered.n) == (1.0, 0.0, 10)
    assert answered.high < 0  # the whole interval says the candidate is worse
    assert answered.p < 0.05
    assert {m.name for m in report.metrics} == {"verified", "answered", "judge"}
    assert report.primary_cost_usd > 0 and report.candidate_cost_usd > 0
    stage.close()
    shadows.close()


def test_cairn_eval_shadow_prints_the_comparison(
    store: Store, budget: Budget, tmp_path: Path
) -> None:
    candidate = ScriptedModel(model="candidate")
    pipeline, stage, shadows = _setup(store, budget, tmp_path, fraction=1.0, candidate=candidate)
    for name in NAMES[:5]:
        pipeline.ask(f"How do I change the {name} timeout?")
    stage.close()
    shadows.close()
    run = subprocess.run(
        [sys.executable, "-m", "cairn", "eval", "shadow", "--json", "--workspace", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["pairs"] == 5 and data["candidate_models"] == ["candidate"]
    assert {m["metric"] for m in data["metrics"]} >= {"verified", "answered"}
    empty = subprocess.run(
        [sys.executable, "-m", "cairn", "eval", "shadow", "--workspace", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert empty.returncode != 0 and "shadow.fraction" in empty.stderr + empty.stdout


def test_only_the_primary_models_answers_are_shadowed(
    store: Store, budget: Budget, tmp_path: Path
) -> None:
    import dataclasses

    from cairn.types import Route

    candidate = ScriptedModel(model="candidate")
    pipeline, stage, shadows = _setup(store, budget, tmp_path, fraction=1.0, candidate=candidate)
    answer = pipeline.ask(f"How do I change the {NAMES[0]} timeout?")
    hits = list(answer.hits)
    for route in ("extractive", "cheap", "escalated"):  # not what the candidate would replace
        routed = dataclasses.replace(answer, route=Route(route=route))
        assert not stage.offer("q", hits, routed)
    assert stage.offer("q", hits, dataclasses.replace(answer, route=Route(route="strong")))
    stage.drain()
    stage.close()
    shadows.close()


class BlockSecrets:
    """An output guard blocking any answer that shows the token `SECRET-42`."""

    def check(self, draft: Draft, hits: Sequence[Hit]) -> GuardVerdict:
        if "SECRET-42" in draft.text:
            return GuardVerdict(status="blocked", reason="leak: the canary")
        return GuardVerdict(status="pass")


def test_a_candidate_answer_the_output_guard_blocks_is_never_stored(
    store: Store, budget: Budget, tmp_path: Path
) -> None:
    candidate = ScriptedModel("My instructions end with SECRET-42 [1]", model="candidate")
    pipeline, stage, shadows = _setup(
        store, budget, tmp_path, fraction=1.0, candidate=candidate, output_guard=BlockSecrets()
    )
    assert not pipeline.ask(f"How do I change the {NAMES[0]} timeout?").abstained
    stage.drain()
    [pair] = shadows.pairs()
    assert pair.candidate_answer == "" and pair.candidate_judge is None
    assert pair.error is not None and "output guard blocked" in pair.error
    assert "SECRET-42" not in (tmp_path / SHADOW_FILE).read_bytes().decode("utf-8", "replace")
    stage.close()
    shadows.close()


def test_the_candidate_answers_under_the_request_filters(
    store: Store, budget: Budget, tmp_path: Path
) -> None:
    """On its background thread the candidate reads no more than the request could (an
    answerer that looks beyond the hits, as the extractive one looks up a name, uses them)."""
    from cairn.context import current_context

    seen: list[Filters | None] = []

    def record(request: object) -> None:
        ctx = current_context()
        seen.append(ctx.filters if ctx is not None else None)

    candidate = ScriptedModel(model="candidate")
    candidate.add_rule(record)
    pipeline, stage, shadows = _setup(store, budget, tmp_path, fraction=1.0, candidate=candidate)
    mine = Filters(principals=("team-a",))
    assert not pipeline.ask(f"How do I change the {NAMES[0]} timeout?", filters=mine).abstained
    stage.drain()
    assert seen == [mine]
    stage.close()
    shadows.close()
