"""`telefoni onboard`: order a phone and subscription for one employee, or many from a file.

The command checks in the register what it can before it starts a run of the onboarding
deployment (the employee, the catalogue, the guideline's rules that need nothing more:
telefoni/cli/onboard_check.py) and starts nothing if an order cannot be made; the run checks
the rest and asks the manager. What an admin types is made into orders by
telefoni/cli/onboard_file.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer

from telefoni.cli.common import usage_error
from telefoni.cli.server import prefect_down, run_link, use_prefect_api
from telefoni.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from models.onboarding_forms import OrderRequest
    from telefoni.cli.onboard_check import Precheck
    from telefoni.core.municipalities import MunicipalitySettings

MAX_SHOWN = 20  # reasons told at most; the rest counted

# The command's options, one alias each: the signature of `onboard` stays readable.
EmployeeOption = Annotated[str | None, typer.Option(help="Den anställdas anställningsnummer.")]
CategoryOption = Annotated[str | None, typer.Option(metavar="1|2|3", help="Behovskategori (§4.1).")]
ModelOption = Annotated[
    str | None, typer.Option(help="Telefonmodell, som i arbetsgivarens katalog.")
]
SubscriptionCodeOption = Annotated[
    str | None, typer.Option(help="Abonnemangsformens kod i arbetsgivarens utbud.")
]
RequestedByOption = Annotated[
    str | None, typer.Option(help="Beställare: ditt anställningsnummer eller användar-id.")
]
HeadsetOption = Annotated[
    bool | None, typer.Option("--headset/--no-headset", help="Headset (§4.2.1); standard ja.")
]
DataOption = Annotated[
    bool | None, typer.Option("--data/--no-data", help="Dataabonnemang (§4.2.2); standard ja.")
]
DeviationOption = Annotated[
    str | None,
    typer.Option(
        metavar="funktionsnedsättning|tålig",
        help="Skäl till annan modell än standardmodellen (§4.1.1).",
    ),
]
DeviationNoteOption = Annotated[str | None, typer.Option(help="Kommentar till avvikelsen.")]
AppsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--app",
        metavar='"NAMN;KOSTNAD;VARFÖR"',
        help="Betald app (§4.2.4), kostnad i kr per månad; upprepa för flera.",
    ),
]
WantedByOption = Annotated[
    str | None, typer.Option(metavar="ÅÅÅÅ-MM-DD", help="Önskat leveransdatum.")
]
ReplacementOption = Annotated[
    bool,
    typer.Option("--replacement", help="Ersätter ett befintligt personbundet abonnemang."),
]
BatchOption = Annotated[
    Path | None,
    typer.Option(
        metavar="FIL.csv",
        help="Samlad beställning från en ;-separerad fil med kolumnerna "
        "anstallningsnummer;behovskategori;modell;abonnemang;headset;data.",
    ),
]
BatchNameOption = Annotated[
    str | None, typer.Option(help="Namn på den samlade beställningen (med --batch).")
]
KommunOption = Annotated[
    str | None,
    typer.Option(
        help="Den anställdas kommun (kod eller namn). Behövs bara när flera kommuner finns och "
        "anställningsnumret inte avgör det.",
    ),
]


def onboard(
    employee: EmployeeOption = None,
    category: CategoryOption = None,
    model: ModelOption = None,
    subscription: SubscriptionCodeOption = None,
    requested_by: RequestedByOption = None,
    headset: HeadsetOption = None,
    data: DataOption = None,
    deviation: DeviationOption = None,
    deviation_note: DeviationNoteOption = None,
    app_: AppsOption = None,
    wanted_by: WantedByOption = None,
    replacement: ReplacementOption = False,
    batch: BatchOption = None,
    name: BatchNameOption = None,
    kommun: KommunOption = None,
) -> None:
    """Beställ telefon och abonnemang till en anställd, eller till många med --batch."""
    settings = get_settings()
    url = use_prefect_api(settings)
    single = {  # what describes one order; with --batch the file says all of it
        "--employee": employee,
        "--category": category,
        "--model": model,
        "--subscription": subscription,
        "--headset/--no-headset": headset,
        "--data/--no-data": data,
        "--deviation": deviation,
        "--deviation-note": deviation_note,
        "--app": app_,
        "--wanted-by": wanted_by,
        "--replacement": replacement or None,
    }
    if batch is not None:
        run_id = _start_batch(url, batch, name, requested_by, single, kommun)
    else:
        if name is not None:
            raise usage_error("--name hör till --batch.")
        order = _single_order(
            employee=employee,
            category=category,
            model=model,
            subscription=subscription,
            requested_by=requested_by,
            headset=True if headset is None else headset,
            data=True if data is None else data,
            deviation=deviation,
            deviation_note=deviation_note,
            apps=app_ or [],
            wanted_by=wanted_by,
            replacement=replacement,
        )
        municipality = employees_municipality(kommun, [order.employee_number])
        checked = _precheck(settings, municipality, [order])
        (order,) = checked.orders
        run_id = _start(
            url,
            "onboarding-order/onboarding-order",
            {"order": order.model_dump(mode="json"), "kommun": municipality.name},
        )
        who = f"{checked.names[order.employee_number]} ({order.employee_number})"
        typer.echo(f"Beställningen till {who} är startad: körning {run_id}")
    typer.echo(f"Följ den i Prefect: {run_link(settings, run_id)}")
    typer.echo(
        "Den kontrolleras mot riktlinjerna och går sedan till chefen för beslut "
        "(besked kommer med e-post)."
    )


def _single_order(**options: Any) -> OrderRequest:
    """The one order the options describe; exit 2 listing every problem if they do not."""
    from telefoni.cli.onboard_file import OrderInputError, order_from_options

    try:
        return order_from_options(**options)
    except OrderInputError as exc:
        typer.echo("Beställningen är inte komplett; inget har startats.", err=True)
        for line in exc.problems:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(2) from None


def _start_batch(
    url: str,
    batch: Path,
    name: str | None,
    requested_by: str | None,
    single: Mapping[str, object],
    kommun: str | None,
) -> str:
    """Start the batch deployment with every order of the file; the run's id."""
    from telefoni.cli.onboard_file import OrderFileError, read_batch

    mixed = [option for option, value in single.items() if value not in (None, [])]
    if mixed:
        raise usage_error(
            f"--batch kan inte kombineras med {', '.join(mixed)}: allt om beställningarna "
            "står i filen."
        )
    problems = [
        f"{option}: saknas"
        for option, value in (("--name", name), ("--requested-by", requested_by))
        if not (value and value.strip())
    ]
    if name and len(name.strip()) > 80:
        problems.append("--name: får vara högst 80 tecken")
    if problems:
        raise usage_error("\n".join(problems))
    assert name is not None and requested_by is not None
    try:
        orders = read_batch(batch, requested_by.strip())
    except OrderFileError as exc:
        typer.echo("Filen gav inga beställningar; inget har startats.", err=True)
        for line in exc.lines():
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(2) from None
    municipality = employees_municipality(kommun, [o.employee_number for o in orders])
    orders = _precheck(get_settings(), municipality, orders).orders
    run_id = _start(
        url,
        "onboarding-batch/onboarding-batch",
        {
            "orders": [o.model_dump(mode="json") for o in orders],
            "name": name.strip(),
            "kommun": municipality.name,
        },
    )
    typer.echo(
        f"Den samlade beställningen {name.strip()!r} med {len(orders)} "
        f"beställning{'ar' if len(orders) != 1 else ''} är startad: körning {run_id}"
    )
    return run_id


