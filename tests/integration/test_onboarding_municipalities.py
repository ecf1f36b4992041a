"""Onboarding for several municipalities on one installation: each order is its employee's
municipality's, told in its name, decided only by its own people."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from models import onboarding_notices as notices
from models.audit import AuditEvent
from models.onboarding import OBJECT_TYPE, OnboardingOrder, OrderStatus
from models.onboarding_forms import ApprovalDecision, DeliveryInput, OrderRequest
from models.outbox import OutboxMessage, OutboxStatus, RetryPolicy, enqueue
from models.personnummer import PersonnummerVault
from models.register import Employee
from tasks.mail import SmtpTransport, from_header
from tasks.onboarding import (
    Context,
    UnknownEmployee,
    ask_for_approval,
    check_orders,
    context_from,
    decide,
    notify,
    place_orders,
    receive,
    record_delivery,
    register,
)
from tasks.onboarding.base import WrongMunicipality
from tasks.operator import gateway_from
from tasks.outbox import relay_outbox
from telefoni.cli import app
from telefoni.core.settings import Settings, get_settings
from telefoni.core.tenancy import sender_of
from tests import factories
from tests.flows.onboarding_helpers import TwoPlaces, delivery, municipalities_file, two_places
from tests.integration.smtp_server import SmtpServer
from tests.integration.test_onboarding_watch import watch_approvals

ASKED = datetime(2027, 8, 2, 6, 0, tzinfo=UTC)
RUN_A = "5b1f7c4e-0000-4000-8000-00000000a001"
RUN_B = "5b1f7c4e-0000-4000-8000-00000000b001"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test", data_dir=tmp_path, municipalities_file=municipalities_file(tmp_path)
    )


@dataclass(frozen=True)
class Both:
    places: TwoPlaces
    a: Context  # Hallsberg's
    b: Context  # Laxå's


def contexts(session: Session, settings: Settings, places: TwoPlaces) -> Both:
    hallsberg, laxa = settings.municipalities
    return Both(
        places,
        context_from(settings, RUN_A, hallsberg, places.a.municipality_id),
        context_from(settings, RUN_B, laxa, places.b.municipality_id),
    )


def request(places: TwoPlaces, number: str) -> OrderRequest:
    """The same order content whoever it is for: the catalogue is shared."""
    return OrderRequest(
        employee_number=number,
        need_category=2,
        phone_model=places.a.standard_model,
        subscription_option=places.a.option,
        requested_by=places.a.manager,
    )


def sent_from(session: Session, address: str) -> list[OutboxMessage]:
    return [
        m
        for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        if from_header(m.raw)[1] == address
    ]


def status(order: OnboardingOrder) -> OrderStatus:
    """The order's status now (a step in between may have changed it)."""
    return order.status


def person(session: Session, municipality_id: int, number: str) -> Employee:
    return session.scalars(
        select(Employee).where(
            Employee.municipality_id == municipality_id, Employee.employee_number == number
        )
    ).one()


