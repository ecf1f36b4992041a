"""What the onboarding steps tell people: a template per notice, the same in text and HTML."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import onboarding_notices as notices
from models.onboarding import OnboardingOrder, OrderStatus
from models.onboarding_forms import ApprovalDecision, DeliveryInput, OrderRequest
from models.outbox import OutboxMessage
from models.personnummer import PersonnummerVault
from tasks.onboarding import (
    ask_for_approval,
    check_orders,
    decide,
    notify,
    receive,
    record_delivery,
    register,
)
from tests import factories
from tests.flows.onboarding_helpers import delivery
from tests.integration.test_onboarding_ordering import home_ctx
from tests.integration.test_onboarding_watch import watch_approvals

RUN = "5b1f7c4e-0000-4000-8000-0000000000aa"
ASKED = datetime(2027, 8, 2, 6, 0, tzinfo=UTC)  # 08:00 in Stockholm
FOOTER = "\n\n\n--\nDetta meddelande skickades automatiskt"  # after the last paragraph


def the_whole_story(session: Session, vault: PersonnummerVault) -> tuple[list[int], str]:
    """One order from request to notices (the operator left out); its ids and the form text."""
    wp = factories.workplace(session, vault, staff=1)
    ctx = replace(home_ctx(session), flow_run_id=RUN)
    request = OrderRequest(
        employee_number=wp.staff[0],
        need_category=2,
        phone_model=wp.standard_model,
        subscription_option=wp.option,
        requested_by=wp.manager,
        headset=False,
        apps=[{"name": "Ritverktyg Pro", "monthly_cost_sek": "49", "why": "ritningar i fält"}],
    )
    ids = receive(session, [request], batch_key=None, ctx=ctx)
    check_orders(session, ids, ctx=ctx, today=ASKED.date())
    form = ask_for_approval(session, ids, ctx=ctx, now=ASKED).description
    watch_approvals(session, ctx=ctx, now=ASKED + timedelta(hours=49))  # a reminder
    code = factories.code_sent_to(session, wp.municipality_id, wp.manager)
    approval = ApprovalDecision(
        decision="godkänn", decided_by=wp.manager, code=code, comment="Behövs"
    )
    decide(session, ids, approval, ctx=ctx, now=ASKED + timedelta(hours=50))
    (order,) = session.scalars(select(OnboardingOrder).where(OnboardingOrder.id.in_(ids)))
    order.status = OrderStatus.ORDERED  # as the ordering step leaves it
    assert record_delivery(session, ids, DeliveryInput(**delivery(41)), ctx=ctx) is None
    register(session, ids, ctx=ctx)
    notify(session, ids, ctx=ctx)
    return ids, form


def mails(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_the_manager_is_asked_in_the_words_people_know(
    session: Session, vault: PersonnummerVault
) -> None:
    ids, form = the_whole_story(session, vault)
    order = session.get(OnboardingOrder, ids[0])
    assert order is not None and order.approver is not None
    employee, manager = order.employee, order.approver
    request, reminder = [m for m in mails(session) if m.template == notices.APPROVAL_REQUEST]
    code = factories.CODE_IN_MAIL.search(request.body_text)
    assert code is not None

    assert request.recipient == manager.email
    assert request.subject == f"Beställning att godkänna: {order.reference}"
    assert request.body_text.startswith(
        f"Hej {manager.first_name}!\n\n"
        f"En beställning av telefon och abonnemang för {employee.name} väntar på ditt beslut "
        f"(referens {order.reference}).\n\n"
        f"Öppna beställningen och besluta här: http://127.0.0.1:4200/runs/flow-run/{RUN}\n\n"
        f"Din engångskod: {code.group(1)}\n\n"
        f"Ange koden och ditt anställningsnummer ({manager.employee_number}) när du beslutar. "
        "Koden gäller en gång, bara för dig och bara för den här beställningen.\n\n"
        f"Du kan också besluta i en terminal: telefoni approve {order.reference} --approve "
        f"(eller --reject) --as {manager.employee_number} --code KODEN "
        '--comment "..."\n\n'
        "Om ingen beslutar senast 2027-08-16 08:00 avslås beställningen automatiskt." + FOOTER
    )
    assert code.group(1) not in reminder.body_text  # a reminder carries no new code
    assert reminder.subject == f"Påminnelse: Beställning att godkänna: {order.reference}"
    assert "\n\nPåminnelse: En beställning av telefon" in reminder.body_text
    assert f"| {employee.name} ({employee.employee_number}) |" in form
    assert "| nej | Ritverktyg Pro (49 kr/mån) |" in form  # no headset; the app and its cost
    assert "### Att tänka på\n- §4.2.1: inget headset beställs" in form


def test_each_notice_is_its_own_template_saying_the_same_in_text_and_html(
    session: Session, vault: PersonnummerVault
) -> None:
    ids, _ = the_whole_story(session, vault)
    sent = mails(session)

    assert [m.template for m in sent] == [
        notices.APPROVAL_REQUEST,
        notices.APPROVAL_REQUEST,  # the reminder
        notices.DECISION,
        notices.NEW_NUMBERS,
        notices.PHONE_READY,
    ]
    for mail in sent:
        body, footer = mail.body_text.split(FOOTER)
        paragraphs = body.split("\n\n")
        assert paragraphs[0].startswith("Hej") and footer
        shown = html.unescape(mail.body_html)
        assert f"<title>{mail.subject}</title>" in shown
        said = [re.sub(r"<[^>]+>", "", p) for p in re.findall(r"<p>(.*?)</p>", shown)]
        assert said == paragraphs, mail.template
    decision, numbers, welcome = sent[2:]
    order = session.get(OnboardingOrder, ids[0])
    assert order is not None and order.approver is not None
    assert decision.body_text.split("\n\n")[1:4] == [
        f"Beställningen {order.reference} godkändes av {order.approver.name} ({order.decided_by}).",
        "Kommentar: Behövs",
        "Beställningen går nu till den anvisade beställningsfunktionen (§6.1).",
    ]
    assert numbers.subject == "Nya mobilnummer i kunddatabasen (1 st)"
    assert f"{order.employee.name}, {order.employee.unit.name}: {order.number}" in numbers.body_text
    assert f"Ditt nummer är {order.number}." in welcome.body_text
