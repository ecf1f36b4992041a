"""The municipalities of the settings as rows of the register: each one's id, made when needed."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.outbox import Sender
from models.register import Municipality
from telefoni.core.municipalities import MunicipalitySettings


def municipality_id(session: Session, municipality: MunicipalitySettings) -> int:
    """The register's id of ``municipality`` (found by its code), in the caller's transaction;
    its row is made the first time, and its name kept as the settings say."""
    row = session.scalar(select(Municipality).where(Municipality.code == municipality.code))
    if row is None:
        try:
            with session.begin_nested():
                row = Municipality(code=municipality.code, name=municipality.name)
                session.add(row)
                session.flush()
        except IntegrityError:  # made at the same moment by another process
            row = session.scalar(select(Municipality).where(Municipality.code == municipality.code))
            assert row is not None
    elif row.name != municipality.name:
        row.name = municipality.name
    return row.id


def municipality_id_of(engine: Engine, municipality: MunicipalitySettings) -> int:
    """`municipality_id` in a transaction of its own (committed before the caller goes on)."""
    with Session(engine) as session, session.begin():
        return municipality_id(session, municipality)


def municipality_names(session: Session) -> dict[int, str]:
    """Every municipality of the register: id → name."""
    return dict(session.execute(select(Municipality.id, Municipality.name)).tuples().all())


def sender_of(municipality: MunicipalitySettings) -> Sender:
    """Who ``municipality``'s notices come from, signed as it signs them."""
    return Sender(
        str(municipality.mail_from),
        municipality.sender_name,
        municipality.signature,
        str(municipality.contact_centre_email),
    )