def test_the_same_employee_number_in_two_municipalities_is_two_orders_each_told_in_its_own(
    relay_db: Engine, vault: PersonnummerVault, settings: Settings
) -> None:
    with Session(relay_db) as session, session.begin():
        both = contexts(session, settings, two_places(session, vault))
    places = both.places
    ids = {}
    for ctx, run in ((both.a, 1), (both.b, 2)):
        with Session(relay_db) as session, session.begin():
            ids[ctx.municipality] = receive(
                session, [request(places, places.shared)], batch_key=None, ctx=ctx
            )
            check_orders(session, ids[ctx.municipality], ctx=ctx, today=ASKED.date())
            ask_for_approval(session, ids[ctx.municipality], ctx=ctx, now=ASKED)
            manager = places.a.manager if ctx is both.a else places.b.manager
            assert ctx.municipality_id is not None
            code = factories.code_sent_to(session, ctx.municipality_id, manager)
            outcome = decide(
                session,
                ids[ctx.municipality],
                ApprovalDecision(decision="godkänn", decided_by=manager, code=code),
                ctx=ctx,
                now=ASKED,
            )
            assert outcome.accepted
        municipality = settings.municipalities[run - 1]
        with closing(gateway_from(settings, municipality)) as gateway:
            assert place_orders(relay_db, ids[ctx.municipality], gateway, ctx=ctx) == 1
        with Session(relay_db) as session, session.begin():
            given = DeliveryInput(**delivery(70 + run))
            assert record_delivery(session, ids[ctx.municipality], given, ctx=ctx) is None
            register(session, ids[ctx.municipality], ctx=ctx)
            notify(session, ids[ctx.municipality], ctx=ctx)

    with Session(relay_db) as session:
        (a_id,), (b_id,) = ids.values()
        assert a_id != b_id  # the same request in another municipality: another order
        order_a, order_b = session.get(OnboardingOrder, a_id), session.get(OnboardingOrder, b_id)
        assert order_a is not None and order_b is not None
        assert order_a.status is order_b.status is OrderStatus.COMPLETED
        assert (order_a.municipality_id, order_b.municipality_id) == (
            places.a.municipality_id,
            places.b.municipality_id,
        )
        hal = person(session, places.a.municipality_id, places.shared)
        lax = person(session, places.b.municipality_id, places.shared)
        assert (order_a.employee_id, order_b.employee_id) == (hal.id, lax.id)
        assert order_b.decided_by == places.b.manager
        for order in (order_a, order_b):
            events = session.scalars(
                select(AuditEvent).where(
                    AuditEvent.object_type == OBJECT_TYPE, AuditEvent.object_id == order.reference
                )
            ).all()
            assert len(events) >= 8
            assert {e.municipality_id for e in events} == {order.municipality_id}

        told = {}
        for ctx, mine, other, order in (
            (both.a, hal, lax, order_a),
            (both.b, lax, hal, order_b),
        ):
            mails = sent_from(session, str(ctx.sender.address))
            told[ctx.municipality] = mails
            by_template = {m.template: m for m in mails}
            assert sorted(by_template) == sorted(
                [
                    notices.APPROVAL_REQUEST,
                    notices.DECISION,
                    "operatorsbestallning",
                    notices.NEW_NUMBERS,
                    notices.PHONE_READY,
                ]
            )
            approver = order.approver
            assert approver is not None and approver.municipality_id == order.municipality_id
            assert by_template[notices.APPROVAL_REQUEST].recipient == approver.email
            assert by_template["operatorsbestallning"].recipient == ctx.ordering_function_email
            assert by_template[notices.NEW_NUMBERS].recipient == ctx.contact_centre_email
            assert by_template[notices.PHONE_READY].recipient == mine.email
            order_text = by_template["operatorsbestallning"].body_text
            assert "Kommun:" in order_text and ctx.municipality in order_text
            assert mine.name in order_text
            own = {
                str(e.email)
                for e in session.scalars(
                    select(Employee).where(Employee.municipality_id == order.municipality_id)
                )
            } | {ctx.contact_centre_email, ctx.ordering_function_email}
            assert {m.recipient for m in mails} <= own  # the decision too: its requester's
            for mail in mails:
                assert from_header(mail.raw)[0] == f"Telefoni – {ctx.municipality}"
                assert ctx.sender.signature and ctx.sender.signature in mail.body_text
                assert ctx.sender.signature in mail.body_html
                for text in (mail.subject, mail.body_text, mail.body_html, mail.recipient):
                    assert other.name not in text and str(other.email) not in text
        assert len(told["Hallsbergs kommun"]) + len(told["Laxå kommun"]) == len(
            session.scalars(select(OutboxMessage)).all()
        )  # every mail is one municipality's


