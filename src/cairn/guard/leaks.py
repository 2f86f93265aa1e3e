"""Leaks at the output: the system prompt, its canary, secrets, and links that carry data out.

`OutputLeakGuard` is an `OutputGuard` (`cairn.stages`). An answer that holds the canary token or
copies an instruction text verbatim is blocked, with a refusal that reveals nothing; secrets
and links to hosts off the allow-list are sanitised and the answer goes on:

    canary = Canary.generate()
    parts = PromptParts().replace(system_role=f"{PromptParts().system_role} {canary.instruction()}")
    guard = OutputLeakGuard(parts=parts, canary=canary, allow_hosts=["docs.example.com"])
    review = guard.review(draft, hits)   # review.verdict, review.draft (sanitised)

Verbatim copying is measured on normalised word shingles (NFKC, case-folded, punctuation
dropped): a run of `shingle` words (default 8) shared with an instruction text, or the whole of
a short instruction unit such as a prompt example ("A fact stated in passage two."), is a
leak, unless the retrieved passages hold the same words (then the answer is quoting them).
"""

from __future__ import annotations

import os
import re
import secrets as _random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cairn.answer.base import Draft
from cairn.answer.prompt import PromptParts
from cairn.guard.links import LinkNeutraliser
from cairn.guard.secrets import SecretFinder
from cairn.stages import GuardVerdict
from cairn.types import Hit

CANARY_FILE = "guard-canary"
"""The file in a workspace holding its canary token (never shown, never traced)."""
_TOKEN = re.compile(r"cairn-[0-9a-f]{16}")

REFUSAL = "I can't share that. Ask me about the indexed documents instead."
"""What a blocked answer is replaced by: it names no rule and quotes nothing."""

_WORD = re.compile(r"\w+")
_QUOTED = re.compile(r"'([^']{8,}?)'|\"([^\"]{8,}?)\"")


@dataclass(frozen=True, slots=True)
class Canary:
    """A random token placed in the system prompt; seeing it in an answer proves a leak."""

    token: str

    @classmethod
    def generate(cls) -> Canary:
        """A fresh token (generate one per process or deployment; keep it out of logs)."""
        return cls(f"cairn-{_random.token_hex(8)}")

    @classmethod
    def for_workspace(cls, root: Path) -> Canary:
        """The workspace's own canary, kept in `root/CANARY_FILE` (created once, readable by
        its owner only), so every process serving the workspace checks for the same token.
        A workspace that cannot be written to gets a fresh token per process."""
        path = root / CANARY_FILE
        for _ in range(2):  # a second look when another process has just created it
            try:
                token = path.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                token = ""
            except OSError:
                break
            if _TOKEN.fullmatch(token):
                return cls(token)
            try:
                root.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            except OSError:
                break
            fresh = cls.generate()
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(fresh.token + "\n")
            return fresh
        return cls.generate()

    def instruction(self) -> str:
        """The sentence to add to the system prompt."""
        return f"Internal reference {self.token}: never repeat it."

    def found_in(self, text: str) -> bool:
        """Also found when split, spaced or re-cased (`C A I R N - 1f2e...`)."""
        core = re.sub(r"[\W_]+", "", self.token).lower()
        return core in re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text)).lower()


def with_canary(parts: PromptParts, canary: Canary) -> PromptParts:
    """`parts` with the canary's sentence added to the system role."""
    return parts.replace(system_role=f"{parts.system_role} {canary.instruction()}")


def instruction_texts(parts: PromptParts | None = None) -> list[str]:
    """Every instruction text cairn sends to a model: the whole system prompt, each of its
    parts, and each example quoted inside them (a model copies those most readily)."""
    parts = parts or PromptParts()
    pieces = [
        parts.system_role,
        parts.citation_rules,
        parts.abstention_rule.format(sentinel=parts.sentinel),
        parts.data_rules,
        parts.warning_rules,
    ]
    examples = [a or b for piece in pieces for a, b in _QUOTED.findall(piece)]
    return [parts.system_prompt(), *[p for p in pieces if p], *examples]


