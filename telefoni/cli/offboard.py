"""`telefoni offboard`: HR starts the offboarding of one employee from a terminal.

The start is recorded in the register first (`tasks.offboarding.requested.receive`, in the
command's own transaction), with the key of the run that is to carry it; then the run of the
`offboarding` deployment is made under that key and stored on the record. So a second start
of the same employment end finds the same record and the same run, and a Prefect server out
of reach loses nothing: the same command again makes the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer

from telefoni.cli.common import register_engine, usage_error
from telefoni.cli.server import run_link, use_prefect_api
from telefoni.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from models.offboarding import Offboarding
    from models.offboarding_forms import OffboardingRequest
    from tasks.offboarding.base import Context
    from telefoni.core.municipalities import MunicipalitySettings

RUN_KEY_LENGTH = 80  # offboarding.run_key


@dataclass(frozen=True)
class Recorded:
    """The start as the register has it after this command's transaction."""

    reference: str
    offboarding_id: int
    run_key: str
    flow_run_id: str | None
    changed: tuple[str, ...]
    completed: bool


def offboard(
    employee: Annotated[
        str,
        typer.Argument(metavar="ANSTÄLLNINGSNUMMER", help="Den anställda som slutar."),
    ],
    last_day: Annotated[
        str | None,
        typer.Option(
            "--last-day",
            metavar="ÅÅÅÅ-MM-DD",
            help="Sista arbetsdag. Flyttas dagen: kör kommandot igen med den nya.",
        ),
    ] = None,
    successor: Annotated[
        str | None,
        typer.Option(help="Anställningsnummer för den som tar över nummer och telefon."),
    ] = None,
    terminate: Annotated[
        list[str] | None,
        typer.Option(metavar="NUMMER", help="Nummer (eller IMEI) som sägs upp; upprepa för flera."),
    ] = None,
    hand_over: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NUMMER",
            help="Nummer (eller IMEI) som lämnas över till efterträdaren när telefonen är "
            "fabriksåterställd (§8.1); upprepa för flera.",
        ),
    ] = None,
    takeover: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NUMMER",
            help="Nummer som den anställda tar över privat och betalar själv (§8.2); upprepa "
            "för flera.",
        ),
    ] = None,
    started_by: Annotated[
        str | None,
        typer.Option(
            help="Vem som startar avslutet (hamnar i händelseloggen); standard: din "
            "användare i datorn."
        ),
    ] = None,
    kommun: Annotated[
        str | None,
        typer.Option(
            help="Den anställdas kommun (kod eller namn). Behövs bara när flera kommuner finns "
            "och anställningsnumret inte avgör det.",
        ),
    ] = None,
) -> None:
    """Starta avslutet av en anställning: det som inte anges sägs upp (§7.2, §8.1, §8.2)."""
    import getpass

    from models.offboarding import DISPOSITION_SV, Disposition
    from telefoni.cli.onboard import employees_municipality

    request = _request(
        employee=employee,
        last_day=last_day,
        successor=successor or "",
        choices={
            DISPOSITION_SV[Disposition.TERMINATE]: terminate,
            DISPOSITION_SV[Disposition.HAND_OVER]: hand_over,
            DISPOSITION_SV[Disposition.TAKEOVER]: takeover,
        },
        started_by=started_by if started_by is not None else getpass.getuser(),
    )
    settings = get_settings()
    url = use_prefect_api(settings)
    municipality = employees_municipality(kommun, [request.employee_number])
    recorded = _record(settings, municipality, request)
    who = f"{recorded.reference} för {request.employee_number}"
    # The municipality by name, as the served run form offers it (and enforces).
    parameters = {"request": request.model_dump(mode="json"), "kommun": municipality.name}
    if recorded.flow_run_id is not None:
        typer.echo(f"Avslutet {who} hanteras redan av körningen {recorded.flow_run_id}.")
        _tell_changes(recorded.changed)
        typer.echo(f"Följ det i Prefect: {run_link(settings, recorded.flow_run_id)}")
        return
    if recorded.completed:
        typer.echo(f"Avslutet {who} är redan klart; inget nytt har startats.")
        return
    from tasks.offboarding.started import run_name

    name = run_name(municipality.code, [request.employee_number])
    run_id = _start(url, recorded, parameters, name)
    run_id = _stored(settings, recorded, run_id, name)
    typer.echo(f"Avslutet {who} (sista arbetsdag {request.last_day}) är startat: körning {run_id}")
    if recorded.changed:  # recorded before, by a start whose run could not be made
        _tell_changes(recorded.changed)
    typer.echo(f"Följ det i Prefect: {run_link(settings, run_id)}")
    typer.echo(
        "Den anställda och chefen får besked med e-post; det som ska göras när telefonen "
        "lämnas tillbaka väntar till sista arbetsdagen."
    )


