"""`telefoni answer` (and `telefoni attest`): answer an ask of an offboarding from a terminal.

One command for the asks people answer by their reference (ÄR-…): which kind the ask is
(`tasks.kinds.KINDS`) says what the answer is — the manager's confirmation or change of the
sync's plan, or an owner's attestation of their checklist; `attest` is the same command, for
the checklist only, named as people say it. As `telefoni approve`: the answer is taken in the
register by the ask mechanism, proved by the one-time code from the mail (the same way the
run's form is answered); then the waiting run is woken, or the reminders watch wakes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer

from telefoni.cli.common import register_engine, usage_error
from telefoni.cli.server import run_link, use_prefect_api
from telefoni.core.municipalities import MunicipalityError, MunicipalitySettings
from telefoni.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from models.asks import Ask
    from models.offboarding import OffboardingItem
    from tasks.people import AskContext, Given

PLAN = "offboarding_plan"
CHECKLIST = "offboarding_checklist"
APPROVAL = "onboarding_approval"
WHAT = {PLAN: "en bekräftelse av avslutet", CHECKLIST: "en checklista att intyga"}

AskArgument = Annotated[
    str,
    typer.Argument(
        metavar="ÄRENDE", help="Ärendets referens i e-postmeddelandet, t.ex. ÄR-000012."
    ),
]
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as", help="Ditt anställningsnummer: den tillfrågade, chefens chef eller en ersättare."
    ),
]
CodeOption = Annotated[
    str,
    typer.Option(
        help="Engångskoden i e-postmeddelandet. Utan kod skickas en ny till din e-postadress."
    ),
]
ScrappedOption = Annotated[
    list[str] | None,
    typer.Option(
        "--scrapped",
        metavar="IMEI",
        help="Checklistan: en telefon som kasseras i stället för att gå tillbaka till lagret; "
        "upprepa för flera.",
    ),
]
CommentOption = Annotated[str, typer.Option(help="Kommentar till svaret.")]
KommunOption = Annotated[
    str | None,
    typer.Option(help="Kommunen (kod eller namn). Behövs inte; anges den ska den stämma."),
]


@dataclass(frozen=True)
class Typed:
    """What the options say, before the ask is read."""

    who: str
    code: str
    comment: str
    confirm: bool = False
    changes: tuple[str, ...] = ()
    scrapped: tuple[str, ...] = ()
    only: str | None = None  # the kind the command is for (attest: the checklist)


def answer(
    ask: AskArgument,
    as_: AsOption = None,
    code: CodeOption = "",
    confirm: Annotated[
        bool,
        typer.Option("--confirm", help="Bekräftelsen: allt sägs upp som planerat."),
    ] = False,
    change: Annotated[
        list[str] | None,
        typer.Option(
            "--change",
            metavar="NUMMER=VAL[:EFTERTRÄDARE]",
            help="Bekräftelsen: ändra vad som händer med ett nummer (eller IMEI): 'sägs upp', "
            "'lämnas över till efterträdaren' (med efterträdarens anställningsnummer efter :) "
            "eller 'privat övertagande'; upprepa för flera. Det som inte anges sägs upp.",
        ),
    ] = None,
    scrapped: ScrappedOption = None,
    comment: CommentOption = "",
    kommun: KommunOption = None,
) -> None:
    """Svara på ett ärende i ett avslut: bekräfta eller ändra planen, eller intyga checklistan."""
    typed = _typed(as_, code, comment, confirm=confirm, changes=change, scrapped=scrapped)
    _answer(ask, typed, kommun)


def attest(
    ask: AskArgument,
    as_: AsOption = None,
    code: CodeOption = "",
    scrapped: ScrappedOption = None,
    comment: CommentOption = "",
    kommun: KommunOption = None,
) -> None:
    """Intyga din del av checklistan i ett avslut (samma som `telefoni answer`)."""
    typed = _typed(as_, code, comment, scrapped=scrapped, only=CHECKLIST)
    _answer(ask, typed, kommun)


def _typed(
    as_: str | None,
    code: str,
    comment: str,
    *,
    confirm: bool = False,
    changes: Sequence[str] | None = None,
    scrapped: Sequence[str] | None = None,
    only: str | None = None,
) -> Typed:
    """The options checked for what needs no register; exit 2 naming the one that is wrong."""
    who = (as_ or "").strip()
    if not who:
        raise usage_error("Ange ditt anställningsnummer med --as.")
    if len(who) > 20:
        raise usage_error("--as: ett anställningsnummer har högst 20 tecken.")
    if len(comment) > 1000:
        raise usage_error("--comment: får vara högst 1000 tecken.")
    if confirm and changes:
        raise usage_error("Ange --confirm eller --change, inte båda.")
    return Typed(
        who=who,
        code=code,
        comment=comment,
        confirm=confirm,
        changes=tuple(changes or ()),
        scrapped=tuple(s for s in scrapped or () if s.strip()),
        only=only,
    )


def _answer(reference: str, typed: Typed, kommun: str | None) -> None:
    from models.asks import Ask, reference_id
    from models.base import utcnow
    from tasks.kinds import KINDS
    from tasks.people import answer as take
    from tasks.people import ask_context_from
    from telefoni.core.db import session_factory

    try:
        ask_id = reference_id(reference)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    settings = get_settings()
    url = use_prefect_api(settings)
    sessions = session_factory(register_engine(settings))
    with sessions() as session, session.begin():
        ask = session.get(Ask, ask_id)
        if ask is None:
            typer.echo(f"Det finns inget ärende {reference.strip().upper()}.", err=True)
            raise typer.Exit(1)
        _right_kind(ask, typed)
        municipality = _municipality(session, ask, settings, kommun)
        ctx = ask_context_from(settings, municipality, ask.municipality_id)
        given = _given(session, ask, typed, ctx)
        outcome = take(session, ask.id, given, kind=KINDS[ask.kind], ctx=ctx, now=utcnow())
        run_id, wake_input = ask.flow_run_id, KINDS[ask.kind].wake_input(ask)
        attested = _attested(session, ask) if outcome.accepted else []
    # Outside the transaction: a refusal is committed too (a wrong code counts).
    if not outcome.accepted:
        typer.echo(outcome.message, err=True)
        raise typer.Exit(1)
    typer.echo(outcome.message)
    for line in attested:
        typer.echo(f"  {line}")
    if run_id:
        _wake(sessions, ask_id, run_id, wake_input, url)
        typer.echo(f"Följ körningen: {run_link(settings, run_id)}")


def _right_kind(ask: Ask, typed: Typed) -> None:
    """Exit 2 unless the ask is one this command answers, with these options."""
    if ask.kind == APPROVAL:
        raise usage_error(
            f"{ask.reference} är ett beslut om en beställning: svara med `telefoni approve`."
        )
    if ask.kind not in WHAT:
        raise usage_error(f"{ask.reference} kan inte besvaras här ({ask.kind}).")
    if typed.only is not None and ask.kind != typed.only:
        raise usage_error(
            f"{ask.reference} är {WHAT[ask.kind]}, inte {WHAT[typed.only]}: svara med "
            "`telefoni answer` och --confirm eller --change."
        )
    if ask.kind == CHECKLIST and (typed.confirm or typed.changes):
        raise usage_error(
            f"--confirm och --change hör till chefens bekräftelse av avslutet; {ask.reference} "
            "är en checklista att intyga (svara utan dem)."
        )
    if ask.kind == PLAN and typed.scrapped:
        raise usage_error(
            f"--scrapped hör till checklistan; {ask.reference} är en bekräftelse av avslutet."
        )
    if ask.kind == PLAN and not (typed.confirm or typed.changes):
        raise usage_error(
            f"{ask.reference} är en bekräftelse av avslutet: ange --confirm (allt sägs upp som "
            "planerat) eller --change NUMMER=VAL."
        )


def _municipality(
    session: Session, ask: Ask, settings: Settings, kommun: str | None
) -> MunicipalitySettings:
    """The ask's municipality, as configured; exit 2 if --kommun names another."""
    from telefoni.core.tenancy import municipality_names

    name = municipality_names(session)[ask.municipality_id]
    try:
        municipality = settings.kommun(name)
    except MunicipalityError:
        typer.echo(f"{ask.reference} hör till {name}, som inte finns i inställningarna.", err=True)
        raise typer.Exit(1) from None
    if kommun is not None:
        try:
            asked = settings.kommun(kommun)
        except MunicipalityError as exc:
            raise usage_error(str(exc)) from None
        if asked.code != municipality.code:
            raise usage_error(
                f"{ask.reference} hör till {municipality.name}, inte till {asked.name} "
                "(--kommun). Svaret registrerades inte."
            )
    return municipality


