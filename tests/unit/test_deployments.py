"""Every deployment in prefect.yaml loads, its run form speaks Swedish, and a flow that does
one municipality's work runs on schedule for each municipality and asks which in its form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.utilities.schema_tools.validation import ValidationError, validate

from models.onboarding_forms import CATEGORY_CHOICES
from telefoni.up import KOMMUN_HELP, PARAMETER_TITLES, load_deployments
from tests import factories

SJOBACKA = factories.municipality_settings("sjobacka", "Sjöbacka kommun")
ALVNAS = factories.municipality_settings("alvnas", "Älvnäs kommun")
TWO = (SJOBACKA, ALVNAS)

# Two small flows of our own: one that does one municipality's work, one that does not.
FLOWS = '''
from prefect import flow


@flow(name="per-kommun")
def per_kommun(dry_run: bool = False, kommun: str | None = None) -> None:
    """Test.

    Args:
        dry_run: Provkörning.
        kommun: Which municipality.
    """


@flow(name="for-all")
def for_all(batch_size: int = 5) -> None:
    """Test.

    Args:
        batch_size: Hur många.
    """
'''


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    """A prefect.yaml of the two flows: both on a schedule, both with a concurrency limit."""
    (tmp_path / "flows_under_test.py").write_text(FLOWS)
    entry = str(tmp_path / "flows_under_test.py")
    limit = {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    deployments = [
        {
            "name": "per-kommun",
            "entrypoint": f"{entry}:per_kommun",
            "description": "Per kommun.",
            "parameters": {"dry_run": False},
            "schedules": [
                {"cron": "0 2 * * *", "timezone": "Europe/Stockholm"},
                {
                    "cron": "0 14 * * 6",
                    "parameters": {"kommun": "Sjöbacka kommun"},
                    "active": False,
                },
            ],
        },
        {
            "name": "for-all",
            "entrypoint": f"{entry}:for_all",
            "description": "För alla.",
            "schedules": [{"interval": 60}],
            "concurrency_limit": limit,
        },
    ]
    path = tmp_path / "prefect.yaml"
    path.write_text(yaml.safe_dump({"deployments": deployments}, allow_unicode=True))
    return path


def _schedules(deployment: Any) -> list[tuple[Any, ...]]:
    return [
        (
            getattr(s.schedule, "cron", None) or s.schedule.interval.total_seconds(),
            s.schedule.timezone,
            s.parameters,
            s.slug,
            s.active,
        )
        for s in deployment.schedules or []
    ]


def test_every_deployment_loads_with_titled_and_described_parameters() -> None:
    deployments = {d.name: d for d in load_deployments()}

    assert {"directory-sync", "notification-relay", "onboarding-order", "onboarding-batch"} <= set(
        deployments
    )
    for deployment in deployments.values():
        assert deployment.description, deployment.name
        for name, spec in deployment._parameter_openapi_schema.properties.items():
            assert spec["title"] == PARAMETER_TITLES[name], (deployment.name, name)
            assert spec.get("description"), (deployment.name, name)


def test_the_order_form_labels_its_fields_in_swedish() -> None:
    (order,) = [d for d in load_deployments() if d.name == "onboarding-order"]
    schema = order._parameter_openapi_schema
    fields = schema.definitions["OrderRequest"]["properties"]

    assert schema.properties["order"]["title"] == "Beställning"
    assert fields["need_category"]["title"] == "Behovskategori"
    assert "§4.1" in fields["need_category"]["description"]
    # Chosen by its words, read back as its digit (the UI shows a choice by its value).
    assert fields["need_category"]["enum"] == list(CATEGORY_CHOICES.values())
    assert fields["employee_number"]["title"] == "Anställningsnummer"


def test_a_flow_for_one_municipality_runs_on_schedule_for_each(spec: Path) -> None:
    per_kommun, for_all = load_deployments(spec, TWO)

    assert _schedules(per_kommun) == [
        (
            "0 2 * * *",
            "Europe/Stockholm",
            {"kommun": "Sjöbacka kommun"},
            "per-kommun-sjobacka",
            True,
        ),
        ("0 2 * * *", "Europe/Stockholm", {"kommun": "Älvnäs kommun"}, "per-kommun-alvnas", True),
        # A schedule that names its municipality is for that one only.
        ("0 14 * * 6", None, {"kommun": "Sjöbacka kommun"}, "per-kommun-2", False),
    ]
    assert per_kommun.concurrency_limit is None
    assert per_kommun.parameters == {"dry_run": False}
    # A flow for all municipalities: its schedule and limit as they are.
    assert _schedules(for_all) == [(60.0, "UTC", {}, "for-all", True)]
    assert for_all.concurrency_limit == 1
    assert "kommun" not in for_all._parameter_openapi_schema.properties


def test_kommun_is_a_list_of_the_municipalities_to_choose_from(spec: Path) -> None:
    per_kommun, _ = load_deployments(spec, TWO)
    schema = per_kommun._parameter_openapi_schema

    assert schema.properties["kommun"] == {
        "title": "Kommun",
        "description": KOMMUN_HELP,
        "type": "string",  # not anyOf string/null: the UI would show a type switch
        "enum": ["Sjöbacka kommun", "Älvnäs kommun"],
        "position": 1,
    }
    assert "kommun" in schema.required  # several: no default, the admin chooses
    form = schema.model_dump_for_openapi()
    # What the server checks a run's parameters against (enforce_parameter_schema).
    validate({"kommun": "Älvnäs kommun", "dry_run": True}, form, raise_on_error=True)
    for wrong in ({}, {"kommun": None}, {"kommun": "Lund"}, {"kommun": "alvnas"}):
        with pytest.raises(ValidationError):
            validate(wrong, form, raise_on_error=True)


def test_with_one_municipality_it_is_chosen_already(spec: Path) -> None:
    per_kommun, _ = load_deployments(spec, (SJOBACKA,))
    schema = per_kommun._parameter_openapi_schema

    assert schema.properties["kommun"]["enum"] == ["Sjöbacka kommun"]
    assert schema.properties["kommun"]["default"] == "Sjöbacka kommun"
    assert "kommun" not in schema.required
    validate({}, schema.model_dump_for_openapi(), raise_on_error=True)
    assert [s[2] for s in _schedules(per_kommun)] == [{"kommun": "Sjöbacka kommun"}] * 2


def test_the_directory_sync_has_no_deployment_limit() -> None:
    deployments = {d.name: d for d in load_deployments(municipalities=TWO)}

    # Each municipality's sync takes its own lock; a deployment limit would cancel the
    # others' when their schedules fire together.
    assert deployments["directory-sync"].concurrency_limit is None
    assert deployments["notification-relay"].concurrency_limit == 1
    for deployment in deployments.values():
        kommun = deployment._parameter_openapi_schema.properties.get("kommun")
        if kommun is not None:
            assert kommun["enum"] == ["Sjöbacka kommun", "Älvnäs kommun"], deployment.name


def test_the_directory_sync_runs_nightly_for_each_municipality() -> None:
    (sync,) = [d for d in load_deployments(municipalities=TWO) if d.name == "directory-sync"]
    if "kommun" not in sync._parameter_openapi_schema.properties:
        pytest.skip("the directory-sync flow takes no kommun parameter on this branch yet")

    assert _schedules(sync) == [
        ("0 2 * * *", "Europe/Stockholm", {"kommun": m.name}, f"directory-sync-{m.code}", True)
        for m in TWO
    ]


def test_the_reminders_watch_runs_hourly_one_at_a_time_for_all_municipalities() -> None:
    (watch,) = [d for d in load_deployments(municipalities=TWO) if d.name == "reminders"]

    assert _schedules(watch) == [("0 * * * *", "Europe/Stockholm", {}, "reminders", True)]
    assert watch.concurrency_limit == 1
    assert "kommun" not in watch._parameter_openapi_schema.properties  # one run: every one
