"""Talking to the Prefect server from a command: which API, what if it is down, a run's link."""

from __future__ import annotations

import os

import typer

from telefoni.core.settings import Settings


def use_prefect_api(settings: Settings) -> str:
    """The Prefect API this command talks to: PREFECT_API_URL, else the local system's."""
    url = os.environ.get("PREFECT_API_URL") or settings.prefect_ui_url.rstrip("/") + "/api"
    os.environ["PREFECT_API_URL"] = url  # before the Prefect client reads its settings
    return url


def prefect_down(url: str) -> typer.Exit:
    """Say the server does not answer; the caller raises the exit."""
    typer.echo(
        f"Prefect-servern svarar inte på {url}. Starta systemet med `./dev up` (eller be den "
        "som sköter systemet att göra det) och försök igen. Inget har startats eller ändrats.",
        err=True,
    )
    return typer.Exit(1)


def run_link(settings: Settings, run_id: str) -> str:
    """Where a flow run is seen in the Prefect UI."""
    return f"{settings.prefect_ui_url.rstrip('/')}/runs/flow-run/{run_id}"
