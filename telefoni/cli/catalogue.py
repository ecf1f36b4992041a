"""`telefoni catalogue`: the phone models and subscription options a municipality offers."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated

import typer

from telefoni.cli.common import register_engine, usage_error
from telefoni.core.settings import get_settings


def catalogue(
    kommun: Annotated[
        str | None,
        typer.Option("--kommun", help="Vilken kommuns katalog (kod eller namn); behövs med flera."),
    ] = None,
) -> None:
    """Visa telefonmodellerna och abonnemangsformerna som en beställning kan välja bland."""
    from sqlalchemy import or_, select

    from models.register import Municipality, PhoneModel, SubscriptionOption
    from telefoni.core.db import session_factory
    from telefoni.core.municipalities import MunicipalityError

    settings = get_settings()
    try:
        municipality = settings.kommun(kommun)
    except MunicipalityError as exc:
        raise usage_error(str(exc)) from None
    engine = register_engine(settings)
    try:
        with session_factory(engine)() as session:
            mid = session.scalar(
                select(Municipality.id).where(Municipality.code == municipality.code)
            )
            models = session.scalars(
                select(PhoneModel)
                .where(or_(PhoneModel.municipality_id.is_(None), PhoneModel.municipality_id == mid))
                .order_by(
                    PhoneModel.available.desc(), PhoneModel.is_standard.desc(), PhoneModel.name
                )
            ).all()
            options = session.scalars(
                select(SubscriptionOption)
                .where(
                    or_(
                        SubscriptionOption.municipality_id.is_(None),
                        SubscriptionOption.municipality_id == mid,
                    )
                )
                .order_by(SubscriptionOption.available.desc(), SubscriptionOption.code)
            ).all()
            model_rows = [
                [
                    m.name,
                    m.manufacturer,
                    _yes(m.is_standard),
                    _yes(m.is_smartphone),
                    _yes(m.includes_headset),
                    _yes(m.available),
                ]
                for m in models
            ]
            option_rows = [
                [
                    o.code,
                    o.name,
                    _yes(o.includes_data),
                    _kronor(o.monthly_fee_sek),
                    _yes(o.available),
                    o.description or "",
                ]
                for o in options
            ]
    finally:
        engine.dispose()
    typer.echo(f"Katalogen för {municipality.name}")
    typer.echo("")
    typer.echo(f"Telefonmodeller ({len(model_rows)}):")
    if model_rows:
        headers = [
            "Modell",
            "Tillverkare",
            "Standardmodell",
            "Smartphone",
            "Headset ingår",
            "Kan beställas",
        ]
        typer.echo(_table(headers, model_rows))
    else:
        typer.echo("  Inga telefonmodeller i katalogen.")
    typer.echo("")
    typer.echo(f"Abonnemangsformer ({len(option_rows)}):")
    if option_rows:
        headers = ["Kod", "Namn", "Mobildata ingår", "Månadsavgift", "Kan beställas", "Beskrivning"]
        typer.echo(_table(headers, option_rows))
    else:
        typer.echo("  Inga abonnemangsformer i katalogen.")
    typer.echo("")
    typer.echo(
        "En beställning anger modellens namn och abonnemangets kod, t.ex. "
        '`telefoni onboard --employee E… --model "NAMN" --subscription KOD`; en modell som '
        "inte är standardmodell kräver ett skäl (--deviation, §4.1.1)."
    )


def _yes(value: bool) -> str:
    return "ja" if value else "nej"


def _kronor(amount: Decimal) -> str:
    """179.00 → "179,00 kr" (Swedish decimal comma)."""
    return f"{amount:.2f}".replace(".", ",") + " kr"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, a rule under the headers: readable in a terminal
    and in a file alike (nothing folded, nothing coloured)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])
