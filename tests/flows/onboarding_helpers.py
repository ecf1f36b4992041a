"""Driving onboarding runs from a test as the people around them would: start, wait, answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.flow_runs import resume_flow_run
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.onboarding import OnboardingOrder, OrderStatus
from models.onboarding_forms import OrderRequest
from models.ordering import luhn_digit
from models.personnummer import PersonnummerVault
from models.register import Employee
from tests import factories
from tests.factories import Workplace


def order_for(wp: Workplace, who: int = 0, **fields: Any) -> OrderRequest:
    values: dict[str, Any] = {
        "employee_number": wp.staff[who],
        "need_category": 2,
        "phone_model": wp.standard_model,
        "subscription_option": wp.option,
        "requested_by": wp.manager,
        "apps": [
            {"name": "Ritverktyg Pro", "monthly_cost_sek": "49", "why": "ritningar i fält"},
            {"name": "Kartor Plus", "monthly_cost_sek": "19", "why": "navigering"},
        ],
    }
    return OrderRequest.model_validate(values | fields)


class Background:
    """A flow called in a thread of its own, as a worker would run it."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn, *args), daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            self.result = fn(*args)
        except BaseException as exc:
            self.error = exc

    def join(self, timeout: float = 120) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the flow did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def read_run(run_id: str) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(run_id))


def orders(engine: Engine) -> list[OnboardingOrder]:
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(OnboardingOrder).order_by(OnboardingOrder.id)))


def wait_for_pause(engine: Engine, status: OrderStatus, timeout: float = 120) -> str:
    """The run id once its open orders reached `status` and the run waits for a person."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [o for o in orders(engine) if o.flow_run_id]
        if found:
            state = read_run(str(found[0].flow_run_id)).state
            if state is not None and state.is_final():
                raise AssertionError(f"the run ended instead of waiting: {state}")
            settled = all(o.status is status or o.status.closed for o in found)
            paused = state is not None and state.is_paused()
            if settled and paused and status in {o.status for o in found}:
                return str(found[0].flow_run_id)
        time.sleep(0.3)
    raise AssertionError(f"no run waiting with its orders {status}: {orders(engine)}")


def wait_for_state(run_id: str, *names: str, timeout: float = 120) -> FlowRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = read_run(run_id)
        if run.state is not None and run.state.name in names:
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} never reached {names}: {read_run(run_id).state}")


def answer(run_id: str, **run_input: Any) -> None:
    resume_flow_run(UUID(run_id), run_input=run_input)


def delivery(n: int) -> dict[str, str]:
    """A fictional delivery: a number, an IMEI and an ICCID with valid check digits."""
    imei = f"35{n:012d}"
    iccid = f"894601{n:012d}"
    return {
        "number": f"+46701{n:06d}",
        "imei": imei + luhn_digit(imei),
        "sim": iccid + luhn_digit(iccid),
    }


# Two municipalities of one installation, as a file of municipalities describes them: each
# with its own sender, signature, addresses, deputies, deadline and reminder interval.
MUNICIPALITIES = """
[kommun.hallsberg]
name = "Hallsbergs kommun"
mail_from = "telefoni@hallsberg.example"
signature = "Kommunledningskontoret, Hallsbergs kommun"
contact_centre_email = "kontaktcenter@hallsberg.example"
ordering_function_email = "bestallning@hallsberg.example"
hr_export_path = "hr-hallsberg.csv"
approval_deputies = ["D-HAL"]
approval_deadline_days = 7
approval_reminder_hours = 24

[kommun.laxa]
name = "Laxå kommun"
mail_from = "telefoni@laxa.example"
signature = "Kommunstyrelsens förvaltning, Laxå kommun"
contact_centre_email = "kontaktcenter@laxa.example"
ordering_function_email = "bestallning@laxa.example"
hr_export_path = "hr-laxa.csv"
approval_deputies = ["D-LAX"]
approval_deadline_days = 14
approval_reminder_hours = 72
"""


def municipalities_file(folder: Path) -> Path:
    path = folder / "kommuner.toml"
    path.write_text(MUNICIPALITIES, encoding="utf-8")
    return path


@dataclass(frozen=True)
class TwoPlaces:
    """A workplace in Hallsberg and one in Laxå whose employee numbers collide: each one's
    first employee has the same number, and Laxå's non-manager (`b.other_manager`) has the
    number of Hallsberg's manager."""

    a: Workplace  # Hallsberg
    b: Workplace  # Laxå

    @property
    def shared(self) -> str:
        return self.a.staff[0]


def two_places(session: Session, vault: PersonnummerVault) -> TwoPlaces:
    a_id = factories.municipality(session, "hallsberg", "Hallsbergs kommun")
    b_id = factories.municipality(session, "laxa", "Laxå kommun")
    a = factories.workplace(session, vault, staff=2, municipality_id=a_id)
    b = factories.workplace(session, vault, staff=2, municipality_id=b_id)
    for deputy, where in (("D-HAL", a_id), ("D-LAX", b_id)):  # the file's deputies, with mail
        factories.employee(session, vault, employee_number=deputy, municipality_id=where)
    renamed = {b.staff[0]: a.staff[0], b.other_manager: a.manager}
    for person in session.scalars(
        select(Employee).where(
            Employee.municipality_id == b_id, Employee.employee_number.in_(renamed)
        )
    ):
        person.employee_number = renamed[person.employee_number]
        person.first_name = "Britta"  # nobody in Hallsberg has the name
    session.flush()
    b = replace(b, staff=(a.staff[0], *b.staff[1:]), other_manager=a.manager)
    return TwoPlaces(a, b)


def form_text(run_id: str) -> str:
    """The text above the form the paused run shows now (its description)."""
    import json

    from prefect.input.run_input import keyset_from_paused_state

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(run_id)).state
        assert state is not None and state.is_paused(), state
        stored = client.read_flow_run_input(
            UUID(run_id), keyset_from_paused_state(state)["description"]
        )
    return str(json.loads(stored))


def run_logs(run_id: str) -> list[str]:
    """Every log line of the run (its tasks' too), oldest first, as the UI shows them."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(run_id)])),
            sort=LogSort.TIMESTAMP_ASC,
        )
    return [log.message for log in logs]


def wait_for_round(engine: Engine, order_id: int, round_: int, timeout: float = 60) -> None:
    """Until the run has looked at `round_ - 1` answers for the order (and waits again)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if next(o for o in orders(engine) if o.id == order_id).approval_round >= round_:
            return
        time.sleep(0.3)
    raise AssertionError(f"the run never took answer {round_ - 1}")


def wait_for_log(run_id: str, text: str, timeout: float = 60) -> str:
    """The run's first log line holding `text`, once it has reached the server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in run_logs(run_id) if text in line]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"no log line of {run_id} says {text!r}: {run_logs(run_id)}")