def waiting_in_both(session: Session, both: Both) -> tuple[list[int], list[int]]:
    """An order waiting for its manager in each municipality, asked at ASKED."""
    found = []
    for ctx in (both.a, both.b):
        ids = receive(session, [request(both.places, both.places.shared)], batch_key=None, ctx=ctx)
        check_orders(session, ids, ctx=ctx, today=ASKED.date())
        ask_for_approval(session, ids, ctx=ctx, now=ASKED)
        found.append(ids)
    return found[0], found[1]


def test_nobody_of_one_municipality_decides_for_anothers_staff(
    session: Session, vault: PersonnummerVault, settings: Settings
) -> None:
    both = contexts(session, settings, two_places(session, vault))
    places = both.places
    _, ids_b = waiting_in_both(session, both)
    (order,) = session.scalars(select(OnboardingOrder).where(OnboardingOrder.id.in_(ids_b)))

    # Hallsberg's manager: in Laxå the number is someone's who is not the employee's manager.
    assert places.b.other_manager == places.a.manager
    for who in (places.a.manager, "D-HAL"):  # Hallsberg's manager; Hallsberg's deputy
        outcome = decide(
            session, ids_b, ApprovalDecision(decision="godkänn", decided_by=who), ctx=both.b,
            now=ASKED,
        )  # fmt: skip
        assert not outcome.accepted
        assert f"{who} får inte besluta" in outcome.message
        assert f"bara chefen ({places.b.manager})" in outcome.message
        assert "ersättare i Laxå kommun (D-LAX)" in outcome.message
        assert order.status is OrderStatus.AWAITING_APPROVAL and order.decided_by is None
    refused = session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_id == order.reference,
            AuditEvent.action == "onboarding.decision_refused",
        )
    ).all()
    assert [e.actor_id for e in refused] == [places.a.manager, "D-HAL"]
    assert {e.municipality_id for e in refused} == {places.b.municipality_id}

    # Hallsberg's steps refuse to touch Laxå's order at all.
    with pytest.raises(WrongMunicipality, match="hör inte till Hallsbergs kommun"):
        decide(
            session, ids_b, ApprovalDecision(decision="godkänn", decided_by="D-HAL"), ctx=both.a,
            now=ASKED,
        )  # fmt: skip
    assert order.status is OrderStatus.AWAITING_APPROVAL

    # Laxå's deputy, who is in its register, asks for a code by answering without one.
    no_code = ApprovalDecision(decision="avslå", decided_by="D-LAX")
    assert (
        "En ny kod har skickats" in decide(session, ids_b, no_code, ctx=both.b, now=ASKED).message
    )
    code = factories.code_sent_to(session, places.b.municipality_id, "D-LAX")
    outcome = decide(
        session, ids_b, ApprovalDecision(decision="avslå", decided_by="D-LAX", code=code),
        ctx=both.b, now=ASKED,
    )  # fmt: skip
    assert outcome.accepted
    assert status(order) is OrderStatus.REJECTED and order.decided_by == "D-LAX"


def test_an_unknown_number_in_the_runs_municipality_is_refused_though_another_has_it(
    session: Session, vault: PersonnummerVault, settings: Settings
) -> None:
    both = contexts(session, settings, two_places(session, vault))
    only_in_laxa = both.places.b.staff[1]
    with pytest.raises(UnknownEmployee, match=f"Hallsbergs kommun: {only_in_laxa}$"):
        receive(session, [request(both.places, only_in_laxa)], batch_key=None, ctx=both.a)


def approval_mails(session: Session, ids: list[int]) -> list[OutboxMessage]:
    reference = f"TEL-{ids[0]:06d}"
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.business_key.like(f"onboarding-approval:{reference}:%"))
            .order_by(OutboxMessage.id)
        )
    )


