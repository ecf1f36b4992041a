"""Whom a newcomer tries the flows on, from the demo's register (SQLite and PostgreSQL): someone
to order a phone for, their manager, a deputy, someone with a phone; the same every time, each
municipality's own."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models.onboarding import OnboardingOrder, OrderStatus
from models.personnummer import PersonnummerVault
from models.register import (
    Device,
    DeviceStatus,
    Employee,
    Municipality,
    Subscription,
    SubscriptionKind,
)
from telefoni import demo
from telefoni.core.settings import Settings, generate_key
from telefoni.demo.try_on import NamesToTry, names_to_try
from telefoni.up import DEMO_MUNICIPALITIES, load_demo
from telefoni.up import names_to_try as names_to_try_lines
from tests import factories

TODAY = date(2025, 6, 2)


@pytest.fixture
def towns(session: Session, vault: PersonnummerVault) -> dict[str, int]:
    """Sjöbacka and Älvnäs, each a demo town of its own: code → municipality id."""
    ids = {}
    for code, name, place, size in (
        ("sjobacka", "Sjöbacka kommun", demo.SJOBACKA, 300),
        ("alvnas", "Älvnäs kommun", demo.ALVNAS, 120),
    ):
        ids[code] = factories.municipality(session, code, name)
        town = demo.generate(employees=size, seed=place.seed, today=TODAY, place=place)
        demo.load(session, town, vault=vault, municipality_id=ids[code])
    session.flush()
    return ids


def employee(session: Session, mid: int, number: str) -> Employee:
    return session.scalars(
        select(Employee).where(Employee.municipality_id == mid, Employee.employee_number == number)
    ).one()


def pick(session: Session, mid: int, name: str, deputies: tuple[str, ...] = ()) -> NamesToTry:
    return names_to_try(session, mid, municipality=name, deputies=deputies, today=TODAY)


def test_someone_to_order_for_their_manager_a_deputy_and_someone_with_a_phone(
    session: Session, towns: dict[str, int]
) -> None:
    mid = towns["sjobacka"]
    first = pick(session, mid, "Sjöbacka kommun")
    assert first.without_phone is not None and first.manager is not None
    deputy_number = first.manager.employee_number  # any employee may be made a deputy
    names = pick(session, mid, "Sjöbacka kommun", deputies=("X-INGEN", deputy_number))
    assert names == pick(session, mid, "Sjöbacka kommun", deputies=(deputy_number, "X-INGEN"))

    assert names.without_phone is not None and names.manager is not None
    newcomer = employee(session, mid, names.without_phone.employee_number)
    assert newcomer.name == names.without_phone.name
    assert newcomer.need_category in (1, 2)  # one who needs a phone (§4.1) ...
    assert newcomer.employment_start > TODAY - timedelta(days=demo.NEW_HIRE_DAYS)
    assert newcomer.email and newcomer.manager is not None and newcomer.manager.email
    phones = select(func.count()).select_from(Device).where(Device.holder_id == newcomer.id)
    assert session.scalar(phones) == 0  # ... and has none yet
    assert names.manager.employee_number == newcomer.manager.employee_number
    assert names.manager.name == newcomer.manager.name
    assert names.deputy is not None and names.deputy.employee_number == deputy_number

    assert names.with_phone is not None and names.with_phone.number is not None
    holder = employee(session, mid, names.with_phone.employee_number)
    reports = select(func.count()).select_from(Employee).where(Employee.manager_id == holder.id)
    assert session.scalar(reports) == 0  # manages no one: their leaving orphans nobody
    device = session.scalars(select(Device).where(Device.holder_id == holder.id)).first()
    assert device is not None and device.status is DeviceStatus.IN_USE
    subscription = session.get(Subscription, device.subscription_id)
    assert subscription is not None and subscription.kind is SubscriptionKind.PERSONAL
    assert subscription.number == names.with_phone.number

    lines = names.lines("sjobacka")
    assert lines[0] == "Att prova på i Sjöbacka kommun:"
    text = "\n".join(lines)
    for person in (names.without_phone, names.manager, names.deputy, names.with_phone):
        assert f"{person.name} ({person.employee_number})" in text
    assert "telefoni catalogue --kommun sjobacka" in text


def test_each_municipality_gets_its_own_people_and_no_deputy_is_said_so(
    session: Session, towns: dict[str, int]
) -> None:
    sjobacka = pick(session, towns["sjobacka"], "Sjöbacka kommun")
    alvnas = pick(session, towns["alvnas"], "Älvnäs kommun")

    for names, mid in ((alvnas, towns["alvnas"]), (sjobacka, towns["sjobacka"])):
        for person in (names.without_phone, names.manager, names.with_phone):
            assert person is not None
            assert employee(session, mid, person.employee_number).name == person.name
        assert names.deputy is None
        assert "ingen utsedd" in "\n".join(names.lines("x"))
    assert alvnas.with_phone is not None and sjobacka.with_phone is not None
    assert alvnas.with_phone.number != sjobacka.with_phone.number  # each town's own block


def test_one_with_an_order_already_is_not_picked_again(
    session: Session, towns: dict[str, int]
) -> None:
    mid = towns["sjobacka"]
    before = pick(session, mid, "Sjöbacka kommun").without_phone
    assert before is not None
    person = employee(session, mid, before.employee_number)
    session.add(
        OnboardingOrder(
            municipality_id=mid,
            request_key="prova-pa-1",
            employee_id=person.id,
            need_category=2,
            phone_model_name=demo.PHONE_MODELS[0][0],
            headset=True,
            subscription_option_code=demo.SUBSCRIPTION_OPTIONS[1][0],
            data=True,
            apps=[],
            requested_by="E1",
            status=OrderStatus.REQUESTED,
        )
    )
    session.flush()

    after = pick(session, mid, "Sjöbacka kommun").without_phone
    assert after is not None and after.employee_number != before.employee_number


def test_up_names_them_for_each_municipality_of_the_demo(relay_db: Engine, tmp_path: Path) -> None:
    """What `telefoni up` prints once the demo is loaded: each municipality's names, and a
    deputy once the file of municipalities names one."""
    file = tmp_path / "kommuner.toml"
    shutil.copy(DEMO_MUNICIPALITIES, file)

    def settings() -> Settings:
        return Settings(
            data_dir=tmp_path,
            database_url=relay_db.url.render_as_string(hide_password=False),
            municipalities_file=file,
            pnr_encryption_key=SecretStr(generate_key()),
            pnr_lookup_key=SecretStr(generate_key()),
        )

    load_demo(settings(), (120, 60))
    printed = names_to_try_lines(settings())

    assert printed[0] == "Att prova på i Sjöbacka kommun:"
    assert "Att prova på i Älvnäs kommun:" in printed
    assert sum("ingen utsedd" in line for line in printed) == 2
    assert printed == names_to_try_lines(settings())  # the same names every time
    with Session(relay_db) as session:
        mid = session.scalars(select(Municipality.id).where(Municipality.code == "sjobacka")).one()
        deputy = session.scalars(
            select(Employee).where(Employee.municipality_id == mid).order_by(Employee.id)
        ).first()
        assert deputy is not None
        named = f"{deputy.name} ({deputy.employee_number})"
    text = file.read_text(encoding="utf-8").replace(
        "[kommun.alvnas]", f'approval_deputies = ["{deputy.employee_number}"]\n\n[kommun.alvnas]'
    )
    file.write_text(text, encoding="utf-8")

    printed = names_to_try_lines(settings())
    sjobacka = printed[: printed.index("Att prova på i Älvnäs kommun:")]
    assert f"  Ersättare som också får godkänna: {named}, " in "\n".join(sjobacka)
