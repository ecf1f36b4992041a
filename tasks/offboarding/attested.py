"""attested: on the last day, each owner of the checklist is asked to attest what is theirs —
the employee the passcode reset (§7.2), the manager the phone returned and factory reset
(§8.1) — and reminded, and escalated to their manager once overdue, through the mechanism of
people's steps. One ask per owner and run, answered with their one-time code in the run's form
or the terminal (`telefoni attest`); the answer attests all of theirs at once, and what it
opens (a handover whose gate is now open) is done in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import audit
from models import offboarding_notices as notices
from models.asks import Ask, AskStatus, AtDeadline, shown
from models.audit import Actor
from models.notice import Notice
from models.offboarding import (
    OBJECT_TYPE,
    ChecklistItem,
    DeviceOutcome,
    Offboarding,
    OffboardingItem,
    OffboardingStatus,
    Owner,
    Task,
)
from models.offboarding_forms import Attestation
from models.offboarding_rules import TASK_SV, identify
from models.register import DeviceStatus, Employee
from tasks.offboarding.base import (
    NOT_WAITING,
    Context,
    Wait,
    event,
    lead,
    load,
    nobody_else,
    of_municipality,
    theirs,
    used_up,
    whose,
)
from tasks.offboarding.handed_over import carry_out
from tasks.people import AskContext, Given, Purpose, answer, open_ask

ANSWER = "intygar"


def open_items(offs: Sequence[Offboarding]) -> list[ChecklistItem]:
    """What people still have to attest (the system attests its own as it does them)."""
    return [
        c
        for o in offs
        for i in o.items
        for c in i.checklist
        if c.owner is not Owner.SYSTEM and c.attested_at is None
    ]


def ask_to_attest(session: Session, ids: Sequence[int], *, ctx: Context, now: datetime) -> Wait:
    """Ask each owner (once) to attest what is theirs of the run's offboardings being carried
    out; nothing to wait for when all is attested."""
    offs = load(session, ids, OffboardingStatus.CARRYING_OUT)
    of_municipality(ctx, offs)
    todo = open_items(offs)
    if not todo:
        return NOT_WAITING
    first = lead(session, ids)
    by_owner: dict[int | None, list[ChecklistItem]] = {}
    for c in todo:
        by_owner.setdefault(c.owner_id, []).append(c)
    owners = {
        e.id: e
        for e in session.scalars(
            select(Employee).where(Employee.id.in_([i for i in by_owner if i is not None]))
        )
    }
    for owner_id, items in by_owner.items():
        person = owners.get(owner_id) if owner_id is not None else None

        def link(ask: Ask, items: list[ChecklistItem] = items) -> None:
            for c in items:
                if c.ask_id is None:
                    c.ask_id = ask.id
            session.flush()

        open_ask(
            session,
            kind=CHECKLIST,
            object_type=OBJECT_TYPE,
            object_id=f"{first.reference}/{whose(person)}"[:40],
            title=_title(items, person),
            assignee=person,
            flow_run_id=first.flow_run_id or ctx.flow_run_id,
            ctx=ctx.until(max(c.due_on for c in items), now),
            now=now,
            link=link,
        )
    return Wait(
        True,
        f"intyg-{first.wait_round}",
        notices.checklist_form(todo, municipality=ctx.municipality),
    )


def _title(items: Sequence[ChecklistItem], person: Employee | None) -> str:
    leavers = {c.item.offboarding.employee.name for c in items}
    tasks = ", ".join(sorted({TASK_SV[c.task] for c in items}))
    who = next(iter(leavers)) if len(leavers) == 1 else f"{len(leavers)} anställda"
    return f"Intyga avslut ({who}): {tasks}"


def attest(
    session: Session, ids: Sequence[int], given: Attestation, *, ctx: Context, now: datetime
) -> str | None:
    """An attestation from the run's form: the open ask of the run that `given.attested_by`
    may answer, answered with their code. None when taken, else why not (in Swedish)."""
    used_up(session, ids)
    who = given.attested_by.strip()
    asks = _asks(session, ids)
    mine, answered = theirs(asks, who, ctx.asking.deputies)
    if answered or not any(a.status is AskStatus.OPEN for a in asks):
        return None
    if mine is None:
        return nobody_else(asks, who, "intyga")
    outcome = answer(
        session,
        mine.id,
        Given(
            who=who,
            code=given.code,
            answer=ANSWER,
            comment=given.comment,
            data={"scrapped": sorted({identify(s) for s in given.scrapped if s.strip()})},
        ),
        kind=CHECKLIST,
        ctx=ctx.asking,
        now=now,
    )
    return None if outcome.accepted else outcome.message


def _asks(session: Session, ids: Sequence[int]) -> list[Ask]:
    """The checklist asks of the run's offboardings."""
    return list(
        session.scalars(
            select(Ask)
            .where(
                Ask.id.in_(
                    select(ChecklistItem.ask_id).where(ChecklistItem.offboarding_id.in_(ids))
                )
            )
            .options(selectinload(Ask.assignee), selectinload(Ask.escalated_to))
            .order_by(Ask.id)
        )
    )