def _precheck(
    settings: Settings, municipality: MunicipalitySettings, orders: list[OrderRequest]
) -> Precheck:
    """The orders checked against the register before a run starts (the employees, the
    catalogue, the guideline's rules the register can answer); exit 2 with every reason if
    one of them cannot be ordered."""
    from datetime import datetime

    from telefoni.cli.common import register_engine
    from telefoni.cli.onboard_check import precheck
    from telefoni.core.db import session_factory

    engine = register_engine(settings)
    try:
        with session_factory(engine)() as session:
            today = datetime.now(settings.tz).date()
            checked = precheck(session, municipality.code, orders, today=today)
    finally:
        engine.dispose()
    if checked.problems:
        several = len(orders) > 1
        typer.echo(
            f"{'Beställningarna' if several else 'Beställningen'} kan inte läggas i "
            f"{municipality.name}; inget har startats.",
            err=True,
        )
        for line in checked.problems[:MAX_SHOWN]:
            typer.echo(f"  {line}", err=True)
        if len(checked.problems) > MAX_SHOWN:
            typer.echo(f"  … och {len(checked.problems) - MAX_SHOWN} till.", err=True)
        raise typer.Exit(2)
    return checked


def employees_municipality(kommun: str | None, numbers: list[str]) -> MunicipalitySettings:
    """The employees' municipality: --kommun, the only one, or where the register finds every
    one of the numbers (asked only with several); exit 2 with the reason if it is not clear."""
    from telefoni.cli.onboard_file import municipality_of
    from telefoni.core.municipalities import MunicipalityError

    settings = get_settings()
    found: dict[str, set[str]] = {}
    if kommun is None and len(settings.municipalities) > 1:
        found = _found_in(settings, numbers)
    try:
        return municipality_of(settings.municipalities, kommun, numbers, found)
    except MunicipalityError as exc:
        typer.echo(f"{exc}. Inget har startats.", err=True)
        raise typer.Exit(2) from None


def _found_in(settings: Settings, numbers: list[str]) -> dict[str, set[str]]:
    """Employee number → the codes of the municipalities whose register has it."""
    from sqlalchemy import select

    from models.register import Employee, Municipality
    from telefoni.cli.common import register_engine
    from telefoni.core.db import session_factory

    found: dict[str, set[str]] = {}
    unique = sorted(set(numbers))
    with session_factory(register_engine(settings))() as session:
        for start in range(0, len(unique), 500):
            rows = session.execute(
                select(Employee.employee_number, Municipality.code)
                .join(Municipality, Municipality.id == Employee.municipality_id)
                .where(Employee.employee_number.in_(unique[start : start + 500]))
            )
            for number, code in rows:
                found.setdefault(number, set()).add(code)
    return found


def _start(url: str, deployment: str, parameters: dict[str, Any]) -> str:
    """Start a run of a deployment without waiting for it; its id."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            started = run_deployment(name=deployment, parameters=parameters, timeout=0)
    except httpx.TransportError:
        raise prefect_down(url) from None
    except ObjectNotFound:
        typer.echo(
            f"Deploymenten {deployment} finns inte på Prefect-servern {url}. Starta systemet med "
            "`./dev up` (det startar alla deployments) och försök igen. Inget har startats.",
            err=True,
        )
        raise typer.Exit(1) from None
    except PrefectHTTPStatusError as exc:
        typer.echo(
            f"Prefect tog inte emot beställningen ({exc.response.status_code}). "
            "Inget har startats.",
            err=True,
        )
        raise typer.Exit(1) from None
    assert isinstance(started, FlowRun)  # called outside an event loop: not a coroutine
    return str(started.id)
