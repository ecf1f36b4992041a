"""Summer workers leave: 500 employments ending the same day, started by one nightly sync and
carried through termination and attestation, against a running Prefect server.

    uv run python bench/offboarding.py [--leavers 500] [--employees 3000]
                                       [--engine sqlite|postgresql|both]

The issue's target (#16, Done-when 7):

    "`bench/offboarding.py`: 500 employments ending on the same day (summer workers), started
    by one sync and carried through termination and attestation against a running Prefect
    server; the note quotes leavers per minute, the sync's extra time for starting them
    against the same sync without, and Prefect task runs per leaver. Target: at least 100
    leavers per minute end to end, and the sync with 500 leavers to start takes at most 20 %
    longer than the same sync without."

Per engine, this process (which never imports Prefect) sets up, in a temporary folder, a
Prefect server of its own (`prefect server start` on a free loopback port, embedded SQLite),
the operator's API (the integration tests' HTTP stand-in on 127.0.0.1, in a process of its
own; it confirms each termination at once) and a throw-away register (an SQLite file, or a new
database on TELEFONI_TEST_POSTGRES_URL). A child process, with the Prefect and TELEFONI_*
settings in its environment (operator gateway "http"), then:

* loads the demo town (`--employees`, fictional) and picks `--leavers` of its staff who hold
  a personal subscription with a phone on it (setup, not timed);
* serves the offboarding-batch deployment, as `telefoni up` does (a process of its own, which
  starts a process per run execution);
* syncs the town's export once unchanged (warm-up), then twice, timed, each a call of the
  directory-sync flow: "sync without" — the leavers' end dates moved to 200 days ahead (500
  changed rows, nothing to start) —, then "sync with" — the same rows' end dates set to today
  (500 changed rows, 500 offboardings recorded and their run made);
* answers for the people, as `telefoni answer` / `telefoni attest` would (the ask mechanism's
  `answer` with the code from each mail, then one wake of the run): each manager confirms the
  plan (everything terminated); once the run waits for the checklist, each employee attests
  the passcode reset and each manager the phones returned and factory reset;
* waits until the run has ended and every offboarding is completed, and checks that the
  operator holds exactly one termination per leaver.

Columns: "sync w/o s" and "sync with s" the two timed syncs (the flow call, its Prefect run
included) and their ratio; "to plan s" from the start of the timed sync with leavers until the
run waited for the managers (the sync, the run made and picked up, the plan); "answer s" the
answering (all asks, both rounds); "end to end s" from the start of that sync until the run
ended and all were completed, and "leavers/min" over it; "runs" the offboarding runs made,
"task runs" Prefect task runs of those runs (every execution), per leaver; "RSS MB" the peak
RSS of the child (setup included).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from onboarding import _without_prefect, operator_stand_in, prefect_server  # bench/onboarding.py

from tests.scratch import fresh_database

TODAY = date.today()
CODE = re.compile(r"Din engångskod: (\d{4} \d{4})")


def _setup(leavers: int, employees: int, folder: Path) -> tuple[list[str], Any]:
    """The demo town in the register; the leavers' employee numbers and the export frame."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from models.register import Device, Employee, Subscription, SubscriptionStatus
    from telefoni import demo
    from telefoni.core import migrate
    from telefoni.core.db import get_engine
    from telefoni.core.settings import get_settings
    from telefoni.core.tenancy import municipality_id
    from telefoni.core.vault import vault_from

    settings = get_settings()
    engine = get_engine(settings.database_url)
    migrate.upgrade(engine)
    town = demo.generate(employees=employees, seed=7, today=TODAY)
    with Session(engine) as session, session.begin():
        where = municipality_id(session, settings.kommun(None))
        demo.load(session, town, vault=vault_from(settings), municipality_id=where)
    with Session(engine) as session:
        numbers = list(
            session.scalars(
                select(Employee.employee_number)
                .join(Subscription, Subscription.owner_id == Employee.id)
                .join(Device, Device.subscription_id == Subscription.id)
                .where(
                    Subscription.status == SubscriptionStatus.ACTIVE,
                    Device.holder_id == Employee.id,
                    Employee.manager_id.is_not(None),
                )
                .distinct()
                .order_by(Employee.employee_number)
                .limit(leavers)
            )
        )
    if len(numbers) < leavers:
        raise SystemExit(f"the town has only {len(numbers)} staff with a phone; raise --employees")
    frame = demo.hr_export_frame(town)
    frame.to_csv(folder / "hr.csv", sep=";", index=False, encoding="utf-8-sig")
    return numbers, frame


