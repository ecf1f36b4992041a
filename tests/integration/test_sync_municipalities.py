"""Two municipalities in one register (SQLite and PostgreSQL): each one's nightly sync reads its
own export into its own directory, tells its own contact centre, and neither stops, waits for
or sees the other (issue #14)."""

from __future__ import annotations

import base64
import io
import logging
import secrets
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from models.audit import Actor, AuditEvent, record, verify
from models.directory_sync import BrakeLimits
from models.hr_export import HrExport, HrFileError, read_hr_export
from models.outbox import OutboxMessage, RetryPolicy, Sender
from models.personnummer import PersonnummerVault, make_personnummer
from models.register import DirectoryEntry, Employee, Subscription, SubscriptionStatus
from models.sync_run import HrQuarantine, SyncRun, SyncStatus
from tasks.directory_sync import (
    SyncAlreadyRunning,
    SyncMunicipality,
    SyncOptions,
    SyncReport,
    sync_directory,
)
from tasks.mail import SmtpTransport
from tasks.outbox import relay_outbox
from telefoni import demo
from tests import factories
from tests.cli import telefoni
from tests.integration.smtp_server import SmtpServer

TODAY = date(2026, 11, 28)
EMPLOYEES = 200
NAMES = {"hallsberg": "Hallsbergs kommun", "laxa": "Laxå kommun"}


@dataclass
class Register:
    """Hallsberg's and Laxå's people (each a demo town of its own) in one register."""

    engine: Engine
    folder: Path
    vault: PersonnummerVault
    keys: tuple[bytes, bytes]
    where: dict[str, SyncMunicipality]
    exports: dict[str, pd.DataFrame]  # each one's own HR export, as text

    def write(self, frame: pd.DataFrame, name: str) -> Path:
        path = self.folder / name
        frame.to_csv(path, sep=";", index=False, encoding="utf-8-sig", lineterminator="\r\n")
        return path

    def options(self, code: str, **options: object) -> SyncOptions:
        return SyncOptions(
            municipality=self.where[code],
            contact_centre_email=f"kontaktcenter@{code}.example",
            sender=Sender(f"telefoni@{code}.example", f"Telefoni – {NAMES[code]}", NAMES[code]),
            **options,  # type: ignore[arg-type]
        )

    def sync(
        self,
        code: str,
        export: Path | HrExport | Callable[[], HrExport],
        *,
        register_read: Callable[[], object] | None = None,
        **options: object,
    ) -> SyncReport:
        return sync_directory(
            self.engine,
            read_hr_export(export) if isinstance(export, Path) else export,
            vault=self.vault,
            options=self.options(code, **options),
            today=TODAY,
            register_read=register_read,
        )

    def scalar(self, stmt: object) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]

    def entries(self, code: str) -> int:
        """Personal entries in the municipality's directory."""
        return self.scalar(
            select(func.count())
            .select_from(DirectoryEntry)
            .where(
                DirectoryEntry.municipality_id == self.where[code].id,
                DirectoryEntry.employee_id.is_not(None),
            )
        )

    def events(self, code: str | None = None) -> int:
        stmt = select(func.count()).select_from(AuditEvent)
        if code is not None:
            stmt = stmt.where(AuditEvent.municipality_id == self.where[code].id)
        return self.scalar(stmt)

    def entry(self, code: str, employee_number: str) -> DirectoryEntry | None:
        with Session(self.engine) as session:
            return session.scalar(
                select(DirectoryEntry)
                .join(Employee, DirectoryEntry.employee_id == Employee.id)
                .where(
                    Employee.municipality_id == self.where[code].id,
                    Employee.employee_number == employee_number,
                )
            )