def test_the_watch_reminds_and_rejects_each_at_its_own_interval_and_deadline(
    session: Session, vault: PersonnummerVault, settings: Settings
) -> None:
    both = contexts(session, settings, two_places(session, vault))
    ids_a, ids_b = waiting_in_both(session, both)
    assert (both.a.remind_every, both.b.remind_every) == (timedelta(hours=24), timedelta(hours=72))

    def watch(at: timedelta) -> None:
        for ctx in (both.a, both.b):
            watch_approvals(session, ctx=ctx, now=ASKED + at)

    watch(timedelta(hours=25))
    assert (len(approval_mails(session, ids_a)), len(approval_mails(session, ids_b))) == (2, 1)
    watch(timedelta(hours=73))
    # Hallsberg's second reminder (due at 48 h), Laxå's first (due at 72 h).
    assert (len(approval_mails(session, ids_a)), len(approval_mails(session, ids_b))) == (3, 2)
    reminder = approval_mails(session, ids_b)[1]
    assert reminder.subject.startswith("Påminnelse")
    assert from_header(reminder.raw)[1] == "telefoni@laxa.example"

    # One municipality's watch never touches another's orders, even past its own deadline.
    watch_approvals(session, ctx=both.a, now=ASKED + timedelta(days=7, minutes=1))
    order_a, order_b = (session.get(OnboardingOrder, i[0]) for i in (ids_a, ids_b))
    assert order_a is not None and order_b is not None
    assert order_a.status is OrderStatus.REJECTED and order_a.decided_by == "system"
    assert order_b.status is OrderStatus.AWAITING_APPROVAL
    watch_approvals(session, ctx=both.b, now=ASKED + timedelta(days=7, minutes=1))
    assert order_b.status is OrderStatus.AWAITING_APPROVAL  # Laxå gives 14 days
    watch_approvals(session, ctx=both.b, now=ASKED + timedelta(days=14, minutes=1))
    assert status(order_b) is OrderStatus.REJECTED
    assert "inom 14 dagar" in (order_b.decision_comment or "")


