"""A follow-up in the web chat is answered in the conversation's context (a real browser
against a real `cairn serve`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.web.conftest import Server
from tests.web.test_ui import ask

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.integration


def test_a_follow_up_is_answered_about_the_earlier_question(
    new_page: Callable[..., Page], server: Server
) -> None:
    page = new_page()
    page.goto("/")
    first = ask(page, "What is a set in Python?")
    assert first["answer"].get_attribute("data-query") == "What is a set in Python?"
    second = ask(page, "how do I make an empty one?")
    query = second["answer"].get_attribute("data-query") or ""
    assert query.startswith("how do I make an empty one?") and "set" in query.lower()
    assert "set()" in second["final"]
    sources = second["answer"].locator(".source-item")
    assert sources.count() >= 1 and "datastructures" in sources.first.inner_text()
