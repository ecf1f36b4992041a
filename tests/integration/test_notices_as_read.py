"""Every mail of the notices a directory sync, an order's delivery and the relay's plain notice
send (SQLite and PostgreSQL), for each demo municipality as examples/demo-kommuner.toml
configures it: sent and signed as that municipality, its links clickable in the HTML part,
people named with their employee numbers, nothing of another municipality (no "Hallsberg")."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from contextlib import closing
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.audit import Actor
from models.hr_export import read_hr_export
from models.onboarding import OnboardingOrder
from models.onboarding_forms import DeliveryInput
from models.outbox import OutboxMessage, enqueue
from models.personnummer import PersonnummerVault
from models.register import Employee, PhoneModel, SubscriptionOption
from tasks.directory_sync import options_from, sync_directory
from tasks.mail import from_header
from tasks.onboarding import context_from, notify, place_orders, record_delivery, register
from tasks.operator import gateway_from
from telefoni import demo
from telefoni.core.settings import Settings
from telefoni.core.tenancy import sender_of
from telefoni.up import DEMO_MUNICIPALITIES
from tests import factories
from tests.flows.onboarding_helpers import delivery

TODAY = date(2026, 11, 28)
RUN = "5b1f7c4e-0000-4000-8000-0000000000c1"
RUN_URL = f"http://127.0.0.1:4200/runs/flow-run/{RUN}"
OTHER = {"sjobacka": "Älvnäs", "alvnas": "Sjöbacka"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    shutil.copy(DEMO_MUNICIPALITIES, tmp_path / "kommuner.toml")
    return Settings(
        environment="test",
        data_dir=tmp_path,
        municipalities_file=tmp_path / "kommuner.toml",
        prefect_ui_url="http://127.0.0.1:4200",
    )


def parts(mail: OutboxMessage) -> tuple[EmailMessage, str, str]:
    """The message as sent, and its text and HTML parts as a mail client shows them."""
    message = email.message_from_bytes(mail.raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text, html = (message.get_body(preferencelist=(kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    return message, str(text.get_content()), str(html.get_content())


def sync_mail(engine: Engine, settings: Settings, vault: PersonnummerVault, code: str) -> None:
    """A night's sync of the municipality's demo town, one change and one bad row: the
    contact centre's mail."""
    m = settings.kommun(code)
    place = demo.KNOWN[code]
    town = demo.generate(employees=40, seed=place.seed, today=TODAY, place=place)
    with Session(engine) as session, session.begin():
        mid = factories.municipality(session, code, m.name)
        demo.load(session, town, vault=vault, municipality_id=mid)
    frame = demo.hr_export_frame(town)
    frame.loc[2, "titel"] = "Telefonansvarig"
    frame.loc[5, "personnummer"] = "19850709-0000"  # the check digit is wrong: quarantined
    path = settings.data_dir / f"{code}.csv"
    frame.to_csv(path, sep=";", index=False, encoding="utf-8-sig")
    options = options_from(
        m,
        mid,
        dry_run=False,
        allow_mass_removal=False,
        reason=None,
        actor=Actor.system("test"),
        flow_run_id=RUN,
        run_url=RUN_URL,
    )
    report = sync_directory(engine, read_hr_export(path), vault=vault, options=options, today=TODAY)
    assert (report.changed, report.rows_quarantined) == (1, 1)


