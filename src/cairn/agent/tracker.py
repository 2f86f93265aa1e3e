"""`create_issue`: open an issue in a Roundup tracker through its REST API.

Roundup (https://www.roundup-tracker.org, MIT/ZPL) is a real issue tracker that installs from
PyPI and runs on SQLite; its REST API is `/rest/data/<class>`. The issue's title ends with a
tag made from the idempotency key (`[cairn-<12 hex>]`): before creating, the tool searches
for that tag, so a call repeated under one key (a resume after a crash) finds the issue it
opened and opens no second one. A dry run returns what it would post without connecting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from cairn.agent.tools import FunctionTool, ToolError

Priority = Literal["critical", "urgent", "bug", "feature", "wish"]


@dataclass(frozen=True, kw_only=True, slots=True)
class TrackerConfig:
    url: str
    """The tracker's base URL (its `tracker.web`), e.g. http://127.0.0.1:8917/demo/."""
    username: str
    password: str
    timeout_s: float = 20.0


class IssueIn(BaseModel):
    title: str = Field(min_length=1, max_length=150, pattern=r"^[^\r\n]*$")
    body: str = Field(min_length=1, max_length=50_000, description="The first message.")
    priority: Priority = "bug"


class IssueOut(BaseModel):
    issue_id: str | None
    url: str | None
    created: bool
    """False on a dry run, or when this key's issue already existed."""
    dry_run: bool = False
    title: str


def tag(key: str) -> str:
    return f"cairn-{key[:12]}"


class RoundupClient:
    """The few REST calls the tool makes (Roundup wants an Origin and X-Requested-With)."""

    def __init__(self, config: TrackerConfig) -> None:
        base = config.url.rstrip("/") + "/"
        origin = httpx.URL(base)
        self.base = base
        self.http = httpx.Client(
            base_url=base + "rest/data/",
            auth=(config.username, config.password),
            timeout=config.timeout_s,
            headers={
                "Origin": f"{origin.scheme}://{origin.netloc.decode()}",
                "Referer": base,
                "X-Requested-With": "rest",
                "Accept": "application/json",
            },
        )

    def close(self) -> None:
        self.http.close()

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise ToolError(f"the tracker answered {response.status_code}: {response.text[:300]}")
        return response.json()["data"]

    def find(self, text: str) -> str | None:
        data = self._json(self.http.get("issue", params={"title": text}))
        found = data.get("collection") or []
        return str(found[0]["id"]) if found else None

    def lookup(self, klass: str, field: str, value: str) -> str:
        data = self._json(self.http.get(klass, params={field: value}))
        found = [f for f in data.get("collection") or [] if f.get(field, value) == value]
        if not found:
            raise ToolError(f"the tracker has no {klass} with {field} {value!r}")
        return str(found[0]["id"])

    def create(self, klass: str, fields: dict[str, Any]) -> str:
        return str(self._json(self.http.post(klass, json=fields))["id"])


def create_issue(config: TrackerConfig) -> FunctionTool:
    def run(args: IssueIn, key: str, dry_run: bool) -> IssueOut:
        title = f"{args.title} [{tag(key)}]"
        if dry_run:
            return IssueOut(issue_id=None, url=None, created=False, dry_run=True, title=title)
        client = RoundupClient(config)
        try:
            found = client.find(tag(key))
            if found is not None:
                return IssueOut(
                    issue_id=found, url=f"{client.base}issue{found}", created=False, title=title
                )
            author = client.lookup("user", "username", config.username)
            msg = client.create("msg", {"content": args.body, "author": author})
            issue = client.create(
                "issue",
                {
                    "title": title,
                    "priority": client.lookup("priority", "name", args.priority),
                    "messages": [msg],
                },
            )
        except httpx.HTTPError as exc:
            raise ToolError(f"could not reach the tracker at {config.url}: {exc}") from None
        finally:
            client.close()
        return IssueOut(issue_id=issue, url=f"{client.base}issue{issue}", created=True, title=title)

    return FunctionTool(
        name="create_issue",
        description="Open an issue in the issue tracker.",
        input_model=IssueIn,
        output_model=IssueOut,
        fn=run,
        side_effect="external",
        idempotent=True,
        supports_dry_run=True,
        scopes=("tracker:write",),
    )
