"""The rule layer: known injection, jailbreak and system-prompt-extraction phrasings.

Rules run on every view `normalise` produced (lower-cased, confusables folded, payloads
decoded), so one pattern covers its disguised forms too. Each rule has a name that becomes
a reason (`rule:<name>`); the patterns ask for an instruction *and* its object ("ignore the
previous instructions", not "ignore this warning") to keep benign text that merely uses the
trigger words (NotInject) out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_PRIOR = (
    r"(?:all |any |the |your |my |these |those |every )*"
    r"(?:previous|prior|above|earlier|preceding|former|original|initial|old|system|given|"
    r"existing|developer)"
)
_ORDERS = (
    r"(?:instructions?|prompts?|directions?|directives?|rules?|guidelines?|commands?|context|"
    r"messages?|text|guidance|programming|constraints|restrictions|polic(?:y|ies))"
)
_SYSTEM = (
    r"(?:system prompt|system message|(?:initial|original|hidden|secret|full|entire) "
    r"(?:prompt|instructions)|pre-?prompt|instructions you (?:were|have been) given|"
    r"your (?:initial |original |hidden |secret |full |exact )?"
    r"(?:instructions|rules|guidelines|prompt)\b(?! (?:for|to|on|about|if|when|with|that)\b))"
)
_SECRET = (
    rf"(?:{_SYSTEM}|the (?:instructions|prompt|rules) (?:above|before)|access code|password|"
    r"secret (?:key|code|word|phrase))"
)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    pattern: re.Pattern[str]


def _rule(name: str, pattern: str) -> Rule:
    return Rule(name, re.compile(pattern, re.IGNORECASE | re.DOTALL))


RULES: tuple[Rule, ...] = (
    _rule(
        "ignore-instructions",
        rf"\b(?:ignore|disregard|forget|skip|override|bypass|abandon|drop|neglect|overlook|discard)\b"
        rf"[^.!?\n]{{0,40}}?\b{_PRIOR}\b[^.!?\n]{{0,25}}?\b{_ORDERS}\b",
    ),
    _rule(
        "ignore-instructions",
        rf"\b(?:do not|don't|never) (?:follow|obey|listen to)\b[^.!?\n]{{0,30}}?\b{_ORDERS}\b",
    ),
    _rule(
        "new-instructions",
        r"\b(?:new|updated|real|actual|revised|true) "
        r"(?:instructions?|task|rules|orders|directives?)\s*(?::|are\b|follow\b|is to\b)",
    ),
    _rule(
        "prompt-extraction",
        rf"\b(?:print|repeat|reveal|display|output|recite|leak|dump|echo|spell out|paste|"
        rf"write (?:out|down)|copy)\b[^.!?\n]{{0,40}}?\b{_SECRET}",
    ),
    _rule(
        "prompt-extraction",
        r"\b(?:tell|give|show|list|share|provide|return|translate|summari[sz]e|"
        rf"what (?:is|are|was|were))\b[^.!?\n]{{0,30}}?\b{_SYSTEM}",
    ),
    _rule(
        "prompt-extraction",
        r"\b(?:everything|all(?: the)? text|the text|all words|the words|what was written|"
        r"the content) (?:above|before|prior to) (?:this|that|here|the (?:line|message|user))",
    ),
    _rule(
        "prompt-extraction",
        r"\b(?:begin|start) (?:your (?:reply|response|answer) )?with\b[^.!?\n]{0,30}?"
        r"(?:access granted|here (?:is|are) (?:my|the) (?:instructions|prompt))",
    ),
    _rule(
        "role-override",
        r"\byou are (?:now|no longer|going to (?:act|pretend|be)|about to immerse)\b",
    ),
    _rule(
        "role-override",
        r"\b(?:act|behave|respond|pretend|roleplay) as (?:if you (?:are|were) )?(?:an? )?"
        r"(?:unrestricted|unfiltered|uncensored|jailbroken|evil|dan\b|developer mode)",
    ),
    _rule(
        "jailbreak-persona",
        r"\b(?:do anything now|developer mode (?:enabled|output|on)|jailbr(?:oken|eak mode)|"
        r"dan mode|stan mode|dude mode|anti-?dan|aim mode|evil confidant|"
        r"\bdan\b[^.\n]{0,40}\b(?:can do anything|stands for))",
    ),
    _rule(
        "no-restrictions",
        r"\b(?:without|free (?:of|from)|not bound by|no longer bound by|freed from|ignore|ignoring|"
        r"bypass|disable|remove)\b (?:any |all |the |your |its )?(?:kind of |sort of )?"
        r"(?:(?:ethical|moral|content|safety|openai|legal|usual|typical) (?:restrictions|filters|"
        r"filtering|censorship|guidelines|limitations|constraints|policies|boundaries|rules|"
        r"considerations)|restrictions|filters|filtering|censorship|limitations)\b",
    ),
    _rule(
        "fake-system-message",
        r"(?:^|\n|\s)(?:\[?(?:system|admin|developer|assistant) ?(?:notice|message|override|"
        r"instruction|prompt|note|alert)\]?\s*:|<\|?(?:im_start|im_end|system|endoftext)\|?>|"
        r"\[/?(?:inst|sys)\]|<<sys>>|#{2,}\s*(?:system|instruction|end of (?:prompt|input)))",
    ),
    _rule(
        "fake-system-message",
        r"\bimportant (?:system )?(?:notice|message|instructions?|update) (?:for|to) "
        r"(?:ai|the ai|llms?|language models?|assistants?|the assistant|chatbots?)\b",
    ),
    _rule(
        "fake-system-message",
        r"\b(?:important|urgent|mandatory|official) (?:note|notice|message|update|instructions?) "
        r"from (?:the )?(?:developers?|admins?|administrators?|system|operators?|openai|anthropic)",
    ),
    _rule(
        "access-granted",
        r"\b(?:say|print|output|respond(?: with)?|reply(?: with)?|write|answer(?: with)?|"
        r"begin with|start with)\b[^.\n]{0,30}?access granted",
    ),
    _rule(
        "exfiltration",
        r"\b(?:send|email|e-mail|forward|post|upload|transmit|exfiltrate)\b[^.!?\n]{0,40}?"
        r"\b(?:password|credentials|api key|secret|token|credit card|conversation|chat history|"
        r"personal (?:data|information))\b[^.!?\n]{0,40}?\b(?:to|at)\b",
    ),
    _rule(
        "exfiltration",
        r"!\[[^\]]*\]\(https?://[^)\s]*[?&][^)\s]*=",
    ),
    _rule(
        "instruction-to-assistant",
        r"\b(?:ai assistants?|language models?|llms?|chatbots?|the assistant)\b[^.!?\n]{0,30}?"
        r"\b(?:must|should|are required to|need to)\b[^.!?\n]{0,20}?"
        r"\b(?:ignore|tell|instruct|respond|reply|say|include|add|reveal|send)\b",
    ),
    _rule(
        "instruction-to-assistant",
        r"\b(?:in|to) your (?:response|answer|reply)\b[^.!?\n]{0,60}?"
        r"\b(?:add|include|insert|integrate|mention|promote|append)\b|"
        r"\b(?:add|include|insert|integrate|append)\b[^.!?\n]{0,60}?"
        r"\b(?:in|to|into) your (?:response|answer|reply)\b|"
        r"\b(?:encode|encrypt|translate|reverse|rewrite|format)\b[^.!?\n]{0,30}?"
        r"\byour (?:response|answer|reply)\b|"
        r"\byour (?:response|answer|reply)(?:'s)? (?:character|word) order\b",
    ),
)


def match_rules(views: Iterable[str]) -> tuple[str, ...]:
    """The names of the rules any view matches, as reasons `rule:<name>`, each once."""
    reasons: dict[str, None] = {}
    texts = list(views)
    for rule in RULES:
        reason = f"rule:{rule.name}"
        if reason in reasons:
            continue
        if any(rule.pattern.search(text) for text in texts):
            reasons[reason] = None
    return tuple(reasons)
