"""`telefoni pending`: what waits for whom; `telefoni unlock`: an ask locked by wrong codes."""

from __future__ import annotations

from typing import Annotated

import typer

from telefoni.cli.common import register_engine, usage_error
from telefoni.core.municipalities import MunicipalityError, MunicipalitySettings
from telefoni.core.settings import Settings, get_settings


def _municipalities(settings: Settings, kommun: str | None) -> tuple[MunicipalitySettings, ...]:
    if kommun is None:
        return settings.municipalities
    try:
        return (settings.kommun(kommun),)
    except MunicipalityError as exc:
        raise usage_error(str(exc)) from None


def pending(
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="ANSTÄLLNINGSNUMMER",
            help="Visa bara det som väntar på den här personen: som tillfrågad, som chefens "
            "chef eller som utsedd ersättare.",
        ),
    ] = None,
    kommun: Annotated[
        str | None, typer.Option(help="Bara den här kommunen (kod eller namn).")
    ] = None,
) -> None:
    """Vad som väntar på vem: ärenden som väntar på svar, äldst först, med sista dag och länk."""
    from sqlalchemy.orm import Session

    from models.base import utcnow
    from tasks.people.pending import employee_named
    from tasks.people.pending import pending as open_asks
    from telefoni.core.tenancy import municipality_id

    settings = get_settings()
    chosen = _municipalities(settings, kommun)
    with Session(register_engine(settings)) as session:
        ids = {municipality_id(session, m): m for m in chosen}
        rows = open_asks(
            session,
            municipality_ids=ids,
            deputies={i: m.deputies for i, m in ids.items()},
            ui_url=settings.prefect_ui_url,
            tz=settings.tz,
            as_=as_,
            now=utcnow(),
        )
        people = employee_named(session, ids, as_) if as_ else []
        who = ", ".join(f"{p.name} ({p.employee_number})" for p in people) or (as_ or "").strip()
        session.commit()  # the municipalities' rows, if made just now
    if not rows:
        typer.echo(f"Inget väntar på {who}." if as_ else "Inget väntar på svar.")
        if as_ and not people:
            typer.echo(f"(Ingen anställd har nummer {as_.strip()} i registret.)")
        return
    from models.wording import counted

    typer.echo(f"{counted(len(rows), 'ärende', 'ärenden')} väntar på {who or 'svar'}, äldst först:")
    for row in rows:
        typer.echo("")
        typer.echo(f"{row.reference}  {row.title}")
        if len(ids) > 1:
            typer.echo(f"    kommun:     {row.municipality}")
        typer.echo(f"    väntar på:  {row.waits_for}")
        typer.echo(f"    frågat:     {row.asked}")
        typer.echo(f"    senast:     {row.due}")
        typer.echo(f"    läge:       {row.state}")
        if row.run_url:
            typer.echo(f"    svara här:  {row.run_url}")


def unlock(
    ask: Annotated[
        str, typer.Argument(metavar="ÄRENDE", help="Ärendets referens, t.ex. ÄR-000012.")
    ],
) -> None:
    """Lås upp ett ärende som låstes efter för många felaktiga engångskoder (den tillfrågade
    får en ny kod)."""
    import getpass

    from models.asks import Ask, reference_id
    from models.audit import Actor
    from models.base import utcnow
    from tasks.people import ask_context_from
    from tasks.people import unlock as unlock_ask
    from telefoni.core.db import session_factory
    from telefoni.core.tenancy import municipality_names

    settings = get_settings()
    try:
        ask_id = reference_id(ask)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    sessions = session_factory(register_engine(settings))
    with sessions() as session, session.begin():
        row = session.get(Ask, ask_id)
        if row is None:
            typer.echo(f"Det finns inget ärende {ask.strip().upper()}.", err=True)
            raise typer.Exit(1)
        name = municipality_names(session)[row.municipality_id]
        try:
            municipality = settings.kommun(name)
        except MunicipalityError:
            typer.echo(
                f"{row.reference} hör till {name}, som inte finns i inställningarna.", err=True
            )
            raise typer.Exit(1) from None
        ctx = ask_context_from(settings, municipality, row.municipality_id)
        said = unlock_ask(
            session,
            ask_id,
            by=Actor.system(f"telefoni unlock ({getpass.getuser()})"),
            ctx=ctx,
            now=utcnow(),
        )
    typer.echo(said)
