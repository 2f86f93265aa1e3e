"""The default answerer: no LLM, only sentences and code taken verbatim from the top chunks.

1. Relevance: cosine between the question and each retrieved chunk (their stored embeddings).
2. Units: each candidate chunk is split into sentences; code blocks, tables and lists stay
   whole.
3. Scoring: a trained sentence scorer (`cairn.answer.features`: key-term coverage, bigram
   overlap, the chunk's relevance and rank, position, section match, code, asides such as
   "See also", answer-type cues) ranks the units: a linear score trained pairwise, so a
   difference of d between two units means odds of e^d that the first holds the answer.
4. Abstention on evidence (`answer.abstention = "evidence"`, the default): an answerability
   model over the best units' scores, the chunks' relevance and the question's terms the
   chunks lack; below its threshold (calibrated on training data, bench/train_answerer.py)
   it abstains. `"similarity"` keeps the older rule: the best chunk's cosine below
   `abstain_threshold`. A question about a qualified name the hits never mention while
   they document its qualifier (`Path.walk` over 3.11's pathlib), and that a look-up in
   the store does not find either, abstains whatever the score (`cairn.answer.absent`,
   `answer.absent_names`).
5. Composition by question kind (`cairn.answer.kinds`): for a how-to, the code example and
   the sentence that introduces it; for an API lookup, the signature and the first sentence
   of its description; for a version question, the version note ("Changed in version
   3.9: ..."), the "New in version" note of an entry it names, and a quote from release
   notes led by their title ("What's New In Python 3.6: PEP 487 extends ...") unless the
   question or a quote names that version; for yes/no, "Yes"/"No" only when the supporting
   sentence settles it;
   otherwise the best unit and the next ones close to it, from at most `max_sources`
   chunks, in source order, each followed by its `[n]` marker. An aside ("See also ...") is
   never quoted when another unit answers. Whatever the kind, an entry the question names
   brings its signature and first description sentence (and, for a parameter of it the
   question names, the first sentence about that parameter), and a module it names the
   first sentence of its page, which leads the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cairn.answer.absent import LOOKUP_K, absent_names, absent_references, as_written
from cairn.answer.base import NOT_FOUND, Draft
from cairn.answer.composition import (
    aside,
    dangling,
    in_context,
    in_same_chunk,
    other_releases,
    release_labels,
    similar,
)
from cairn.answer.features import AnswerModel, answerability_row, load_model, unit_matrix
from cairn.answer.kinds import (
    QuestionKind,
    named_apis,
    named_modules,
    question_kind,
    question_parts,
)
from cairn.answer.terms import content_terms
from cairn.answer.units import (
    Unit,
    candidate_units,
    looks_like_signature,
    names_entry,
    opens_page_of,
    signature_parameters,
)
from cairn.config import AnswerSettings
from cairn.context import current_context
from cairn.embed.base import Embedder
from cairn.store.base import Store
from cairn.types import Citation, Hit

_NEGATION = re.compile(r"\b(?:not|no|never|cannot|can't|isn't|doesn't|don't|aren't|won't)\b", re.I)


@dataclass(frozen=True, slots=True)
class Assessment:
    """The evidence for a question: its kind, units, their scores and the answerability."""

    kind: QuestionKind
    units: list[Unit]
    logits: list[float]
    answerable: float
    """Probability that the candidates answer the question (the answerability model)."""
    relevance: list[float] = field(default_factory=list)
    first_stage: list[float] = field(default_factory=list)
    """The units' scores before the similarity stage (it re-scores only the best few)."""
    entries: dict[int, str] = field(default_factory=dict)
    """For the hits that open an API entry, its name (the chunk's heading, lower-cased)."""
    names: frozenset[str] = frozenset()
    """The identifiers the question names (`named_apis`)."""
    question: str = ""
    """The question as asked (which parameter, whether it asks when something came)."""
    other_releases: frozenset[int] = frozenset()
    """Hits from the release notes of a version the question does not ask about ("What's
    New in Python 2.6" for a question about 3.11)."""
    headings: dict[int, str] = field(default_factory=dict)
    """For every candidate hit under a heading, its last heading, lower-cased (an entry's
    later chunks, which hold its "New in version" note, have no title of their own)."""
    named_pages: frozenset[int] = frozenset()
    """The hits that open the page of a module the question names (`named_modules`): the
    page's first chunk, before any heading, on a page titled "pwd — The password
    database" (a "See also" closing the page has no heading either)."""


