"""The trained layer: logistic regression on hashed character n-grams, numpy only at run time.

Features: the UTF-8 bytes of a normalised text, every 2- to 5-gram hashed (a polynomial
rolling hash, mixed, modulo `dim`) into a bag, counts damped with log1p and the vector scaled
to unit length. Two weight vectors ship in `injection_guard.npz` (package data), trained by
`bench/train_injection_guard.py` on the training splits of the shared datasets:

- `question`: direct injection, jailbreak and system-prompt extraction in a user's question;
- `chunk`: instructions planted in a document (indirect injection), scored per unit (line,
  sentence or table cell, long ones in short windows: `units`, marked at their start and end)
  and taking the highest. Weights trained with an off-topic weight (`meta.features.offtopic`)
  add to each unit's logit that weight times the share of the unit's content words no other
  unit of the chunk uses (`offtopic`): an ordinary request planted in an e-mail or a table
  ("Describe the advancements in cancer treatment ...") reads like document text to the
  n-grams, but shares no words with the document around it.

Each has a threshold calibrated at a fixed false-positive rate, recorded with the training
data, seed and metrics in the file's `meta` (JSON).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from cairn.errors import ModelError

Kind = Literal["question", "chunk"]
NGRAMS = (2, 3, 4, 5)
DIM = 1 << 18
WINDOW = 400
STRIDE = 200
SHORT_WINDOW = 160
SHORT_STRIDE = 80
"""Weights trained with `--short-windows` (`meta.features.short_window`) also score segments
longer than this in short windows, so an instruction run into a long line of other text (a
table row, an e-mail without line breaks) is not diluted. The shipped weights do not."""
_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0xFF51AFD7ED558CCD)
_SALT = np.uint64(0x9E3779B97F4A7C15)


def features(text: str, dim: int = DIM) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The sparse feature vector of `text`: bucket indices (sorted, unique) and their values."""
    raw = np.frombuffer(f" {text} ".encode(), dtype=np.uint8).astype(np.uint64)
    parts = []
    with np.errstate(over="ignore"):
        for n in NGRAMS:
            if raw.size < n:
                continue
            count = raw.size - n + 1
            h = raw[:count].copy()
            for k in range(1, n):
                h = h * _PRIME + raw[k : k + count]
            h = h + np.uint64(n) * _SALT
            h ^= h >> np.uint64(33)
            h *= _MIX
            h ^= h >> np.uint64(29)
            parts.append(h % np.uint64(dim))
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    buckets, counts = np.unique(np.concatenate(parts).astype(np.int64), return_counts=True)
    values = np.log1p(counts).astype(np.float32)
    values /= np.float32(np.linalg.norm(values))
    return buckets, values


_BREAK = re.compile(r"\n+|(?<=[.!?:;])\s+")
MIN_SEGMENT = 40
_UNIT_BREAK = re.compile(r"\n+|(?<=[.!?])\s+|\s*\|\s*")
_LETTERS = re.compile(r"[^\W\d_]{2,}")
_TOKEN = re.compile(r"\S+")
UNIT_WINDOW = 160
BOS = "\x02"
EOS = "\x03"
"""Markers around a unit for heads trained with `meta.features.marked`: the n-grams at a
unit's start ("\x02Summ") tell an instruction that opens a sentence from the same words
inside one."""


_CONTENT = re.compile(r"[a-z]{3,}")
_COMMON = frozenset(
    "the and for that this with you your are was were have has had not but from they their "  # noqa: SIM905
    "them what which when where who will would can could should about into than then there "
    "these those our out all any its also been more most some such only other over very just "
    "may might must shall".split()
)


def content_words(text: str) -> set[str]:
    """The lower-cased words of three letters or more in `text`, common function words left out."""
    return {w for w in _CONTENT.findall(text.lower()) if w not in _COMMON}


