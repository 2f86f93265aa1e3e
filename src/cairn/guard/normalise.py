"""Text normalisation against evasion, before any rule or model looks at the text.

`normalise(text)` returns the canonical text and every *view* worth scanning, plus the
evasion signals it saw on the way:

- invisible characters (zero-width, bidi controls, variation selectors, soft hyphens) are
  removed; Unicode tag characters (U+E0000 block, "ASCII smuggling") are removed and the
  ASCII they encode becomes a view of its own;
- NFKC folds compatibility forms (full-width, mathematical alphanumerics, ligatures);
- confusables: a word that mixes Latin letters with look-alikes from other scripts
  ("іgnоre" with Cyrillic і and о) is transliterated with `anyascii`; words wholly in
  another script are kept, so Russian or Chinese text stays as it is;
- letters spaced out ("i g n o r e", "i.g.n.o.r.e") are joined;
- base64, hex and rot13 payloads are decoded and scanned as views of their own.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from dataclasses import dataclass

from anyascii import anyascii

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001d173-\U0001d17a\U000e0100-\U000e01ef]"
)
_TAGS = re.compile("[\U000e0000-\U000e007f]+")
_WORD = re.compile(r"\w+")
# Four or more single letters (not digits: table columns) each followed by one to three separators.
_SPACED = re.compile(r"(?<!\w)(?:[^\W\d_][ \t.\-_*|/]{1,3}){3,}[^\W\d_](?!\w)")
_SEPARATORS = re.compile(r"[ \t.\-_*|/]+")
_SPACES = re.compile(r"[ \t]{2,}")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :]?){8,}(?![0-9A-Fa-f])")
_COMMON = frozenset(
    [
        "the",
        "you",
        "your",
        "and",
        "are",
        "all",
        "any",
        "to",
        "of",
        "is",
        "in",
        "that",
        "this",
        "with",
        "for",
        "not",
        "now",
        "me",
        "print",
        "say",
        "ignore",
        "instructions",
        "previous",
        "prompt",
        "system",
        "password",
        "secret",
        "reveal",
    ]
)
_MAX_VIEWS = 8
# Letters of other scripts drawn like Latin ones (from Unicode's confusables.txt, TR39): their
# presence in a Latin word is the signal. Accented Latin letters and, say, the β of "TGFβ"
# are folded too but are no sign of evasion.
_LOOKALIKES = frozenset(
    "аезікмнорстухѕјԁԛԝһӏвАВЕЗІКМНОРСТУХЅЈ"  # Cyrillic
    "οιΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"  # Greek (not α, κ, μ, ν, ρ, τ, χ: science writes "NF-κB", "μM")
    "ɑɡɩɪʏ"  # Latin small capitals and letters that pass for plain ones
)


@dataclass(frozen=True, slots=True)
class Normalised:
    """The canonical text, the views to scan (the canonical text first), and the signals."""

    text: str
    views: tuple[str, ...]
    signals: tuple[str, ...]


def normalise(text: str) -> Normalised:
    """Canonical form of `text` plus decoded payload views and evasion signals."""
    signals: list[str] = []
    extra: list[str] = []

    tags = _TAGS.findall(text)
    if tags:
        signals.append("tag-characters")
        hidden = "".join(
            chr(ord(c) - 0xE0000) for run in tags for c in run if 0xE0020 <= ord(c) <= 0xE007E
        )
        if hidden.strip():
            extra.append(hidden.lower())
        text = _TAGS.sub("", text)
    stripped = _INVISIBLE.sub("", text)
    if stripped != text:
        signals.append("invisible-characters")
    text = unicodedata.normalize("NFKC", stripped)

    folded, mixed = _fold_confusables(text)
    if mixed:
        signals.append("confusables")
    canonical = folded.casefold()

    joined = _SPACED.sub(_join_spaced, canonical)
    if joined != canonical:
        signals.append("spaced-letters")
        canonical = _SPACES.sub(" ", joined).strip()

    for decoded, signal in _payloads(text):
        if signal not in signals:
            signals.append(signal)
        extra.append(decoded)

    views = [canonical, *dict.fromkeys(v for v in extra if v and v != canonical)]
    return Normalised(canonical, tuple(views[:_MAX_VIEWS]), tuple(signals))


def _fold_confusables(text: str) -> tuple[str, bool]:
    """Transliterate words that mix ASCII and other letters; say if any was a look-alike."""
    mixed = False

    def fold(match: re.Match[str]) -> str:
        nonlocal mixed
        word = match.group(0)
        if word.isascii() or not any("a" <= c.lower() <= "z" for c in word):
            return word
        mixed = mixed or any(c in _LOOKALIKES for c in word)
        return anyascii(word)

    return _WORD.sub(fold, text), mixed


def _join_spaced(match: re.Match[str]) -> str:
    return _SEPARATORS.sub("", match.group(0)) + " "


def _payloads(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for m in _BASE64.finditer(text):
        token = m.group(0)
        if token.isalpha() and (token.islower() or token.isupper()):
            continue  # a long plain word, not base64
        decoded = _text_or_none(_b64(token))
        if decoded is not None:
            found.append((decoded.casefold(), "base64-payload"))
    for m in _HEX.finditer(text):
        digits = re.sub(r"[ :]", "", m.group(0))
        if digits.isdigit():
            continue  # a long number
        try:
            decoded = _text_or_none(binascii.unhexlify(digits[: len(digits) // 2 * 2]))
        except (binascii.Error, ValueError):
            decoded = None
        if decoded is not None:
            found.append((decoded.casefold(), "hex-payload"))
    rot = codecs.decode(text, "rot13").casefold()
    if _common_words(rot) >= 3 and _common_words(rot) > 2 * _common_words(text.casefold()):
        found.append((rot, "rot13-payload"))
    return found


def _b64(token: str) -> bytes:
    padded = token + "=" * (-len(token) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _text_or_none(raw: bytes) -> str | None:
    """Decoded bytes when they read as text (mostly printable, some letters), else None."""
    if len(raw) < 6:
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(c.isprintable() or c in "\n\t" for c in decoded)
    letters = sum(c.isalpha() for c in decoded)
    if printable < 0.95 * len(decoded) or letters < 0.5 * len(decoded.replace(" ", "")):
        return None
    return decoded


def _common_words(text: str) -> int:
    return sum(w in _COMMON for w in _WORD.findall(text))