OPTION_OF = {
    "employee_number": "ANSTÄLLNINGSNUMMER",
    "last_day": "--last-day",
    "successor": "--successor",
    "started_by": "--started-by",
    "dispositions": "--terminate/--hand-over/--takeover",
}


def _request(
    *,
    employee: str,
    last_day: str | None,
    successor: str,
    choices: dict[str, list[str] | None],
    started_by: str,
) -> OffboardingRequest:
    """HR's start as the options say it; exit 2 naming every option that is wrong."""
    from pydantic import ValidationError

    from models.offboarding_forms import OffboardingRequest, dispositions_from_text

    problems: list[str] = []
    day: date | None = None
    if not (last_day and last_day.strip()):
        problems.append("--last-day: saknas (sista arbetsdag, ÅÅÅÅ-MM-DD)")
    else:
        try:
            day = date.fromisoformat(last_day.strip())
        except ValueError:
            problems.append(f"--last-day: {last_day!r} är inget datum (skriv ÅÅÅÅ-MM-DD)")
    pairs = [(n, words) for words, numbers in choices.items() for n in numbers or []]
    named: dict[str, str] = {}
    for number, words in pairs:
        key = number.strip()
        if key in named and named[key] != words:
            problems.append(f"{key}: står både som {named[key]!r} och som {words!r}")
        named.setdefault(key, words)
    if successor.strip() and successor.strip() == employee.strip():
        problems.append("--successor: §8.1: efterträdaren kan inte vara den som slutar")
    if problems:
        raise usage_error("Avslutet har inte startats.\n" + "\n".join(problems))
    try:
        return OffboardingRequest(
            employee_number=employee,
            last_day=day,
            successor=successor,
            dispositions=dispositions_from_text(pairs),
            started_by=started_by,
        )
    except ValidationError as exc:
        wrong = [
            f"{OPTION_OF.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in exc.errors()
        ]
        raise usage_error("Avslutet har inte startats.\n" + "\n".join(wrong)) from None


def _record(
    settings: Settings, municipality: MunicipalitySettings, request: OffboardingRequest
) -> Recorded:
    """Record the start (or find it, changed by what this start says anew) and the key of its
    run, in one transaction; exit 2 saying why it cannot be, with nothing recorded."""
    from models.base import utcnow
    from models.offboarding import Offboarding, OffboardingStatus
    from models.offboarding_rules import PlanError
    from tasks.offboarding.base import context_from
    from tasks.offboarding.requested import TooLate, receive
    from tasks.onboarding.requested import UnknownEmployee
    from telefoni.core.db import session_factory
    from telefoni.core.tenancy import municipality_id

    engine = register_engine(settings)
    try:
        with session_factory(engine)() as session, session.begin():
            ctx = context_from(settings, None, municipality, municipality_id(session, municipality))
            try:
                got = receive(session, request, ctx=ctx, now=utcnow())
                _plan_can_be_made(session, got.offboarding_id, ctx)
            except UnknownEmployee as exc:
                raise usage_error(f"{_first_up(str(exc))}. Avslutet har inte startats.") from None
            except PlanError as exc:  # the successor is checked before: the dispositions
                raise usage_error(
                    f"{OPTION_OF['dispositions']}: {exc}. Avslutet har inte startats."
                ) from None
            except TooLate as exc:
                raise usage_error(f"--last-day/--successor: {exc}. Inget har ändrats.") from None
            off = session.get(Offboarding, got.offboarding_id)
            assert off is not None
            if off.run_key is None:
                off.run_key = run_key(off, municipality.code)
            return Recorded(
                reference=off.reference,
                offboarding_id=off.id,
                run_key=off.run_key,
                flow_run_id=off.flow_run_id,
                changed=got.changed,
                completed=off.status is OffboardingStatus.COMPLETED,
            )
    finally:
        engine.dispose()


