"""`cairn fake-llm`: a fake OpenAI-compatible server on 127.0.0.1, for demos and tests."""

from typing import Annotated

import typer


def command(
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8001,
    host: Annotated[str, typer.Option(help="Address to bind (keep it on loopback).")] = (
        "127.0.0.1"
    ),
    model: Annotated[str, typer.Option(help="Model name the server reports.")] = "fake-model",
    ttft: Annotated[float, typer.Option(help="Seconds before the first token.")] = 0.0,
    tps: Annotated[
        float, typer.Option(help="Tokens per second after the first (0: no pacing).")
    ] = 0.0,
    api_key: Annotated[
        str | None, typer.Option(help="Require this bearer key (default: accept any).")
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="Queue a fault for the next chat request (repeatable): "
            "429[:seconds], 500, hang, stall, cut, malformed, disconnect, ok."
        ),
    ] = None,
    prompt_cache: Annotated[
        bool,
        typer.Option(
            help="Report cached prompt tokens for repeated prefixes, as OpenAI's automatic "
            "prompt cache does (and Anthropic's, for prefixes marked with cache_control)."
        ),
    ] = False,
    prefill_tps: Annotated[
        float,
        typer.Option(
            help="Uncached prompt tokens processed per second before the first token "
            "(0 = no prefill time): models what prompt caching saves in latency."
        ),
    ] = 0.0,
    behaviour: Annotated[
        str,
        typer.Option(
            help="How the model answers: honest (quotes the passages, cited), compromised "
            "(obeys instructions it sees, leaks its system prompt), leaky (prints its system "
            "prompt whatever it is asked), granting (says 'Access Granted'), or a citation "
            "fault: no-markers, lumped-markers, out-of-range, prompt-example; or paraphrase (the "
            "honest answer in other words, without markers)."
        ),
    ] = "honest",
) -> None:
    """Serve /v1/chat/completions (and Anthropic's /v1/messages) with scripted or rule-based
    replies (see docs/llm.md)."""
    from cairn.cli.common import fail
    from cairn.llm.adversarial import compromised_reply, granting_reply, leaky_reply, miscited
    from cairn.llm.fake_server import FakeLLMServer
    from cairn.llm.replies import Responder, Rule

    behaviours: dict[str, Rule | None] = {
        "honest": None,
        "compromised": compromised_reply,
        "leaky": leaky_reply,
        "granting": granting_reply,
        "no-markers": miscited("none"),
        "lumped-markers": miscited("lumped"),
        "out-of-range": miscited("out_of_range"),
        "prompt-example": miscited("prompt_example"),
        "paraphrase": miscited("paraphrase"),
    }
    if behaviour not in behaviours:
        raise fail(f"unknown --behaviour {behaviour!r}: choose one of {', '.join(behaviours)}")

    try:
        server = FakeLLMServer(
            host=host,
            port=port,
            model=model,
            ttft=ttft,
            tps=tps or None,
            api_key=api_key,
            faults=fault or (),
            prompt_cache=prompt_cache,
            prefill_tps=prefill_tps or None,
            responder=Responder(default=behaviours[behaviour]),
        )
    except (OSError, ValueError) as exc:
        raise fail(f"cannot start the fake server on {host}:{port}: {exc}") from None
    typer.echo(f"fake OpenAI-compatible server on {server.url} (model {model}); Ctrl-C stops it")
    typer.echo(
        f"use it: CAIRN_LLM_PROVIDER=openai CAIRN_LLM_BASE_URL={server.url} "
        f"CAIRN_LLM_MODEL={model} cairn ask ..."
    )
    _stop_on_signals()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")


def _stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM stop the server cleanly, also when the process was started
    with SIGINT ignored, as a shell starts a script's background jobs (Python then installs
    no handler of its own, and Ctrl-C or `kill -INT` would do nothing)."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)
