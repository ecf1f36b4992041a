"""Demo towns for several municipalities, on SQLite and PostgreSQL: two towns in one register,
each in its own municipality; a town in a register from before municipalities (schema 0007);
what `telefoni up` and `telefoni demo` load."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, and_, func, inspect, select
from sqlalchemy.orm import Session, aliased

from models.base import Base
from models.personnummer import PersonnummerVault
from models.register import (
    Accessory,
    CostCentre,
    Device,
    DirectoryEntry,
    Employee,
    Municipality,
    OrgUnit,
    PhoneModel,
    Subscription,
    SubscriptionOption,
)
from telefoni import demo
from telefoni.core import migrate
from telefoni.core.settings import Settings, generate_key
from telefoni.core.tenancy import municipality_id
from telefoni.demo.places import MAX_BLOCKS
from telefoni.up import DEMO_MUNICIPALITIES, load_demo, with_demo_municipalities
from tests import factories
from tests.cli import telefoni
from tests.conftest import ENGINES

TODAY = date(2025, 6, 2)
BIG, SMALL = 300, 120

# Each Town attribute and the table it fills, for the municipality's own rows.
OWN = {
    "units": OrgUnit,
    "cost_centres": CostCentre,
    "employees": Employee,
    "subscriptions": Subscription,
    "devices": Device,
    "accessories": Accessory,
    "directory_entries": DirectoryEntry,
}


def load_demo_at_0007(
    engine: Engine,
    vault: PersonnummerVault,
    *,
    employees: int = 150,
    seed: int = 3,
    today: date = TODAY,
) -> demo.Town:
    """Make an empty database a register from before municipalities (schema 0007) with a
    demo town (Sjöbacka kommun) in it: what the upgrade to municipalities starts from.
    Returns the town loaded; migrate on with `migrate.upgrade(engine, municipality=...)`."""
    migrate.upgrade(engine, "0007")
    town = demo.generate(employees=employees, seed=seed, today=today)
    with Session(engine) as session, session.begin():
        demo.load(session, town, vault=vault)  # no municipality: the columns are not there
    return town


@pytest.fixture(scope="module")
def towns() -> tuple[demo.Town, demo.Town]:
    return (
        demo.generate(employees=BIG, seed=1, today=TODAY),
        demo.generate(employees=SMALL, seed=2, today=TODAY, place=demo.ALVNAS),
    )


@pytest.fixture
def two(
    session: Session, towns: tuple[demo.Town, demo.Town], vault: PersonnummerVault
) -> dict[str, tuple[int, dict[str, int]]]:
    """Both towns loaded, Sjöbacka first: municipality code → (its id, what the load wrote)."""
    sjobacka = factories.municipality(session, "sjobacka", "Sjöbacka kommun")
    alvnas = factories.municipality(session, "alvnas", "Älvnäs kommun")
    first = demo.load(session, towns[0], vault=vault, municipality_id=sjobacka)
    second = demo.load(session, towns[1], vault=vault, municipality_id=alvnas)
    session.flush()
    return {"sjobacka": (sjobacka, first), "alvnas": (alvnas, second)}


def _count(session: Session, model: type[Base], mid: int | None = None) -> int:
    query = select(func.count()).select_from(model)
    if mid is not None:
        query = query.where(model.municipality_id == mid)  # type: ignore[attr-defined]
    return session.scalar(query) or 0


# ---------------------------------------------------------------- two towns, one register


def test_each_town_is_in_its_own_municipality_and_the_catalogue_is_shared(
    session: Session,
    towns: tuple[demo.Town, demo.Town],
    two: dict[str, tuple[int, dict[str, int]]],
) -> None:
    for town, (mid, counts) in zip(towns, two.values(), strict=True):
        for attr, model in OWN.items():
            assert _count(session, model, mid) == len(getattr(town, attr)), (mid, attr)
        assert counts["anställda"] == len(town.employees)
    assert _count(session, Employee) == BIG + SMALL
    # The catalogue: written by the first load, for every municipality; the second reuses it.
    assert two["sjobacka"][1]["telefonmodeller"] == len(demo.PHONE_MODELS)
    assert two["alvnas"][1]["telefonmodeller"] == two["alvnas"][1]["abonnemangsformer"] == 0
    assert _count(session, PhoneModel) == len(demo.PHONE_MODELS)
    assert _count(session, SubscriptionOption) == len(demo.SUBSCRIPTION_OPTIONS)
    assert session.scalars(select(PhoneModel.municipality_id)).all() == [None] * 5
    # The second town's phones and subscriptions point at that catalogue.
    alvnas = two["alvnas"][0]
    models = session.scalars(
        select(PhoneModel.name).join(Device).where(Device.municipality_id == alvnas).distinct()
    ).all()
    assert set(models) <= {row[0] for row in demo.PHONE_MODELS} and len(models) >= 2


def test_numbers_imeis_user_ids_and_mail_are_each_towns_own(
    session: Session, two: dict[str, tuple[int, dict[str, int]]]
) -> None:
    def values(model: type[Base], column: str, mid: int) -> list[str]:
        table = model.__table__
        query = select(table.c[column]).where(
            table.c.municipality_id == mid, table.c[column].is_not(None)
        )
        return list(session.scalars(query))

    (sjo, _), (alv, _) = two.values()
    for model, column in (
        (Subscription, "number"),
        (Device, "imei"),
        (Employee, "user_id"),
        (Employee, "email"),
    ):
        mine, theirs = values(model, column, sjo), values(model, column, alv)
        assert mine and theirs and not set(mine) & set(theirs), column
    assert all(n.startswith("+4670") for n in values(Subscription, "number", sjo))
    assert all(n.startswith("+4672") for n in values(Subscription, "number", alv))
    assert all(e.endswith("@alvnas.example") for e in values(Employee, "email", alv))
    assert all(e.endswith("@alvnas.example") for e in values(Subscription, "email", alv))


def test_the_same_employee_number_in_both_is_two_people(
    session: Session,
    towns: tuple[demo.Town, demo.Town],
    vault: PersonnummerVault,
    two: dict[str, tuple[int, dict[str, int]]],
) -> None:
    shared = set(towns[0].employees["employee_number"]) & set(towns[1].employees["employee_number"])
    assert len(shared) > SMALL // 4  # both number from A010001 on, as HR systems do
    number = min(shared)
    people = session.scalars(select(Employee).where(Employee.employee_number == number)).all()
    assert sorted(p.municipality_id for p in people) == sorted(mid for mid, _ in two.values())
    assert people[0].id != people[1].id
    for town, (mid, _) in zip(towns, two.values(), strict=True):
        (person,) = [p for p in people if p.municipality_id == mid]
        row = town.employees.set_index("employee_number").loc[number]
        assert (person.first_name, person.last_name) == (row["first_name"], row["last_name"])
        assert vault.decrypt(person.personnummer_encrypted).canonical() == row["personnummer"]


def test_every_reference_stays_within_its_municipality(
    session: Session, two: dict[str, tuple[int, dict[str, int]]]
) -> None:
    manager, parent = aliased(Employee), aliased(OrgUnit)
    crossings = {
        "unit": select(Employee)
        .join(OrgUnit, Employee.unit_id == OrgUnit.id)
        .where(OrgUnit.municipality_id != Employee.municipality_id),
        "cost centre": select(Employee)
        .join(CostCentre, Employee.cost_centre_id == CostCentre.id)
        .where(CostCentre.municipality_id != Employee.municipality_id),
        "manager": select(Employee)
        .join(manager, Employee.manager_id == manager.id)
        .where(manager.municipality_id != Employee.municipality_id),
        "unit's parent": select(OrgUnit)
        .join(parent, OrgUnit.parent_id == parent.id)
        .where(parent.municipality_id != OrgUnit.municipality_id),
        "owner": select(Subscription)
        .join(Employee, Subscription.owner_id == Employee.id)
        .where(Employee.municipality_id != Subscription.municipality_id),
        "device's subscription": select(Device)
        .join(Subscription, Device.subscription_id == Subscription.id)
        .where(Subscription.municipality_id != Device.municipality_id),
        "holder": select(Device)
        .join(Employee, Device.holder_id == Employee.id)
        .where(Employee.municipality_id != Device.municipality_id),
        "headset's phone": select(Accessory)
        .join(Device, Accessory.device_id == Device.id)
        .where(Device.municipality_id != Accessory.municipality_id),
        "directory entry": select(DirectoryEntry)
        .join(Employee, DirectoryEntry.employee_id == Employee.id)
        .where(
            (Employee.municipality_id != DirectoryEntry.municipality_id)
            | (DirectoryEntry.name != Employee.first_name + " " + Employee.last_name)
        ),
    }
    for what, query in crossings.items():
        assert session.execute(query.limit(1)).first() is None, what
    # Each municipality has its own kommundirektör, at the top of its own tree.
    for mid, _ in two.values():
        tops = session.scalars(
            select(Employee.title).where(
                and_(Employee.municipality_id == mid, Employee.manager_id.is_(None))
            )
        ).all()
        assert tops == ["Kommundirektör"]
    # Every personal directory entry has its person's number (the owner's subscription).
    owned = select(Subscription.number, DirectoryEntry.phone_number).join(
        DirectoryEntry, DirectoryEntry.employee_id == Subscription.owner_id
    )
    assert all(number == entry for number, entry in session.execute(owned))


def test_ids_continue_after_the_first_town_and_new_rows_after_both(
    session: Session,
    vault: PersonnummerVault,
    two: dict[str, tuple[int, dict[str, int]]],
) -> None:
    (sjo, _), (alv, _) = two.values()
    for model in OWN.values():
        table = model.__table__
        first = session.scalar(select(func.max(table.c.id)).where(table.c.municipality_id == sjo))
        second = session.scalar(select(func.min(table.c.id)).where(table.c.municipality_id == alv))
        assert first is not None and second == first + 1, model.__tablename__
    later = factories.employee(session, vault, municipality_id=alv)  # the sequence moved on
    assert later.id == BIG + SMALL + 1


def test_a_municipality_with_people_is_refused_the_others_are_not(
    session: Session,
    towns: tuple[demo.Town, demo.Town],
    vault: PersonnummerVault,
    two: dict[str, tuple[int, dict[str, int]]],
) -> None:
    alvnas = two["alvnas"][0]
    with pytest.raises(demo.DemoError, match=f"Älvnäs kommun har redan {SMALL} anställda"):
        demo.load(session, towns[1], vault=vault, municipality_id=alvnas)
    with pytest.raises(demo.DemoError, match="ange i vilken kommun"):
        demo.load(session, towns[1], vault=vault)
    third = factories.municipality(session, "tredje", "Tredje kommun")
    place = demo.place_for(factories.municipality_settings("tredje", "Tredje kommun"), 2)
    counts = demo.load(
        session,
        demo.generate(employees=30, seed=3, today=TODAY, place=place),
        vault=vault,
        municipality_id=third,
    )
    assert counts["anställda"] == _count(session, Employee, third) == 30


# ---------------------------------------------------------------- the towns themselves


def test_towns_of_different_places_never_share_a_number_imei_user_id_or_address() -> None:
    places = [
        demo.SJOBACKA,
        demo.ALVNAS,
        *(
            demo.place_for(factories.municipality_settings(f"k{i}", f"Kommun {i}"), i)
            for i in range(3)
        ),
    ]
    built = [demo.generate(employees=3000, seed=1, today=TODAY, place=place) for place in places]
    for column, frame in (
        ("number", "subscriptions"),
        ("imei", "devices"),
        ("user_id", "employees"),
        ("email", "employees"),
    ):
        everything = pd.concat([getattr(town, frame)[column] for town in built])
        assert everything.is_unique, column
    assert len({p.block for p in places}) == len(places)
    # The same seed, another place: other names of units and addresses, the same kinds.
    sjo, alv = built[0], built[1]
    assert sjo.units["name"].str.contains("Sjöbacka").any()
    assert not alv.units["name"].str.contains("Sjöbacka").any()
    assert alv.units["name"].str.contains("Älvnäs").any()
    assert alv.employees["visiting_address"].str.contains(r"686 \d\d ").all()


def test_every_block_has_numbers_and_tacs_of_its_own() -> None:
    prefixes: set[str] = set()
    tacs: set[str] = set()
    for block in range(MAX_BLOCKS):
        place = demo.Place(
            name="K",
            code="k",
            town="K",
            mail_domain="k.example",
            districts=("A",),
            postcode="100",
            town_hall="Torget 1",
            block=block,
        )
        prefix, digits = place.mobile_number_prefix()
        assert len(prefix) + digits == 12  # +46 7x xxx xx xx
        prefixes.add(prefix)
        tacs |= {place.tac(row[7]) for row in demo.PHONE_MODELS}
    # No prefix begins another (block 0's +4670 holds 7 digits, every other +467PD six).
    assert not any(a != b and b.startswith(a) for a in prefixes for b in prefixes)
    assert len(tacs) == MAX_BLOCKS * len(demo.PHONE_MODELS)


# ---------------------------------------------------------------- a register from before


@pytest.fixture(params=ENGINES)
def empty_engine(
    request: pytest.FixtureRequest,
    make_empty_database: Callable[[str], AbstractContextManager[Engine]],
) -> Iterator[Engine]:
    with make_empty_database(request.param) as engine:
        yield engine


def test_a_town_loads_into_a_register_from_before_municipalities_and_upgrades(
    empty_engine: Engine, vault: PersonnummerVault
) -> None:
    town = load_demo_at_0007(empty_engine, vault)

    assert migrate.current_revision(empty_engine) == "0007"
    inspector = inspect(empty_engine)
    for model in OWN.values():
        columns = {c["name"] for c in inspector.get_columns(model.__tablename__)}
        assert "municipality_id" not in columns, model.__tablename__
    with Session(empty_engine) as session:
        assert _count(session, Employee) == len(town.employees)
        with pytest.raises(demo.DemoError, match="före kommunerna"):
            demo.load(session, town, vault=vault, municipality_id=1)
        with pytest.raises(demo.DemoError, match="registret är inte tomt"):
            demo.load(session, town, vault=vault)

    migrate.upgrade(empty_engine, municipality=("sjobacka", "Sjöbacka kommun"))
    with Session(empty_engine) as session, session.begin():
        (home,) = session.scalars(select(Municipality)).all()
        assert (home.code, home.name) == ("sjobacka", "Sjöbacka kommun")
        for attr, model in OWN.items():
            assert _count(session, model, home.id) == len(getattr(town, attr)), attr
        # A second municipality's town after the upgraded one: ids and sequences go on.
        second = municipality_id(
            session, factories.municipality_settings("alvnas", "Älvnäs kommun")
        )
        other = demo.generate(employees=SMALL, seed=2, today=TODAY, place=demo.ALVNAS)
        demo.load(session, other, vault=vault, municipality_id=second)
        assert _count(session, Employee, second) == SMALL
    with Session(empty_engine) as session, session.begin():
        later = factories.employee(session, vault, municipality_id=second)
        assert later.id == len(town.employees) + SMALL + 1


# ---------------------------------------------------------------- telefoni up, telefoni demo


def test_up_serves_the_two_demo_municipalities_unless_told_of_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEFONI_MUNICIPALITIES_FILE", "unset by the test")
    monkeypatch.delenv("TELEFONI_MUNICIPALITIES_FILE")  # restored (unset) after the test
    settings = with_demo_municipalities(Settings(data_dir=tmp_path, database_url="sqlite://"))

    assert [m.name for m in settings.municipalities] == ["Sjöbacka kommun", "Älvnäs kommun"]
    assert settings.database_url == "sqlite://"
    for m in settings.municipalities:
        assert m.hr_export_path == tmp_path / "hr" / m.code / "hr-export.csv"
        assert m.mail_domain == f"{m.code}.example"
    assert len({m.contact_centre_email for m in settings.municipalities}) == 2
    assert len({m.signature for m in settings.municipalities}) == 2
    copy = tmp_path / "demo-kommuner.toml"
    assert copy.read_text(encoding="utf-8") == DEMO_MUNICIPALITIES.read_text(encoding="utf-8")
    assert os.environ["TELEFONI_MUNICIPALITIES_FILE"] == str(copy)  # for the flow runs
    assert with_demo_municipalities(settings) is settings  # a file named: used as it is


def test_up_gives_each_municipality_without_people_its_town_and_hr_export(
    tmp_path: Path, empty_engine: Engine
) -> None:
    settings = _demo_settings(tmp_path, empty_engine)

    loaded = load_demo(settings, (BIG, SMALL))

    assert loaded == {"Sjöbacka kommun": BIG, "Älvnäs kommun": SMALL}
    with Session(empty_engine) as session:
        names = dict(session.execute(select(Municipality.code, Municipality.id)).all())
        assert _count(session, Employee, names["sjobacka"]) == BIG
        assert _count(session, Employee, names["alvnas"]) == SMALL
    for m, size in zip(settings.municipalities, (BIG, SMALL), strict=True):
        export = pd.read_csv(m.hr_export_path, sep=";", dtype=str, encoding="utf-8-sig")
        assert len(export) == size
        assert export["epost"].str.endswith(f"@{m.code}.example").all()
    before = settings.municipalities[1].hr_export_path.stat().st_mtime_ns
    assert load_demo(settings, (BIG, SMALL)) == {}  # both have people: nothing again
    assert settings.municipalities[1].hr_export_path.stat().st_mtime_ns == before


# The command's answers do not depend on the engine (the syncs' own tests run on both): one.
@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_telefoni_demo_asks_which_municipality_and_loads_only_that_one(
    tmp_path: Path, empty_engine: Engine
) -> None:
    shutil.copy(DEMO_MUNICIPALITIES, tmp_path / "kommuner.toml")
    env = {"TELEFONI_MUNICIPALITIES_FILE": str(tmp_path / "kommuner.toml")}

    def run(*args: str) -> tuple[int, str, str]:
        done = telefoni("demo", "--employees", "40", *args, engine=empty_engine,
                        data_dir=tmp_path, **env)  # fmt: skip
        return done.returncode, done.stdout, done.stderr

    code, _, err = run()
    assert code == 2 and "ange vilken kommun det gäller (--kommun)" in err
    assert "sjobacka (Sjöbacka kommun), alvnas (Älvnäs kommun)" in err
    code, _, err = run("--kommun", "Lund")
    assert code == 2 and "kommunen 'Lund' finns inte här" in err

    code, out, err = run("--kommun", "älvnäs", "--hr-export", str(tmp_path / "alvnas.csv"))
    assert code == 0, err
    assert "Demodata för Älvnäs kommun laddad" in out and "40 anställda" in out
    with Session(empty_engine) as session:
        (alvnas,) = session.scalars(select(Municipality)).all()
        assert alvnas.code == "alvnas" and _count(session, Employee, alvnas.id) == 40
        emails = session.scalars(select(Employee.email)).all()
        assert all(str(e).endswith("@alvnas.example") for e in emails)
    export = pd.read_csv(tmp_path / "alvnas.csv", sep=";", dtype=str, encoding="utf-8-sig")
    assert len(export) == 40

    code, _, err = run("--kommun", "alvnas")
    assert code == 1 and "Älvnäs kommun har redan 40 anställda" in err
    code, out, err = run("--kommun", "Sjöbacka kommun")
    assert code == 0, err
    assert "Demodata för Sjöbacka kommun laddad" in out
    with Session(empty_engine) as session:
        assert _count(session, Employee) == 80
        people = {
            mid: session.scalars(
                select(Employee.personnummer_hash)
                .where(Employee.municipality_id == mid)
                .order_by(Employee.id)
            ).all()
            for mid in session.scalars(select(Municipality.id))
        }
        first, second = people.values()
        assert first != second  # each municipality's own seed: other people


def _demo_settings(tmp_path: Path, engine: Engine) -> Settings:
    shutil.copy(DEMO_MUNICIPALITIES, tmp_path / "kommuner.toml")
    return Settings(
        data_dir=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        municipalities_file=tmp_path / "kommuner.toml",
        pnr_encryption_key=SecretStr(generate_key()),
        pnr_lookup_key=SecretStr(generate_key()),
    )
