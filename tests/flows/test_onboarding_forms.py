"""What a person sees of onboarding in the Prefect UI and the terminal, as `telefoni up` serves it.

The onboarding deployments are served by a process of their own, built by `load_deployments`
from the register, as `telefoni up` builds them: the order form offers the catalogue, a
refusal or a bad input ends its run with a Swedish message and no traceback, and the terminal
refuses what it can tell is wrong before any run starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL
from sqlalchemy import Engine

from models.onboarding import OrderStatus
from models.onboarding_forms import CATEGORY_CHOICES
from tests.cli import telefoni
from tests.factories import Workplace
from tests.flows.onboarding_helpers import order_for, orders, wait_for_state
from tests.flows.serving import Served

ORDER, BATCH = "onboarding-order/onboarding-order", "onboarding-batch/onboarding-batch"


def api() -> str:
    return str(PREFECT_API_URL.value())


@pytest.fixture
def served(wp: Workplace, tmp_path: Path) -> Iterator[Served]:
    """The onboarding deployments served from the register of `wp` (its catalogue)."""
    server = Served(("onboarding-order", "onboarding-batch"), tmp_path / "serve.log")
    try:
        server.wait_until_served()
        yield server
    finally:
        server.kill()


def schema_of(name: str) -> dict[str, Any]:
    with get_client(sync_client=True) as client:
        schema = client.read_deployment_by_name(name).parameter_openapi_schema
    assert schema is not None
    return schema


def flow_runs() -> list[FlowRun]:
    """The onboarding runs on the server."""
    onboarding = FlowFilter(name=FlowFilterName(any_=["onboarding-order", "onboarding-batch"]))
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_filter=onboarding)


def nullable(prop: dict[str, Any]) -> bool:
    return any(alt.get("type") == "null" for alt in prop.get("anyOf", ()))


def test_the_served_order_form_offers_the_catalogue_as_choices(
    flow_db: Engine, wp: Workplace, served: Served
) -> None:
    for name in (ORDER, BATCH):
        schema = schema_of(name)
        order = schema["definitions"]["OrderRequest"]["properties"]
        app = schema["definitions"]["AppRequest"]["properties"]

        assert {wp.standard_model, wp.rugged_model} <= set(order["phone_model"]["enum"])
        assert f"Standardmodell: {wp.standard_model}" in order["phone_model"]["description"]
        assert wp.option in order["subscription_option"]["enum"]
        assert f"{wp.option} = " in order["subscription_option"]["description"]
        category = order["need_category"]["enum"]
        assert category[1].startswith("2 – arbetar på kontoret") and len(category) == 3
        assert order["deviation_reason"]["default"] == "ingen avvikelse"
        for field, prop in [*order.items(), *app.items()]:
            assert not nullable(prop), (name, field)
            assert "anyOf" not in prop, (name, field)  # no type switch in the UI at all
            assert prop.get("title") and prop.get("description"), (name, field)


def test_the_terminal_refuses_what_it_can_tell_before_a_run_starts(
    flow_db: Engine, wp: Workplace, served: Served, tmp_path: Path
) -> None:
    order = [
        "onboard", "--model", wp.standard_model, "--subscription", wp.option,
        "--requested-by", wp.manager,
    ]  # fmt: skip
    before = len(flow_runs())

    unknown = telefoni(
        *order, "--employee", "A999998", "--category", "2", engine=flow_db, PREFECT_API_URL=api()
    )
    assert unknown.returncode == 2, unknown.stderr
    assert "inget har startats" in unknown.stderr
    assert "anställningsnumret A999998 finns inte i registret" in unknown.stderr
    refused = telefoni(
        *order, "--employee", wp.staff[0], "--category", "3", engine=flow_db, PREFECT_API_URL=api()
    )
    assert refused.returncode == 2, refused.stderr
    assert "§4.1: behovskategori 3" in refused.stderr
    batch = tmp_path / "skolstart.csv"
    batch.write_text(
        "anstallningsnummer;behovskategori;modell;abonnemang\n"
        f"{wp.staff[0]};2;{wp.standard_model};{wp.option}\n"
        f"A999998;2;{wp.standard_model};GULD\n"
    )
    in_batch = telefoni(
        "onboard", "--batch", str(batch), "--name", "Skolstart", "--requested-by", wp.manager,
        engine=flow_db, PREFECT_API_URL=api(),
    )  # fmt: skip
    assert in_batch.returncode == 2, in_batch.stderr
    assert "A999998: anställningsnumret A999998 finns inte i registret" in in_batch.stderr
    assert len(flow_runs()) == before  # nothing started
    assert orders(flow_db) == []

    # What passes is started, as the served form takes it (the model typed in other case).
    started = telefoni(
        "onboard", "--employee", wp.staff[0], "--category", "2",
        "--model", wp.standard_model.upper(), "--subscription", wp.option.lower(),
        "--requested-by", wp.manager, engine=flow_db, PREFECT_API_URL=api(),
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert f"({wp.staff[0]}) är startad" in started.stdout
    assert len(flow_runs()) == before + 1


def test_a_refusal_or_a_bad_input_ends_its_run_in_swedish_without_a_traceback(
    flow_db: Engine, wp: Workplace, served: Served
) -> None:
    category_3 = order_for(wp, need_category=3).model_dump(mode="json")
    assert category_3["need_category"] == CATEGORY_CHOICES[3]  # as the form sends it
    unknown = order_for(wp, employee_number="A999998").model_dump(mode="json")
    runs = {}
    for case, order in (("okänd", unknown), ("kategori 3", category_3)):
        started = run_deployment(ORDER, parameters={"order": order}, timeout=0)
        assert isinstance(started, FlowRun)
        runs[case] = str(started.id)

    ended = {case: wait_for_state(run_id, "Failed") for case, run_id in runs.items()}
    served.wait_until_idle()

    assert ended["okänd"].state is not None and ended["kategori 3"].state is not None
    assert ended["okänd"].state.message == (
        "Anställningsnummer finns inte i registret för Hallsbergs kommun: A999998"
    )
    assert "avvisades enligt riktlinjerna" in (ended["kategori 3"].state.message or "")
    assert "§4.1" in (ended["kategori 3"].state.message or "")
    steps = {}
    with get_client(sync_client=True) as client:
        for case, run_id in runs.items():
            this_run = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(run_id)]))
            tasks = client.read_task_runs(flow_run_filter=this_run)
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(run_id)]))
            )
            text = "\n".join(log.message for log in logs)
            assert tasks and all(t.run_count == 1 for t in tasks), (case, tasks)  # no retry
            assert "Traceback" not in text, (case, text)
            assert "unexpected exception" not in text, (case, text)
            assert "Körningen avslutades:" in text, (case, text)
            steps[case] = [t.name.rsplit("-", 1)[0] for t in tasks]
            if case == "kategori 3":  # what each step did, with counts
                assert "Tog emot 1 beställning (1 ny)." in text
                assert "Kontrollerade 1 beställning: 1 avvisades (§4.1)." in text
    assert steps["okänd"] == ["Ta emot beställningar"]  # one task run; nothing stored
    assert served.log is not None
    assert "Traceback" not in served.log.read_text()  # nor in the terminal that serves them
    assert "Kontrollera mot riktlinjerna" in steps["kategori 3"]
    assert [o.status for o in orders(flow_db)] == [OrderStatus.REFUSED]