@pytest.fixture
def two(relay_db: Engine, tmp_path: Path) -> Iterator[Register]:
    keys = (secrets.token_bytes(32), secrets.token_bytes(32))
    vault = PersonnummerVault(encryption_key=keys[0], lookup_key=keys[1])
    where, exports = {}, {}
    with Session(relay_db) as session, session.begin():
        for (code, name), place in zip(NAMES.items(), (demo.SJOBACKA, demo.ALVNAS), strict=True):
            # Two demo towns of their own numbers and phones, drawn from seeds of their own.
            town = demo.generate(employees=EMPLOYEES, seed=place.seed + 6, today=TODAY, place=place)
            mid = factories.municipality(session, code, name)
            demo.load(session, town, vault=vault, municipality_id=mid)
            where[code] = SyncMunicipality(id=mid, code=code, name=name)
            exports[code] = demo.hr_export_frame(town)
    yield Register(relay_db, tmp_path, vault, keys, where, exports)


def joiner(two: Register, code: str, number: str, first_name: str, n: int) -> pd.DataFrame:
    """``code``'s export with one more person, employee number ``number``."""
    hr = two.exports[code]
    row = hr.iloc[20].copy()
    row["anstallningsnummer"] = number
    row["personnummer"] = make_personnummer(date(1990, 1, 1 + n), 980 + n).canonical()
    row["anvandarid"] = f"ny{code}{n}"
    row["epost"] = f"{first_name.lower()}@{code}.example"
    row["fornamn"], row["efternamn"] = first_name, "Nyström"
    row["chef_anstallningsnummer"] = ""
    return pd.concat([hr, row.to_frame().T], ignore_index=True)


# ----------------------------------------------------------------------------- who is who


def test_the_same_employee_number_in_each_is_two_people(two: Register) -> None:
    shared = set(two.exports["hallsberg"]["anstallningsnummer"]) & set(
        two.exports["laxa"]["anstallningsnummer"]
    )
    assert shared, "the two towns' employee numbers should overlap"
    paths = {
        "hallsberg": two.write(joiner(two, "hallsberg", "N900001", "Hedda", 1), "h.csv"),
        "laxa": two.write(joiner(two, "laxa", "N900001", "Lova", 2), "l.csv"),
    }

    reports = {code: two.sync(code, path) for code, path in paths.items()}

    for report in reports.values():
        assert (report.joiners, report.changed, report.leavers) == (1, 0, 0)
    hedda, lova = two.entry("hallsberg", "N900001"), two.entry("laxa", "N900001")
    assert hedda is not None and hedda.name == "Hedda Nyström"
    assert lova is not None and lova.name == "Lova Nyström"
    with Session(two.engine) as session:
        people = session.scalars(
            select(Employee).where(Employee.employee_number == "N900001")
        ).all()
        assert {(p.municipality_id, p.first_name) for p in people} == {
            (two.where["hallsberg"].id, "Hedda"),
            (two.where["laxa"].id, "Lova"),
        }
        number = sorted(shared)[0]  # a demo person of each town: two people, untouched
        assert session.scalar(select(func.count()).where(Employee.employee_number == number)) == 2

    # Lova leaves Laxå: Hedda stays in Hallsberg's directory, with the same number.
    report = two.sync("laxa", two.write(two.exports["laxa"], "l2.csv"))
    assert (report.leavers, list(report.changes["anställningsnummer"])) == (1, ["N900001"])
    assert two.entry("laxa", "N900001") is None
    assert two.entry("hallsberg", "N900001") is not None


def test_a_manager_is_found_among_the_municipalitys_own_people(two: Register) -> None:
    """A joiner's manager number names someone of the same municipality, though the other has a
    person with that number too."""
    hr = joiner(two, "laxa", "N900002", "Lova", 3)
    boss = next(
        n
        for n in hr["anstallningsnummer"].iloc[:50]
        if n in set(two.exports["hallsberg"]["anstallningsnummer"])
    )
    hr.loc[hr.index[-1], "chef_anstallningsnummer"] = boss

    two.sync("laxa", two.write(hr, "l.csv"))

    with Session(two.engine) as session:
        new = session.scalars(select(Employee).where(Employee.user_id == "nylaxa3")).one()
        manager = session.get(Employee, new.manager_id)
        assert manager is not None and manager.employee_number == boss
        assert manager.municipality_id == two.where["laxa"].id


