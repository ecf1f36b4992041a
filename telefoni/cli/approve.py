"""`telefoni approve`: a manager's decision on orders waiting in an onboarding run.

The steps: check what was typed, find the run and what in it waits (the register says),
check who may decide and that Prefect knows the run, then answer the ask in the register,
proved by the one-time code from the mail (the same way the run's form is answered), and
wake the run. The orders say whose municipality they are: the deciders are that
municipality's, and `--kommun`, if given, must name it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import httpx
import typer

from telefoni.cli.common import register_engine, usage_error
from telefoni.cli.server import prefect_down, run_link, use_prefect_api
from telefoni.core.municipalities import MunicipalityError, MunicipalitySettings
from telefoni.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from models.onboarding import OnboardingOrder
    from tasks.onboarding import Context


@dataclass(frozen=True)
class Waiting:
    """What waits for the decision in one run, as the register had it before it was sent."""

    run_id: str
    references: list[str]
    ids: list[int]
    paid_apps: list[str]  # sorted names of the paid apps the orders ask for
    municipality: MunicipalitySettings


def approve(
    run: Annotated[
        str,
        typer.Argument(
            metavar="RUN_ID",
            help="Körningens id (står i e-postmeddelandet och i Prefect) eller beställningens "
            "referens, t.ex. TEL-000123.",
        ),
    ],
    approve_: Annotated[bool, typer.Option("--approve", help="Godkänn beställningen.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Avslå beställningen.")] = False,
    as_: Annotated[
        str | None,
        typer.Option("--as", help="Ditt anställningsnummer: chefens eller en utsedd ersättares."),
    ] = None,
    code: Annotated[
        str,
        typer.Option(
            help="Engångskoden i e-postmeddelandet om beställningen. Utan kod skickas en ny "
            "till din e-postadress.",
        ),
    ] = "",
    comment: Annotated[str, typer.Option(help="Kommentar till beslutet.")] = "",
    apps: Annotated[
        list[str] | None,
        typer.Option(
            "--app",
            help="En betald app som du godkänner som arbetsverktyg (§4.2.4); upprepa för flera. "
            "Appar som inte anges beställs inte.",
        ),
    ] = None,
    kommun: Annotated[
        str | None,
        typer.Option(
            help="Kommunen (kod eller namn). Behövs inte: beställningen visar vilken kommun "
            "den hör till; anges den ska den stämma.",
        ),
    ] = None,
) -> None:
    """Godkänn eller avslå en beställning av telefon som väntar på chefens beslut."""
    from models.base import utcnow
    from models.onboarding_forms import ApprovalDecision
    from tasks.onboarding import decide
    from telefoni.core.db import session_factory

    who = _decider(approve_=approve_, reject=reject, as_=as_, apps=apps, comment=comment)
    settings = get_settings()
    asked = _asked(settings, kommun)
    url = use_prefect_api(settings)
    sessions = session_factory(register_engine(settings))
    with sessions() as session:
        waiting = _waiting(session, run, who, settings, asked)
        chosen = _chosen_apps(waiting.paid_apps, apps or [])
    _still_waiting(url, settings, waiting.run_id)
    decision = ApprovalDecision(
        decision="godkänn" if approve_ else "avslå",
        decided_by=who,
        code=code,
        approved_apps=sorted(set(chosen)),
        comment=comment,
    )
    with sessions() as session, session.begin():
        ctx = _context(session, settings, waiting.municipality)
        outcome = decide(session, waiting.ids, decision, ctx=ctx, now=utcnow(), in_run=False)
    if not outcome.accepted:
        typer.echo(outcome.message, err=True)
        raise typer.Exit(1)
    with sessions() as session:
        decided = _orders(session, waiting.ids)
    _tell_outcome(decided, waiting, who, settings)
    _wake(sessions, waiting, settings, url)


def _decider(
    *, approve_: bool, reject: bool, as_: str | None, apps: list[str] | None, comment: str
) -> str:
    """Who decides, once the options make one decision; exit 2 if they do not."""
    if approve_ == reject:
        raise usage_error("Ange exakt ett av --approve och --reject.")
    who = (as_ or "").strip()
    if not who:
        raise usage_error("Ange ditt anställningsnummer med --as.")
    if len(who) > 20:
        raise usage_error("--as: ett anställningsnummer har högst 20 tecken.")
    if reject and apps:
        raise usage_error("--app går bara tillsammans med --approve.")
    if len(comment) > 1000:
        raise usage_error("--comment: får vara högst 1000 tecken.")
    return who


def _asked(settings: Settings, kommun: str | None) -> MunicipalitySettings | None:
    """The municipality --kommun names (None: not given); exit 2 if it names none here."""
    if kommun is None:
        return None
    try:
        return settings.kommun(kommun)
    except MunicipalityError as exc:
        raise usage_error(str(exc)) from None


def _municipality_of(
    session: Session,
    orders: Sequence[OnboardingOrder],
    settings: Settings,
    asked: MunicipalitySettings | None,
) -> MunicipalitySettings:
    """The orders' municipality, as configured; exit 2 if --kommun names another."""
    from models.register import Municipality

    row = session.get(Municipality, orders[0].municipality_id)
    assert row is not None  # a foreign key
    try:
        municipality = settings.kommun(row.code)
    except MunicipalityError:
        typer.echo(
            f"{_references([o.reference for o in orders])} hör till {row.name}, som inte "
            "finns i inställningarna här. Inget beslut har registrerats.",
            err=True,
        )
        raise typer.Exit(1) from None
    if asked is not None and asked.code != municipality.code:
        raise usage_error(
            f"{_references([o.reference for o in orders])} hör till {municipality.name}, "
            f"inte till {asked.name} (--kommun). Inget beslut har registrerats."
        )
    return municipality