class ExtractiveAnswerer:
    """`Answerer` that quotes the documents. Needs the store's embeddings for relevance."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        settings: AnswerSettings,
        model: AnswerModel | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.model = model or load_model()

    @property
    def threshold(self) -> float:
        """The answerability threshold in use (the setting, else the calibrated one)."""
        configured = self.settings.answerable_threshold
        return self.model.threshold if configured is None else configured

    def relevance(self, question: str, hits: Sequence[Hit]) -> list[float]:
        """Cosine similarity of the question to each hit's chunk."""
        if not hits:
            return []
        query = self.embedder.embed([question])[0]
        cached = self.store.cached_embeddings(self.embedder.name, [h.chunk.hash for h in hits])
        missing = [h.chunk.text for h in hits if h.chunk.hash not in cached]
        extra = iter(self.embedder.embed(missing)) if missing else iter(())
        scores = []
        for hit in hits:
            vector = cached.get(hit.chunk.hash)
            if vector is None:
                vector = next(extra)
            scores.append(float(np.dot(query, vector)))
        return scores

    def answer(self, question: str, hits: list[Hit]) -> Draft:
        if not hits:
            return Draft(text=NOT_FOUND, citations=(), abstained=True, reason="no hits")
        return self.answer_with(question, hits, self.relevance(question, hits))

    def answerability(self, question: str, hits: Sequence[Hit]) -> float:
        """Probability that `hits` answer `question`; usable to judge another answerer's
        evidence (below `threshold`, an answer from these hits is unsupported)."""
        if not hits or self.absent(question, hits):
            return 0.0
        return self.assess(question, hits, self.relevance(question, hits)).answerable

    def assess(self, question: str, hits: Sequence[Hit], relevance: Sequence[float]) -> Assessment:
        """Score every unit of the candidates and the question's answerability."""
        kind = question_kind(question)
        best = max(relevance)
        units, views, keep = candidate_units(hits, relevance, self.settings.max_sources * 2)
        if not units:
            return Assessment(kind, [], [], 0.0, list(relevance))
        rows, coverage = unit_matrix(question, kind, views, relevance)
        first = [float(x) for x in self.model.sentences.logits(rows)]
        logits = self.rescore(question, units, first)
        row = answerability_row(
            question,
            logits,
            coverage,
            [relevance[i] for i in keep] or [best],
            [hits[i].chunk.text for i in keep],
        )
        z = float(self.model.answerable.logits(row[None, :])[0])
        probability = 1.0 / (1.0 + np.exp(-z))
        headings = {
            i: hits[i].chunk.section[-1].strip().lower() for i in keep if hits[i].chunk.section
        }
        entries = {u.hit: headings[u.hit] for u in units if u.entry and u.hit in headings}
        others = other_releases(question, kind, hits)
        names = frozenset(named_apis(question))
        modules = named_modules(question)
        named_pages = frozenset(i for i in keep if opens_page_of(hits[i].chunk, modules))
        return Assessment(
            kind,
            units,
            logits,
            probability,
            list(relevance),
            first,
            entries,
            names,
            question,
            others,
            headings,
            named_pages,
        )

    def absent(self, question: str, hits: Sequence[Hit]) -> list[str]:
        """The qualified names asked about that the documents do not mention though they
        document their qualifiers (`cairn.answer.absent`: `hits`, and a look-up in the store
        under the request's filters); none when `answer.absent_names` is off."""
        if not self.settings.absent_names:
            return []
        ctx = current_context()
        filters = ctx.filters if ctx is not None else None

        def lookup(query: str) -> list[Hit]:
            return self.store.lexical_search(query, LOOKUP_K, filters)

        return absent_names(question, hits, lookup) + absent_references(question, hits, lookup)

    def rescore(self, question: str, units: Sequence[Unit], logits: list[float]) -> list[float]:
        """The second stage: the best units re-scored by their sentence embedding's cosine to
        the question (`AnswerModel.similarity_weight`; unchanged when it is 0)."""
        weight, top_n = self.model.similarity_weight, self.model.similarity_top
        if weight == 0.0 or not units:
            return logits
        top = sorted(range(len(units)), key=lambda i: -logits[i])[:top_n]
        vectors = self.embedder.embed(
            [question, *(units[i].text[: self.model.similarity_chars] for i in top)]
        )
        sims = [float(np.dot(vectors[0], v)) for v in vectors[1:]]
        best, worst = max(sims), min(sims)
        out = [score + weight * (worst - best) for score in logits]
        for i, sim in zip(top, sims, strict=True):
            out[i] = logits[i] + weight * (sim - best)
        return out

    def answer_with(self, question: str, hits: list[Hit], relevance: Sequence[float]) -> Draft:
        """The draft for `hits` whose relevance to the question is already known."""
        if not hits:
            return Draft(text=NOT_FOUND, citations=(), abstained=True, reason="no hits")
        best = max(relevance)
        if self.settings.abstention == "similarity" and best < self.settings.abstain_threshold:
            return Draft(
                text=NOT_FOUND,
                citations=(),
                abstained=True,
                reason=f"best chunk similarity {best:.2f} < {self.settings.abstain_threshold:.2f}",
            )
        if missing := self.absent(question, hits):  # before scoring: it needs only the hits
            named = ", ".join(  # a reference ("PEP 701") as it is, a name as code
                name if " " in name else f"`{as_written(name, question)}`" for name in missing
            )
            return Draft(
                text=f"The indexed documents do not mention {named}.",
                citations=(),
                abstained=True,
                reason=f"the documents do not mention {named} (they document its qualifier)",
            )
        assessment = self.assess(question, hits, relevance)
        if not assessment.units:
            return Draft(text=NOT_FOUND, citations=(), abstained=True, reason="empty chunks")
        if self.settings.abstention == "evidence" and assessment.answerable < self.threshold:
            return Draft(
                text=NOT_FOUND,
                citations=(),
                abstained=True,
                reason=(
                    f"evidence does not answer: answerability {assessment.answerable:.2f} < "
                    f"{self.threshold:.2f}"
                ),
            )
        chosen = self._choose(assessment, self._part_leads(question, hits, relevance))
        quoted = [(u.hit, u.text) for u in chosen]
        labels = release_labels(question, assessment.kind, quoted, hits)
        draft = self._compose(chosen, hits, self._polarity(question, assessment, chosen), labels)
        reason = f"extractive ({assessment.kind}; answerability {assessment.answerable:.2f})"
        return Draft(text=draft.text, citations=draft.citations, abstained=False, reason=reason)

    def _ranked(self, a: Assessment) -> list[int]:
        """The units in the order they may lead the answer."""
        units, logits = a.units, a.logits
        ranked = sorted(range(len(units)), key=lambda i: -logits[i])
        direct = [
            i
            for i in ranked
            if not aside(units[i].text)
            and not dangling(units, i)
            and units[i].hit not in a.other_releases
        ]
        if direct:
            # Never a "See also" when something answers directly, nor an introduction
            # ("... in this directory tree:") whose example the chunk cut off, nor the
            # release notes of another version than the one asked about.
            ranked = direct
        if a.kind != "version":
            # Unless the question is about versions, a version note ("Changed in version
            # 3.3: Added the flush keyword argument.") never leads the answer: it says when,
            # not what or how. It may follow the entry it annotates, once that is quoted.
            described = [i for i in ranked if not _VERSION_NOTE.match(units[i].text)]
            if described and described[0] != ranked[0]:
                ranked = described[:1] + [i for i in ranked if i != described[0]]
        return ranked

    def _part_leads(
        self, question: str, hits: Sequence[Hit], relevance: Sequence[float]
    ) -> list[int]:
        """For a message that asks several things, the unit that best answers each part."""
        parts = question_parts(question)
        if len(parts) < 2:
            return []
        return [self._ranked(self.assess(part, hits, relevance))[0] for part in parts]

    def _choose(self, a: Assessment, leads: Sequence[int] = ()) -> list[Unit]:
        units, logits = a.units, a.logits
        ranked = self._ranked(a)
        top = logits[ranked[0]]
        chosen = [ranked[0]]
        # Each part of a question that asks several things brings its own best unit.
        chosen += [i for i in dict.fromkeys(leads) if i != ranked[0]]
        sources = {units[i].hit for i in chosen}
        margin = self.settings.sentence_margin
        lead_margin = self.settings.lead_margin
        lead_margin = margin if lead_margin is None else lead_margin
        best_chunk = units[ranked[0]].hit
        for i in ranked[1:]:
            if len(chosen) >= self.settings.max_sentences:
                break
            if logits[i] < top - max(margin, lead_margin):
                break
            if logits[i] < top - (lead_margin if units[i].hit == best_chunk else margin):
                continue
            if units[i].hit not in sources and len(sources) >= self.settings.max_sources:
                continue
            if (
                a.kind != "version"
                and _VERSION_NOTE.match(units[i].text)
                and units[i].hit not in sources
            ):
                continue  # a note on an entry the answer does not quote
            if any(similar(units[i].text, units[j].text) for j in chosen):
                continue  # the same sentence from another page says nothing new
            chosen.append(i)
            sources.add(units[i].hit)
        pages = self._named_pages(a)
        notes = self._named_notes(a) if a.kind == "version" else []
        chosen = self._by_kind(a, chosen, ranked, pages, notes)
        # The "New in version" note of an entry named by a question asking when it came
        # leads the answer (it is what was asked); then the description of a module the
        # question names.
        first = set(notes) if _ASKS_WHEN.search(a.question) else set()
        lead = {units[i].hit for i in pages}
        return [
            units[i]
            for i in sorted(
                set(chosen),
                key=lambda i: (
                    i not in first,
                    units[i].hit not in lead,
                    units[i].hit,
                    units[i].start,
                ),
            )
        ]

    def _by_kind(
        self,
        a: Assessment,
        chosen: list[int],
        ranked: list[int],
        pages: Sequence[int] = (),
        notes: Sequence[int] = (),
    ) -> list[int]:
        """Complete the chosen units as the question's kind needs; `pages`: the opening
        sentences of the modules the question names (`_named_pages`); `notes`: the "New in
        version" notes of the entries a version question names (`_named_notes`)."""
        units = a.units
        out = list(chosen)
        out.extend(in_context(units, out))
        out.extend(self._named_entries(a))
        out.extend(pages)
        if a.kind == "how-to" and not any(units[i].code for i in out):
            self._add_example(a, out)
        if a.kind == "version" and not any(_VERSION_NOTE.search(units[i].text) for i in out):
            # The best version note ("New in version 3.11", "Changed in version 3.9: ...")
            # of a quoted chunk, else one scoring close to the top.
            quoted = {units[i].hit for i in out}
            floor = a.logits[ranked[0]] - 2 * self.settings.sentence_margin
            versioned = [i for i in ranked if _VERSION_NOTE.search(units[i].text)]
            note = next((i for i in versioned if units[i].hit in quoted), None)
            if note is None:
                note = next((i for i in versioned if a.logits[i] >= floor), None)
            if note is not None:
                out.append(note)
        out.extend(notes)
        # A quoted description brings the signature it describes ("Return the cube root of
        # x." names nothing without "math.cbrt(x)"), whatever the question's kind, and the
        # entry's "New in version" note: when the API can be used at all.
        for i in list(out):
            first = i - units[i].index
            if 0 < units[i].index <= 2 and names_entry(units[first]):
                out.append(first)
                out.extend(
                    j
                    for j in range(first + 1, min(first + 6, len(units)))
                    if in_same_chunk(units, first, j) and _NEW_IN.match(units[j].text)
                )
        if a.kind == "api":
            top = ranked[0]
            first = top - units[top].index
            if names_entry(units[first]):
                out.append(first)
                if in_same_chunk(units, first, first + 1):
                    out.append(first + 1)
        return out

    def _named_pages(self, a: Assessment) -> list[int]:
        """The first sentence of the description of each module the question names, from
        the opening of its page among the candidates ("What is the pwd module for?": "This
        module provides access to the Unix user account and password database."), past its
        "Source code:" and "Availability:" lines."""
        out: list[int] = []
        for hit in sorted(a.named_pages):
            first = next(
                (
                    i
                    for i, u in enumerate(a.units)
                    if u.hit == hit and not u.code and not _PAGE_FURNITURE.match(u.text)
                ),
                None,
            )
            if first is not None:
                out.append(first)
        return out

    def _named_notes(self, a: Assessment) -> list[int]:
        """For a version question, the "New in version 3.3." note of each API entry it names
        (`named_apis`), from any of the entry's chunks among the candidates: when the entry
        came, which another note quoted first ("Changed in version 3.10: ...") does not say.
        Two notes at most."""
        dotted = {n for n in a.names if "." in n}
        out: list[int] = []
        for i, unit in enumerate(a.units):
            heading = a.headings.get(unit.hit, "")
            if (
                len(out) < 2
                and _NEW_IN.match(unit.text)
                and any(heading == n or heading.endswith(f".{n}") for n in dotted)
            ):
                out.append(i)
        return out

    def _named_entries(self, a: Assessment) -> list[int]:
        """The signature and first description sentence of each API entry (two at most) among
        the candidates that the question names (`named_apis`: "is functools.cache just
        lru_cache without the size limit?" names the entries `functools.cache` and
        `functools.lru_cache`): what the documentation says the thing asked about is."""
        dotted = {n for n in a.names if "." in n}
        bare = {n for n in a.names if "." not in n} - {d.rsplit(".", 1)[1] for d in dotted}
        if not a.names:
            return []

        def named(entry: str, signature: str) -> bool:
            # A dotted name picks its entry; a bare one (`zip()`, `lru_cache`) any entry of
            # that name with a call signature, unless the question also names it dotted.
            return any(
                entry == n or entry.endswith(f".{n}") or n.endswith(f".{entry}") for n in dotted
            ) or ("(" in signature and any(entry == n or entry.endswith(f".{n}") for n in bare))

        out: list[int] = []
        for hit, entry in list(a.entries.items()):
            first = next(i for i, u in enumerate(a.units) if u.hit == hit)
            if len(out) >= 4 or not named(entry, a.units[first].text):
                continue
            description = next(
                (
                    i
                    for i in range(first + 1, min(first + 3, len(a.units)))
                    if a.units[i].hit == hit and not a.units[i].code
                ),
                None,
            )
            if description is not None:
                out.extend((first, description))
            out.extend(self._parameter_sentences(a, first))
        return out

    def _parameter_sentences(self, a: Assessment, first: int) -> list[int]:
        """For each parameter of the signature `first` that the question names ("what does
        the indent argument of json.dumps do?"), the first sentence of the entry's chunk
        that mentions it, besides the signature (two at most)."""
        words = set(_WORDS.findall(a.question))
        asked = [p for p in signature_parameters(a.units[first].text) if p in words]
        out: list[int] = []
        for param in asked[:2]:
            mention = re.compile(rf"(?<![\w.]){re.escape(param)}(?!\w)")
            found = next(
                (
                    i
                    for i in range(first + 1, len(a.units))
                    if in_same_chunk(a.units, first, i)
                    and not a.units[i].code
                    and mention.search(a.units[i].text)
                ),
                None,
            )
            if found is not None:
                out.append(found)
        return out

    def _add_example(self, a: Assessment, out: list[int]) -> None:
        """For a how-to: the best code example with the sentence introducing it (the one
        ending in ":" just before), when it or its introduction scores close to the top (in
        the first stage, which scores every unit):
        within twice the margin in a quoted chunk or by its introduction, else within the
        margin."""
        units, logits = a.units, a.first_stage or a.logits
        margin = self.settings.sentence_margin
        top = max(logits)
        quoted = {units[i].hit for i in out}
        best: tuple[float, int, int] | None = None
        for c, unit in enumerate(units):
            if not unit.code or len(unit.text.split()) > 120:
                continue
            intro = next(
                (
                    j
                    for j in (c - 1, c - 2)
                    if j >= 0
                    and units[j].hit == unit.hit
                    and not units[j].code
                    and units[j].text.rstrip().endswith(":")
                ),
                c,
            )
            score = max(logits[c], logits[intro])
            wide = unit.hit in quoted or (intro != c and logits[intro] >= logits[c])
            floor = top - (2 * margin if wide else margin)
            if score >= floor and (best is None or score > best[0]):
                best = (score, intro, c)
        if best is not None:
            out.extend(range(best[1], best[2] + 1))

    def _polarity(self, question: str, a: Assessment, chosen: list[Unit]) -> str:
        """ "Yes" or "No" for a yes/no question the best unit settles; else ""."""
        if a.kind != "yes-no" or not chosen:
            return ""
        best = max(range(len(a.units)), key=lambda i: a.logits[i])
        unit = a.units[best]
        query = set(content_terms(question))
        terms = set(content_terms(unit.text))
        if (
            not query
            or len(query & terms) / len(query) < 0.6
            or unit.code
            or len(unit.text.split()) > 40
            or not unit.text.rstrip().endswith((".", "!"))
            or looks_like_signature(unit.text)
        ):
            return ""  # the sentence does not speak to the whole question
        negated = bool(_NEGATION.search(unit.text)) != bool(_NEGATION.search(question))
        return "No" if negated else "Yes"

    def _compose(
        self,
        chosen: list[Unit],
        hits: list[Hit],
        polarity: str = "",
        labels: dict[int, str] | None = None,
    ) -> Draft:
        """The answer text and its citations; `labels`: hit index -> a label leading the
        first quote from that hit (`release_labels`: "What's New In Python 3.6: ...")."""
        numbers: dict[int, int] = {}
        quotes: dict[int, list[str]] = {}
        parts: list[str] = []
        pending = dict(labels or {})
        for unit in chosen:
            n = numbers.setdefault(unit.hit, len(numbers) + 1)
            quotes.setdefault(unit.hit, []).append(unit.text)
            label = pending.pop(unit.hit, None)
            lead = "" if label is None else f"{label}: "
            if unit.code:
                parts.append(f"{lead.rstrip()}\n```\n{unit.text}\n```\n[{n}]\n")
            else:
                parts.append(f"{lead}{unit.text} [{n}]")
        if polarity and parts and not chosen[0].code:
            parts[0] = f"{polarity}: {parts[0]}"
        text = re.sub(r"\n{3,}", "\n\n", " ".join(parts).replace(" \n", "\n")).strip()
        citations = tuple(
            Citation(
                n=n,
                chunk_id=hits[i].chunk.id,
                source=hits[i].chunk.source,
                uri=hits[i].chunk.anchored_uri,
                section=hits[i].chunk.section_path,
                quote=" … ".join(quotes[i]),
            )
            for i, n in numbers.items()
        )
        return Draft(text=text, citations=citations, abstained=False, reason="extractive")


_VERSION_NOTE = re.compile(
    r"\b(?:new in version|changed in version|deprecated since version|added in version|"
    r"removed in version)\s+\d",
    re.IGNORECASE,
)


_WORDS = re.compile(r"[A-Za-z_]\w*")


_ASKS_WHEN = re.compile(
    r"\bwhen (?:was|were|did)\b|\b(?:which|what) (?:python )?(?:version|release)\b|"
    r"\bsince (?:when|which)\b|\badded\b|\bintroduced\b|\bminimum\b",
    re.IGNORECASE,
)
"""A question asking when something came ("which version added ...", "since when ...")."""


_NEW_IN = re.compile(r"^\s*(?:new|added) in version\s+\d[\d.]*\.?\s*$", re.IGNORECASE)


_PAGE_FURNITURE = re.compile(
    r"^(?:Source code:|Availability:|Deprecated|Note:|Warning:|See also:|New in version|"
    r"Changed in version)",
    re.IGNORECASE,
)
