"""Every file of the bad-input corpus through the whole sync, against a register that holds the
corpus's ten people: its documented outcome, no unintended removal, and every row accounted for.

The outcomes are the ones in tests/unit/test_hr_export.py (CORPUS), which mirrors
tests/data/hr/README.md; this file adds what the sync makes of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models.audit import AuditEvent
from models.directory_sync import BrakeLimits
from models.hr_export import HrFileError, read_hr_export
from models.personnummer import PersonnummerVault
from models.register import CostCentre, DirectoryEntry, OrgUnit
from models.sync_run import SyncStatus
from tasks.directory_sync import SyncMunicipality, SyncOptions, SyncReport, sync_directory
from telefoni.core import migrate
from tests import factories
from tests.conftest import ENGINES
from tests.unit.test_hr_export import (
    COLUMN_MAP,
    CORPUS,
    CORPUS_DIR,
    Error,
    Incomplete,
    Quarantine,
)

TODAY = date(2026, 6, 1)
# Ten people: the brake's floor of 50 would never trip; the share and shrink rules still apply.
LIMITS = BrakeLimits(max_removal_share=0.05, max_removal_count=2, max_shrink_share=0.20)
BRAKED = {"everyone_removed.csv", "short.csv"}


def units_and_cost_centres(engine: Engine) -> None:
    """The units and cost centres the corpus names, in the settings' one municipality."""
    with Session(engine) as session, session.begin():
        home = factories.municipality(session)
        session.add_all([OrgUnit(code=c, name=c, municipality_id=home) for c in ("U1000", "U1001")])
        session.add_all(
            [CostCentre(code=c, name=c, municipality_id=home) for c in ("KS1000", "KS1001")]
        )


@pytest.fixture(scope="module", params=ENGINES)
def register(
    request: pytest.FixtureRequest,
    make_empty_database: Callable[[str], AbstractContextManager[Engine]],
    vault: PersonnummerVault,
) -> Iterator[Engine]:
    """The corpus's ten people, synced in from valid_utf8.csv."""
    with make_empty_database(request.param) as engine:
        migrate.upgrade(engine)
        units_and_cost_centres(engine)
        first = sync(engine, vault, "valid_utf8.csv", dry_run=False)
        assert (first.status, first.joiners) == (SyncStatus.APPLIED, 10)
        yield engine


def sync(engine: Engine, vault: PersonnummerVault, name: str, *, dry_run: bool) -> SyncReport:
    mapping = COLUMN_MAP if name == "mapped_headers.csv" else None
    with Session(engine) as session, session.begin():
        home = SyncMunicipality(factories.municipality(session), *factories.HOME)
    return sync_directory(
        engine,
        read_hr_export(CORPUS_DIR / name, column_map=mapping),
        vault=vault,
        options=SyncOptions(municipality=home, dry_run=dry_run, limits=LIMITS),
        today=TODAY,
    )


def entries(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(DirectoryEntry)) or 0)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_file_through_the_sync(
    register: Engine, vault: PersonnummerVault, name: str
) -> None:
    _, outcome = CORPUS[name]
    before_entries = entries(register)
    if isinstance(outcome, Error | Incomplete):
        with pytest.raises(HrFileError) as info:
            sync(register, vault, name, dry_run=False)
        message = str(info.value)
        assert name in message
        if outcome.row is not None:
            assert f"rad {outcome.row}" in message
        if outcome.field is not None:
            assert outcome.field in message
        assert isinstance(info.value, HrFileError)
    else:
        report = sync(register, vault, name, dry_run=True)
        if isinstance(outcome, Quarantine):
            assert report.rows_quarantined == len({row for row, _, _ in outcome.problems})
        else:
            assert report.rows_quarantined == 0
        assert report.rows_read == (
            report.rows_applied + report.rows_unchanged + report.rows_quarantined
        )
        if name in BRAKED:
            assert report.status is SyncStatus.BRAKED
            assert report.message
        else:
            assert report.status is SyncStatus.DRY_RUN
            assert report.leavers == 0, f"{name} would remove people: {report.changes}"
    assert entries(register) == before_entries
    with Session(register) as session:
        events = session.scalar(select(func.count()).select_from(AuditEvent))
    assert events == 10  # only the ten joiners of the first sync


@pytest.mark.parametrize("kind", ENGINES)
def test_braked_corpus_files_apply_nothing(
    kind: str,
    make_empty_database: Callable[[str], AbstractContextManager[Engine]],
    vault: PersonnummerVault,
) -> None:
    """Not a dry run: the brake itself stops the writes, and says why in the run's record."""
    with make_empty_database(kind) as engine:
        migrate.upgrade(engine)
        units_and_cost_centres(engine)
        sync(engine, vault, "valid_utf8.csv", dry_run=False)
        for name in sorted(BRAKED):
            report = sync(engine, vault, name, dry_run=False)
            assert report.status is SyncStatus.BRAKED, name
            assert entries(engine) == 10