# ----------------------------------------------------------------------------- the brake


def test_a_braked_export_in_one_leaves_the_others_sync_applied(two: Register) -> None:
    laxa = two.exports["laxa"].copy()
    laxa.loc[3, "titel"] = "Titel i Laxå"
    events = two.events()

    braked = two.sync("hallsberg", two.write(two.exports["hallsberg"].head(10), "h.csv"))
    applied = two.sync("laxa", two.write(laxa, "l.csv"))

    assert braked.status is SyncStatus.BRAKED and "skulle ta bort" in (braked.message or "")
    assert (applied.status, applied.changed) == (SyncStatus.APPLIED, 1)
    assert two.entry("laxa", str(laxa.loc[3, "anstallningsnummer"])).title == "Titel i Laxå"  # type: ignore[union-attr]
    assert two.entries("hallsberg") >= EMPLOYEES - 10  # nobody removed
    assert (two.events("hallsberg"), two.events("laxa"), two.events()) == (0, 1, events + 1)
    with Session(two.engine) as session:
        runs = {(r.municipality_id, r.status) for r in session.scalars(select(SyncRun))}
    assert runs == {
        (two.where["hallsberg"].id, SyncStatus.BRAKED),
        (two.where["laxa"].id, SyncStatus.APPLIED),
    }


def test_the_brake_counts_the_municipalitys_own_directory(two: Register) -> None:
    """15 of Hallsberg's people gone: 5 % of its own directory allows 10 (of both, 20)."""
    limits = BrakeLimits(max_removal_share=0.05, max_removal_count=0, max_shrink_share=1.0)
    size = two.entries("hallsberg")
    assert int(0.05 * size) < 15 <= int(0.05 * (size + two.entries("laxa")))

    report = two.sync(
        "hallsberg", two.write(two.exports["hallsberg"].iloc[15:], "h.csv"), limits=limits
    )

    assert report.status is SyncStatus.BRAKED
    assert f"av {size} poster" in (report.message or "")


def test_the_shrink_rule_compares_with_the_municipalitys_own_last_run(two: Register) -> None:
    """An export a third shorter than the last run's: braked after Laxå's own last run; not in
    Hallsberg, which has had none (Laxå's is not its)."""
    limits = BrakeLimits(max_removal_share=1.0, max_removal_count=10_000, max_shrink_share=0.2)
    assert two.sync("laxa", two.write(two.exports["laxa"], "l.csv")).status is SyncStatus.APPLIED

    fine = two.sync(
        "hallsberg", two.write(two.exports["hallsberg"].head(130), "h.csv"), limits=limits
    )
    short = two.sync("laxa", two.write(two.exports["laxa"].head(130), "l2.csv"), limits=limits)

    assert (fine.status, fine.leavers) == (SyncStatus.APPLIED, EMPLOYEES - 130)
    assert short.status is SyncStatus.BRAKED
    assert "35% färre än förra lyckade körningen (200)" in (short.message or "")


def test_an_unreadable_export_in_one_leaves_the_others_sync_applied(two: Register) -> None:
    broken = two.folder / "laxa-fel.csv"
    broken.write_text("anstallningsnummer,personnummer,fornamn\n1,2,3\n", encoding="utf-8")
    hallsberg = two.exports["hallsberg"].copy()
    hallsberg.loc[4, "titel"] = "Titel i Hallsberg"
    laxa = two.exports["laxa"].copy()
    laxa.loc[5, "personnummer"] = "19850709-0000"  # one bad row: quarantined, not a leaver
    entries = two.entries("laxa")

    with pytest.raises(HrFileError, match=r"laxa-fel\.csv"):
        two.sync("laxa", broken)
    applied = two.sync("hallsberg", two.write(hallsberg, "h.csv"))
    quarantined = two.sync("laxa", two.write(laxa, "l.csv"))

    assert (applied.status, applied.changed) == (SyncStatus.APPLIED, 1)
    assert (quarantined.rows_quarantined, quarantined.leavers) == (1, 0)
    assert two.entries("laxa") == entries
    with Session(two.engine) as session:
        (q,) = session.scalars(select(HrQuarantine)).all()
        run = session.get(SyncRun, q.sync_run_id)
    assert q.municipality_id == two.where["laxa"].id == (run.municipality_id if run else None)
    assert q.employee_number == laxa.loc[5, "anstallningsnummer"]


