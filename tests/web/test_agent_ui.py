"""The agent page in a real browser against a real `cairn serve`: a run waiting for approval
shows in the inbox with its exact arguments; approving it there carries the run on (the note
is written once) and the run's timeline shows its audit records; a second waiting call is
rejected from the page; a third call's arguments are edited there as JSON (bad JSON and the
API's 422 shown under the editor, nothing lost), and the edited call waits for its own
approval before it runs."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.replies import Reply
from tests.web.conftest import PHONE, Server, shot

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.integration

NewPage = Callable[..., "Page"]


def start_run(server: Server, task: str) -> dict[str, Any]:
    request = urllib.request.Request(
        server.url + "/v1/agent/runs",
        data=json.dumps({"task": task}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        out: dict[str, Any] = json.loads(response.read())
    return out


def test_approvals_inbox_and_run_timeline(
    server: Server, fake_llm: FakeLLMServer, new_page: NewPage
) -> None:
    fake_llm.enqueue(
        Reply.call("write_note", {"name": "ui-note", "text": "Approved in the browser."})
    )
    first = start_run(server, "Write the UI note")
    fake_llm.enqueue(Reply.call("write_note", {"name": "ui-rejected", "text": "Never written."}))
    second = start_run(server, "Write the rejected note")
    assert first["status"] == second["status"] == "awaiting_approval"

    page = new_page()
    page.goto("/agent")
    approve_item = page.locator(f".agent-pending[data-run='{first['run_id']}']")
    reject_item = page.locator(f".agent-pending[data-run='{second['run_id']}']")
    assert "ui-note" in approve_item.locator(".agent-args").inner_text()
    digest = first["pending"][0]["args_digest"][:16]
    assert digest in approve_item.inner_text()
    shot(page, "agent-inbox")

    fake_llm.enqueue("Wrote the note.")
    approve_item.get_by_role("button", name="Approve").click()
    page.locator(f".agent-pending[data-run='{first['run_id']}']").wait_for(state="detached")
    fake_llm.enqueue("Understood, no note.")
    reject_item.get_by_role("button", name="Reject").click()
    page.locator(f".agent-pending[data-run='{second['run_id']}']").wait_for(state="detached")
    assert (server.workspace / "notes" / "ui-note.md").exists()
    assert not (server.workspace / "notes" / "ui-rejected.md").exists()
    assert server.get(f"/v1/agent/runs/{first['run_id']}")["status"] == "done"
    assert server.get(f"/v1/agent/runs/{second['run_id']}")["calls"][0]["state"] == "rejected"

    page.locator(f".agent-run[data-run='{first['run_id']}'] button").click()
    records = page.locator(".agent-record")
    records.last.wait_for()
    kinds = [records.nth(i).get_attribute("data-kind") for i in range(records.count())]
    assert kinds[0] == "run_started" and "run_finished" in kinds
    assert any(k and "approv" in k for k in kinds)
    assert "done" in page.locator("#agent-timeline").inner_text()
    shot(page, "agent-timeline")

    phone = new_page(viewport=PHONE)
    phone.goto("/agent")
    phone.locator(".agent-run").first.wait_for()
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= phone.evaluate("() => window.innerWidth")


def test_a_call_edited_in_the_inbox_needs_its_own_approval(
    server: Server, fake_llm: FakeLLMServer, new_page: NewPage
) -> None:
    fake_llm.enqueue(Reply.call("write_note", {"name": "ui-draft", "text": "First draft."}))
    run = start_run(server, "Write the draft note")
    [before] = run["pending"]
    page = new_page()
    page.goto("/agent")
    item = page.locator(f".agent-pending[data-run='{run['run_id']}']")
    item.get_by_role("button", name="Edit").click()
    editor = item.get_by_label("New arguments for write_note (JSON)")
    assert json.loads(editor.input_value()) == before["args"]

    error = item.locator(".agent-edit-error")
    editor.fill('{"name": "ui-edited",')
    item.get_by_role("button", name="Save arguments").click()
    error.filter(has_text="Not valid JSON").wait_for()
    editor.fill('{"name": "ui-edited"}')  # the tool's schema needs `text`: the API says 422
    item.get_by_role("button", name="Save arguments").click()
    error.filter(has_text="Not accepted by write_note").wait_for()
    assert "text" in error.inner_text()
    assert editor.input_value() == '{"name": "ui-edited"}'  # what was typed is kept
    assert server.get(f"/v1/agent/runs/{run['run_id']}")["pending"] == [before]
    shot(page, "agent-edit-error")

    edited = {"name": "ui-edited", "text": "Edited in the browser."}
    editor.fill(json.dumps(edited))
    item.get_by_role("button", name="Save arguments").click()
    new_item = page.locator(
        f".agent-pending[data-run='{run['run_id']}']:not([data-digest='{before['args_digest']}'])"
    )
    new_item.locator(".agent-edited").wait_for()
    [after] = server.get(f"/v1/agent/runs/{run['run_id']}")["pending"]
    assert after["args"] == edited and after["args_digest"] != before["args_digest"]
    assert json.loads(new_item.locator(".agent-args").inner_text()) == edited
    assert after["args_digest"][:16] in new_item.inner_text()
    assert not (server.workspace / "notes" / "ui-edited.md").exists()  # not approved yet
    shot(page, "agent-edited")

    fake_llm.enqueue("Wrote the edited note.")
    new_item.get_by_role("button", name="Approve").click()
    page.locator(f".agent-pending[data-run='{run['run_id']}']").wait_for(state="detached")
    done = server.get(f"/v1/agent/runs/{run['run_id']}")
    assert done["status"] == "done" and done["calls"][0]["args"] == edited
    assert (server.workspace / "notes" / "ui-edited.md").exists()
    assert not (server.workspace / "notes" / "ui-draft.md").exists()
