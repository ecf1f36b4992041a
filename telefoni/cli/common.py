"""What every command shares: the register's engine, checked, and how a usage error ends."""

from __future__ import annotations

import typer
from sqlalchemy import Engine

from telefoni.core.settings import Settings


def register_engine(settings: Settings, *, migrated: bool = True) -> Engine:
    """The register's engine; by default refuse a schema that is not up to date."""
    from telefoni.core import migrate
    from telefoni.core.db import make_engine

    engine = make_engine(settings.database_url)
    if migrated and migrate.current_revision(engine) != migrate.head_revision():
        typer.echo(
            f"Databasens schema är inte uppdaterat ({engine.url.render_as_string()}): "
            "kör `telefoni db upgrade` först.",
            err=True,
        )
        raise typer.Exit(2)
    return engine


def usage_error(message: str) -> typer.Exit:
    """Tell what was typed wrong; the caller raises the exit (code 2, as click's own)."""
    typer.echo(message, err=True)
    return typer.Exit(2)