def delivered_order(
    engine: Engine, settings: Settings, vault: PersonnummerVault, code: str
) -> Employee:
    """An approved order of the municipality sent to its ordering function, delivered,
    registered and told: the operator's, the contact centre's and the employee's mails."""
    m = settings.kommun(code)
    with Session(engine) as session, session.begin():
        mid = factories.municipality(session, code, m.name)
        wp = factories.workplace(session, vault, staff=1, municipality_id=mid)
        model = session.scalars(select(PhoneModel).where(PhoneModel.name == wp.standard_model))
        option = session.scalars(
            select(SubscriptionOption).where(SubscriptionOption.code == wp.option)
        )
        order = factories.onboarding_order(
            session,
            wp,
            wp.staff[0],
            phone_model_id=model.one().id,
            subscription_option_id=option.one().id,
        )
        ids = [order.id]
    ctx = context_from(settings, RUN, m, mid)
    with closing(gateway_from(settings, m)) as gateway:
        assert place_orders(engine, ids, gateway, ctx=ctx) == 1
    with Session(engine) as session, session.begin():
        assert record_delivery(session, ids, DeliveryInput(**delivery(61)), ctx=ctx) is None
        register(session, ids, ctx=ctx)
        notify(session, ids, ctx=ctx)
        done = session.get(OnboardingOrder, ids[0])
        assert done is not None
        session.expunge(done.employee)
        return done.employee


@pytest.mark.parametrize("code", ["sjobacka", "alvnas"])
def test_each_notice_is_the_municipalitys_own_with_clickable_links(
    relay_db: Engine, settings: Settings, vault: PersonnummerVault, code: str
) -> None:
    m = settings.kommun(code)
    sync_mail(relay_db, settings, vault, code)
    employee = delivered_order(relay_db, settings, vault, code)
    with Session(relay_db) as session, session.begin():
        enqueue(
            session,
            template="meddelande",
            business_key="prova-lankar",
            recipient=str(employee.email),
            sender=sender_of(m),
            context={
                "subject": "Din hänvisning är ändrad",
                "name": employee.first_name,
                "paragraphs": ["Hänvisningen följer nu din kalender."],
                "links": [("Se körningen", RUN_URL)],
                "municipality": m.name,
            },
        )
    with Session(relay_db) as session:
        mails = {mail.template: mail for mail in session.scalars(select(OutboxMessage))}

    assert sorted(mails) == [
        "katalogsynk",
        "meddelande",
        "mobilen-klar",
        "nya-mobilnummer",
        "operatorsbestallning",
    ]
    contact_centre = f'<a href="mailto:{m.contact_centre_email}">{m.contact_centre_email}</a>'
    for template, mail in mails.items():
        message, text, html = parts(mail)
        assert from_header(mail.raw) == (f"Telefoni – {m.name}", str(m.mail_from)), template
        assert m.signature and m.signature in text and m.signature in html, template
        for shown in (str(message["Subject"]), text, html):
            assert "Hallsberg" not in shown and OTHER[code] not in shown, template
        # Every web address the text part gives is a link in the HTML part, escaped.
        for url in re.findall(r"https?://\S+", text):
            assert f'<a href="{url}">' in html, (template, url)
        if template != "operatorsbestallning":  # its footer is the ordering function's
            assert contact_centre in html, template  # whom to turn to: a click away

    assert f'<a href="{RUN_URL}">Öppna körningen</a>' in parts(mails["katalogsynk"])[2]
    assert f'<a href="{RUN_URL}">Se körningen</a>' in parts(mails["meddelande"])[2]
    reference = mails["operatorsbestallning"].subject.split()[5]
    reply = f'<a href="mailto:{m.mail_from}?subject=Leverans%20{reference}">{m.mail_from}</a>'
    assert reply in parts(mails["operatorsbestallning"])[2]

    # People by name and employee number, not a bare number.
    named = f"{employee.name} ({employee.employee_number})"
    assert named in mails["operatorsbestallning"].subject
    _, text, html = parts(mails["nya-mobilnummer"])
    assert (
        f"{employee.name}, " in text and f"(anställningsnummer {employee.employee_number})" in text
    )
    _, text, html = parts(mails["mobilen-klar"])
    assert f"{employee.name}, anställningsnummer {employee.employee_number}" in text
    assert f"{employee.name}, anställningsnummer {employee.employee_number}" in html
    _, text, html = parts(mails["katalogsynk"])
    assert re.search(r"- [^\n(]+ \([^)\s]+\): ändrad \(titel: .* → Telefonansvarig\)", text)
    assert "1 rad i karantän" in mails["katalogsynk"].subject