# ----------------------------------------------------------------------------- side by side


def hold_inside_the_lock(
    path: Path, holding: threading.Event, release: threading.Event
) -> Callable[[], HrExport]:
    """How a sync reads ``path``: it says it is reading (inside its lock) and waits to go on."""

    def read() -> HrExport:
        holding.set()
        assert release.wait(60)
        return read_hr_export(path)

    return read


def changed(two: Register, code: str, title: str) -> Path:
    hr = two.exports[code].copy()
    hr.loc[7, "titel"] = title
    return two.write(hr, f"{code}-{title.replace(' ', '-')}.csv")


def test_one_municipalitys_sync_runs_while_anothers_holds_its_lock(two: Register) -> None:
    """Hallsberg's sync is inside its lock (reading its file); Laxå's, started meanwhile, runs
    to the end and applies; then Hallsberg's does."""
    holding, release = threading.Event(), threading.Event()
    slow = hold_inside_the_lock(changed(two, "hallsberg", "Titel H"), holding, release)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(two.sync, "hallsberg", slow)
        try:
            assert holding.wait(60)
            other = two.sync("laxa", changed(two, "laxa", "Titel L"))
            assert (other.status, other.changed) == (SyncStatus.APPLIED, 1)
        finally:
            release.set()
        report = first.result(timeout=120)

    assert (report.status, report.changed) == (SyncStatus.APPLIED, 1)
    assert (two.events("hallsberg"), two.events("laxa")) == (1, 1)


def test_a_second_sync_of_the_same_municipality_is_refused_and_writes_nothing(
    two: Register,
) -> None:
    holding, release = threading.Event(), threading.Event()
    path = changed(two, "laxa", "Titel L")
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(two.sync, "laxa", hold_inside_the_lock(path, holding, release))
        try:
            assert holding.wait(60)
            with pytest.raises(SyncAlreadyRunning, match="för Laxå kommun pågår redan"):
                two.sync("laxa", path)
            assert (two.events(), two.scalar(select(func.count(SyncRun.id)))) == (0, 0)
        finally:
            release.set()
        report = first.result(timeout=120)
    assert (report.status, report.changed, two.events("laxa")) == (SyncStatus.APPLIED, 1, 1)


def test_syncs_started_together_apply_once_per_municipality(two: Register) -> None:
    """10 times: two syncs of each municipality start at the same moment (four threads): each
    municipality's new export is applied exactly once, every time, and each event is its own."""
    for i in range(10):
        paths = {code: changed(two, code, f"Titel {code} {i}") for code in NAMES}
        work = [(code, read_hr_export(paths[code])) for code in NAMES for _ in range(2)]
        start = threading.Barrier(len(work))
        before = {code: two.events(code) for code in NAMES}

        def run(
            job: tuple[str, HrExport], start: threading.Barrier = start
        ) -> tuple[str, SyncReport | SyncAlreadyRunning]:
            start.wait()
            try:
                return job[0], two.sync(job[0], job[1])
            except SyncAlreadyRunning as exc:
                return job[0], exc

        with ThreadPoolExecutor(len(work)) as pool:
            outcomes = list(pool.map(run, work))

        for code in NAMES:
            mine = [o for c, o in outcomes if c == code]
            applied = [o for o in mine if isinstance(o, SyncReport) and o.rows_applied]
            assert len(applied) == 1, outcomes
            assert two.events(code) == before[code] + 1, outcomes
    assert two.events() == two.events("hallsberg") + two.events("laxa") == 20
    with Session(two.engine) as session:
        assert verify(session).intact