@pytest.fixture
def cli(relay_db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The commands in this process, configured for the two municipalities; no Prefect."""
    monkeypatch.setenv("TELEFONI_ENVIRONMENT", "test")
    monkeypatch.setenv("TELEFONI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TELEFONI_DATABASE_URL", relay_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("TELEFONI_MUNICIPALITIES_FILE", str(municipalities_file(tmp_path)))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nobody answers
    get_settings.cache_clear()
    try:
        yield relay_db
    finally:
        get_settings.cache_clear()


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


# The command's answers do not depend on the engine (the syncs' own tests run on both): one.
@pytest.mark.parametrize("relay_db", ["sqlite"], indirect=True)
def test_the_commands_take_the_municipality_where_the_employee_does_not_settle_it(
    cli: Engine, vault: PersonnummerVault
) -> None:
    with Session(cli) as session, session.begin():
        places = two_places(session, vault)
        in_hallsberg = factories.onboarding_order(
            session, places.a, places.shared, status=OrderStatus.AWAITING_APPROVAL,
            decided_by=None, flow_run_id=RUN_A,
        ).reference  # fmt: skip
        in_laxa = factories.onboarding_order(
            session, places.b, places.shared, status=OrderStatus.AWAITING_APPROVAL,
            decided_by=None, flow_run_id=RUN_B,
        ).reference  # fmt: skip
    order = ["--category", "2", "--model", places.a.standard_model]
    order += ["--subscription", places.a.option, "--requested-by", places.a.manager]
    here = "här finns hallsberg (Hallsbergs kommun), laxa (Laxå kommun)"

    result = run("onboard", "--employee", places.shared, *order)
    assert result.exit_code == 2
    assert (
        f"anställningsnumret {places.shared} finns i flera kommuner (Hallsbergs kommun, "
        "Laxå kommun); ange vilken kommun det gäller (--kommun)" in result.stderr
    )
    result = run("onboard", "--employee", "E-INGEN", *order)
    assert result.exit_code == 2
    assert "E-INGEN finns inte i registret i någon kommun" in result.stderr
    assert here in result.stderr
    result = run("onboard", "--employee", places.shared, *order, "--kommun", "Lekeberg")
    assert result.exit_code == 2
    assert f"kommunen 'Lekeberg' finns inte här; {here}" in result.stderr
    # Settled: by --kommun, or by a number only one municipality has; only Prefect is missing.
    for settled in (
        ["--employee", places.shared, "--kommun", "laxå kommun"],
        ["--employee", places.b.staff[1]],
    ):
        result = run("onboard", *settled, *order)
        assert result.exit_code == 1, result.stderr
        assert "Prefect-servern svarar inte" in result.stderr

    result = run("approve", in_hallsberg, "--approve", "--as", places.a.manager, "--kommun", "laxa")
    assert result.exit_code == 2
    assert (
        f"Beställningen {in_hallsberg} hör till Hallsbergs kommun, inte till Laxå kommun"
        in result.stderr
    )
    assert "Inget beslut har registrerats." in result.stderr
    result = run("approve", in_laxa, "--approve", "--as", places.b.manager, "--kommun", "Vetlanda")
    assert result.exit_code == 2
    assert f"kommunen 'Vetlanda' finns inte här; {here}" in result.stderr
    for who in (places.a.manager, "D-HAL"):  # Hallsberg's manager and deputy, on Laxå's order
        result = run("approve", in_laxa, "--approve", "--as", who)
        assert result.exit_code == 1
        assert (
            f"{who} får inte besluta om beställningen {in_laxa}: bara chefen "
            f"({places.b.manager}) eller en utsedd ersättare i Laxå kommun (D-LAX) kan göra det."
        ) in result.stderr
    with Session(cli) as session:
        statuses = session.scalars(select(OnboardingOrder.status)).all()
    assert statuses == [OrderStatus.AWAITING_APPROVAL] * 2


def test_mail_status_lists_only_the_named_municipalitys_dead_letters(cli: Engine) -> None:
    settings = get_settings()
    with Session(cli) as session, session.begin():
        for m in settings.municipalities:
            mail = enqueue(
                session,
                template="meddelande",
                business_key=f"test-{m.code}",
                recipient=f"okand@{m.code}.example",
                context={
                    "subject": f"Till {m.name}",
                    "name": f"Person i {m.name}",
                    "paragraphs": ["Hej."],
                    "municipality": m.name,
                },
                sender=sender_of(m),
            )
            mail.status, mail.last_error = OutboxStatus.DEAD, "550 okänd mottagare"

    result = run("mail", "status")
    assert result.exit_code == 0, result.stderr
    assert "döda brev: 2" in result.stdout
    assert "okand@" not in result.stdout and "ange vilken med --kommun" in result.stdout
    result = run("mail", "status", "--kommun", "laxa")
    assert result.exit_code == 0, result.stderr
    assert "  okand@laxa.example – Till Laxå kommun: 550 okänd mottagare" in result.stdout
    assert "hallsberg" not in result.stdout.casefold()
    result = run("mail", "status", "--kommun", "Lekeberg")
    assert result.exit_code == 2
    assert "kommunen 'Lekeberg' finns inte här" in result.stderr


def test_each_municipalitys_mail_goes_out_with_its_own_envelope_sender(
    relay_db: Engine, smtp_server: SmtpServer, settings: Settings
) -> None:
    sent = {}
    with Session(relay_db) as session, session.begin():
        for m in settings.municipalities:
            sent[m.code] = enqueue(
                session,
                template="meddelande",
                business_key=f"test-{m.code}",
                recipient=f"person@{m.code}.example",
                context={
                    "subject": f"Till {m.name}",
                    "name": "Astrid",
                    "paragraphs": ["Hej."],
                    "municipality": m.name,
                },
                sender=sender_of(m),
            ).message_id
    transport = SmtpTransport(
        host=smtp_server.host, port=smtp_server.port, sender="studsar@it.example", timeout=5
    )
    report = relay_outbox(relay_db, transport, policy=RetryPolicy())
    assert report.sent == 2
    copies = smtp_server.by_message_id()
    for m in settings.municipalities:
        (got,) = copies[sent[m.code]]
        assert got.mail_from == str(m.mail_from)  # a bounce returns to the municipality
