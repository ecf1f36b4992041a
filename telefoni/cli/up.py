"""`telefoni up`: the whole system on one machine (telefoni/up.py does the work)."""

from __future__ import annotations

from typing import Annotated

import typer

from telefoni.core.settings import get_settings


def up(
    demo_employees: Annotated[
        list[int] | None,
        typer.Option(
            min=1,
            help="Employees in each municipality's demo town (when it has none), in the order "
            "of the municipalities, the last for any further ones; repeat the option for each "
            "(default 1300, then 400).",
        ),
    ] = None,
) -> None:
    """Start the whole system: Prefect server and UI, every deployment served, demo data."""
    from telefoni.up import DEMO_EMPLOYEES, run_system

    sizes = tuple(demo_employees or DEMO_EMPLOYEES)
    raise typer.Exit(run_system(get_settings(), demo_employees=sizes))