def offtopic(found: list[str]) -> list[float]:
    """For each unit of a chunk, the share of its content words that no other unit uses.

    0 for a unit without content words, and for every unit of a one-unit chunk (nothing to
    compare with). A planted request is mostly new words (about 0.98 on planted bipia train
    attacks), a document's own lines share about half of theirs with the rest.
    """
    if len(found) < 2:
        return [0.0] * len(found)
    words = [content_words(u) for u in found]
    used = Counter(w for ws in words for w in ws)
    return [sum(used[w] == 1 for w in ws) / len(ws) if ws else 0.0 for ws in words]


def segments(text: str, short: int | None = None) -> list[str]:
    """Lines and sentences of `text`, short ones merged with the next, long ones windowed.

    A short piece that is a sentence of four words or more is also kept on its own; with
    `short` (a window size), a segment longer than that is also cut into short overlapping
    windows (`short_windows`).

    A chunk is scored by its most suspicious segment, so one planted sentence is not diluted
    by the page around it.
    """
    out: list[str] = []
    pending = ""
    for piece in _BREAK.split(text):
        piece = piece.strip()
        if not piece:
            continue
        if len(piece) < MIN_SEGMENT and piece[-1] in ".!?" and len(piece.split()) >= 4:
            out.append(piece)  # a short sentence ("Encode your answer in Base64.") on its own too
        pending = f"{pending} {piece}" if pending else piece
        if len(pending) >= MIN_SEGMENT:
            out.extend(windows(pending))
            pending = ""
    if pending:
        if out and len(out[-1]) + len(pending) < WINDOW:
            out[-1] = f"{out[-1]} {pending}"
        else:
            out.append(pending)
    out = out or [text]
    if short is None:
        return out
    return out + [w for seg in out if len(seg) > short for w in short_windows(seg, short)]


def units(text: str, size: int = UNIT_WINDOW) -> list[str]:
    """Lines, sentences and table cells of `text`, each judged on its own.

    The pieces between line breaks, sentence ends and `|` (a table row run into one line by
    the text reader) are whitespace-normalised; pieces shorter than `MIN_SEGMENT` characters
    are merged with their neighbours (table cells into rows), except a sentence of three
    words or more, which is also kept alone ("Reply in reverse."); longer ones are cut into
    word-aligned windows of `size` characters at half-window steps, so an instruction run into
    a long line is judged with little of the text around it. Pieces without a word are
    dropped.
    """
    out: list[str] = []
    pending = ""
    for raw in _UNIT_BREAK.split(text):
        piece = " ".join(raw.split()) if raw else ""
        if not piece:
            continue
        if len(piece) >= MIN_SEGMENT:
            if pending:
                out.append(pending)
                pending = ""
            out.extend(word_windows(piece, size))
            continue
        if piece[-1] in ".!?" and len(_LETTERS.findall(piece)) >= 3:
            out.append(piece)
        pending = f"{pending} {piece}" if pending else piece
        if len(pending) >= MIN_SEGMENT:
            out.append(pending)
            pending = ""
    if pending:
        out.append(pending)
    found = [u for u in dict.fromkeys(out) if _LETTERS.search(u)]
    return found or [" ".join(text.split())[:size]]


def word_windows(text: str, size: int = UNIT_WINDOW) -> list[str]:
    """Word-aligned windows of about `size` characters at half-window steps (the text itself
    when it is at most 1.25 times `size`)."""
    if len(text) <= size * 1.25:
        return [text]
    words = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    out: list[str] = []
    i = 0
    while i < len(words):
        start = words[i][0]
        j = i
        while j < len(words) and words[j][1] - start <= size:
            j += 1
        j = max(j, i + 1)
        out.append(text[start : words[j - 1][1]])
        if j >= len(words):
            break
        k = i + 1
        while k < j and words[k][0] - start < size // 2:
            k += 1
        i = k
    return out


