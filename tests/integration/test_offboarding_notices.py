"""What an offboarding tells people, as they read it (both engines): the leaver, the manager
asked to confirm the sync's plan, the owners of the checklist, the contact centre; and the
texts above the run's forms. Each number with what happens to it, the dates, the §, the
one-time code only where it was given, a link to the run, never a personnummer."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import offboarding_notices as notices
from models.ask_notices import person
from models.notice import Notice
from models.offboarding import (
    ChecklistItem,
    Disposition,
    Offboarding,
    OffboardingItem,
    Owner,
    Source,
)
from models.offboarding_rules import Holding, checklist
from models.outbox import OutboxMessage, Sender, enqueue_notice, render, sender_context
from models.personnummer import Personnummer, PersonnummerVault
from models.register import Device, DeviceStatus, Employee, Subscription
from tests import factories

RUN_URL = "http://127.0.0.1:4200/runs/flow-run/5b1f7c4e-0000-4000-8000-0000000000d1"
SENDER = Sender(
    "telefoni@sjobacka.example",
    "Telefoni – Sjöbacka kommun",
    contact_centre="kontaktcenter@sjobacka.example",
)
MUNICIPALITY = "Sjöbacka kommun"
TZ = ZoneInfo("Europe/Stockholm")
LAST_DAY = date(2027, 6, 30)
DEADLINE = datetime(2027, 6, 16, 6, 0, tzinfo=UTC)  # 08:00 in Stockholm
CODE = "1234 5678"
FOOTER = "\n--\nDetta meddelande skickades automatiskt"
ASKED: dict[str, Any] = {  # what every ask's mail is given besides its round and code
    "run_url": RUN_URL,
    "deadline": DEADLINE,
    "tz": TZ,
    "municipality": MUNICIPALITY,
}


@dataclass
class Leaving:
    boss: Employee
    leaver: Employee
    successor: Employee
    off: Offboarding
    handed: OffboardingItem  # number and phone to the successor
    ended: OffboardingItem  # number terminated, phone back to stock
    personnummer: list[Personnummer]


def _holding(session: Session, leaver: Employee) -> tuple[Subscription, Device]:
    sub = factories.personal_subscription(session, leaver)
    device = Device(
        municipality_id=leaver.municipality_id,
        model_id=factories.phone_model(session).id,
        imei=f"35{factories.number()[-12:]}0",
        status=DeviceStatus.IN_USE,
        holder_id=leaver.id,
        subscription_id=sub.id,
    )
    session.add(device)
    session.flush()
    return sub, device


@pytest.fixture
def leaving(session: Session, vault: PersonnummerVault) -> Leaving:
    """A leaver with two numbers (one to the successor, one terminated) and its checklist."""
    pnr = [factories.fictional_personnummer() for _ in range(3)]
    boss = factories.employee(session, vault, personnummer=pnr[0], first_name="Berit")
    leaver = factories.employee(session, vault, personnummer=pnr[1], manager_id=boss.id)
    successor = factories.employee(session, vault, personnummer=pnr[2], manager_id=boss.id)
    off = Offboarding(
        municipality_id=leaver.municipality_id,
        employee_id=leaver.id,
        employment_start=leaver.employment_start,
        last_day=LAST_DAY,
        successor_id=successor.id,
        source=Source.SYNC,
        started_by="sync",
    )
    session.add(off)
    session.flush()
    made = []
    for disposition in (Disposition.HAND_OVER, Disposition.TERMINATE):
        sub, device = _holding(session, leaver)
        item = OffboardingItem(
            offboarding_id=off.id,
            subscription_id=sub.id,
            device_id=device.id,
            number=sub.number,
            imei=device.imei,
            disposition=disposition,
            disposition_by="förval",
        )
        session.add(item)
        session.flush()
        owner_of = {Owner.EMPLOYEE: leaver.id, Owner.MANAGER: boss.id, Owner.SYSTEM: None}
        for todo in checklist(Holding(sub.number, device.imei), last_day=LAST_DAY, attest_days=7):
            session.add(
                ChecklistItem(
                    offboarding_id=off.id,
                    item_id=item.id,
                    device_id=device.id,
                    task=todo.task,
                    rule=todo.rule,
                    owner=todo.owner,
                    owner_id=owner_of[todo.owner],
                    due_on=todo.due_on,
                )
            )
        made.append(item)
    session.flush()
    session.expire_all()  # read back as a step reads it: items, checklists, people
    return Leaving(boss, leaver, successor, off, made[0], made[1], pnr)


def queued(session: Session, notice: Notice | None) -> OutboxMessage:
    """The notice as the outbox queued it."""
    assert notice is not None
    enqueue_notice(session, notice, SENDER)
    return session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.template == notice.template,
            OutboxMessage.business_key == notice.business_key,
        )
    ).one()


def what(item: OffboardingItem) -> str:
    return f"{item.number} (telefon med IMEI {item.imei})"


def owned(off: Offboarding, owner: Owner) -> list[ChecklistItem]:
    return [c for i in off.items for c in i.checklist if c.owner is owner]


def as_read(mail: OutboxMessage, leaving: Leaving) -> str:
    """The text part, checked for what every mail must be: the HTML part says the same, its
    links are clickable, and no personnummer shows in any form."""
    assert f"<title>{mail.subject}</title>" in html.unescape(mail.body_html)
    shown = html.unescape(re.sub(r"<[^>]+>", "", mail.body_html))
    for line in mail.body_text.split(FOOTER)[0].splitlines():
        assert line.removeprefix("- ") in shown, (mail.template, line)
    for url in re.findall(r"https?://\S+", mail.body_text):
        assert f'<a href="{url}">' in mail.body_html, mail.template
    for pnr in leaving.personnummer:
        for form in (pnr.canonical(), pnr.digits, pnr.digits[2:], pnr.masked):
            for part in (mail.subject, mail.body_text, mail.body_html):
                assert form not in part, mail.template
    return mail.body_text


def test_the_leaver_hears_what_becomes_of_each_number_and_what_to_do(
    session: Session, leaving: Leaving
) -> None:
    off = leaving.off
    mail = queued(session, notices.employee_leaving(off, municipality=MUNICIPALITY))
    text = as_read(mail, leaving)

    assert mail.recipient == leaving.leaver.email and not mail.sealed
    assert mail.subject == (
        f"Din anställning slutar: så blir det med telefon och abonnemang ({off.reference})"
    )
    assert f"din sista arbetsdag är 2027-06-30 (avslut {off.reference})" in text
    assert (
        f"- {what(leaving.handed)}: lämnas över till efterträdaren {person(leaving.successor)}\n"
        f"- {what(leaving.ended)}: sägs upp\n\n"
    ) in text
    assert f"Lämna tillbaka telefonen till {person(leaving.boss)} senast på din sista" in text
    assert "återställ lösenkoden när du lämnar tillbaka den (§7.2)" in text
    assert "e-postmeddelande med en engångskod" in text and "(§8.1)" in text
    assert "§8.2" not in text  # nothing is taken over privately

    leaving.ended.disposition = Disposition.TAKEOVER
    notice = notices.employee_leaving(off, municipality=MUNICIPALITY)
    assert notice is not None
    taken = render(notice.template, {**sender_context(SENDER), **notice.context}).text
    assert f"- {what(leaving.ended)}: privat övertagande\n" in taken
    assert "privat (§8.2): vid överlåtelsen kan priser och tjänster upphöra eller ändras" in taken
    assert "Avgifter och extrakostnader för överlåtelsen betalar du själv." in taken
    assert "Din chef godkänner eller avslår överlåtelsen." in taken

    leaving.leaver.email = None
    assert notices.employee_leaving(off, municipality=MUNICIPALITY) is None


def test_the_manager_is_asked_to_confirm_with_a_code_once_then_reminded_then_escalated(
    session: Session, vault: PersonnummerVault, leaving: Leaving
) -> None:
    off, boss = leaving.off, leaving.boss
    above = factories.employee(session, vault, first_name="Göran")
    first, reminder, escalated = (
        queued(session, notices.plan_request([off], to, **ASKED, **more))
        for to, more in (
            (boss, {"reminder": 0, "code": CODE, "ask_reference": "ÄR-000007"}),
            (boss, {"reminder": 1, "code": None}),
            (above, {"reminder": 0, "code": "8765 4321", "escalated_from": boss}),
        )
    )
    text = as_read(first, leaving)

    assert first.recipient == boss.email and first.sealed and not reminder.sealed
    assert first.subject == f"Avslut att bekräfta: {off.reference} – {person(leaving.leaver)}"
    assert text.startswith(
        f"Hej Berit!\n\nAnställningen för {person(leaving.leaver)} slutar, och avslutet väntar "
        f"på din bekräftelse (referens {off.reference}).\n\n"
    )
    assert "Som förval sägs alla abonnemang upp" in text
    assert "efterträdare (§8.1)" in text and "privat (§8.2)" in text
    assert (
        f"- {person(leaving.leaver)}, sista arbetsdag 2027-06-30: "
        f"{what(leaving.handed)}, {what(leaving.ended)}\n"
    ) in text
    assert f"Öppna avslutet och svara här: {RUN_URL}\n\nDin engångskod: {CODE}\n\n" in text
    assert f"telefoni answer ÄR-000007 --as {boss.employee_number} --code KODEN" in text
    assert "Om ingen svarar senast 2027-06-16 08:00 gäller förvalet: allt sägs upp." in text

    reminded = as_read(reminder, leaving)
    assert reminder.subject == f"Påminnelse: {first.subject}"
    assert "Påminnelse: Anställningen för" in reminded and "Din engångskod" not in reminded
    assert CODE not in reminded and "telefoni answer" not in reminded  # no ask reference given

    told = as_read(escalated, leaving)
    assert escalated.recipient == above.email and escalated.sealed
    assert escalated.subject == f"Till dig som chefens chef: {first.subject}"
    assert f"Frågan gick till {person(boss)}, som inte har svarat" in told
    assert "Din engångskod: 8765 4321" in told and CODE not in told
    assert [m.business_key for m in (first, reminder, escalated)] == [
        f"offboarding-plan:{off.reference}:0:{boss.employee_number}",
        f"offboarding-plan:{off.reference}:1:{boss.employee_number}",
        f"offboarding-plan:{off.reference}:escalated:{above.employee_number}",
    ]


def test_each_owner_is_asked_to_attest_what_is_theirs(session: Session, leaving: Leaving) -> None:
    off, boss, leaver = leaving.off, leaving.boss, leaving.leaver
    mine = owned(off, Owner.MANAGER)
    manager = queued(
        session,
        notices.checklist_request(
            mine, boss, reminder=0, code=CODE, ask_reference="ÄR-000009", **ASKED
        ),
    )
    employee = queued(
        session,
        notices.checklist_request(
            owned(off, Owner.EMPLOYEE), leaver, reminder=0, code=CODE, **ASKED
        ),
    )
    reminder = queued(
        session, notices.checklist_request(mine, boss, reminder=2, code=None, **ASKED)
    )
    text = as_read(manager, leaving)

    assert manager.recipient == boss.email and manager.sealed and not reminder.sealed
    assert manager.subject == (
        f"Att intyga när anställningen slutar: {off.reference} – {person(leaver)}"
    )
    assert f"{person(leaver)} har sista arbetsdag 2027-06-30 (avslut {off.reference})" in text
    assert (
        "".join(
            f"- Telefonen {done} (§8.1): {what(item)}, {person(leaver)}, senast 2027-07-07\n"
            for item in (leaving.handed, leaving.ended)
            for done in ("återlämnad", "fabriksåterställd")
        )
        in text
    )  # due a week after the last day, one line each
    assert "Lösenkoden" not in text  # the employee's
    assert "fabriksåterställas innan den lämnas över, och chefen ansvarar för det (§8.1)" in text
    assert "Registret lämnar inte över telefonen till efterträdaren förrän" in text
    assert f'Intyga i formuläret "Intyga checklistan": {RUN_URL}' in text
    assert f"Din engångskod: {CODE}" in text
    assert f"telefoni attest ÄR-000009 --as {boss.employee_number} --code KODEN" in text
    assert "Intyga senast 2027-06-16 08:00." in text
    assert manager.business_key == f"offboarding-checklist:{off.reference}:0:{boss.employee_number}"

    own = as_read(employee, leaving)
    assert employee.recipient == leaver.email
    assert f"- Lösenkoden återställd (§7.2): {what(leaving.handed)}, senast 2027-06-30\n" in own
    assert "Återställ lösenkoden på telefonen när du lämnar tillbaka den (§7.2)" in own
    assert "fabriksåterställ" not in own  # the manager's

    again = as_read(reminder, leaving)
    assert reminder.subject.startswith("Påminnelse: Att intyga")
    assert CODE not in again and "Din engångskod" not in again


def test_the_contact_centre_is_told_what_to_register(session: Session, leaving: Leaving) -> None:
    off, leaver = leaving.off, leaving.leaver
    to = "kontaktcenter@sjobacka.example"
    mail = queued(session, notices.contact_centre(off, to=to, municipality=MUNICIPALITY))
    text = as_read(mail, leaving)

    assert mail.recipient == to and not mail.sealed
    assert mail.business_key == f"offboarding-contact-centre:{off.reference}"
    assert (
        mail.subject == f"Avslutad anställning att registrera: {off.reference} – {person(leaver)}"
    )
    assert f"sista arbetsdag 2027-06-30 (avslut {off.reference})" in text
    assert "Registrera ändringarna i kunddatabasen (§8.1)" in text
    assert (
        f"- {leaving.handed.number}: lämnas över till efterträdaren {person(leaving.successor)}; "
        "numret flyttas till efterträdarens post.\n"
        f"- {leaving.ended.number}: sägs upp hos operatören; numret upphör från och med "
        "2027-07-01.\n"
    ) in text
    assert f"Posten för {person(leaver)} tas bort ur kunddatabasen" in text
    assert f"Posten för {person(leaving.successor)} får numret som lämnas över." in text

    leaving.ended.disposition = Disposition.TAKEOVER
    notice = notices.contact_centre(off, to=to, municipality=MUNICIPALITY)
    taken = render(notice.template, {**sender_context(SENDER), **notice.context}).text
    assert (
        f"- {leaving.ended.number}: privat övertagande begärt; väntar på chefens beslut (§8.2)"
        in taken
    )


def test_the_forms_say_what_is_asked_and_what_is_still_open(
    session: Session, leaving: Leaving
) -> None:
    off, boss, leaver = leaving.off, leaving.boss, leaving.leaver

    plan = notices.plan_form([off], municipality=MUNICIPALITY)
    assert plan.startswith("## Avslut att bekräfta – Sjöbacka kommun\n")
    assert (
        f"| {off.reference} | {person(leaver)} | 2027-06-30 | {what(leaving.handed)} | "
        f"lämnas över till efterträdaren {person(leaving.successor)} |"
    ) in plan
    assert f"| {what(leaving.ended)} | sägs upp |" in plan
    assert "§8.1" in plan and "§8.2" in plan

    items = [c for i in off.items for c in i.checklist]
    form = notices.checklist_form(items, municipality=MUNICIPALITY)
    assert f"### Chefen, {person(boss)}\n" in form
    assert f"### Den anställda, {person(leaver)}\n" in form
    assert f"- Telefonen fabriksåterställd (§8.1): {what(leaving.handed)}, " in form
    assert "kunddatabasen" not in form  # the system's own, not attested by people
    for c in owned(off, Owner.EMPLOYEE):
        c.attested_at = datetime(2027, 6, 30, 12, tzinfo=UTC)
    form = notices.checklist_form(items, municipality=MUNICIPALITY)
    assert "### Den anställda" not in form and "### Chefen" in form
    for c in owned(off, Owner.MANAGER):
        c.attested_at = datetime(2027, 7, 1, 9, tzinfo=UTC)
    assert "Allt på checklistan är intygat." in notices.checklist_form(items, municipality="")

    waiting = notices.last_day_form([off], municipality=MUNICIPALITY)
    assert (
        f"Avslutet väntar till sista arbetsdagen 2027-06-30 ({off.reference}, {person(leaver)})."
    ) in waiting
    assert "Det finns inget att fylla i här" in waiting


def test_a_summer_of_leavers_is_listed_up_to_the_limit(leaving: Leaving) -> None:
    """201 leavers of one manager: 200 listed, the rest counted (no database needed)."""
    many = [
        Offboarding(id=i, employee=leaving.leaver, last_day=LAST_DAY, items=[])
        for i in range(1, notices.FORM_ROWS + 2)
    ]
    notice = notices.plan_request(
        many,
        leaving.boss,
        reminder=0,
        code=None,
        run_url=RUN_URL,
        deadline=DEADLINE,
        tz=TZ,
        municipality=MUNICIPALITY,
    )
    assert notice is not None
    mail = render(notice.template, {**sender_context(SENDER), **notice.context})
    assert mail.subject == "Avslut att bekräfta: 201 anställda (AVS-000001 m.fl.)"
    assert mail.text.count(f"- {person(leaving.leaver)}, sista arbetsdag") == notices.FORM_ROWS
    assert "- … och 1 till.\n" in mail.text
    waiting = notices.last_day_form(many, municipality=MUNICIPALITY)
    assert waiting.startswith("## 201 avslut väntar på sista arbetsdagen – Sjöbacka kommun")
    assert "- … och 1 till" in waiting and "på var och ens sista arbetsdag" in waiting