def _items_of(session: Session, ask: Ask) -> list[ChecklistItem]:
    return list(
        session.scalars(
            select(ChecklistItem)
            .where(ChecklistItem.ask_id == ask.id)
            .options(
                selectinload(ChecklistItem.item).selectinload(OffboardingItem.offboarding),
                selectinload(ChecklistItem.item).selectinload(OffboardingItem.device),
            )
            .order_by(ChecklistItem.id)
        )
    )


class Checklist:
    """The kind of a checklist owner's ask: attest what is theirs (§7.2, §8.1)."""

    name = "offboarding_checklist"
    rule = "§8.1"
    at_deadline = AtDeadline.ESCALATE  # nobody attests by default: it goes up, and waits
    answers: Mapping[str, str] = MappingProxyType({ANSWER: "intygat"})
    deadline_answer = ANSWER  # never applied: the deadline only escalates

    def notice(
        self,
        session: Session,
        ask: Ask,
        to: Employee,
        *,
        purpose: Purpose,
        code: str | None,
        ctx: AskContext,
    ) -> Notice | None:
        items = [c for c in _items_of(session, ask) if c.attested_at is None]
        if not items:
            return None
        return notices.checklist_request(
            items,
            to,
            reminder=ask.reminders_sent if purpose is Purpose.REMIND else 0,
            code=shown(code) if code else None,
            run_url=ctx.run_url(ask.flow_run_id),
            deadline=ask.due_at,
            tz=ctx.tz,
            municipality=ctx.municipality,
            escalated_from=ask.assignee if purpose is Purpose.ESCALATE else None,
            ask_reference=ask.reference,
        )

    def not_allowed(self, ask: Ask, who: str, ctx: AskContext) -> str:
        allowed = [p.employee_number for p in (ask.assignee, ask.escalated_to) if p is not None]
        return (
            f"{who} kan inte intyga detta: det gör "
            + (", ".join(allowed) if allowed else "en utsedd ersättare")
            + f" i {ctx.municipality}. Svaret registrerades inte."
        )

    def answered(self, session: Session, ask: Ask, ctx: AskContext, now: datetime) -> None:
        """Every open thing of the ask attested by whoever answered; what that opens is done."""
        items = [c for c in _items_of(session, ask) if c.attested_at is None]
        who = str(ask.answered_by)
        scrapped = set(ask.answer_data.get("scrapped", []))
        octx = Context(asking=ctx, contact_centre_email="")
        by_off: dict[int, list[ChecklistItem]] = {}
        for c in items:
            c.attested_by, c.attested_at = who, now
            by_off.setdefault(c.offboarding_id, []).append(c)
            item = c.item
            device = item.device
            if device is not None and item.imei in scrapped:
                item.device_outcome = DeviceOutcome.SCRAPPED
            if device is not None and c.task is Task.DEVICE_RETURNED:
                device.holder_id = None
                device.status = DeviceStatus.RETURNED
            if device is not None and c.task is Task.FACTORY_RESET:
                device.status = DeviceStatus.FACTORY_RESET
        offs = load(session, list(by_off))
        audit.record_many(
            session,
            [
                event(
                    octx,
                    off,
                    "attested",
                    actor=Actor.person(who),
                    rule=by_off[off.id][0].rule,
                    reason="; ".join(f"{TASK_SV[c.task]} ({c.item.what})" for c in by_off[off.id]),
                )
                for off in offs
            ],
        )
        session.flush()
        carry_out(session, [o.id for o in offs], ctx=octx, now=now)

    def expired(self, session: Session, ask: Ask, ctx: AskContext, now: datetime) -> None:
        """Never: a checklist ask only escalates at its deadline."""

    def wake_input(self, ask: Ask) -> dict[str, object]:
        return {
            "attested_by": ask.answered_by or "",
            "code": "",
            "scrapped": list(ask.answer_data.get("scrapped", [])),
            "comment": ask.comment or "",
        }


CHECKLIST = Checklist()