def _plan_can_be_made(session: Session, offboarding_id: int, ctx: Context) -> None:
    """PlanError if the run would refuse what HR asked for (a number that is not the
    leaver's, a handover with no successor): the plan made as the run makes it, and undone."""
    from models.base import utcnow
    from tasks.offboarding.planned import plan

    trial = session.begin_nested()
    try:
        plan(session, [offboarding_id], ctx=ctx, now=utcnow())
    finally:
        trial.rollback()


def run_key(off: Offboarding, code: str) -> str:
    """The run's Prefect idempotency key, from the record: the same start, the same run; a
    register made anew (its ids counted from 1 again) never gets an old run back."""
    made = off.created_at.strftime("%Y%m%d%H%M%S")
    return f"telefoni-avslut-{code}-{off.id}-{made}"[:RUN_KEY_LENGTH]


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]


def _tell_changes(changed: tuple[str, ...]) -> None:
    if changed:
        typer.echo(f"Ändrat nu: {'; '.join(changed)}.")
    else:
        typer.echo("Den här starten ändrade ingenting.")


def _start(url: str, recorded: Recorded, parameters: dict[str, Any], name: str) -> str:
    """The run of the offboarding deployment under the record's key (made once); exit 1 with
    the reason if Prefect cannot make it — the record stays, and the same command again
    makes it."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tasks.offboarding.started import SINGLE_DEPLOYMENT

    kept = (
        f"Avslutet {recorded.reference} är registrerat men ingen körning är startad; kör samma "
        "kommando igen när det går, så startas den (inget görs två gånger)."
    )
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            run = run_deployment(
                name=SINGLE_DEPLOYMENT,
                parameters=parameters,
                flow_run_name=name,
                idempotency_key=recorded.run_key,
                timeout=0,
                as_subflow=False,
            )
    except httpx.TransportError:
        typer.echo(
            f"Prefect-servern svarar inte på {url}. Starta systemet med `./dev up` (eller be den "
            f"som sköter systemet att göra det). {kept}",
            err=True,
        )
        raise typer.Exit(1) from None
    except ObjectNotFound:
        typer.echo(
            f"Deploymenten {SINGLE_DEPLOYMENT} finns inte på Prefect-servern {url}. Starta "
            f"systemet med `./dev up` (det startar alla deployments). {kept}",
            err=True,
        )
        raise typer.Exit(1) from None
    except PrefectHTTPStatusError as exc:
        typer.echo(f"Prefect tog inte emot avslutet ({exc.response.status_code}). {kept}", err=True)
        raise typer.Exit(1) from None
    assert isinstance(run, FlowRun)  # called outside an event loop: not a coroutine
    return str(run.id)


def _stored(settings: Settings, recorded: Recorded, run_id: str, name: str) -> str:
    """The run stored on the record, unless another start stored one first (that one is it)."""
    from models.offboarding import Offboarding
    from telefoni.core.db import session_factory

    engine = register_engine(settings)
    try:
        with session_factory(engine)() as session, session.begin():
            off = session.get(Offboarding, recorded.offboarding_id, with_for_update=True)
            assert off is not None
            if off.flow_run_id is None:
                off.flow_run_id, off.run_name = run_id, name
            return str(off.flow_run_id)
    finally:
        engine.dispose()
