"""The `telefoni` command line: the app, built from a module per command or command group.

Each command imports what it needs (Prefect, pandas, the models) inside its body, so that
`telefoni --help` stays fast.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from telefoni.cli import (
    answer,
    approve,
    audit,
    catalogue,
    db,
    demo,
    keys,
    mail,
    offboard,
    onboard,
    pending,
    sync,
    up,
)
from telefoni.cli.common import usage_error
from telefoni.core.settings import Settings

app = typer.Typer(
    help="Telefoni: the municipality's telephony lifecycle, run as Prefect flows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,  # locals can hold personal data
)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    for ours in ("telefoni", "models", "tasks", "flows"):
        logging.getLogger(ours).setLevel(logging.DEBUG if verbose else logging.INFO)
    _check_settings()


def _check_settings() -> None:
    """Every command starts from settings that can be used: else it says what is wrong (the
    file of municipalities: which municipality and field) and does nothing."""
    from pydantic import ValidationError

    from telefoni.core.settings import SettingsError, get_settings

    try:
        _the_demos_municipalities(get_settings())
    except SettingsError as exc:
        raise usage_error(f"Inställningarna går inte att använda: {exc}") from None
    except ValidationError as exc:  # a TELEFONI_* variable; its value is not repeated
        wrong = "; ".join(
            f"TELEFONI_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise usage_error(f"Inställningarna går inte att använda: {wrong}") from None


# The order here is the order `telefoni --help` lists them in.
app.command()(sync.sync)
app.command()(demo.demo)
app.command()(approve.approve)
app.command()(answer.answer)
app.command()(answer.attest)
app.command()(onboard.onboard)
app.command()(offboard.offboard)
app.command()(catalogue.catalogue)
app.command()(up.up)
app.command()(pending.pending)
app.command()(pending.unlock)
app.add_typer(db.app, name="db")
app.add_typer(mail.app, name="mail")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")

if __name__ == "__main__":  # pragma: no cover
    app()


def _the_demos_municipalities(settings: Settings) -> None:
    """On a development machine where `telefoni up` has run, the commands serve the same
    municipalities as the system it started (its copy of the demo's file), unless the
    settings name a file of their own: `telefoni catalogue --kommun sjobacka` then works."""
    import os

    from telefoni.core.settings import DEMO_MUNICIPALITIES_COPY, get_settings

    copy = settings.data_dir / DEMO_MUNICIPALITIES_COPY
    if settings.environment != "development" or settings.municipalities_file or not copy.exists():
        return
    os.environ["TELEFONI_MUNICIPALITIES_FILE"] = str(copy)
    get_settings.cache_clear()
    get_settings()
