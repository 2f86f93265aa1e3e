"""The generative answerer: a model writes the answer from the retrieved passages, citing them.

1. Prompt: `PromptParts.messages(question, hits)`: instructions in the system turn, the
   passages as numbered, delimited, untrusted data in the user turn (see `prompt.py`).
2. Abstention: no hits means no call; a reply that is the sentinel (or holds it and cites
   nothing) becomes cairn's "not found" answer.
3. Markers: `[1, 3]` becomes `[1][3]`, a marker before the full stop moves after it (the
   form the verifier reads), and numbers that name no passage are dropped (noted in `reason`).
4. Citations: each used `[n]` maps to the n-th hit's chunk; its quote is the chunk's
   sentence(s) best matching the sentences citing it. `verified` is left `None`: the verify
   stage decides. An answer that cites nothing is refused (`require_citations`); with
   post-hoc attribution after it (`cairn.answer.attribute`, the default in a workspace) it
   is kept as written, `require_citations=False`, and the attribute stage cites it.

Provider failures propagate as `cairn.llm.errors.LLMError`s (retries and fallbacks live in the
provider, see `cairn.llm.routing.build_provider`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from cairn.answer.base import NOT_FOUND, Draft
from cairn.answer.events import AnswerEvent, CitationEvent, DoneEvent, TokenEvent
from cairn.answer.prompt import PromptParts
from cairn.answer.segments import cited_sentences
from cairn.answer.terms import content_terms
from cairn.answer.units import chunk_units
from cairn.llm.base import Completed, Message, ModelSettings, Provider, TextDelta
from cairn.llm.reliable import stream_of
from cairn.types import Citation, Hit, Usage

_LIST = re.compile(r"\[(\d+(?:\s*,\s*\d+)+)\]")
_MARKER = re.compile(r"(?<![\w)])\[(\d+)\]")
_BEFORE_STOP = re.compile(r"[ \t]*((?:\[\d+\][ \t]*)+)([.!?])(?=\s|$)")
_COMPLETE = re.compile(r"(?:\s*\[\d+\])+(?=\s*[^\s\[\d\]])")


class GenerativeAnswerer:
    """`Answerer` backed by a `Provider`; `stream()` yields `AnswerEvent`s."""

    def __init__(
        self,
        provider: Provider,
        *,
        parts: PromptParts | None = None,
        settings: ModelSettings | None = None,
        max_passages: int = 8,
        require_citations: bool = True,
    ) -> None:
        self.provider = provider
        self.parts = parts or PromptParts()
        self.settings = settings
        self.max_passages = max_passages
        self.require_citations = require_citations

    def messages(self, question: str, hits: Sequence[Hit]) -> list[Message]:
        """The exact prompt sent for `question` (hits beyond `max_passages` left out)."""
        return self.parts.messages(question, hits[: self.max_passages])

    def answer(self, question: str, hits: list[Hit]) -> Draft:
        if not hits:
            return Draft(text=NOT_FOUND, citations=(), abstained=True, reason="no hits")
        hits = hits[: self.max_passages]
        response = self.provider.generate(self.messages(question, hits), settings=self.settings)
        return self.draft(response.text, hits, response.usage)

    def stream(self, question: str, hits: list[Hit]) -> Iterator[AnswerEvent]:
        """Tokens as they arrive, a citation as each citing sentence completes, then done."""
        if not hits:
            draft = Draft(text=NOT_FOUND, citations=(), abstained=True, reason="no hits")
            yield TokenEvent(text=NOT_FOUND)
            yield DoneEvent(draft=draft)
            return
        hits = hits[: self.max_passages]
        sentinel = self.parts.sentinel
        text = ""
        shown = complete = 0
        holding = True  # until the text cannot be the sentinel any more
        announced: set[int] = set()
        usage = Usage()
        events = stream_of(self.provider, self.messages(question, hits), (), self.settings)
        for event in events:
            if isinstance(event, Completed):
                text, usage = event.response.text, event.response.usage
                break
            if not isinstance(event, TextDelta):
                continue
            text += event.text
            if holding and sentinel.startswith(text.strip()[: len(sentinel)]):
                continue
            holding = False
            yield TokenEvent(text=text[shown:])
            shown = len(text)
            done = _complete_part(text)
            if len(done) > complete:
                complete = len(done)
                yield from self._new_citations(done, hits, announced)
        draft = self.draft(text, hits, usage)
        if draft.abstained:
            if shown == 0:
                yield TokenEvent(text=draft.text)
        elif shown < len(text):
            yield TokenEvent(text=text[shown:])
        for citation in draft.citations:
            if citation.n not in announced:
                announced.add(citation.n)
                yield CitationEvent(citation=citation)
        yield DoneEvent(draft=draft)

    def draft(self, raw: str, hits: Sequence[Hit], usage: Usage | None = None) -> Draft:
        """Turn the model's reply into a `Draft` (see the module docstring)."""
        usage = usage or Usage()
        who = f"{self.provider.name}:{self.provider.model}"
        sentinel = self.parts.sentinel
        if self._abstains(raw):
            return Draft(
                text=NOT_FOUND,
                citations=(),
                abstained=True,
                usage=usage,
                reason=f"{who} found no answer in the passages",
            )
        text, dropped = normalise_markers(raw.replace(sentinel, ""), len(hits))
        quotes = _quotes(text, hits)
        if not quotes and self.require_citations:
            return Draft(
                text=NOT_FOUND,
                citations=(),
                abstained=True,
                usage=usage,
                reason=f"{who} answered without citing any passage: {raw.strip()[:200]!r}",
            )
        citations = tuple(_citation(n, hits[n - 1], qs) for n, qs in sorted(quotes.items()))
        reason = f"generative ({who}), cites {sorted(quotes)}"
        if dropped:
            reason += f"; dropped markers naming no passage: {sorted(set(dropped))}"
        return Draft(text=text, citations=citations, abstained=False, usage=usage, reason=reason)

    def _abstains(self, raw: str) -> bool:
        sentinel = self.parts.sentinel
        head = raw.strip().strip("`'\"*_ ")
        return head.startswith(sentinel) or (sentinel in raw and not _MARKER.search(raw))

    def _new_citations(
        self, text: str, hits: Sequence[Hit], announced: set[int]
    ) -> Iterator[CitationEvent]:
        normalised, _ = normalise_markers(text, len(hits))
        for n, qs in sorted(_quotes(normalised, hits).items()):
            if n not in announced:
                announced.add(n)
                yield CitationEvent(citation=_citation(n, hits[n - 1], qs))