def _given(session: Session, ask: Ask, typed: Typed, ctx: AskContext) -> Given:
    """The answer, as the run's form would give it; exit 2 naming what does not fit the ask."""
    from models.offboarding_rules import identify
    from tasks.people import Given

    if ask.kind == CHECKLIST:
        phones = {i.imei for i in _items(session, ask) if i.imei}
        scrapped = sorted({identify(s) for s in typed.scrapped})
        strangers = [s for s in scrapped if s not in phones]
        if strangers:
            raise usage_error(
                f"--scrapped: {', '.join(strangers)} är ingen av telefonerna i {ask.reference} "
                f"({', '.join(sorted(phones)) or 'ärendet har inga telefoner'})."
            )
        return Given(
            who=typed.who,
            code=typed.code,
            answer="intygar",
            comment=typed.comment,
            data={"scrapped": scrapped},
        )
    if typed.confirm:
        return Given(who=typed.who, code=typed.code, answer="bekräfta", comment=typed.comment)
    changes = [_change(session, ask, text, ctx) for text in typed.changes]
    return Given(
        who=typed.who,
        code=typed.code,
        answer="ändra",
        comment=typed.comment,
        data={"changes": changes},
    )


def _items(session: Session, ask: Ask) -> list[OffboardingItem]:
    """The items the ask is about: its checklist's, or those of the plan it confirms."""
    from sqlalchemy import select

    from models.offboarding import ChecklistItem, Offboarding, OffboardingItem

    if ask.kind == CHECKLIST:
        about = select(ChecklistItem.item_id).where(ChecklistItem.ask_id == ask.id)
        return list(
            session.scalars(
                select(OffboardingItem)
                .where(OffboardingItem.id.in_(about))
                .order_by(OffboardingItem.id)
            )
        )
    offs = select(Offboarding.id).where(Offboarding.plan_ask_id == ask.id)
    return list(
        session.scalars(
            select(OffboardingItem)
            .where(OffboardingItem.offboarding_id.in_(offs))
            .order_by(OffboardingItem.id)
        )
    )


