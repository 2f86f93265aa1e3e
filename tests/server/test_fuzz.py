"""Schemathesis against `/openapi.json` on a real server: no generated request, valid or
not, gets a 5xx, and every response matches the schema and content type its operation
documents (the OpenAPI schema is the real payload). Examples are bounded per operation and
mode, so it runs in about a minute."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.server.conftest import LiveServer, copy_workspace, settings_for

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# What uvicorn (h11) answers, before the application sees anything, to bytes that are not
# valid HTTP: an invalid header name, a malformed Transfer-Encoding. Negative generation makes
# such requests; the HTTP server's plain-text 400 is not an API response, so only the
# no-server-error check applies to it.
NOT_HTTP = b"Invalid HTTP request received."
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 10}


@pytest.fixture(scope="module")
def live(base_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from cairn.server.app import create_app

    ws = copy_workspace(base_workspace, tmp_path_factory.mktemp("fuzz") / "ws")
    with LiveServer(create_app(settings_for(ws, server={"request_timeout_s": 20}))) as server:
        yield server


def fuzz(operation: Any, mode: GenerationMode) -> int:
    """Send generated requests; how many were sent."""
    sent = 0

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        nonlocal sent
        sent += 1
        response = case.call(timeout=30)
        if response.status_code == 400 and response.content == NOT_HTTP:
            case.validate_response(response, checks=[not_a_server_error])
            return
        case.validate_response(response, checks=CHECKS)

    try:
        check()
    except Unsatisfiable:  # nothing to make invalid (an operation without inputs)
        assert mode is GenerationMode.NEGATIVE
    return sent


def test_generated_requests_get_no_server_error_and_conforming_responses(live: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    sent = sum(fuzz(operation, mode) for operation in operations for mode in EXAMPLES)
    print(f"schemathesis: {len(operations)} operations, {sent} requests")
    assert sent > 200
