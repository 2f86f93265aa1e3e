"""The web UI: server-rendered HTML shells (Jinja2) and their static assets.

Every page is a thin shell; its script talks to the JSON API (`/v1/...`) on the same
origin. Nothing is built at run time: the templates and the vanilla JS/CSS under
`cairn/web/` ship as package data. See docs/ui.md.
"""

from __future__ import annotations

import hashlib
import mimetypes
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

WEB_DIR: Final = Path(__file__).resolve().parent.parent.parent / "web"
TEMPLATES_DIR: Final = WEB_DIR / "templates"
STATIC_DIR: Final = WEB_DIR / "static"
STATIC_PREFIX: Final = "/static"

# The pages load only same-origin scripts and styles; API calls go to the same origin.
_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_STATIC_TYPES: Final = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}

# Navigation: (path, label, page key).
NAV: Final = (
    ("/", "Ask", "chat"),
    ("/documents", "Documents", "documents"),
    ("/traces", "Traces", "traces"),
    ("/costs", "Costs", "costs"),
    ("/evals", "Evals", "evals"),
    ("/agent", "Agent", "agent"),
)

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["asset"] = asset_url
    env.globals["nav"] = NAV
    return env


@cache
def _asset_version(name: str) -> str:
    path = STATIC_DIR / name
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


def asset_url(name: str) -> str:
    """`/static/NAME?v=HASH`: a content hash busts browser caches when the file changes."""
    return f"{STATIC_PREFIX}/{name}?v={_asset_version(name)}"


def _auth_mode(request: Request) -> str:
    """`local`, `keys`, or `unknown` (the UI then asks for a key on the first 401)."""
    state = request.app.state
    settings: Any = getattr(getattr(state, "cairn", None), "settings", None)
    if settings is None:
        settings = getattr(state, "settings", None)
    mode = getattr(getattr(settings, "server", None), "auth", None)
    return mode if mode in ("local", "keys") else "unknown"


def _page(request: Request, template: str, page: str, title: str, **context: Any) -> HTMLResponse:
    html = (
        _environment()
        .get_template(template)
        .render(page=page, title=title, auth_mode=_auth_mode(request), **context)
    )
    return HTMLResponse(html, headers=_PAGE_HEADERS)


@router.get("/", response_class=HTMLResponse)
def chat_page(request: Request) -> HTMLResponse:
    return _page(request, "chat.html", "chat", "Ask")


@router.get("/documents", response_class=HTMLResponse)
def documents_page(request: Request) -> HTMLResponse:
    return _page(request, "documents.html", "documents", "Documents")


@router.get("/traces", response_class=HTMLResponse)
def traces_page(request: Request) -> HTMLResponse:
    return _page(request, "traces.html", "traces", "Traces")


@router.get("/traces/{trace_id}", response_class=HTMLResponse)
def trace_page(request: Request, trace_id: str) -> HTMLResponse:
    return _page(request, "trace.html", "traces", "Trace", trace_id=trace_id)


@router.get("/costs", response_class=HTMLResponse)
def costs_page(request: Request) -> HTMLResponse:
    return _page(request, "costs.html", "costs", "Costs")


@router.get("/evals", response_class=HTMLResponse)
def evals_page(request: Request) -> HTMLResponse:
    return _page(request, "evals.html", "evals", "Evaluations")


@router.get("/evals/{run_id}", response_class=HTMLResponse)
def eval_run_page(request: Request, run_id: str) -> HTMLResponse:
    return _page(request, "eval_run.html", "evals", "Evaluation run", run_id=run_id)


@router.get("/agent", response_class=HTMLResponse)
def agent_page(request: Request) -> HTMLResponse:
    return _page(request, "agent.html", "agent", "Agent")


@router.get("/favicon.ico")
def favicon() -> Response:
    return static_file("favicon.svg")


@router.get(STATIC_PREFIX + "/{name:path}")
def static_file(name: str) -> Response:
    """A file under `cairn/web/static/` (never outside it)."""
    root = STATIC_DIR.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    media_type = _STATIC_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    return FileResponse(
        path,
        media_type=media_type or "application/octet-stream",
        headers={
            # Pages link assets with ?v=<content hash>, so they may be cached for long.
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )
