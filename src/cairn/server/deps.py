"""The dependencies routes declare, as `Annotated` aliases.

    async def ask(body: AskRequest, state: StateDep, caller: AskCaller) -> Response

`StateDep` is the app's `AppState`; `CallerDep` authenticates (401), rate limits (429)
and returns the `Caller`; `AskCaller`, `SearchCaller`, ... also check the key's scope (403).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cairn.errors import retry_after_header
from cairn.server.auth import LOCAL_CALLER, Caller
from cairn.server.errors import ApiError
from cairn.server.state import AppState
from cairn.server.threads import run_sync
from cairn.types import Filters

bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `cairn keys create` (server.auth = keys); "
    "not needed in local mode.",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_state(request: Request) -> AppState:
    state = getattr(request.app.state, "cairn", None)
    if not isinstance(state, AppState):
        raise ApiError(503, "the server is starting or stopping; retry in a moment")
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_caller(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if state.settings.server.auth == "local":
        return LOCAL_CALLER
    if credentials is None:
        raise ApiError(
            401,
            "missing API key: send 'Authorization: Bearer cairn_...' (create a key with "
            "'cairn keys create --tenant NAME --scope ask')",
            headers=_CHALLENGE,
        )
    secret = credentials.credentials
    caller = state.keys.cached(secret) or await run_sync(state.keys.verify, secret)
    if caller is None:
        raise ApiError(
            401, "invalid or revoked API key (see 'cairn keys list')", headers=_CHALLENGE
        )
    assert caller.key_id is not None
    wait = state.rate.take(caller.key_id)
    if wait:
        limit = state.settings.server.rate_limit_per_minute
        raise ApiError(
            429,
            f"rate limit exceeded ({limit} requests per minute per key); "
            f"retry in {retry_after_header(wait)} s",
            headers={"Retry-After": retry_after_header(wait)},
        )
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def scoped(scope: str) -> Callable[[Caller], Awaitable[Caller]]:
    async def check(caller: CallerDep) -> Caller:
        if not caller.allows(scope):
            raise ApiError(
                403,
                f"this API key lacks the '{scope}' scope; create one with "
                f"'cairn keys create --tenant {caller.tenant} --scope {scope}'",
            )
        return caller

    return check


AskCaller = Annotated[Caller, Depends(scoped("ask"))]
SearchCaller = Annotated[Caller, Depends(scoped("search"))]
DocumentsCaller = Annotated[Caller, Depends(scoped("documents"))]
TracesCaller = Annotated[Caller, Depends(scoped("traces"))]
CostsCaller = Annotated[Caller, Depends(scoped("costs"))]
EvalsCaller = Annotated[Caller, Depends(scoped("evals"))]
MetricsCaller = Annotated[Caller, Depends(scoped("metrics"))]
AdminCaller = Annotated[Caller, Depends(scoped("admin"))]


def filters_for(caller: Caller) -> Filters | None:
    """The ACL filter every store query of this caller carries (None in local mode)."""
    principal = caller.principal
    return None if principal is None else Filters(principals=(principal,))
