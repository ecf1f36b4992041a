"""The directory sync against a real register (SQLite and PostgreSQL) loaded with a demo town,
the people of the settings' one municipality (tests/factories.py: HOME)."""

from __future__ import annotations

import base64
import io
import logging
import secrets
import subprocess
import threading
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from models.audit import Actor, AuditEvent, record, verify
from models.directory_sync import BrakeLimits, hr_digest_key
from models.hr_export import HR_EXPORT_COLUMNS, HrExport, read_hr_export, row_digests
from models.outbox import OutboxMessage, RetryPolicy, Sender
from models.personnummer import PersonnummerVault, make_personnummer
from models.register import (
    DirectoryEntry,
    Employee,
    OrgUnit,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from models.sync_run import HrQuarantine, SyncRun, SyncStatus
from tasks.directory_sync import (
    SyncAlreadyRunning,
    SyncMunicipality,
    SyncOptions,
    SyncReport,
    _unchanged_rows,
    load_people,
    sync_directory,
)
from tasks.mail import SmtpTransport
from tasks.outbox import relay_outbox
from telefoni import demo
from tests import factories
from tests.cli import telefoni
from tests.integration.smtp_server import SmtpServer

TODAY = date(2026, 11, 28)
EMPLOYEES = 300


@dataclass
class Town:
    engine: Engine
    export: pd.DataFrame  # the HR export of the loaded town, as text
    folder: Path
    vault: PersonnummerVault
    keys: tuple[bytes, bytes]
    where: SyncMunicipality

    def options(self, **options: object) -> SyncOptions:
        return SyncOptions(municipality=self.where, **options)  # type: ignore[arg-type]

    def write(self, frame: pd.DataFrame, name: str) -> Path:
        path = self.folder / name
        frame.to_csv(path, sep=";", index=False, encoding="utf-8-sig", lineterminator="\r\n")
        return path

    def sync(self, path: Path, **options: object) -> SyncReport:
        return sync_directory(
            self.engine,
            read_hr_export(path),
            vault=self.vault,
            options=self.options(
                contact_centre_email="kontaktcenter@sjobacka.example",
                sender=Sender("telefoni@sjobacka.example", "Telefoni – Sjöbacka kommun"),
                **options,
            ),
            today=TODAY,
        )

    def count(self, model: type) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def entry(self, employee_number: str) -> DirectoryEntry | None:
        with Session(self.engine) as session:
            return session.scalar(
                select(DirectoryEntry)
                .join(Employee, DirectoryEntry.employee_id == Employee.id)
                .where(Employee.employee_number == employee_number)
            )


@pytest.fixture
def town(relay_db: Engine, tmp_path: Path) -> Iterator[Town]:
    keys = (secrets.token_bytes(32), secrets.token_bytes(32))
    vault = PersonnummerVault(encryption_key=keys[0], lookup_key=keys[1])
    generated = demo.generate(employees=EMPLOYEES, seed=7, today=TODAY)
    with Session(relay_db) as session, session.begin():
        home = factories.municipality(session)
        demo.load(session, generated, vault=vault, municipality_id=home)
    where = SyncMunicipality(id=home, code=factories.HOME[0], name=factories.HOME[1])
    yield Town(relay_db, demo.hr_export_frame(generated), tmp_path, vault, keys, where)


def assert_rows_add_up(report: SyncReport) -> None:
    assert report.rows_read == report.rows_applied + report.rows_unchanged + report.rows_quarantined


def test_the_towns_own_export_changes_nothing(town: Town) -> None:
    report = town.sync(town.write(town.export, "hr.csv"))
    assert report.status is SyncStatus.APPLIED
    assert (report.joiners, report.changed, report.leavers, report.rows_quarantined) == (0, 0, 0, 0)
    assert report.rows_unchanged == EMPLOYEES
    assert_rows_add_up(report)
    assert town.count(OutboxMessage) == 0


def test_joiners_changes_leavers_and_quarantine(town: Town) -> None:
    hr = town.export.copy()
    ended_at = next(
        i for i in hr.index[hr["anstallning_from"] < "2026-01-01"] if i not in (10, 20, 40)
    )
    changed_title, gone, broken, ended = hr.loc[10], hr.loc[20], hr.loc[40], hr.loc[ended_at]
    hr.loc[10, "titel"] = "Samordnare telefoni"
    hr.loc[ended_at, "anstallning_tom"] = "2026-10-31"
    hr.loc[40, "personnummer"] = "19850709-0000"  # checksum wrong: quarantined
    hr = hr.drop(index=20)
    joiner = hr.iloc[50].copy()
    joiner["anstallningsnummer"] = "N900001"
    joiner["personnummer"] = make_personnummer(date(1990, 1, 1), 980).canonical()
    joiner["anvandarid"] = "nyan0001"
    joiner["epost"] = "ny.anstalld@sjobacka.example"
    joiner["fornamn"], joiner["efternamn"] = "Ålva", "Nyström"
    hr = pd.concat([hr, joiner.to_frame().T], ignore_index=True)
    events_before = town.count(AuditEvent)

    report = town.sync(town.write(hr, "hr-2.csv"))

    assert_rows_add_up(report)
    assert (report.joiners, report.changed, report.leavers) == (1, 1, 2)
    assert report.rows_quarantined == 1
    assert report.rows_read == EMPLOYEES
    # the directory as the contact centre sees it
    entry = town.entry(changed_title["anstallningsnummer"])
    assert entry is not None and entry.title == "Samordnare telefoni"
    assert town.entry(gone["anstallningsnummer"]) is None
    assert town.entry(ended["anstallningsnummer"]) is None
    new = town.entry("N900001")
    assert new is not None and new.name == "Ålva Nyström"
    # the quarantined person is untouched, not read as having left
    kept = town.entry(broken["anstallningsnummer"])
    assert kept is not None and kept.name == f"{broken['fornamn']} {broken['efternamn']}"
    # one event per changed person, and one per offboarding started: both leavers hold a
    # number of the employer's (§8.1)
    assert report.offboardings_started == 2
    assert town.count(AuditEvent) - events_before == 4 + 2
    with Session(town.engine) as session:
        q = session.scalars(select(HrQuarantine)).all()
        assert [(x.employee_number, x.field, x.reason) for x in q] == [
            (broken["anstallningsnummer"], "personnummer", "invalid_personnummer")
        ]
        assert all("0000" not in (x.detail or "") for x in q)
        assert verify(session).intact
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.seq > events_before)
        ).all()
        assert sorted(actions) == sorted(
            ["directory.created", "directory.updated", "directory.removed", "directory.removed"]
            + ["offboarding.recorded"] * 2
        )
        mail = session.scalars(select(OutboxMessage)).one()
        assert mail.recipient == "kontaktcenter@sjobacka.example"
        assert "1 ny, 1 ändrad, 2 borttagna, 1 rad i karantän" in mail.subject
        assert "2 avslut startade för personer som slutar" in mail.body_text
        assert mail.attachments[0].filename.endswith(".xlsx")