def _run_id(session: Session, run: str) -> str:
    """The flow run's id from what was typed: the id itself or an order's TEL- reference."""
    from uuid import UUID

    from models.onboarding import OnboardingOrder, reference_id

    run_id = run.strip()
    if run_id.upper().startswith("TEL-"):
        try:
            order = session.get(OnboardingOrder, reference_id(run_id))
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        if order is None or not order.flow_run_id:
            typer.echo(f"Det finns ingen beställning {run_id.upper()} i registret.", err=True)
            raise typer.Exit(1)
        run_id = order.flow_run_id
    try:
        return str(UUID(run_id))
    except ValueError:
        typer.echo(
            f"{run!r} är inget körnings-id (t.ex. 0b1c…-…) och ingen referens (TEL-000123).",
            err=True,
        )
        raise typer.Exit(1) from None


def _waiting(
    session: Session,
    run: str,
    who: str,
    settings: Settings,
    asked: MunicipalitySettings | None = None,
) -> Waiting:
    """The run's orders that wait for a decision `who` may make; exit 1 if there are none.

    `who` is an employee number of the orders' municipality; the deputies are its own."""
    from sqlalchemy import select

    from models.asks import Ask, may_answer
    from models.onboarding import STATUS_SV, OnboardingOrder, OrderStatus
    from models.onboarding_notices import may_decide_text

    run_id = _run_id(session, run)
    found = list(
        session.scalars(
            select(OnboardingOrder)
            .where(OnboardingOrder.flow_run_id == run_id)
            .order_by(OnboardingOrder.id)
        )
    )
    if not found:
        typer.echo(f"Ingen beställning i registret hör till körningen {run_id}.", err=True)
        raise typer.Exit(1)
    municipality = _municipality_of(session, found, settings, asked)
    waiting = [o for o in found if o.status is OrderStatus.AWAITING_APPROVAL]
    if not waiting:
        typer.echo(f"Inget i körningen {run_id} väntar på beslut:", err=True)
        for o in found:
            by = f" (beslut av {o.decided_by})" if o.decided_by else ""
            typer.echo(f"  {o.reference}: {STATUS_SV[o.status]}{by}", err=True)
        raise typer.Exit(1)
    ask = session.get(Ask, waiting[0].ask_id) if waiting[0].ask_id else None
    above = [ask.escalated_to.employee_number] if ask and ask.escalated_to else []
    managers = sorted({o.approver.employee_number for o in waiting if o.approver})
    if not may_answer(
        who,
        assignee=managers[0] if managers else None,
        escalated_to=above[0] if above else None,
        deputies=municipality.deputies,
    ):
        orders_text = _references([o.reference for o in waiting], lower=True)
        allowed = may_decide_text(
            managers, sorted(municipality.deputies), municipality.name, above=above
        )
        typer.echo(
            f"{who} får inte besluta om {orders_text}: {allowed}. Inget beslut har registrerats.",
            err=True,
        )
        raise typer.Exit(1)
    return Waiting(
        run_id=run_id,
        references=[o.reference for o in waiting],
        ids=[o.id for o in waiting],
        paid_apps=sorted({a["name"] for o in waiting for a in o.apps}),
        municipality=municipality,
    )


