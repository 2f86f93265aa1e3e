"""The `cairn` command line. One module per command; heavy imports happen inside commands so
`cairn --help` stays fast and a missing optional dependency breaks only the command using it."""

import typer

from cairn.cli import (
    agent,
    ask,
    chat,
    costs,
    doctor,
    eval,
    fake_llm,
    guard,
    ingest,
    keys,
    mcp,
    migrate,
    models,
    search,
    serve,
    services,
)
from cairn.cli.common import JsonErrorsGroup

app = typer.Typer(
    name="cairn",
    help="Cited answers over your own documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=JsonErrorsGroup,
)
app.command("ingest")(ingest.command)
app.command("search")(search.command)
app.command("ask")(ask.command)
app.command("chat")(chat.command)
app.command("doctor")(doctor.command)
app.command("fake-llm")(fake_llm.command)
app.command("costs")(costs.command)
app.command("serve")(serve.command)
app.command("migrate")(migrate.command)
app.add_typer(models.app, name="models")
app.add_typer(eval.app, name="eval")
app.add_typer(keys.app, name="keys")
app.add_typer(services.app, name="services")
app.add_typer(agent.app, name="agent")
app.add_typer(mcp.app, name="mcp")
app.add_typer(guard.app, name="guard")


def main() -> None:
    app()