def test_the_others_writes_meanwhile_do_not_make_a_sync_read_again(
    two: Register, caplog: pytest.LogCaptureFixture
) -> None:
    """While Hallsberg's file is read, Laxå's register changes (with its event): Hallsberg's
    early read still holds. A change of Hallsberg's own, though, makes it read again."""

    def with_a_change_of(code: str, path: Path, done: threading.Event) -> Callable[[], HrExport]:
        def read() -> HrExport:
            assert done.wait(60)
            with Session(two.engine) as session, session.begin():
                subscription = session.scalars(
                    select(Subscription.id)
                    .where(
                        Subscription.municipality_id == two.where[code].id,
                        Subscription.status == SubscriptionStatus.ACTIVE,
                    )
                    .limit(1)
                ).one()
                session.execute(
                    update(Subscription)
                    .where(Subscription.id == subscription)
                    .values(status=SubscriptionStatus.TERMINATED)
                )
                record(
                    session,
                    actor=Actor.person("it.admin"),
                    action="subscription.terminated",
                    object_type="subscription",
                    object_id=str(subscription),
                    municipality_id=two.where[code].id,
                )
            return read_hr_export(path)

        return read

    path = two.write(two.exports["hallsberg"], "h.csv")
    with caplog.at_level(logging.INFO, logger="tasks.directory_sync"):
        done = threading.Event()
        report = two.sync("hallsberg", with_a_change_of("laxa", path, done), register_read=done.set)
        assert "Registret ändrades" not in caplog.text
        assert report.changed == 0

        done = threading.Event()
        report = two.sync(
            "hallsberg", with_a_change_of("hallsberg", path, done), register_read=done.set
        )
        assert "Registret ändrades medan HR-exporten lästes" in caplog.text
        assert list(report.changes["fält"]) == ["telefonnummer"]


# ----------------------------------------------------------------------------- who is told


def workbook_rows(message: EmailMessage) -> list[tuple[str, str, str]]:
    """(employee number, name, change) of every row of the attached change list."""
    (attachment,) = list(message.iter_attachments())
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    rows = list(book["Ändringar"].values)
    assert rows[0][:3] == ("anställningsnummer", "namn", "ändring")
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows[1:]]


def test_each_contact_centre_is_told_only_of_its_own_people(
    two: Register, smtp_server: SmtpServer
) -> None:
    expected: dict[str, set[tuple[str, str, str]]] = {}
    for n, code in enumerate(NAMES, start=5):
        first_name = {"hallsberg": "Hedda", "laxa": "Lova"}[code]
        hr = joiner(two, code, "N900001", first_name, n)  # the same number in both
        hr.loc[3, "titel"] = f"Titel i {NAMES[code]}"
        gone = hr.loc[9]
        hr = hr.drop(index=9)
        two.sync(code, two.write(hr, f"{code}.csv"))
        name = f"{hr.loc[3, 'fornamn']} {hr.loc[3, 'efternamn']}"
        expected[code] = {
            ("N900001", f"{first_name} Nyström", "ny i kunddatabasen"),
            (str(hr.loc[3, "anstallningsnummer"]), name, "ändrad"),
            (
                str(gone["anstallningsnummer"]),
                f"{gone['fornamn']} {gone['efternamn']}",
                "tas bort ur kunddatabasen",
            ),
        }

    transport = SmtpTransport(host=smtp_server.host, port=smtp_server.port, sender="t@s.example")
    assert relay_outbox(two.engine, transport, policy=RetryPolicy()).sent == 2

    received = {m.rcpt_tos: m.message for m in smtp_server.messages}
    assert set(received) == {("kontaktcenter@hallsberg.example",), ("kontaktcenter@laxa.example",)}
    for code, other in (("hallsberg", "laxa"), ("laxa", "hallsberg")):
        message = received[(f"kontaktcenter@{code}.example",)]
        assert f"telefoni@{code}.example" in str(message["From"])
        assert set(workbook_rows(message)) == expected[code]
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert f"uppdaterat kunddatabasen för {NAMES[code]}" in text
        assert NAMES[other] not in text
        for _, name, _ in expected[other]:
            assert name not in text, (code, name)
    with Session(two.engine) as session:
        mails = session.scalars(select(OutboxMessage)).all()
        assert {m.recipient for m in mails} == {f"kontaktcenter@{c}.example" for c in NAMES}