def test_the_same_file_twice_changes_nothing_the_second_time(town: Town) -> None:
    hr = town.export.copy()
    hr.loc[hr.index[5], "titel"] = "Ny titel"
    path = town.write(hr, "hr.csv")
    first = town.sync(path)
    assert first.changed == 1
    events, mails = town.count(AuditEvent), town.count(OutboxMessage)

    second = town.sync(path)

    assert (second.joiners, second.changed, second.leavers, second.rows_applied) == (0, 0, 0, 0)
    assert town.count(AuditEvent) == events
    assert town.count(OutboxMessage) == mails


def test_an_export_that_removes_everyone_is_braked(town: Town) -> None:
    path = town.write(town.export.head(1), "hr-nearly-empty.csv")
    report = town.sync(path)
    assert report.status is SyncStatus.BRAKED
    assert "skulle ta bort" in (report.message or "")
    assert town.count(AuditEvent) == 0
    assert town.count(DirectoryEntry) > EMPLOYEES  # nothing removed
    with Session(town.engine) as session:
        run = session.scalars(select(SyncRun)).one()
        assert run.status is SyncStatus.BRAKED


def test_the_brake_can_be_overridden_with_a_reason(town: Town) -> None:
    path = town.write(town.export.head(200), "hr-reorganised.csv")
    report = town.sync(path, allow_mass_removal=True, override_reason="Omorganisation 2026")
    assert report.status is SyncStatus.APPLIED
    assert report.leavers == EMPLOYEES - 200
    with Session(town.engine) as session:
        override = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "directory_sync.brake_overridden")
        ).one()
        assert "Omorganisation 2026" in (override.reason or "")


