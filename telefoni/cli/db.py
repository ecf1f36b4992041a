"""`telefoni db`: the register's database schema."""

from __future__ import annotations

from typing import Annotated

import typer

from telefoni.cli.common import register_engine
from telefoni.core.settings import get_settings

app = typer.Typer(help="The register's database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create the schema, or bring it up to date (SQLite or PostgreSQL)."""
    from telefoni.core import migrate

    settings = get_settings()
    engine = register_engine(settings, migrated=False)
    migrate.upgrade(engine, revision)
    typer.echo(f"Schemat är uppdaterat ({revision}) i {engine.url.render_as_string()}")


@app.command("check")
def db_check() -> None:
    """Exit non-zero if the database schema differs from the models."""
    from telefoni.core import migrate

    differences = migrate.drift(register_engine(get_settings(), migrated=False))
    for diff in differences:
        typer.echo(repr(diff))
    if differences:
        raise typer.Exit(1)
    typer.echo("Schemat stämmer med modellerna.")


@app.command("revision")
def db_revision(message: Annotated[str, typer.Option("--message", "-m")]) -> None:
    """Write a new migration from what the models add to the current schema."""
    from telefoni.core import migrate

    migrate.revision(register_engine(get_settings(), migrated=False), message)