def test_every_event_of_a_sync_is_its_municipalitys(two: Register) -> None:
    for code in NAMES:
        hr = joiner(two, code, "N900001", "Ny", 9).drop(index=[4, 5])
        hr.loc[6, "titel"] = "Ändrad"
        two.sync(code, two.write(hr, f"{code}.csv"))
    with Session(two.engine) as session:
        events = session.scalars(select(AuditEvent)).all()
        assert verify(session).intact
    by = {code: [e for e in events if e.municipality_id == w.id] for code, w in two.where.items()}
    # the two leavers of each hold a number of the employer's: their offboardings start too
    assert len(events) == 12 and all(len(mine) == 6 for mine in by.values())
    for mine in by.values():
        assert sorted(e.action for e in mine) == [
            "directory.created",
            "directory.removed",
            "directory.removed",
            "directory.updated",
            "offboarding.recorded",
            "offboarding.recorded",
        ]


# ----------------------------------------------------------------------------- the command


MUNICIPALITIES = """
[kommun.hallsberg]
name = "Hallsbergs kommun"
contact_centre_email = "kontaktcenter@hallsberg.example"
hr_export_path = "hallsberg.csv"

[kommun.laxa]
name = "Laxå kommun"
contact_centre_email = "kontaktcenter@laxa.example"
hr_export_path = "laxa.csv"
"""


# The command's answers do not depend on the engine (the syncs' own tests run on both): one.
@pytest.mark.parametrize("relay_db", ["sqlite"], indirect=True)
def test_the_sync_command_asks_which_municipality(two: Register) -> None:
    (two.folder / "kommuner.toml").write_text(MUNICIPALITIES, encoding="utf-8")
    for code in NAMES:
        hr = two.exports[code].copy()
        hr.loc[2, "titel"] = f"Titel i {code}"
        two.write(hr, f"{code}.csv")

    def sync(*args: str) -> subprocess.CompletedProcess[str]:
        return telefoni(
            "sync",
            *args,
            engine=two.engine,
            data_dir=two.folder,
            TELEFONI_MUNICIPALITIES_FILE=str(two.folder / "kommuner.toml"),
            TELEFONI_PNR_ENCRYPTION_KEY=base64.urlsafe_b64encode(two.keys[0]).decode(),
            TELEFONI_PNR_LOOKUP_KEY=base64.urlsafe_b64encode(two.keys[1]).decode(),
        )

    unsaid = sync()
    assert unsaid.returncode == 2
    assert "ange vilken kommun det gäller (--kommun)" in unsaid.stderr
    assert (
        "hallsberg (Hallsbergs kommun)" in unsaid.stderr and "laxa (Laxå kommun)" in unsaid.stderr
    )
    unknown = sync("--kommun", "Kumla")
    assert unknown.returncode == 2 and "kommunen 'Kumla' finns inte här" in unknown.stderr
    assert two.events() == 0

    done = sync("--kommun", "Laxå")
    assert done.returncode == 0, done.stderr
    assert "Katalogsynk, Laxå kommun: genomförd" in done.stdout
    assert "| ändrade personer | 1 |" in done.stdout
    number = str(two.exports["laxa"].loc[2, "anstallningsnummer"])
    assert two.entry("laxa", number).title == "Titel i laxa"  # type: ignore[union-attr]
    assert (two.events("laxa"), two.events("hallsberg")) == (1, 0)