def test_an_export_thirty_percent_shorter_than_the_last_is_braked(town: Town) -> None:
    town.sync(town.write(town.export, "full.csv"))
    limits = BrakeLimits(max_removal_share=1.0, max_removal_count=10_000)  # only the shrink rule
    report = town.sync(town.write(town.export.head(210), "short.csv"), limits=limits)
    assert report.status is SyncStatus.BRAKED
    assert "30%" in (report.message or "") or "30 %" in (report.message or "")


def test_dry_run_writes_nothing(town: Town) -> None:
    hr = town.export.copy().drop(index=town.export.index[:3])
    report = town.sync(town.write(hr, "hr.csv"), dry_run=True)
    assert report.status is SyncStatus.DRY_RUN
    assert report.leavers == 3
    assert town.count(SyncRun) == 0
    assert town.count(AuditEvent) == 0
    assert town.count(DirectoryEntry) > EMPLOYEES


def test_the_contact_centre_gets_the_change_list(town: Town, smtp_server: SmtpServer) -> None:
    hr = town.export.copy()
    hr.loc[hr.index[3], "titel"] = '=HYPERLINK("x")'  # stays text in the XLSX
    town.sync(town.write(hr, "hr.csv"))

    transport = SmtpTransport(host=smtp_server.host, port=smtp_server.port, sender="t@s.example")
    report = relay_outbox(town.engine, transport, policy=RetryPolicy())

    assert report.sent == 1
    (received,) = smtp_server.messages
    assert received.rcpt_tos == ("kontaktcenter@sjobacka.example",)
    assert "Kunddatabasen: 0 nya, 1 ändrad" in received.subject
    (attachment,) = [p for p in received.message.iter_attachments()]
    assert str(attachment.get_filename()).endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    rows = list(book["Ändringar"].values)
    assert rows[0][:4] == ("anställningsnummer", "namn", "ändring", "fält")
    assert rows[1][3] == "titel" and rows[1][5] == '=HYPERLINK("x")'
    assert book["Ändringar"].cell(row=2, column=6).data_type == "s"


def test_export_columns_match_what_the_demo_writes() -> None:
    assert tuple(demo.HR_EXPORT_COLUMNS) == HR_EXPORT_COLUMNS


def test_two_syncs_started_together_apply_once(town: Town) -> None:
    """50 times: two syncs of a new export start at the same moment; exactly one applies."""
    rounds = 50
    for i in range(rounds):
        hr = town.export.copy()
        hr.loc[7, "titel"] = f"Titel version {i}"
        path = town.write(hr, f"hr-{i}.csv")
        exports = [read_hr_export(path), read_hr_export(path)]
        start = threading.Barrier(2)
        events = town.count(AuditEvent)

        def run(
            export: HrExport, start: threading.Barrier = start
        ) -> SyncReport | SyncAlreadyRunning:
            start.wait()
            try:
                return sync_directory(
                    town.engine, export, vault=town.vault, options=town.options(), today=TODAY
                )
            except SyncAlreadyRunning as exc:
                return exc

        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(run, exports))

        applied = [o for o in outcomes if isinstance(o, SyncReport) and o.rows_applied]
        others = [o for o in outcomes if o not in applied]
        assert len(applied) == 1, outcomes
        assert all(isinstance(o, SyncAlreadyRunning) or o.rows_applied == 0 for o in others), (
            outcomes
        )
        assert town.count(AuditEvent) == events + 1
    with Session(town.engine) as session:
        assert verify(session).intact