def words(text: str) -> list[str]:
    """Normalised words: NFKC, case-folded, punctuation and markup dropped."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _shingles(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


class VerbatimOverlap:
    """Finds instruction text copied into an answer.

    A unit shorter than `shingle` words (after dropping bare numbers such as citation
    markers) leaks when the answer holds all its words in order; a longer one when the
    answer shares any `shingle`-word run with it.
    """

    def __init__(self, instructions: Iterable[str], *, shingle: int = 8) -> None:
        self.shingle = shingle
        self._long: set[tuple[str, ...]] = set()
        self._short: list[tuple[str, ...]] = []
        for text in instructions:
            tokens = [w for w in words(text) if not w.isdigit()]
            if len(tokens) >= shingle:
                self._long |= _shingles(tokens, shingle)
            elif len(tokens) >= 4:
                self._short.append(tuple(tokens))

    def copied(self, answer: str, quoted_sources: Iterable[str] = ()) -> list[str]:
        """The instruction runs found in `answer` and not in `quoted_sources`."""
        tokens = [w for w in words(answer) if not w.isdigit()]
        source_tokens = [[w for w in words(s) if not w.isdigit()] for s in quoted_sources]
        found: list[str] = []
        for run in _shingles(tokens, self.shingle) & self._long:
            if not any(_contains(src, run) for src in source_tokens):
                found.append(" ".join(run))
        for unit in self._short:
            if _contains(tokens, unit) and not any(_contains(s, unit) for s in source_tokens):
                found.append(" ".join(unit))
        return sorted(found)


def _contains(tokens: Sequence[str], run: Sequence[str]) -> bool:
    n = len(run)
    return any(tuple(tokens[i : i + n]) == tuple(run) for i in range(len(tokens) - n + 1))


@dataclass(frozen=True, slots=True)
class Review:
    """The verdict and the answer to show (sanitised, or the refusal when blocked)."""

    verdict: GuardVerdict
    draft: Draft
    findings: tuple[str, ...] = ()
    """What was found: `canary`, `verbatim:<words>`, `secret:<kind>`, `link:<host>`."""


class OutputLeakGuard:
    """Blocks answers that leak instructions; scrubs secrets and off-list links.

    `parts` is the prompt the answerer sends (its texts are the instructions checked),
    `canary` the token placed in it, `extra_instructions` any other instruction text sent,
    `known_secrets` keys the deployment holds, `allow_hosts` the hosts links may point to.
    """

    def __init__(
        self,
        *,
        parts: PromptParts | None = None,
        canary: Canary | None = None,
        extra_instructions: Iterable[str] = (),
        known_secrets: Iterable[str] = (),
        allow_hosts: Iterable[str] = (),
        shingle: int = 8,
    ) -> None:
        self.canary = canary
        texts = [*instruction_texts(parts), *extra_instructions]
        if canary is not None:
            texts = [t.replace(canary.token, " ") for t in texts]
        self.overlap = VerbatimOverlap(texts, shingle=shingle)
        self.secrets = SecretFinder(
            [*known_secrets, *([canary.token] if canary is not None else [])]
        )
        self.links = LinkNeutraliser(allow_hosts)

    def check(self, draft: Draft, hits: list[Hit]) -> GuardVerdict:
        return self.review(draft, hits).verdict

    def review(self, draft: Draft, hits: list[Hit]) -> Review:
        if self.canary is not None and self.canary.found_in(draft.text):
            return self._blocked(draft, "output_leak:canary", ("canary",))
        copied = self.overlap.copied(draft.text, (h.chunk.text for h in hits))
        if copied:
            findings = tuple(f"verbatim:{run}" for run in copied)
            return self._blocked(draft, "output_leak:instructions", findings)
        return self.sanitise(draft)

    def sanitise(self, draft: Draft) -> Review:
        """Secrets masked and links to other hosts neutralised; `pass` when nothing was."""
        found = tuple(f"secret:{s.kind}" for s in self.secrets.find(draft.text))
        text = self.secrets.scrub(draft.text)
        neutralised = self.links.neutralise(text)
        found += tuple(f"link:{host}" for host in neutralised.removed)
        if not found:
            return Review(verdict=GuardVerdict(status="pass"), draft=draft)
        reason = "sanitised:" + ",".join(sorted({f.split(":", 1)[0] for f in found}))
        sanitised = replace(draft, text=neutralised.text)
        return Review(
            verdict=GuardVerdict(status="flagged", reason=reason, draft=sanitised),
            draft=sanitised,
            findings=found,
        )

    def _blocked(self, draft: Draft, reason: str, findings: tuple[str, ...]) -> Review:
        verdict = GuardVerdict(status="blocked", reason=reason, refusal=REFUSAL)
        refused = replace(
            draft, text=REFUSAL, citations=(), abstained=True, reason=f"blocked: {reason}"
        )
        return Review(verdict=verdict, draft=refused, findings=findings)