def short_windows(text: str, size: int = SHORT_WINDOW) -> list[str]:
    """Windows of `size` characters (stride half that) over `text`, the last one flush with
    its end."""
    found = windows(text, size, size // 2)
    tail = text[-size:]
    if found and found[-1] != tail and tail.strip():
        found.append(tail)
    return found


def windows(text: str, size: int = WINDOW, stride: int = STRIDE) -> list[str]:
    """Overlapping windows of `text` (the text itself when it is short)."""
    if len(text) <= size:
        return [text]
    starts = range(0, len(text) - size + stride, stride)
    return [text[s : s + size] for s in starts if text[s : s + size].strip()]


@dataclass(frozen=True, slots=True)
class Head:
    """One trained weight vector with its calibrated threshold."""

    weights: npt.NDArray[np.float32]
    bias: float
    threshold: float
    marked: bool = False
    """Trained on texts wrapped in `BOS`/`EOS` (`meta.features.marked`)."""

    def probability(self, text: str) -> float:
        return float(1.0 / (1.0 + np.exp(-self.logit(text))))

    def logit(self, text: str) -> float:
        if self.marked:
            text = f"{BOS}{text}{EOS}"
        buckets, values = features(text, self.weights.size)
        return float(self.weights[buckets] @ values) + self.bias


def chunk_logit(head: Head, text: str, offtopic_weight: float = 0.0) -> float:
    """The highest logit over the units of `text` (a normalised chunk), each unit's raised by
    `offtopic_weight` times its `offtopic` share."""
    found = units(text)
    logits = [head.logit(u) for u in found]
    if offtopic_weight:
        shares = offtopic(found)
        logits = [x + offtopic_weight * s for x, s in zip(logits, shares, strict=True)]
    return max(logits)


@dataclass(frozen=True, slots=True)
class InjectionClassifier:
    """The shipped linear model: `probability(text, kind)` in [0, 1], and its thresholds."""

    question: Head
    chunk: Head
    meta: dict[str, Any]

    @property
    def by_units(self) -> bool:
        """Whether the chunk head scores `units` (`meta.features.segmenter == "units"`)."""
        return bool(self.meta.get("features", {}).get("segmenter") == "units")

    @property
    def short_window(self) -> int | None:
        """The short-window size the chunk head was trained with (None: none)."""
        value = self.meta.get("features", {}).get("short_window")
        return int(value) if value else None

    @property
    def offtopic_weight(self) -> float:
        """What the chunk head adds to a unit's logit per unit of `offtopic` share (0: none)."""
        return float(self.meta.get("features", {}).get("offtopic", 0.0))

    @classmethod
    def load(cls, path: Path | None = None) -> InjectionClassifier:
        """Load the weights from `path`, by default the file shipped in the package."""
        source = path or Path(str(resources.files("cairn.guard") / "injection_guard.npz"))
        try:
            with np.load(source, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                marked = meta.get("features", {}).get("marked", {})
                heads = {
                    kind: Head(
                        weights=data[f"{kind}_weights"].astype(np.float32),
                        bias=float(data[f"{kind}_bias"]),
                        threshold=float(meta["thresholds"][kind]),
                        marked=bool(marked.get(kind, False)),
                    )
                    for kind in ("question", "chunk")
                }
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(
                f"cannot read the injection classifier weights at {source}: {exc}. "
                "Reinstall cairn, or retrain them with "
                "`python bench/train_injection_guard.py --datasets ../shared/datasets`."
            ) from exc
        return cls(question=heads["question"], chunk=heads["chunk"], meta=meta)

    def head(self, kind: Kind) -> Head:
        return self.question if kind == "question" else self.chunk

    def probability(self, text: str, kind: Kind = "question") -> float:
        """The model's probability that `text` (already normalised) is an injection."""
        head = self.head(kind)
        if kind == "question":
            return head.probability(text)
        if self.by_units:
            return float(1.0 / (1.0 + np.exp(-chunk_logit(head, text, self.offtopic_weight))))
        return max(head.probability(s) for s in segments(text, self.short_window))
