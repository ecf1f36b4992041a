"""Offboarding (§7.2, §8.1): when an employment ends, each phone and number of the leaver is
terminated, handed over to a successor or taken over privately.

The flows only sequence the steps in `tasks.offboarding` and wait for people (`flows.common`).
HR starts one for one employee (`offboarding`: the UI's form, `telefoni offboard`); the nightly
sync records its starts, and their runs (`offboarding-batch`) are made from the records, one
per manager and last day. Both go the same way:

    requested → planned → (confirmed by the manager, if the sync started it) → the last day →
    terminated → attested (the checklist) → handed over → the contact centre told
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from flows.common import expected, stopped, wait_for
from models.offboarding_forms import (
    Attestation,
    LastDayWait,
    OffboardingRequest,
    PlanConfirmation,
    TerminationConfirmed,
)
from models.offboarding_rules import PlanError
from models.wording import counted
from tasks.offboarding.prefect_tasks import (
    adopt_task,
    attest_ask_task,
    attest_task,
    confirm_ask_task,
    confirm_task,
    confirmed_terminations_task,
    finish_task,
    last_day_task,
    outcome_task,
    plan_task,
    receive_task,
    recorded_task,
    terminate_task,
    termination_wait_task,
)
from tasks.offboarding.requested import TooLate
from tasks.offboarding.started import run_name
from telefoni.core.municipalities import MunicipalityError
from telefoni.core.settings import get_settings

expected(PlanError, TooLate)

WAIT_DAYS = 400.0  # a run that holds its process (started directly) gives up after this long


def process(ids: list[int], code: str, municipality: str) -> dict[str, Any]:
    """Everything of the run's offboardings, from the plan to the contact centre told."""
    busy = adopt_task(ids, code)
    if busy:
        get_run_logger().warning(
            "Avslutet hanteras redan av körningen %s; den här gör ingenting.", ", ".join(busy)
        )
        return {"avslut": len(ids), "hanteras av": busy}
    planned = plan_task(ids, code)
    if isinstance(planned, PlanError):
        return stopped(planned)
    note: str | None = None
    while (wait := confirm_ask_task(ids, code)).waiting:
        given = wait_for(
            PlanConfirmation,
            key=wait.key,
            description=_noted(note, wait.description),
            deadline_days=WAIT_DAYS,
        )
        note = confirm_task(ids, given, code)
    woken = False
    while (wait := last_day_task(ids, code, woken)).waiting:
        wait_for(LastDayWait, key=wait.key, description=wait.description, deadline_days=WAIT_DAYS)
        woken = True
    terminate_task(ids, code)
    note = None
    while (wait := termination_wait_task(ids, code)).waiting:
        confirmed = wait_for(
            TerminationConfirmed,
            key=wait.key,
            description=_noted(note, wait.description),
            deadline_days=WAIT_DAYS,
        )
        note = confirmed_terminations_task(ids, confirmed.numbers, confirmed.confirmed_by, code)
    note = None
    while (wait := attest_ask_task(ids, code)).waiting:
        attested = wait_for(
            Attestation,
            key=wait.key,
            description=_noted(note, wait.description),
            deadline_days=WAIT_DAYS,
        )
        note = attest_task(ids, attested, code)
    done = finish_task(ids, code)
    rows = outcome_task(ids, code)
    publish(rows, municipality)
    return {"avslut": len(ids), "klara": done}


def _noted(note: str | None, description: str) -> str:
    return f"**{note}**\n\n{description}" if note else description


def publish(rows: list[dict[str, str]], municipality: str) -> None:
    """Where the run's offboardings stand: a summary and a table (no personal identity)."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["vad som händer"]] = counts.get(row["vad som händer"], 0) + 1
    create_markdown_artifact(
        key="offboarding",
        markdown=f"## Avslut av anställning – {municipality}\n\n"
        + f"{counted(len({r['avslut'] for r in rows}), 'avslut', 'avslut')}, "
        + f"{counted(len(rows), 'abonnemang eller telefon', 'abonnemang och telefoner')}.\n\n"
        + "| vad som händer | antal |\n| --- | ---: |\n"
        + "\n".join(f"| {k} | {v} |" for k, v in sorted(counts.items())),
        description="Avslutens läge när körningen slutade",
    )
    create_table_artifact(
        key="offboarding-items",
        table=rows[:500],
        description="Abonnemang och telefoner (de första 500)",
    )


def _single_name() -> str:
    """The UI's name of HR's run: whose offboarding it is, by employee number."""
    try:
        request = flow_run.parameters.get("request") or {}
        number = (
            request.employee_number
            if isinstance(request, OffboardingRequest)
            else str(request.get("employee_number", "")).strip()
        )
        code = get_settings().kommun(flow_run.parameters.get("kommun")).code
    except Exception:  # the run itself then fails, saying why; the name need not
        return "avslut"
    return run_name(code, [number or "okänd"])


@flow(
    name="offboarding",
    flow_run_name=_single_name,
    persist_result=False,
    description="Avslut av en anställning (§7.2, §8.1): den anställdas abonnemang och "
    "telefoner sägs upp, lämnas över till en efterträdare eller tas över privat (§8.2); "
    "checklista med återlämning, lösenkod och fabriksåterställning; besked till "
    "kontaktcenter.",
)
def offboarding(request: OffboardingRequest, kommun: str | None = None) -> dict[str, Any]:
    """Avsluta en anställning: telefoner och abonnemang, checklista och besked.

    Args:
        request: Avslutet: vem som slutar, sista arbetsdag, efterträdare och vad som händer med
            varje nummer och telefon.
        kommun: Kommun: den anställdas kommun. Tomt = den enda kommunen.
    """
    try:
        municipality = get_settings().kommun(kommun)
    except MunicipalityError as exc:
        return stopped(exc)
    ids = receive_task(request, municipality.code)
    if not isinstance(ids, list):
        return stopped(ids)
    return process(ids, municipality.code, municipality.name)


@flow(
    name="offboarding-batch",
    persist_result=False,
    description="Avslut som den nattliga synken har startat (anställningen slutar inom kort, "
    "eller personen finns inte längre i HR-exporten): en körning per chef och sista "
    "arbetsdag; chefen bekräftar eller ändrar att allt sägs upp.",
)
def offboarding_batch(references: list[str], kommun: str | None = None) -> dict[str, Any]:
    """Avslut som synken har registrerat, för en chef och en sista arbetsdag.

    Args:
        references: Avsluten, t.ex. AVS-000123.
        kommun: Kommun: de anställdas kommun. Tomt = den enda kommunen.
    """
    try:
        municipality = get_settings().kommun(kommun)
    except MunicipalityError as exc:
        return stopped(exc)
    ids = recorded_task(references, municipality.code)
    return process(ids, municipality.code, municipality.name)
