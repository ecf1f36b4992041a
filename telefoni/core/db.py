"""Engines and sessions for SQLite and PostgreSQL, and plain words for broken database rules."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

# Constraint name → (guideline §, what the rule says). Names follow models.base.NAMING_CONVENTION.
RULES: dict[str, tuple[str | None, str]] = {
    "uq_subscription_number": (None, "ett telefonnummer får bara finnas på ett abonnemang"),
    "uq_device_imei": (None, "ett IMEI-nummer får bara finnas på en enhet"),
    "ck_subscription_personal_owner_designation": (
        "§3.1",
        "ett personbundet abonnemang har en innehavare och ingen benämning; "
        "ett icke personbundet har en benämning och ingen innehavare",
    ),
    "ck_subscription_phone_hours_non_personal": (
        "§5.1.1",
        "telefontid får aldrig knytas till ett personbundet abonnemang, bara till ett gruppnummer",
    ),
    "ck_subscription_number_e164": (
        None,
        "telefonnumret ska vara i E.164-form, t.ex. +46701234567",
    ),
    "ck_device_imei_length": (None, "ett IMEI-nummer har 15 siffror"),
    "ck_directory_entry_personal_fields": (
        "§3.1",
        "en personbunden post i kunddatabasen har namn och personnummer men ingen benämning; "
        "en icke personbunden har benämning och nummer men inget namn, personnummer, "
        "användar-id eller titel",
    ),
    "ck_employee_need_category": ("§4.1", "behovskategori är 1, 2 eller 3"),
    "ck_employee_employment_period": (None, "anställningen kan inte sluta innan den börjar"),
    "uq_employee_municipality_id_employee_number": (
        None,
        "ett anställningsnummer får bara finnas en gång i en kommun",
    ),
    "uq_employee_municipality_id_personnummer_hash": (
        None,
        "en person (personnummer) får bara finnas en gång i en kommun",
    ),
    "uq_employee_municipality_id_user_id": (
        None,
        "ett användar-id får bara finnas en gång i en kommun",
    ),
    "uq_org_unit_municipality_id_code": (
        None,
        "en organisationsenhets kod får bara finnas en gång i en kommun",
    ),
    "uq_cost_centre_municipality_id_code": (
        None,
        "ett kostnadsställes kod får bara finnas en gång i en kommun",
    ),
    "audit_append_only": (None, "händelseloggen får bara byggas på, aldrig ändras eller raderas"),
}


class RegisterRuleViolation(IntegrityError):
    """The database refused a change because it breaks one of the register's rules."""

    def __init__(self, original: IntegrityError, constraint: str | None) -> None:
        super().__init__(None, None, original.orig, hide_parameters=True)  # type: ignore[arg-type]
        self.constraint = constraint
        self.rule: str | None
        self.explanation: str | None
        self.rule, self.explanation = RULES.get(constraint or "", (None, None))

    def __str__(self) -> str:
        if self.explanation is None:
            return f"Registrets regel bröts ({self.constraint or 'okänd regel'})"
        cite = f" ({self.rule})" if self.rule else ""
        return f"Registrets regel bröts{cite}: {self.explanation} [{self.constraint}]"


_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<cols>[\w.]+(?:, [\w.]+)*)")
_SQLITE_CHECK = re.compile(r"CHECK constraint failed: (?P<name>\w+)|^(?P<raised>\w+): ")


def constraint_name(exc: IntegrityError) -> str | None:
    """The name of the constraint behind an IntegrityError, on PostgreSQL and SQLite."""
    diag = getattr(exc.orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return str(diag.constraint_name)
    message = str(exc.orig)
    if m := _SQLITE_CHECK.search(message):
        return m.group("name") or m.group("raised")
    if m := _SQLITE_UNIQUE.search(message):
        cols = [c.split(".") for c in m.group("cols").split(", ")]
        return "uq_" + cols[0][0] + "_" + "_".join(c[1] for c in cols)
    if "NOT NULL constraint failed" in message or "FOREIGN KEY constraint failed" in message:
        return None
    return None


def _translate(context: ExceptionContext) -> BaseException | None:
    exc = context.sqlalchemy_exception
    if isinstance(exc, IntegrityError) and not isinstance(exc, RegisterRuleViolation):
        return RegisterRuleViolation(exc, constraint_name(exc))
    return None


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, begin transactions: SAVEPOINTs and DDL then behave, and
    # BEGIN IMMEDIATE (below) takes the write lock up front, so two writers queue instead of
    # failing on a stale snapshot.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine that enforces foreign keys on SQLite and never prints bound parameters."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, hide_parameters=True, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    event.listen(engine, "handle_error", _translate, retval=True)
    return engine


@lru_cache(maxsize=4)
def get_engine(url: str) -> Engine:
    """One engine per database URL in this process (tasks share it)."""
    return make_engine(url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