def test_a_sync_started_while_another_holds_the_lock_is_refused(town: Town) -> None:
    """A sync held inside its lock (still reading its file): a second one started meanwhile is
    refused and writes nothing; the first then applies. Nothing but the lock can refuse the
    second: the first has not begun its transaction, so it holds no lock of the database's."""
    hr = town.export.copy()
    hr.loc[7, "titel"] = "Titel medan låset hålls"
    path = town.write(hr, "hr.csv")
    holding, release = threading.Event(), threading.Event()

    def read_once_released() -> HrExport:
        holding.set()  # called by the first sync, inside its lock
        assert release.wait(60)
        return read_hr_export(path)

    def sync(export: HrExport | Callable[[], HrExport]) -> SyncReport:
        return sync_directory(
            town.engine, export, vault=town.vault, options=town.options(), today=TODAY
        )

    events = town.count(AuditEvent)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(sync, read_once_released)
        try:
            assert holding.wait(60)
            with pytest.raises(SyncAlreadyRunning):
                sync(read_hr_export(path))
            assert (town.count(AuditEvent), town.count(SyncRun)) == (events, 0)
        finally:
            release.set()
        report = first.result(timeout=120)

    assert (report.status, report.changed, report.rows_applied) == (SyncStatus.APPLIED, 1, 1)
    assert town.count(AuditEvent) == events + 1
    assert town.count(SyncRun) == 1


def telefoni_sync(town: Town, *args: str) -> subprocess.CompletedProcess[str]:
    return telefoni(
        "sync",
        *args,
        engine=town.engine,
        data_dir=town.folder,
        TELEFONI_PNR_ENCRYPTION_KEY=base64.urlsafe_b64encode(town.keys[0]).decode(),
        TELEFONI_PNR_LOOKUP_KEY=base64.urlsafe_b64encode(town.keys[1]).decode(),
    )


