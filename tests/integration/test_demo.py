"""The demo municipality: what an admin checks after `telefoni demo`, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from pydantic import SecretStr
from sqlalchemy import String, Text, func, select
from sqlalchemy.orm import Session

from models.base import Base
from models.personnummer import TEST_BIRTH_NUMBERS, Personnummer, PersonnummerVault
from models.register import (
    CostCentre,
    Device,
    DirectoryEntry,
    Employee,
    OrgUnit,
    PhoneModel,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from telefoni import demo
from telefoni.core.settings import Settings, generate_key
from telefoni.core.vault import vault_from
from tests import factories

TODAY = date(2025, 6, 2)
SIZE = 300


@pytest.fixture(scope="module")
def town() -> demo.Town:
    return demo.generate(employees=SIZE, seed=7, today=TODAY)


@pytest.fixture
def sjobacka(session: Session) -> int:
    return factories.municipality(session, "sjobacka", "Sjöbacka kommun")


@pytest.fixture
def loaded(
    session: Session, town: demo.Town, vault: PersonnummerVault, sjobacka: int
) -> dict[str, int]:
    counts = demo.load(session, town, vault=vault, municipality_id=sjobacka)
    session.flush()
    return counts


def _count(session: Session, model: type[Base]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# ---------------------------------------------------------------- the loaded register


def test_counts_match_the_town(session: Session, town: demo.Town, loaded: dict[str, int]) -> None:
    assert loaded["anställda"] == SIZE
    expected = {
        OrgUnit: town.units,
        CostCentre: town.cost_centres,
        PhoneModel: town.phone_models,
        Employee: town.employees,
        Subscription: town.subscriptions,
        Device: town.devices,
        DirectoryEntry: town.directory_entries,
    }
    for model, frame in expected.items():
        assert _count(session, model) == len(frame), model.__tablename__
    assert sum(loaded.values()) == sum(len(frame) for frame in town.frames().values())
    assert _count(session, OrgUnit) >= 10


def test_need_category_decides_the_personal_subscription(
    session: Session, loaded: dict[str, int]
) -> None:
    subs_of: dict[int, list[Subscription]] = {}
    for sub in session.scalars(select(Subscription).where(Subscription.owner_id.is_not(None))):
        subs_of.setdefault(sub.owner_id or 0, []).append(sub)
    smartphone_of = {
        sub_id: smart
        for sub_id, smart in session.execute(
            select(Device.subscription_id, PhoneModel.is_smartphone).join(PhoneModel)
        )
    }
    new_hires = 0
    for person in session.scalars(select(Employee)):
        subs = subs_of.get(person.id, [])
        if person.need_category == 3:  # §4.1: must not be offered a personal phone
            assert subs == [], person
            continue
        if person.employment_start > TODAY - timedelta(days=demo.NEW_HIRE_DAYS):
            assert subs == [], person  # a new hire, waiting for an onboarding order
            new_hires += 1
            continue
        assert len(subs) == 1, person
        (sub,) = subs
        assert sub.kind is SubscriptionKind.PERSONAL
        assert sub.status is SubscriptionStatus.ACTIVE
        assert sub.has_referral and sub.referral_calendar_link  # §4.2.3
        assert sub.has_data == smartphone_of[sub.id]  # §4.2.2
        assert sub.phone_hours is None and sub.designation is None  # §5.1.1
    assert any(p.need_category == 3 for p in session.scalars(select(Employee)))
    assert new_hires > 0  # someone to try an onboarding order on


def test_every_smartphone_has_data_and_deviations_have_a_reason(
    session: Session, loaded: dict[str, int]
) -> None:
    rows = session.execute(
        select(Device, PhoneModel, Subscription)
        .join(PhoneModel, Device.model_id == PhoneModel.id)
        .join(Subscription, Device.subscription_id == Subscription.id)
    )
    for device, model, sub in rows:
        if model.is_smartphone:
            assert sub.has_data, device.imei
        if not model.is_standard:
            assert device.deviation_reason is not None and device.deviation_note  # §4.1.1
        assert device.holder_id == sub.owner_id


def test_reception_on_call_and_phone_hours_numbers(
    session: Session, loaded: dict[str, int]
) -> None:
    groups = session.scalars(
        select(Subscription).where(Subscription.kind == SubscriptionKind.NON_PERSONAL)
    ).all()
    by_name = {s.designation: s for s in groups}
    reception = by_name["Reception Kommunhuset"]
    on_call = by_name["Jourtelefon Socialtjänsten"]
    building = by_name["Kundcenter Bygglov"]
    assert on_call.is_on_call
    assert building.phone_hours == "mån–fre 08.00–12.00, 13.00–16.00"
    for sub in (reception, on_call, building, *groups):
        assert sub.owner_id is None and sub.designation
        assert sub.unit_id is not None and sub.cost_centre_id is not None
    assert len(groups) >= 3 + SIZE // 100
    with_hours = session.scalars(select(Subscription).where(Subscription.phone_hours.is_not(None)))
    assert all(s.kind is SubscriptionKind.NON_PERSONAL for s in with_hours)
    entries = session.scalars(
        select(DirectoryEntry).where(DirectoryEntry.kind == SubscriptionKind.NON_PERSONAL)
    ).all()
    assert {e.designation for e in entries} == set(by_name)
    assert all(e.name is None and e.personnummer_hash is None for e in entries)


def test_directory_has_everyone(session: Session, loaded: dict[str, int]) -> None:
    people = {e.id: e for e in session.scalars(select(Employee))}
    owned = select(Subscription.owner_id, Subscription.number).where(
        Subscription.owner_id.is_not(None)
    )
    number_of = {owner: number for owner, number in session.execute(owned)}
    entries = session.scalars(
        select(DirectoryEntry).where(DirectoryEntry.kind == SubscriptionKind.PERSONAL)
    ).all()
    assert {e.employee_id for e in entries} == set(people)
    for entry in entries:
        person = people[entry.employee_id or 0]
        assert entry.name == person.name
        assert entry.phone_number == number_of.get(person.id)
        assert (entry.email, entry.title, entry.user_id) == (
            person.email,
            person.title,
            person.user_id,
        )
        assert entry.personnummer_hash == person.personnummer_hash
        assert entry.unit_id == person.unit_id and entry.keywords == person.keywords


def test_managers_resolve_up_to_one_top(session: Session, loaded: dict[str, int]) -> None:
    people = {e.id: e for e in session.scalars(select(Employee))}
    tops = [e for e in people.values() if e.manager_id is None]
    assert [t.title for t in tops] == ["Kommundirektör"]
    for person in people.values():
        seen: set[int] = set()
        current = person
        while current.manager_id is not None:
            assert current.manager_id < current.id  # managers come first (batch inserts)
            assert current.id not in seen
            seen.add(current.id)
            current = people[current.manager_id]
        assert current is tops[0]
    chefs = {people[e.manager_id].title for e in people.values() if e.manager_id}
    assert {"Kommundirektör", "Förvaltningschef", "Enhetschef"} <= chefs


def test_personnummer_encrypted_with_test_birth_numbers(
    session: Session, town: demo.Town, vault: PersonnummerVault, loaded: dict[str, int]
) -> None:
    expected = dict(
        zip(town.employees["employee_number"], town.employees["personnummer"], strict=True)
    )
    for person in session.scalars(select(Employee)):
        pnr = vault.decrypt(person.personnummer_encrypted)
        assert pnr.canonical() == expected[person.employee_number]
        assert int(pnr.digits[8:11]) in TEST_BIRTH_NUMBERS
        assert person.personnummer_hash == vault.lookup_hash(pnr)
        assert person.is_samordningsnummer == pnr.is_samordningsnummer
    for entry in session.scalars(
        select(DirectoryEntry).where(DirectoryEntry.kind == SubscriptionKind.PERSONAL)
    ):
        assert entry.personnummer_encrypted is not None
        assert int(vault.decrypt(entry.personnummer_encrypted).digits[8:11]) >= 980


def test_no_personnummer_in_clear(
    session: Session, town: demo.Town, loaded: dict[str, int]
) -> None:
    texts: list[str] = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text)]
        if columns:
            texts += [str(v) for row in session.execute(select(*columns)) for v in row if v]
    blob = "\n".join(texts)
    assert len(blob) > 10_000
    for canonical in town.employees["personnummer"]:
        digits = canonical.replace("-", "")
        for form in (canonical, digits, digits[2:], f"{digits[2:8]}-{digits[8:]}"):
            assert form not in blob


def test_a_municipality_with_people_is_refused(
    session: Session,
    town: demo.Town,
    vault: PersonnummerVault,
    sjobacka: int,
    loaded: dict[str, int],
) -> None:
    with pytest.raises(demo.DemoError, match=f"Sjöbacka kommun har redan {SIZE} anställda"):
        demo.load(session, town, vault=vault, municipality_id=sjobacka)


def test_later_inserts_get_fresh_ids(
    session: Session, town: demo.Town, sjobacka: int, loaded: dict[str, int]
) -> None:
    unit = OrgUnit(code="U-NY", name="Nya enheten", municipality_id=sjobacka)
    centre = CostCentre(code="KS-NY", name="Nya enheten", municipality_id=sjobacka)
    group = Subscription(
        number="+46701740605",
        kind=SubscriptionKind.NON_PERSONAL,
        designation="Ny grupp",
        municipality_id=sjobacka,
    )
    session.add_all([unit, centre, group])
    session.flush()
    assert unit.id == len(town.units) + 1
    assert centre.id == len(town.cost_centres) + 1
    assert group.id == len(town.subscriptions) + 1


def test_a_tiny_town_loads(session: Session, vault: PersonnummerVault, sjobacka: int) -> None:
    tiny = demo.generate(employees=3, today=TODAY)
    counts = demo.load(session, tiny, vault=vault, municipality_id=sjobacka)
    session.flush()
    assert counts["anställda"] == 3
    assert _count(session, Employee) == 3


def test_vault_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        pnr_encryption_key=SecretStr(generate_key()),
        pnr_lookup_key=SecretStr(generate_key()),
    )
    vault = vault_from(settings)
    pnr = Personnummer("199001019802")
    assert vault.decrypt(vault.encrypt(pnr)) == pnr


# ---------------------------------------------------------------- the generated town


def test_same_seed_same_town_other_seed_other_town(town: demo.Town) -> None:
    again = demo.generate(employees=SIZE, seed=7, today=TODAY)
    for name, frame in town.frames().items():
        pd.testing.assert_frame_equal(frame, again.frames()[name])
    other = demo.generate(employees=SIZE, seed=8, today=TODAY)
    assert not town.employees["personnummer"].equals(other.employees["personnummer"])
    assert not town.employees["email"].equals(other.employees["email"])


@pytest.mark.parametrize("size", [1, 8, 40, 5000])
def test_town_invariants(size: int) -> None:
    town = demo.generate(employees=size, seed=size, today=TODAY)
    people = town.employees
    assert len(people) == size and len(town.units) >= 10
    for column in ("employee_number", "email", "user_id", "personnummer"):
        assert people[column].is_unique, column
    assert people["email"].str.fullmatch(r"[a-z-]+\.[a-z-]+\d*@sjobacka\.example").all()
    assert people["user_id"].str.fullmatch(r"[a-z]{4}\d{4,}").all()
    for value, samordning in zip(
        people["personnummer"], people["is_samordningsnummer"], strict=True
    ):
        pnr = Personnummer(value.replace("-", ""))  # raises if not valid
        assert int(value[9:12]) in TEST_BIRTH_NUMBERS
        assert pnr.is_samordningsnummer == samordning
        assert date(1955, 1, 1) <= pnr.birth_date <= date(2006, 12, 31)
    manager = people["manager_id"].dropna()
    assert (manager < people.loc[manager.index, "id"]).all()
    assert (people["employment_start"] < TODAY).all()
    ends = people["employment_end"].dropna()
    assert all(end > TODAY for end in ends)
    subs = town.subscriptions
    assert subs["number"].is_unique and subs["number"].str.fullmatch(r"\+4670\d{7}").all()
    assert town.devices["imei"].is_unique
    assert town.devices["imei"].map(_luhn_ok).all()
    assert town.units["code"].is_unique and town.cost_centres["code"].is_unique


def test_need_category_mix() -> None:
    shares = demo.generate(employees=5000, today=TODAY).employees["need_category"]
    mix = shares.value_counts(normalize=True)
    assert mix[1] == pytest.approx(0.20, abs=0.03)
    assert mix[2] == pytest.approx(0.45, abs=0.03)
    assert mix[3] == pytest.approx(0.35, abs=0.03)


def test_too_many_people_for_the_test_series() -> None:
    with pytest.raises(demo.DemoError, match="980–999"):
        demo.generate(employees=demo.MAX_EMPLOYEES + 1)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


# ---------------------------------------------------------------- the HR export


def test_hr_export_csv(tmp_path: Path, town: demo.Town) -> None:
    path = tmp_path / "hr.csv"
    demo.write_hr_export(town, path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].decode("utf-8").splitlines()[0]
    assert header == ";".join(demo.HR_EXPORT_COLUMNS)
    back = pd.read_csv(path, sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert len(back) == SIZE
    pd.testing.assert_frame_equal(back, demo.hr_export_frame(town), check_dtype=False)
    _assert_matches_town(back, town)


def test_hr_export_xlsx(tmp_path: Path, town: demo.Town) -> None:
    path = tmp_path / "hr.xlsx"
    demo.write_hr_export(town, path)
    back = pd.read_excel(path, dtype=str, keep_default_na=False)
    assert list(back.columns) == list(demo.HR_EXPORT_COLUMNS)
    pd.testing.assert_frame_equal(back, demo.hr_export_frame(town), check_dtype=False)
    _assert_matches_town(back, town)


def test_hr_export_xlsx_never_writes_a_formula(tmp_path: Path, town: demo.Town) -> None:
    people = town.employees.copy()
    people.loc[0, "title"] = '=HYPERLINK("http://evil.example","klicka")'
    path = tmp_path / "hr.xlsx"
    demo.write_hr_export(dataclasses.replace(town, employees=people), path)
    cell = load_workbook(path).active["F2"]
    assert cell.value == people.loc[0, "title"]
    assert cell.data_type == "s"


def _assert_matches_town(back: pd.DataFrame, town: demo.Town) -> None:
    people = town.employees
    assert back["anstallningsnummer"].tolist() == people["employee_number"].tolist()
    assert back["personnummer"].tolist() == people["personnummer"].tolist()
    assert back["fornamn"].tolist() == people["first_name"].tolist()
    codes = dict(zip(town.units["id"], town.units["code"], strict=True))
    assert back["organisationsenhet"].tolist() == [codes[u] for u in people["unit_id"]]
    number_of = dict(zip(people["id"], people["employee_number"], strict=True))
    assert back["chef_anstallningsnummer"].tolist() == [
        "" if pd.isna(m) else number_of[m] for m in people["manager_id"]
    ]
    assert back["behovskategori"].isin(["1", "2", "3"]).all()
    assert back["anstallning_from"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert set(back.loc[back["anstallning_tom"] != "", "anstallning_tom"]) == {
        d.isoformat() for d in people["employment_end"].dropna()
    }