def _chosen_apps(paid: list[str], apps: Sequence[str]) -> list[str]:
    """The paid apps named with --app, as the orders spell them; exit 2 for one not there."""
    chosen: list[str] = []
    for name in apps:
        match = [p for p in paid if p.casefold() == name.strip().casefold()]
        if not match:
            have = (
                f"Appar i beställningen: {', '.join(paid)}."
                if paid
                else "Beställningen har inga betalda appar."
            )
            raise usage_error(f"--app: ingen app i beställningen heter {name.strip()!r}. {have}")
        chosen.append(match[0])
    return chosen


def _still_waiting(url: str, settings: Settings, run_id: str) -> None:
    """Exit 1, with the reason, unless Prefect knows the run and it has not ended."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:  # this server's API (the variable may have been read before the command set it)
        with (
            temporary_settings(updates={PREFECT_API_URL: url}),
            get_client(sync_client=True) as client,
        ):
            state = client.read_flow_run(UUID(run_id)).state
    except httpx.TransportError:
        raise prefect_down(url) from None
    except ObjectNotFound:
        typer.echo(f"Prefect-servern ({url}) känner inte till körningen {run_id}.", err=True)
        raise typer.Exit(1) from None
    if state is None or state.is_final():
        typer.echo(
            f"Körningen {run_id} har avslutats ({state.name if state else 'okänt läge'}); "
            f"inget beslut har registrerats. Se körningen: {run_link(settings, run_id)}",
            err=True,
        )
        raise typer.Exit(1)


def _context(session: Session, settings: Settings, municipality: MunicipalitySettings) -> Context:
    from tasks.onboarding import context_from
    from telefoni.core.tenancy import municipality_id

    return context_from(settings, None, municipality, municipality_id(session, municipality))


def _orders(session: Session, ids: Sequence[int]) -> list[OnboardingOrder]:
    from sqlalchemy import select

    from models.onboarding import OnboardingOrder

    return list(
        session.scalars(
            select(OnboardingOrder).where(OnboardingOrder.id.in_(ids)).order_by(OnboardingOrder.id)
        )
    )


def _wake(sessions: Callable[[], Session], waiting: Waiting, settings: Settings, url: str) -> None:
    """Wake the run with the decision now in the register; if it cannot be woken now, the
    reminders watch does it within the hour."""
    from models.asks import Ask
    from models.base import utcnow
    from tasks.onboarding import APPROVAL
    from tasks.people.waking import Woke, wake

    with sessions() as session:
        lead = session.get(Ask, _orders(session, waiting.ids)[0].ask_id)
        assert lead is not None
        run_input = APPROVAL.wake_input(lead)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            woke = wake(waiting.run_id, run_input)
    except httpx.TransportError:
        woke = Woke.NOT_WAITING
    if woke is Woke.NOT_WAITING:
        typer.echo(
            "Körningen kunde inte väckas just nu; den fortsätter med beslutet när "
            "påminnelsekörningen (reminders) väcker den, inom en timme."
        )
        return
    with sessions() as session, session.begin():
        ask = session.get(Ask, lead.id)
        assert ask is not None
        ask.woken_at = utcnow()


def _tell_outcome(
    decided: list[OnboardingOrder], waiting: Waiting, who: str, settings: Settings
) -> None:
    """What the run registered; exit 1 if someone else's decision came first."""
    from models.onboarding import STATUS_SV, OrderStatus

    lead = decided[0]
    if lead.decided_by != who:
        typer.echo(
            f"{_references(waiting.references)} avgjordes redan av "
            f"{lead.decided_by or 'någon annan'} ({STATUS_SV[lead.status]}); "
            "ditt beslut registrerades inte.",
            err=True,
        )
        raise typer.Exit(1)
    verdict = "avslogs" if lead.status is OrderStatus.REJECTED else "godkändes"
    typer.echo(f"{_references(waiting.references)} {verdict} av {who}.")
    if verdict == "godkändes" and waiting.paid_apps:
        kept = sorted({a["name"] for o in decided for a in o.apps if a.get("approved")})
        typer.echo(
            f"Godkända appar: {', '.join(kept)}." if kept else "Inga betalda appar godkändes."
        )
    typer.echo(f"Följ körningen: {run_link(settings, waiting.run_id)}")


def _references(references: list[str], *, lower: bool = False) -> str:
    """'Beställningen TEL-000001', '… TEL-000001 och TEL-000002', or a range for many."""
    if len(references) == 1:
        text = f"Beställningen {references[0]}"
    elif len(references) <= 5:
        text = f"Beställningarna {', '.join(references[:-1])} och {references[-1]}"
    else:
        text = f"De {len(references)} beställningarna {references[0]}–{references[-1]}"
    return text[0].lower() + text[1:] if lower else text
