"""`telefoni approve` and `telefoni onboard` in their own process, against the test harness."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest
from prefect.settings import PREFECT_API_URL
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from flows.onboarding import onboarding_order
from models.onboarding import OrderStatus
from telefoni.cli import app
from tests import factories
from tests.cli import telefoni
from tests.factories import Workplace, code_of
from tests.flows.onboarding_helpers import (
    Background,
    answer,
    delivery,
    order_for,
    orders,
    read_run,
    wait_for_pause,
)

HEADER = "anstallningsnummer;behovskategori;modell;abonnemang;headset;data\n"


def api() -> str:
    url = PREFECT_API_URL.value()
    assert url, "the test harness sets the API URL"
    return str(url)


def test_approve_refuses_someone_else_and_the_manager_rejects(
    flow_db: Engine, wp: Workplace
) -> None:
    run = Background(onboarding_order, order_for(wp))
    run_id = wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL)
    (before,) = orders(flow_db)

    refused = telefoni(
        "approve", run_id, "--approve", "--as", wp.other_manager,
        engine=flow_db, PREFECT_API_URL=api(),
    )  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert f"{wp.other_manager} får inte besluta" in refused.stderr
    assert f"bara chefen ({wp.manager})" in refused.stderr
    (order,) = orders(flow_db)
    assert order.status is OrderStatus.AWAITING_APPROVAL and order.decided_by is None
    assert order.approval_round == before.approval_round  # the run was never resumed
    state = read_run(run_id).state
    assert state is not None and state.is_paused()

    code = code_of(flow_db, wp.municipality_id, wp.manager)
    rejected = telefoni(
        "approve", order.reference, "--reject", "--as", wp.manager, "--comment", "Räcker inte",
        "--code", code, engine=flow_db, PREFECT_API_URL=api(),
    )  # fmt: skip
    assert rejected.returncode == 0, rejected.stderr
    assert f"Beställningen {order.reference} avslogs av {wp.manager}." in rejected.stdout
    assert run.join()["läge"] == {"rejected": 1}
    (order,) = orders(flow_db)
    assert order.status is OrderStatus.REJECTED
    assert order.decision_comment == "Räcker inte"


def test_approve_with_an_app_orders_only_that_app(flow_db: Engine, wp: Workplace) -> None:
    run = Background(onboarding_order, order_for(wp))
    run_id = wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL)

    code = code_of(flow_db, wp.municipality_id, wp.manager)
    approved = telefoni(
        "approve", run_id, "--approve", "--as", wp.manager, "--app", "ritverktyg pro",
        "--code", code, engine=flow_db, PREFECT_API_URL=api(),
    )  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    (order,) = orders(flow_db)
    assert f"Beställningen {order.reference} godkändes av {wp.manager}." in approved.stdout
    assert "Godkända appar: Ritverktyg Pro." in approved.stdout

    wait_for_pause(flow_db, OrderStatus.ORDERED)
    answer(run_id, **delivery(1))
    assert run.join()["läge"] == {"completed": 1}
    (order,) = orders(flow_db)
    assert order.decided_by == wp.manager
    assert [a["name"] for a in order.apps if a["approved"]] == ["Ritverktyg Pro"]


def order_row(session: Session, wp: Workplace, status: OrderStatus, run_id: str) -> str:
    """An order as a run left it in the register (no run behind it); its reference."""
    row = factories.onboarding_order(
        session,
        wp,
        wp.staff[1],
        status=status,
        apps=[
            {"name": "Ritverktyg Pro", "monthly_cost_sek": "49", "why": "fält", "approved": None}
        ],
        flow_run_id=run_id,
        decided_by=wp.manager if status is OrderStatus.REJECTED else None,
    )
    return row.reference


def test_what_the_commands_refuse_and_why(
    flow_db: Engine, wp: Workplace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every refusal that needs no waiting run. In this process (the same command code;
    a process of its own per case would cost seconds each), each with its own API URL."""
    closed, waiting = str(uuid4()), str(uuid4())
    with Session(flow_db) as session, session.begin():
        rejected = order_row(session, wp, OrderStatus.REJECTED, closed)
        order_row(session, wp, OrderStatus.AWAITING_APPROVAL, waiting)
    bad = tmp_path / "skolstart.csv"
    bad.write_text(HEADER + "E1;2;Telefon A;BAS;ja;ja\nE2;4;Telefon A;BAS;kanske;ja\n")
    good = tmp_path / "hosttermin.csv"  # orders the register can take: checked before the server
    good.write_text(HEADER + f"{wp.staff[0]};2;{wp.standard_model};{wp.option};ja;ja\n")
    batch = ["--name", "Skolstart", "--requested-by", "E9"]
    down = "http://127.0.0.1:9/api"

    def run(*args: str, url: str = api()) -> Result:
        monkeypatch.setenv("PREFECT_API_URL", url)  # the command sets it; undone after the test
        return CliRunner().invoke(app, list(args))

    result = run("approve", str(uuid4()), "--reject", "--as", wp.manager)
    assert result.exit_code == 1
    assert "Ingen beställning i registret hör till körningen" in result.stderr

    result = run("approve", closed, "--approve", "--as", wp.manager)
    assert result.exit_code == 1
    assert f"{rejected}: avslagen (beslut av {wp.manager})" in result.stderr

    result = run("approve", waiting, "--approve", "--as", "E" * 21)
    assert result.exit_code == 2
    assert "--as: ett anställningsnummer har högst 20 tecken." in result.stderr

    result = run("approve", waiting, "--approve", "--as", wp.manager, "--app", "Rit")
    assert result.exit_code == 2
    assert "ingen app i beställningen heter 'Rit'" in result.stderr
    assert "Appar i beställningen: Ritverktyg Pro." in result.stderr

    result = run("approve", waiting, "--approve", "--as", wp.manager)
    assert result.exit_code == 1  # in the register, but Prefect has no such run
    assert f"känner inte till körningen {waiting}" in result.stderr

    result = run("onboard", "--batch", str(bad), *batch)
    assert result.exit_code == 2
    assert "inget har startats" in result.stderr
    assert "skolstart.csv, rad 3, kolumn behovskategori: måste vara 1, 2 eller 3" in result.stderr
    assert "skolstart.csv, rad 3, kolumn headset: skriv ja eller nej" in result.stderr
    assert "Prefect" not in result.stderr  # refused before the server was asked anything

    result = run("onboard", "--batch", str(good), *batch, url=down)
    assert result.exit_code == 1
    assert f"Prefect-servern svarar inte på {down}" in result.stderr
    assert "./dev up" in result.stderr

    result = run("onboard", "--batch", str(good), *batch)
    assert result.exit_code == 1  # the harness serves no deployments
    assert "Deploymenten onboarding-batch/onboarding-batch finns inte" in result.stderr
    assert "./dev up" in result.stderr

    result = run(
        "onboard", "--employee", wp.staff[0], "--category", "2", "--model", wp.standard_model,
        "--subscription", wp.option, "--requested-by", wp.manager, "--deviation", "tålig",
        "--app", "Kartor Plus;19,50;navigering", url=down,
    )  # fmt: skip
    assert result.exit_code == 1, result.stderr  # a valid order: only the server is missing
    assert "./dev up" in result.stderr

    result = run("onboard", "--employee", wp.staff[0], "--category", "4", "--wanted-by", "i höst")
    assert result.exit_code == 2
    for line in (
        "--category: måste vara 1, 2 eller 3",
        "--model: saknas",
        "--subscription: saknas",
    ):
        assert line in result.stderr