def _change(session: Session, ask: Ask, text: str, ctx: AskContext) -> list[str]:
    """One --change as the plan's answer holds it: [number, disposition words, successor]."""
    from models.offboarding import DISPOSITION_SV, Disposition
    from models.offboarding_rules import identify, parse_disposition
    from tasks.people import employee

    number, sep, rest = text.partition("=")
    words, _, successor = rest.partition(":")
    if not sep or not number.strip() or not words.strip():
        raise usage_error(
            f"--change: {text!r} ska skrivas NUMMER=VAL[:EFTERTRÄDARE], t.ex. "
            "'070-123 45 67=lämnas över till efterträdaren:E1002'."
        )
    try:
        disposition = parse_disposition(words)
    except ValueError as exc:  # 'lämnas över', 'privat': the start of one choice is enough
        begun = [d for d, sv in DISPOSITION_SV.items() if sv.startswith(words.strip().casefold())]
        if len(begun) != 1:
            raise usage_error(f"--change: {exc}.") from None
        disposition = begun[0]
    items = _items(session, ask)
    item = next((i for i in items if identify(number) in (i.number, i.imei)), None)
    if item is None:
        have = ", ".join(i.what for i in items) or "inga"
        raise usage_error(
            f"--change: {number.strip()} är inget av numren i avslutet ({have}). "
            "Svaret registrerades inte."
        )
    successor = successor.strip()
    if successor and employee(session, ctx, successor) is None:
        raise usage_error(
            f"--change: efterträdaren {successor} finns inte i registret för {ctx.municipality}."
        )
    if disposition is Disposition.HAND_OVER and not (successor or item.offboarding.successor_id):
        raise usage_error(
            f"--change: §8.1: {item.what} ska lämnas över, men ingen efterträdare är angiven "
            "(skriv NUMMER=lämnas över till efterträdaren:ANSTÄLLNINGSNUMMER)."
        )
    return [number.strip(), DISPOSITION_SV[disposition], successor]


def _attested(session: Session, ask: Ask) -> list[str]:
    """What the answer attested, as people read it (nothing for the plan's confirmation)."""
    if ask.kind != CHECKLIST:
        return []
    from sqlalchemy import select

    from models.offboarding import ChecklistItem
    from models.offboarding_rules import TASK_SV

    return [
        f"{TASK_SV[c.task]} ({c.item.what}): intygat av {c.attested_by}"
        for c in session.scalars(
            select(ChecklistItem).where(ChecklistItem.ask_id == ask.id).order_by(ChecklistItem.id)
        )
        if c.attested_by
    ]


def _wake(
    sessions: Callable[[], Session], ask_id: int, run_id: str, run_input: dict[str, Any], url: str
) -> None:
    """Wake the run with the answer now in the register; if it cannot be woken now, the
    reminders watch does it within the hour."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from models.asks import Ask
    from models.base import utcnow
    from tasks.people.waking import Woke, wake

    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            woke = wake(run_id, run_input)
    except httpx.TransportError:
        woke = Woke.NOT_WAITING
    if woke is Woke.GONE:
        typer.echo(f"Körningen {run_id} väntar inte längre; svaret finns i registret.")
        return
    if woke is Woke.NOT_WAITING:
        typer.echo(
            "Körningen kunde inte väckas just nu; den fortsätter med svaret när "
            "påminnelsekörningen (reminders) väcker den, inom en timme."
        )
        return
    with sessions() as session, session.begin():
        ask = session.get(Ask, ask_id)
        assert ask is not None
        ask.woken_at = utcnow()