def _export(frame: Any, numbers: list[str], end: date | None, path: Path) -> Path:
    chosen = frame["anstallningsnummer"].isin(numbers)
    out = frame.copy()
    if end is not None:
        out.loc[chosen, "anstallning_tom"] = end.isoformat()
    out.to_csv(path, sep=";", index=False, encoding="utf-8-sig")
    return path


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    code = (
        "from prefect import serve\n"
        "from telefoni.up import load_deployments\n"
        "serve(*[d for d in load_deployments() if d.name == 'offboarding-batch'])\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env={**env, "PREFECT_RUNNER_POLL_FREQUENCY": "1"},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _codes(session: Any, template: str) -> dict[str, str]:
    """Recipient address → the latest one-time code mailed to it with `template`."""
    from sqlalchemy import select

    from models.outbox import OutboxMessage

    found: dict[str, str] = {}
    for recipient, body in session.execute(
        select(OutboxMessage.recipient, OutboxMessage.body_text)
        .where(OutboxMessage.template == template)
        .order_by(OutboxMessage.id)
    ):
        if (m := CODE.search(body)) is not None:
            found[recipient] = m.group(1)
    return found


def _answer_all(kind_name: str, template: str, reply: str) -> tuple[int, str | None]:
    """Every open ask of the kind answered by its person with their mailed code, in one
    transaction each (as the terminal does); the run to wake."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session, selectinload

    from models.asks import Ask, AskStatus
    from models.base import utcnow
    from tasks.kinds import KINDS
    from tasks.people import Given, answer, ask_context_from
    from telefoni.core.db import get_engine
    from telefoni.core.settings import get_settings
    from telefoni.core.tenancy import municipality_id_of

    settings = get_settings()
    engine = get_engine(settings.database_url)
    municipality = settings.kommun(None)
    ctx = ask_context_from(settings, municipality, municipality_id_of(engine, municipality))
    kind = KINDS[kind_name]
    with Session(engine) as session:
        codes = _codes(session, template)
        asks = list(
            session.scalars(
                select(Ask)
                .where(Ask.kind == kind_name, Ask.status == AskStatus.OPEN)
                .options(selectinload(Ask.assignee))
                .order_by(Ask.id)
            )
        )
        todo = [
            (a.id, a.assignee.employee_number, codes[str(a.assignee.email)])
            for a in asks
            if a.assignee
        ]
        run_id = asks[0].flow_run_id if asks else None
    for ask_id, who, code in todo:
        with Session(engine) as session, session.begin():
            outcome = answer(
                session,
                ask_id,
                Given(who=who, code=code, answer=reply),
                kind=kind,
                ctx=ctx,
                now=utcnow(),
            )
            assert outcome.accepted, outcome.message
    return len(todo), run_id


def _wake(run_id: str, run_input: dict[str, Any]) -> None:
    from uuid import UUID

    from prefect.flow_runs import resume_flow_run

    resume_flow_run(UUID(run_id), run_input=run_input)


def _until(check: Any, what: str, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def run_one(folder: str, leavers: int, employees: int) -> dict[str, Any]:
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from flows.directory_sync import directory_sync
    from models import offboarding_notices as notices
    from models.offboarding import Offboarding, OffboardingStatus
    from telefoni.core.db import get_engine
    from telefoni.core.settings import get_settings

    base = Path(folder)
    t0 = time.perf_counter()
    numbers, frame = _setup(leavers, employees, base)
    setup_s = time.perf_counter() - t0
    engine = get_engine(get_settings().database_url)

    def statuses() -> dict[str, int]:
        with Session(engine) as session:
            rows = session.execute(
                select(Offboarding.status, func.count()).group_by(Offboarding.status)
            ).all()
        return {s.value: n for s, n in rows}

    server = _serve(dict(os.environ), base / "serve.log")
    try:
        with get_client(sync_client=True) as client:
            _until(lambda: _served(client), "the deployment to be served", 180)
            directory_sync(path=str(_export(frame, [], None, base / "hr-0.csv")))  # warm-up
            t = time.perf_counter()
            directory_sync(
                path=str(_export(frame, numbers, TODAY + timedelta(days=200), base / "hr-a.csv"))
            )
            without_s = time.perf_counter() - t
            assert statuses() == {}, statuses()

            started = time.perf_counter()
            directory_sync(path=str(_export(frame, numbers, TODAY, base / "hr-b.csv")))
            with_s = time.perf_counter() - started
            assert sum(statuses().values()) == leavers, statuses()

            def waiting(status: OffboardingStatus) -> bool:
                if statuses() != {status.value: leavers}:
                    return False
                with Session(engine) as session:
                    run = session.scalar(select(Offboarding.flow_run_id).limit(1))
                state = client.read_flow_run(UUID(str(run))).state if run else None
                return state is not None and state.is_paused()

            _until(lambda: waiting(OffboardingStatus.CONFIRMING), "the plan's wait")
            to_plan_s = time.perf_counter() - started
            a = time.perf_counter()
            managers, run_id = _answer_all("offboarding_plan", notices.PLAN_REQUEST, "bekräfta")
            assert run_id is not None
            _wake(run_id, {"decision": "bekräfta", "decided_by": "system", "changes": []})
            answer_s = time.perf_counter() - a
            _until(lambda: waiting(OffboardingStatus.CARRYING_OUT), "the checklist's wait")
            a = time.perf_counter()
            owners, _ = _answer_all("offboarding_checklist", notices.CHECKLIST_REQUEST, "intygar")
            _wake(run_id, {"attested_by": "system", "code": ""})
            answer_s += time.perf_counter() - a

            def ended() -> bool:
                state = client.read_flow_run(UUID(run_id)).state
                return state is not None and state.is_final()

            _until(ended, "the run to end")
            end_to_end_s = time.perf_counter() - started
            final = client.read_flow_run(UUID(run_id)).state
            assert final is not None and final.is_completed(), final
            assert statuses() == {OffboardingStatus.COMPLETED.value: leavers}, statuses()
            deployment = client.read_deployment_by_name("offboarding-batch/offboarding-batch")
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    deployment_id=FlowRunFilterDeploymentId(any_=[deployment.id])
                )
            )
            time.sleep(3)  # task runs reach the server through its event pipeline
            task_runs = 0
            for run in runs:
                offset = 0
                while True:
                    page = client.read_task_runs(
                        task_run_filter=TaskRunFilter(
                            flow_run_id=TaskRunFilterFlowRunId(any_=[run.id])
                        ),
                        limit=200,
                        offset=offset,
                    )
                    task_runs += len(page)
                    offset += len(page)
                    if len(page) < 200:
                        break
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
    return {
        "setup_s": setup_s,
        "without_s": without_s,
        "with_s": with_s,
        "to_plan_s": to_plan_s,
        "answer_s": answer_s,
        "end_to_end_s": end_to_end_s,
        "runs": len(runs),
        "task_runs": task_runs,
        "managers": managers,
        "owners": owners,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _served(client: Any) -> bool:
    from prefect.exceptions import ObjectNotFound

    try:
        client.read_deployment_by_name("offboarding-batch/offboarding-batch")
    except ObjectNotFound:
        return False
    return True


def bench(kind: str, leavers: int, employees: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="offboarding-bench-") as tmp,
        prefect_server(Path(tmp)) as (env, _server),
        operator_stand_in() as (operator_url, counters),
        fresh_database(kind, Path(tmp), prefix="telefoni_bench") as url,
    ):
        out = Path(tmp) / "result.json"
        settings = {
            "TELEFONI_ENVIRONMENT": "test",
            "TELEFONI_DATA_DIR": str(Path(tmp) / "data"),
            "TELEFONI_DATABASE_URL": url,
            "TELEFONI_OPERATOR_GATEWAY": "http",
            "TELEFONI_OPERATOR_API_URL": operator_url,
            "TELEFONI_APPROVAL_POLL_SECONDS": "1",
        }
        proc = subprocess.run(
            [sys.executable, __file__, "--one", tmp, str(leavers), str(employees), str(out)],
            env={**_without_prefect(dict(os.environ)), **env, **settings},
        )
        operator = counters()
        if proc.returncode:
            raise SystemExit(f"{kind}: the worker failed (exit {proc.returncode})")
        r: dict[str, Any] = json.loads(out.read_text())
    assert operator.get("terminations") == leavers, operator
    r |= {"kind": kind, "leavers": leavers, "terminations": operator["terminations"]}
    return r


HEADER = (
    f"{'engine':<11}{'leavers':>8}{'sync w/o s':>11}{'sync with s':>12}{'ratio':>7}"
    f"{'to plan s':>10}{'answer s':>9}{'end to end s':>13}{'leavers/min':>12}{'runs':>5}"
    f"{'task runs':>10}{'/leaver':>8}{'RSS MB':>8}"
)


def line(r: dict[str, Any]) -> str:
    n = r["leavers"]
    return (
        f"{r['kind']:<11}{n:>8}{r['without_s']:>11.2f}{r['with_s']:>12.2f}"
        f"{r['with_s'] / r['without_s']:>7.2f}{r['to_plan_s']:>10.1f}{r['answer_s']:>9.1f}"
        f"{r['end_to_end_s']:>13.1f}{n / r['end_to_end_s'] * 60:>12.0f}{r['runs']:>5}"
        f"{r['task_runs']:>10}{r['task_runs'] / n:>8.3f}{r['peak_mb']:>8.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leavers", type=int, default=500)
    parser.add_argument("--employees", type=int, default=3000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        folder, leavers, employees, out = args.one
        Path(out).write_text(json.dumps(run_one(folder, int(leavers), int(employees))))
        return
    kinds = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    results = [bench(kind, args.leavers, args.employees) for kind in kinds]
    print(HEADER)
    print("-" * len(HEADER))
    for r in results:
        print(line(r))
    for r in results:
        ratio = r["with_s"] / r["without_s"]
        per_min = r["leavers"] / r["end_to_end_s"] * 60
        print(
            f"{r['kind']}: {per_min:.0f} leavers/min (target ≥ 100: "
            f"{'met' if per_min >= 100 else 'MISSED'}); the sync with leavers to start "
            f"{(ratio - 1) * 100:+.0f} % (target ≤ +20 %: {'met' if ratio <= 1.2 else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
