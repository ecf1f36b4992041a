"""Ordering through the operator exactly once (§6.1), against a real HTTP stand-in on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.audit import history
from models.onboarding import OBJECT_TYPE, OnboardingOrder, OrderStatus
from models.outbox import Sender
from models.personnummer import PersonnummerVault
from tasks.onboarding import Context, place_orders
from tasks.operator import HttpGateway, OperatorTransientError
from telefoni.core.settings import PROJECT_ROOT
from tests import factories
from tests.integration.operator_stand_in import ALL_FAULTS, Fault, OperatorStandIn

CTX = Context(
    sender=Sender("telefoni@sjobacka.example"),
    contact_centre_email="kontaktcenter@sjobacka.example",
    municipality="Sjöbacka kommun",
    ui_url="http://127.0.0.1:4200",
    admin_email="it@sjobacka.example",
    code_key=b"a test key of the one-time codes",
)


def home_ctx(session: Session) -> Context:
    """`CTX` for the orders of the builders' municipality (`factories.HOME`)."""
    return replace(CTX, municipality_id=factories.municipality(session))


def home_ctx_of(engine: Engine) -> Context:
    with Session(engine) as session, session.begin():
        return home_ctx(session)


def approved_orders(engine: Engine, vault: PersonnummerVault, count: int) -> list[int]:
    """`count` orders the manager approved, as the approval step leaves them."""
    with Session(engine) as session, session.begin():
        wp = factories.workplace(session, vault, staff=count)
        return [factories.onboarding_order(session, wp, number).id for number in wp.staff]


def statuses(engine: Engine, ids: list[int]) -> list[OrderStatus]:
    with Session(engine) as session:
        return list(
            session.scalars(select(OnboardingOrder.status).where(OnboardingOrder.id.in_(ids)))
        )


def like_a_task(fn: Callable[[], int], retries: int = 20) -> int:
    """Prefect's task retries, without the waiting: run again after a transient failure."""
    for _ in range(retries):
        try:
            return fn()
        except OperatorTransientError:
            continue
    raise AssertionError("still failing after all retries")


def test_thirty_percent_failing_calls_still_order_each_order_exactly_once(
    engine: Engine, vault: PersonnummerVault, operator_api: OperatorStandIn
) -> None:
    ids = approved_orders(engine, vault, 200)
    operator_api.configure(fault_rate=0.3, faults=ALL_FAULTS, seed=11)
    operator_api.stall_seconds = 0.4
    with HttpGateway(operator_api.url, None, timeout=0.2) as gateway:
        like_a_task(
            lambda: place_orders(
                engine, ids, gateway, ctx=home_ctx_of(engine), backoff=0.0, sleep=lambda _: None
            )
        )

    assert statuses(engine, ids) == [OrderStatus.ORDERED] * 200
    with Session(engine) as session:
        keys = session.scalars(
            select(OnboardingOrder.operator_key).where(OnboardingOrder.id.in_(ids))
        ).all()
    assert set(operator_api.orders) == set(keys)  # each order arrived, and only once
    assert len(operator_api.orders) == 200
    assert sum(operator_api.faults.values()) > 30  # the faults really struck
    assert set(operator_api.faults) >= {Fault.HTTP_500, Fault.TIMEOUT_AFTER, Fault.RESET_AFTER}


PLACE_ONE = """
import sys
from tasks.onboarding import Context, place_orders
from tasks.operator import HttpGateway
from models.outbox import Sender
from telefoni.core.db import make_engine
ctx = Context(sender=Sender("t@sjobacka.example"), contact_centre_email="k@sjobacka.example",
              municipality="Sjöbacka kommun", ui_url="http://127.0.0.1:4200",
              municipality_id=int(sys.argv[4]))
place_orders(make_engine(sys.argv[1]), [int(sys.argv[2])], HttpGateway(sys.argv[3], None, 120.0),
             ctx=ctx)
"""


def test_killed_after_sending_and_before_recording_the_rerun_sends_no_second_order(
    engine: Engine, vault: PersonnummerVault, operator_api: OperatorStandIn
) -> None:
    (order_id,) = approved_orders(engine, vault, 1)
    operator_api.fail_next(Fault.TIMEOUT_AFTER)  # the order is taken; the answer never comes
    operator_api.stall_seconds = 60
    url = engine.url.render_as_string(hide_password=False)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PLACE_ONE,
            url,
            str(order_id),
            operator_api.url,
            str(home_ctx_of(engine).municipality_id),
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not operator_api.orders and time.monotonic() < deadline:
            assert worker.poll() is None, "the worker ended before the order arrived"
            time.sleep(0.05)
        assert len(operator_api.orders) == 1
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # after sending, before recording
        worker.wait(30)
    assert statuses(engine, [order_id]) == [OrderStatus.ORDERING]  # nothing recorded
    (key,) = operator_api.orders

    operator_api.stall_seconds = 0.1
    with HttpGateway(operator_api.url, None, timeout=5) as gateway:
        assert place_orders(engine, [order_id], gateway, ctx=home_ctx_of(engine)) == 1

    assert statuses(engine, [order_id]) == [OrderStatus.ORDERED]
    assert operator_api.received_count(key) == 1  # the re-run asked, and sent nothing
    assert len(operator_api.orders) == 1
    with Session(engine) as session:
        reference = f"TEL-{order_id:06d}"
        (ordered,) = [
            e
            for e in history(session, object_type=OBJECT_TYPE, object_id=reference)
            if e.action == "onboarding.ordered"
        ]
    assert "skickades inte igen" in (ordered.reason or "")