def test_the_sync_command(town: Town) -> None:
    """What an admin sees at the terminal: a dry run, the brake, and a missing reason."""
    hr = town.export.copy()
    hr.loc[2, "titel"] = "Kommunikatör"
    path = town.write(hr, "hr.csv")

    dry = telefoni_sync(town, str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "provkörning" in dry.stdout and "| ändrade personer | 1 |" in dry.stdout
    assert town.count(AuditEvent) == 0

    braked = telefoni_sync(town, str(town.write(town.export.head(5), "kort.csv")))
    assert braked.returncode == 3
    assert "STOPPAD" in braked.stdout and "skulle ta bort" in braked.stdout

    no_reason = telefoni_sync(town, str(path), "--allow-mass-removal")
    assert no_reason.returncode != 0 and "--reason" in no_reason.stderr

    missing = telefoni_sync(town, str(town.folder / "finns-inte.csv"))
    assert missing.returncode == 1 and "HR-exporten finns inte" in missing.stderr

    applied = telefoni_sync(town, str(path))
    assert applied.returncode == 0, applied.stderr
    assert town.entry(str(hr.loc[2, "anstallningsnummer"])).title == "Kommunikatör"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- the digests
# A row whose digest is the one stored is not compared field by field; everything that can
# change without the row changing must still reach the directory.


def people(town: Town) -> pd.DataFrame:
    with Session(town.engine) as session:
        return load_people(session, town.where.id)


def test_the_demo_stores_every_rows_digest(town: Town) -> None:
    register = people(town)
    assert register["has_digest"].all() and register["in_sync"].all()
    assert not register["left"].any()


def test_rows_with_no_digest_are_compared_in_full_and_get_theirs(town: Town) -> None:
    with Session(town.engine) as session, session.begin():
        session.execute(update(Employee).values(hr_digest=None))  # as after migration 0006
    hr = town.export.copy()
    hr.loc[hr.index[8], "titel"] = "Ny titel"
    path = town.write(hr, "hr.csv")

    first = town.sync(path)

    assert (first.joiners, first.changed, first.leavers, first.rows_unchanged) == (0, 1, 0, 299)
    assert people(town)["has_digest"].all()
    again = town.sync(path)
    assert (again.changed, again.rows_applied, again.rows_unchanged) == (0, 0, EMPLOYEES)


def test_an_entry_changed_behind_the_syncs_back_is_put_right(town: Town) -> None:
    number = str(town.export.loc[12, "anstallningsnummer"])
    title = str(town.export.loc[12, "titel"])
    with Session(town.engine) as session, session.begin():
        person = session.scalars(select(Employee.id).where(Employee.employee_number == number))
        session.execute(
            update(DirectoryEntry)
            .where(DirectoryEntry.employee_id == person.one())
            .values(title="Någon annan titel")
        )

    report = town.sync(town.write(town.export, "hr.csv"))

    assert (report.changed, report.rows_applied) == (1, 1)
    entry = town.entry(number)
    assert entry is not None and entry.title == title


def end_a_personal_subscription(session: Session) -> tuple[int, str]:
    """Terminate someone's active personal subscription: its id, and the owner's number."""
    owner, subscription = session.execute(
        select(Subscription.owner_id, Subscription.id)
        .where(
            Subscription.kind == SubscriptionKind.PERSONAL,
            Subscription.status == SubscriptionStatus.ACTIVE,
        )
        .limit(1)
    ).one()
    session.execute(
        update(Subscription)
        .where(Subscription.id == subscription)
        .values(status=SubscriptionStatus.TERMINATED)
    )
    number = session.scalar(select(Employee.employee_number).where(Employee.id == owner))
    return subscription, str(number)


def test_a_phone_number_that_ended_leaves_the_directory_entry(town: Town) -> None:
    with Session(town.engine) as session, session.begin():
        _, number = end_a_personal_subscription(session)

    report = town.sync(town.write(town.export, "hr.csv"))

    assert report.changed == 1
    assert list(report.changes["fält"]) == ["telefonnummer"]
    entry = town.entry(number)
    assert entry is not None and entry.phone_number is None


def test_a_change_to_the_register_while_the_file_is_read_is_not_missed(
    town: Town, caplog: pytest.LogCaptureFixture
) -> None:
    """The register is read while the HR file is; a subscription ended in between (as every
    change, with its audit event) still leaves the directory entry."""
    path = town.write(town.export, "hr.csv")

    register_read = threading.Event()

    def read_once_the_register_is() -> HrExport:
        assert register_read.wait(60)  # the sync's own read of the register is done
        with Session(town.engine) as session, session.begin():
            subscription, number = end_a_personal_subscription(session)
            record(
                session,
                actor=Actor.person("it.admin"),
                action="subscription.terminated",
                object_type="subscription",
                object_id=str(subscription),
            )
            ended.append(number)
        return read_hr_export(path)

    ended: list[str] = []
    with caplog.at_level(logging.INFO, logger="tasks.directory_sync"):
        report = sync_directory(
            town.engine,
            read_once_the_register_is,
            vault=town.vault,
            options=town.options(),
            today=TODAY,
            register_read=register_read.set,
        )

    assert "Registret ändrades medan HR-exporten lästes" in caplog.text  # read again
    assert report.changed == 1
    assert list(report.changes["fält"]) == ["telefonnummer"]
    entry = town.entry(ended[0])
    assert entry is not None and entry.phone_number is None


def test_an_unchanged_row_whose_employment_has_ended_is_a_leaver(town: Town) -> None:
    hr = town.export.copy()
    hr.loc[30, "anstallning_tom"] = "2026-12-15"
    path = town.write(hr, "hr.csv")
    assert town.sync(path).changed == 1  # the end date, stored with the row's digest

    later = sync_directory(
        town.engine,
        read_hr_export(path),
        vault=town.vault,
        options=town.options(),
        today=date(2027, 1, 10),
    )

    ended = later.changes[later.changes["ändring"] == "tas bort ur kunddatabasen"]
    assert list(ended["anställningsnummer"]) == [hr.loc[30, "anstallningsnummer"]]
    assert later.leavers >= 1 and town.entry(str(hr.loc[30, "anstallningsnummer"])) is None


def test_an_unchanged_row_is_still_quarantined_for_a_unit_that_is_gone(town: Town) -> None:
    code = str(town.export.loc[40, "organisationsenhet"])
    with Session(town.engine) as session, session.begin():
        session.execute(update(OrgUnit).where(OrgUnit.code == code).values(code="U9999"))
    on_unit = town.export["organisationsenhet"] == code

    report = town.sync(town.write(town.export, "hr.csv"), dry_run=True)

    assert report.rows_quarantined == int(on_unit.sum())
    assert set(report.quarantine["reason"]) == {"unknown_unit"}
    assert report.leavers == 0  # quarantined people are never read as gone


def test_an_unchanged_row_is_still_quarantined_when_its_number_turns_up_again(
    town: Town,
) -> None:
    copy = town.export.loc[[5]].assign(fornamn="Annan", anvandarid="annan0001", epost="")
    copy["personnummer"] = make_personnummer(date(1991, 2, 3), 981).canonical()
    hr = pd.concat([town.export, copy], ignore_index=True)

    report = town.sync(town.write(hr, "hr.csv"), dry_run=True)

    q = report.quarantine
    assert set(q["reason"]) == {"duplicate_employee_number"}
    assert set(q["employee_number"]) == {town.export.loc[5, "anstallningsnummer"]}
    assert report.rows_quarantined == 2 and report.leavers == 0


def test_a_ten_digit_personnummer_is_always_compared_in_full(town: Town) -> None:
    """Its century depends on the day, so the row is checked again even with its digest."""
    hr = town.export.copy()
    hr["personnummer"] = hr["personnummer"].str.slice(2)  # YYMMDD-NNNN
    path = town.write(hr, "hr-10.csv")
    first = town.sync(path)
    assert (first.changed, first.rows_quarantined) == (0, 0)  # the same people

    export = read_hr_export(path)
    digests = row_digests(export.rows, hr_digest_key(town.vault))
    register = people(town)
    at = pd.Index(register["employee_number"]).get_indexer(export.rows["anstallningsnummer"])
    assert (register["hr_digest"].to_numpy()[at] == digests).all()  # stored by the first sync
    trusted = _unchanged_rows(export.rows, digests, register, at)
    assert not trusted.any()


def test_an_export_written_in_decomposed_unicode_changes_nothing(town: Town) -> None:
    """Some HR systems write "å" as "a" and a combining ring (NFD): the same names."""
    decomposed = town.export.map(lambda v: unicodedata.normalize("NFD", v))
    path = town.write(decomposed, "hr-nfd.csv")
    text = path.read_text(encoding="utf-8-sig")
    assert "\u030a" in text and "å" not in text  # really written decomposed
    events, mails = town.count(AuditEvent), town.count(OutboxMessage)

    report = town.sync(path)

    assert report.status is SyncStatus.APPLIED
    assert (report.joiners, report.changed, report.leavers, report.rows_quarantined) == (0, 0, 0, 0)
    assert report.rows_unchanged == EMPLOYEES
    assert (town.count(AuditEvent), town.count(OutboxMessage)) == (events, mails)
    with Session(town.engine) as session:
        names = session.scalars(select(Employee.last_name)).all()
    assert all(unicodedata.is_normalized("NFC", n) for n in names)
