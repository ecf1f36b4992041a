"""`telefoni keys`: the keys that protect personnummer."""

from __future__ import annotations

import typer

from telefoni.core.settings import generate_key

app = typer.Typer(help="Keys that protect personnummer.", no_args_is_help=True)


@app.command("generate")
def keys_generate() -> None:
    """Print two new keys for TELEFONI_PNR_ENCRYPTION_KEY and TELEFONI_PNR_LOOKUP_KEY."""
    typer.echo(f"TELEFONI_PNR_ENCRYPTION_KEY={generate_key()}")
    typer.echo(f"TELEFONI_PNR_LOOKUP_KEY={generate_key()}")
