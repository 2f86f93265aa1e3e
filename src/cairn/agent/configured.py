"""An `Agent` built from a workspace's settings: the built-in tools over the caller's
documents, the action tools whose servers `[agent]` names, the policies of `[agent]`, the
verifier for final answers, and optionally one workflow's prompt and tools."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from cairn.agent.builtin import builtin_tools
from cairn.agent.loop import SYSTEM_PROMPT, Agent, Limits
from cairn.agent.scopes import narrowed
from cairn.agent.store import AgentStore
from cairn.agent.tools import Tool, ToolRegistry
from cairn.agent.workflows import workflow, workflow_tools

if TYPE_CHECKING:
    from cairn.answer.verify import CitationVerifier
    from cairn.config import AgentPolicy
    from cairn.llm.base import Provider
    from cairn.pipeline import Pipeline
    from cairn.trace.base import Tracer
    from cairn.workspace import Workspace


def _verifier(ws: Workspace) -> CitationVerifier:
    from cairn.answer.verify import CitationVerifier

    return CitationVerifier(ws.embedder, store=ws.store, policy=ws.settings.answer.verify_policy)


def configured_tools(
    ws: Workspace,
    *,
    principals: tuple[str, ...] | None = None,
    tenant: str | None = None,
    user: str | None = None,
    pipeline: Pipeline | None = None,
) -> ToolRegistry:
    """Every tool the workspace's settings make available to this caller (`pipeline`: the
    one `ask_docs` uses; a long-lived process passes its shared one)."""
    from cairn.agent.mail import OUTBOX_DB, Outbox, SmtpConfig, send_email

    a = ws.settings.agent
    registry = builtin_tools(
        ws.root,
        ws.retriever(),
        store=ws.store,
        pipeline=pipeline or ws.pipeline(),
        principals=principals,
        tenant=tenant,
        user=user,
    )
    from cairn.agent.answers import draft_reply

    actions: list[Tool] = [draft_reply(ws.store, _verifier(ws), principals)]
    if a.smtp_host:
        smtp = SmtpConfig(
            host=a.smtp_host, port=a.smtp_port, sender=a.smtp_sender, username=a.smtp_username,
            password=a.smtp_password, starttls=a.smtp_starttls, timeout_s=a.timeout_s,
        )  # fmt: skip
        actions.append(send_email(smtp, Outbox(ws.root / OUTBOX_DB)))
    if a.caldav_url:
        from cairn.agent.calendar import CalDAVConfig, create_event, free_slots

        cal = CalDAVConfig(
            url=a.caldav_url, username=a.caldav_username, password=a.caldav_password,
            timeout_s=a.timeout_s,
        )  # fmt: skip
        actions += [free_slots(cal), create_event(cal, organizer=a.smtp_sender)]
    if a.tracker_url:
        from cairn.agent.tracker import TrackerConfig, create_issue

        actions.append(
            create_issue(
                TrackerConfig(
                    url=a.tracker_url,
                    username=a.tracker_username or "",
                    password=a.tracker_password or "",
                    timeout_s=a.timeout_s,
                )
            )
        )
    for tool in actions:
        registry.register(tool)
    return registry


def configured_agent(
    ws: Workspace,
    provider: Provider,
    store: AgentStore,
    *,
    workflow_name: str | None = None,
    principals: tuple[str, ...] | None = None,
    tenant: str | None = None,
    user: str | None = None,
    tracer: Tracer | None = None,
    limits: Limits | None = None,
    pipeline: Pipeline | None = None,
    extra_tools: Sequence[Tool] = (),
    extra_policies: Mapping[str, AgentPolicy] | None = None,
    key_scopes: Collection[str] | None = None,
) -> Agent:
    """The agent for one caller (its documents, its tenant's policies), with `workflow_name`'s
    prompt and tools when given. `extra_tools` (an MCP server's, named `<server>_<tool>`)
    join the registry under `extra_policies`; `[agent] policies` win over those and
    `[agent] tenant_policies` over both, for built-in and MCP tools alike. `key_scopes`: an
    API key's scopes; only the tools they allow are offered (`cairn.agent.scopes`; None:
    all)."""
    from cairn.agent.answers import CitedAnswers

    registry = configured_tools(
        ws, principals=principals, tenant=tenant, user=user, pipeline=pipeline
    )
    for tool in extra_tools:
        registry.register(tool)
    prompt = SYSTEM_PROMPT
    if workflow_name is not None:
        flow = workflow(workflow_name)
        registry = workflow_tools(flow, registry)
        prompt = flow.system_prompt
    a = ws.settings.agent
    agent = Agent(
        provider,
        registry,
        store,
        policies={**(extra_policies or {}), **a.policies},
        tenant_policies=a.tenant_policies,
        system_prompt=prompt,
        tracer=tracer,
        limits=limits,
        answers=CitedAnswers(ws.store, _verifier(ws)),
    )
    # the model is offered only what the key may use; calls already approved still execute
    agent.offered = narrowed(registry, key_scopes)
    return agent