def normalise_markers(text: str, passages: int) -> tuple[str, list[int]]:
    """`(text, dropped)`: markers split, moved after the full stop, out-of-range ones removed."""
    dropped: list[int] = []

    def keep(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if 1 <= n <= passages:
            return f"[{n}]"
        dropped.append(n)
        return "\0"

    text = _LIST.sub(lambda m: "".join(f"[{n.strip()}]" for n in m.group(1).split(",")), text)
    text = _MARKER.sub(keep, text)
    text = re.sub(r"[ \t]*\0+(?=[.,;:!?])", "", text).replace("\0", "")  # where one was dropped
    text = _BEFORE_STOP.sub(lambda m: f"{m.group(2)} {''.join(m.group(1).split())}", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return text.strip(), dropped


def best_quote(sentence: str, chunk_text: str) -> str:
    """The chunk sentence (or two) sharing the most content words with `sentence`."""
    units = [(s, e) for s, e, _ in chunk_units(chunk_text)] or [(0, len(chunk_text))]
    wanted = set(content_terms(sentence))
    terms = [set(content_terms(chunk_text[s:e])) & wanted for s, e in units]
    best = max(range(len(units)), key=lambda i: (len(terms[i]), -i))
    chosen = [best]
    rest = [i for i in range(len(units)) if i != best]
    if wanted and rest:
        extra = max(rest, key=lambda i: (len(terms[i] - terms[best]), -abs(i - best)))
        if len(terms[extra] - terms[best]) / len(wanted) >= 0.25:
            chosen.append(extra)
    return " ".join(chunk_text[units[i][0] : units[i][1]].strip() for i in sorted(chosen))


def _complete_part(text: str) -> str:
    """The prefix of streamed `text` up to its last marker group that something follows."""
    ends = [m.end() for m in _COMPLETE.finditer(text)]
    return text[: ends[-1]] if ends else ""


def _quotes(text: str, hits: Sequence[Hit]) -> dict[int, list[str]]:
    quotes: dict[int, list[str]] = {}
    for segment, numbers in cited_sentences(text):
        for n in numbers:
            if not 1 <= n <= len(hits):
                continue
            quote = best_quote(segment, hits[n - 1].chunk.text)
            found = quotes.setdefault(n, [])
            if quote not in found:
                found.append(quote)
    return quotes


def _citation(n: int, hit: Hit, quotes: list[str]) -> Citation:
    return Citation(
        n=n,
        chunk_id=hit.chunk.id,
        source=hit.chunk.source,
        uri=hit.chunk.anchored_uri,
        section=hit.chunk.section_path,
        quote=" … ".join(quotes),
    )
