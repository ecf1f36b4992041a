"""`telefoni up`: the whole system on one machine (telefoni/up.py does the work)."""

from __future__ import annotations

from typing import Annotated

import typer

from telefoni.core.settings import get_settings


def up(
    demo_employees: Annotated[
        int, typer.Option(help="Employees in the demo municipality (when the register is empty).")
    ] = 1300,
) -> None:
    """Start the whole system: Prefect server and UI, every deployment served, demo data."""
    from telefoni.up import run_system

    raise typer.Exit(run_system(get_settings(), demo_employees=demo_employees))
