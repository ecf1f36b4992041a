"""A batch of onboarding orders, end to end, against a running Prefect server.

    uv run python bench/onboarding.py [--orders 500] [--engine sqlite|postgresql|both]
                                      [--profile [FILE]]

The issue's target (#5, Done-when 6):

    "`bench/onboarding.py`: 500 orders approved as one batch, processed end to end against a
    running Prefect server; the note quotes orders per minute and Prefect task runs per order."

Per engine, this process (which never imports Prefect) sets up, in a temporary folder:

* a Prefect server of its own: `prefect server start` on a free loopback port, with its own
  PREFECT_HOME (embedded SQLite), analytics and UI off; ready once /api/health answers;
* the operator's order API: the real HTTP stand-in from the integration tests
  (`tests.integration.operator_stand_in.OperatorStandIn`, on 127.0.0.1, `auto_deliver_after=0`:
  each order is delivered the moment it arrives), in a process of its own so that it does not
  share the flow's interpreter lock; it reports how many orders and calls it received;
* a throw-away register (an SQLite file, or a new database on TELEFONI_TEST_POSTGRES_URL,
  dropped afterwards).

Then a child process, with PREFECT_API_URL and the TELEFONI_* settings in its environment
from the start (operator gateway "http", approval poll 1 s), acts as the worker: it migrates
the register and fills it with one manager and N fictional employees reporting to them
(birth numbers 980–999, a vault with random keys), a standard smartphone and a subscription
option with data (setup, not timed). It calls `onboarding_batch(orders=[N orders],
name="Skolstart bench")` in a thread, waits until the run is paused for approval, resumes it
with the manager's approval of the whole batch, and waits for the flow to end. It checks that
every order is `completed` in the register, and the parent that the stand-in holds exactly N
orders.

Columns: "wall s" from the flow call to its return; "to approval s" from the call until the
run was seen paused for the decision (receive, check, ask); "after approval s" from the
resume until the flow returned (the run notices the answer within its 1 s poll; then order,
deliveries, registration, notices); "orders/min" N per wall minute and per minute after the
approval; "task runs" Prefect task runs of the flow run as the server records them; "SQL" the
statements the flow sent to the register (per order); "HTTP" requests the operator received
(per order); "RSS MB" the worker's peak RSS (setup included), "server MB" the sum of the
peak RSS of the Prefect server's processes. A second table splits the run by task: task runs,
seconds as the server recorded them (start to end), and SQL statements sent inside each.
`--profile` runs the flow's thread under cProfile (slower: compare only with itself).

Prefect refuses flow-run parameters over 512 KiB when serialized: with orders of this shape
(no apps, no notes; about 280 bytes each) a batch tops out near 1,850 orders.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import multiprocessing
import os
import pstats
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.scratch import fresh_database

HOST = "127.0.0.1"
BATCH_NAME = "Skolstart bench"
MANAGER = "BENCH-CHEF"
PHONE_MODEL = "Nordfon Bänk 5"
OPTION = "BANK10"


# ---------------------------------------------------------------------------- the servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def prefect_env(home: Path, port: int) -> dict[str, str]:
    """What the server and its clients need: this server, this home, nothing sent out."""
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://{HOST}:{port}/api",
        "PREFECT_SERVER_API_HOST": HOST,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"),
    }


def _without_prefect(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(("PREFECT_", "TELEFONI_"))}


@contextmanager
def prefect_server(folder: Path) -> Iterator[tuple[dict[str, str], subprocess.Popen[bytes]]]:
    """`prefect server start` on a free loopback port; its environment and process."""
    home = folder / "prefect"
    home.mkdir()
    env = prefect_env(home, _free_port())
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    port = env["PREFECT_SERVER_API_PORT"]
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", port],
        env={**_without_prefect(dict(os.environ)), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as a whole below
    )
    try:
        started = time.perf_counter()
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the Prefect server exited ({home / 'server.log'})")
            try:
                with urllib.request.urlopen(f"{env['PREFECT_API_URL']}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the Prefect server did not answer within 180 s")
            time.sleep(0.3)
        print(
            f"# Prefect server on {env['PREFECT_API_URL']} ready in "
            f"{time.perf_counter() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        yield env, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def group_peak_mb(pgid: int) -> float:
    """The sum of VmHWM (peak RSS) over the live processes of a process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except (OSError, ProcessLookupError):
            continue
    return total / 1024


def _stand_in(conn: Connection) -> None:
    """The operator stand-in, in a process of its own: URL out, then counters on request."""
    from tests.integration.operator_stand_in import OperatorStandIn

    api = OperatorStandIn(auto_deliver_after=0)
    api.start()
    conn.send(api.url)
    try:
        conn.recv()  # asked for the counters: the run is over
        conn.send(
            {"orders": len(api.orders), "calls": api.calls, "terminations": len(api.terminations)}
        )
    except EOFError:  # the bench gave up without asking
        pass
    finally:
        api.stop()


@contextmanager
def operator_stand_in() -> Iterator[tuple[str, Callable[[], dict[str, int]]]]:
    """The stand-in's URL, and a function that returns its counters (once, at the end)."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    process = ctx.Process(target=_stand_in, args=(theirs,), daemon=True)
    process.start()
    try:
        if not ours.poll(60):
            raise RuntimeError("the operator stand-in did not start")
        url: str = ours.recv()

        def counters() -> dict[str, int]:
            ours.send("counters")
            answer: dict[str, int] = ours.recv()
            return answer

        yield url, counters
    finally:
        ours.close()
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()


# ---------------------------------------------------------------------------- the worker


def fill(url: str, orders: int) -> None:
    """One manager with `orders` direct reports, a standard phone, an option with data."""
    from decimal import Decimal

    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from models.personnummer import PersonnummerVault, make_personnummer
    from models.register import CostCentre, Employee, OrgUnit, PhoneModel, SubscriptionOption
    from telefoni.core import migrate
    from telefoni.core.db import make_engine
    from telefoni.core.settings import get_settings
    from telefoni.core.tenancy import municipality_id

    vault = PersonnummerVault(
        encryption_key=secrets.token_bytes(32), lookup_key=secrets.token_bytes(32)
    )
    # Fictional: birth numbers 980–999 only, 20 per birth date.
    pnrs = [
        make_personnummer(date(1970, 1, 1) + timedelta(days=i // 20), 980 + i % 20)
        for i in range(orders + 1)
    ]
    encrypted, hashes = vault.encrypt_many(pnrs), vault.lookup_hashes(pnrs)
    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as session, session.begin():
        # The settings' only municipality: where the orders' run looks for its employees.
        where = municipality_id(session, get_settings().kommun(None))
        unit = OrgUnit(code="BANK", name="Sörbyskolan (bänk)", municipality_id=where)
        cost_centre = CostCentre(code="K-BANK", name="Sörbyskolan", municipality_id=where)
        session.add_all(
            [
                unit,
                cost_centre,
                PhoneModel(
                    name=PHONE_MODEL,
                    manufacturer="Nordfon",
                    is_standard=True,
                    is_smartphone=True,
                ),
                SubscriptionOption(
                    code=OPTION,
                    name="Mobil 10 GB",
                    includes_data=True,
                    monthly_fee_sek=Decimal("99.00"),
                ),
            ]
        )
        session.flush()
        common: dict[str, Any] = {
            "municipality_id": where,
            "unit_id": unit.id,
            "cost_centre_id": cost_centre.id,
            "employment_start": date(2020, 1, 1),
            "need_category": 2,
            "title": "Lärare",
            "is_samordningsnummer": False,
        }
        manager = Employee(
            employee_number=MANAGER,
            first_name="Maja",
            last_name="Rektorsson",
            email="maja.rektorsson@sjobacka.example",
            personnummer_encrypted=encrypted[0],
            personnummer_hash=hashes[0],
            **{**common, "title": "Rektor"},
        )
        session.add(manager)
        session.flush()
        session.execute(
            insert(Employee),
            [
                {
                    **common,
                    "employee_number": f"BENCH{i:05d}",
                    "first_name": "Astrid",
                    "last_name": f"Bänksson {i}",
                    "email": f"astrid.banksson{i}@sjobacka.example",
                    "personnummer_encrypted": encrypted[i],
                    "personnummer_hash": hashes[i],
                    "manager_id": manager.id,
                }
                for i in range(1, orders + 1)
            ],
        )
    engine.dispose()


class Background:
    """The flow, called in a thread of its own as a worker would run it."""

    def __init__(
        self, fn: Callable[..., Any], profile: cProfile.Profile | None = None, **kwargs: Any
    ) -> None:
        self.profile = profile
        self.result: Any = None
        self.error: BaseException | None = None
        self.ended = 0.0
        self.thread = threading.Thread(target=self._run, args=(fn,), kwargs=kwargs, daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[..., Any], **kwargs: Any) -> None:
        try:
            if self.profile is not None:
                self.result = self.profile.runcall(fn, **kwargs)
            else:
                self.result = fn(**kwargs)
        except BaseException as exc:
            self.error = exc
        finally:
            self.ended = time.perf_counter()

    def join(self, timeout: float) -> Any:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError(f"the flow did not finish within {timeout:.0f} s")
        if self.error is not None:
            raise self.error
        return self.result


def run_one(
    url: str, operator_url: str, folder: str, orders: int, profile_to: str | None = None
) -> dict[str, Any]:
    """The worker: set up the register, run the batch, answer it, measure; in this process."""
    os.environ.update(
        {
            "TELEFONI_ENVIRONMENT": "test",
            "TELEFONI_DATA_DIR": str(Path(folder) / "data"),
            "TELEFONI_DATABASE_URL": url,
            "TELEFONI_OPERATOR_GATEWAY": "http",
            "TELEFONI_OPERATOR_API_URL": operator_url,
            "TELEFONI_APPROVAL_POLL_SECONDS": "1",
        }
    )
    t0 = time.perf_counter()
    fill(url, orders)
    setup_s = time.perf_counter() - t0

    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId
    from prefect.context import TaskRunContext
    from prefect.flow_runs import resume_flow_run
    from sqlalchemy import event, func, select
    from sqlalchemy.orm import Session

    from flows.onboarding import onboarding_batch
    from models.onboarding import OnboardingOrder, OrderStatus
    from models.onboarding_forms import OrderRequest
    from telefoni.core.db import get_engine, make_engine
    from telefoni.core.settings import get_settings

    get_settings.cache_clear()
    assert get_settings().operator_gateway == "http"
    statements = Counter[str]()  # by the task that sent them ("(flow)" outside tasks)

    def count(*args: Any) -> None:
        task = TaskRunContext.get()
        statements[task.task.name if task else "(flow)"] += 1

    event.listen(get_engine(url), "before_cursor_execute", count)  # the flow's engine
    ours = make_engine(url)  # the bench's own reads, not counted
    requests = [
        OrderRequest(
            employee_number=f"BENCH{i:05d}",
            need_category=2,
            phone_model=PHONE_MODEL,
            subscription_option=OPTION,
            requested_by=MANAGER,
        )
        for i in range(1, orders + 1)
    ]

    def statuses() -> tuple[str | None, dict[str, int]]:
        with Session(ours) as session:
            rows = session.execute(
                select(OnboardingOrder.flow_run_id, OnboardingOrder.status, func.count()).group_by(
                    OnboardingOrder.flow_run_id, OnboardingOrder.status
                )
            ).all()
        run_ids = {r for r, _, _ in rows}
        assert len(run_ids) <= 1, run_ids
        return (next(iter(run_ids)) if run_ids else None), {s.value: n for _, s, n in rows}

    with get_client(sync_client=True) as client:
        started = time.perf_counter()
        profile = cProfile.Profile() if profile_to else None
        run = Background(onboarding_batch, profile, orders=requests, name=BATCH_NAME)
        deadline = time.monotonic() + 600
        while True:
            run_id, counts = statuses()
            if run_id is not None and counts == {OrderStatus.AWAITING_APPROVAL.value: orders}:
                state = client.read_flow_run(UUID(run_id)).state
                assert state is not None and not state.is_final(), state
                if state.is_paused():
                    break
            if not run.thread.is_alive() or time.monotonic() > deadline:
                run.join(0)
                raise RuntimeError(f"the run never waited for approval: {counts}")
            time.sleep(0.1)
        paused = time.perf_counter()
        resume_flow_run(
            UUID(run_id),
            run_input={
                "decision": "godkänn",
                "decided_by": MANAGER,
                "approved_apps": [],
                "comment": "bench",
            },
        )
        approved = time.perf_counter()
        result = run.join(timeout=1800)
        ended = run.ended
        if profile is not None and profile_to:
            profile.dump_stats(profile_to)

        final = client.read_flow_run(UUID(run_id)).state
        assert final is not None and final.is_completed(), final
        # Task runs reach the server's database through its event pipeline: wait until settled.
        task_filter = TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[UUID(run_id)]))
        settle = time.monotonic() + 60
        seen: list[Any] = []
        while True:
            task_runs: list[Any] = []
            while True:
                page = client.read_task_runs(
                    task_run_filter=task_filter, limit=200, offset=len(task_runs)
                )
                task_runs += page
                if len(page) < 200:
                    break
            settled = all(t.state is not None and t.state.is_final() for t in task_runs)
            if (settled and len(task_runs) == len(seen)) or time.monotonic() > settle:
                break
            seen = task_runs
            time.sleep(1)

    _, counts = statuses()
    assert counts == {OrderStatus.COMPLETED.value: orders}, counts
    assert result["läge"] == {OrderStatus.COMPLETED.value: orders}, result
    ours.dispose()
    return {
        "setup_s": setup_s,
        "wall_s": ended - started,
        "to_approval_s": paused - started,
        "after_approval_s": ended - approved,
        "task_runs": len(task_runs),
        "task_states": dict(Counter(t.state.name for t in task_runs if t.state)),
        "steps": steps(task_runs, statements),
        "statements": sum(statements.values()),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def steps(task_runs: list[Any], statements: Counter[str]) -> list[dict[str, Any]]:
    """Per task, in the order they first ran: runs, seconds (as the server saw them), SQL."""
    by_task: dict[str, dict[str, Any]] = {}
    for t in sorted(task_runs, key=lambda t: t.start_time or t.expected_start_time):
        name = t.name.rsplit("-", 1)[0]
        step = by_task.setdefault(name, {"task": name, "runs": 0, "s": 0.0})
        step["runs"] += 1
        if t.start_time and t.end_time:
            step["s"] += (t.end_time - t.start_time).total_seconds()
    for step in by_task.values():
        step["sql"] = statements.get(step["task"], 0)
    if statements.get("(flow)"):
        by_task["(flow)"] = {"task": "(flow)", "runs": 0, "s": 0.0, "sql": statements["(flow)"]}
    return list(by_task.values())


# ---------------------------------------------------------------------------- the parent


def bench(kind: str, orders: int, profile: str | None = None) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="onboarding-bench-") as tmp,
        prefect_server(Path(tmp)) as (env, server),
        operator_stand_in() as (operator_url, counters),
        fresh_database(kind, Path(tmp), prefix="telefoni_bench") as url,
    ):
        out, stats = Path(tmp) / "result.json", Path(tmp) / "profile.pstats"
        proc = subprocess.run(
            [sys.executable, __file__, "--one", url, operator_url, tmp, str(orders), str(out)]
            + (["--profile-to", str(stats)] if profile else []),
            env={**_without_prefect(dict(os.environ)), **env},
        )
        server_mb = group_peak_mb(server.pid)
        operator = counters()
        if proc.returncode:
            raise SystemExit(f"{kind}: the worker failed (exit {proc.returncode})")
        r: dict[str, Any] = json.loads(out.read_text())
        if profile:
            for order in ("cumulative", "tottime"):
                pstats.Stats(str(stats), stream=sys.stderr).sort_stats(order).print_stats(40)
            if profile != "-":
                shutil.copyfile(stats, f"{profile}.{kind}")
    assert operator["orders"] == orders, operator
    r |= {"kind": kind, "orders": orders, "server_mb": server_mb, "http": operator["calls"]}
    print(
        f"# {kind}: setup {r['setup_s']:.1f} s; task run states {r['task_states']}; "
        f"operator: {operator['orders']} orders, {operator['calls']} calls",
        file=sys.stderr,
        flush=True,
    )
    return r


HEADER = (
    f"{'engine':<11}{'orders':>7}{'wall s':>8}{'to approval s':>15}{'after approval s':>18}"
    f"{'orders/min':>12}{'after appr. /min':>18}{'task runs':>11}{'runs/order':>12}"
    f"{'SQL/order':>11}{'HTTP/order':>12}{'RSS MB':>8}{'server MB':>11}"
)


def line(r: dict[str, Any]) -> str:
    n = r["orders"]
    return (
        f"{r['kind']:<11}{n:>7}{r['wall_s']:>8.1f}{r['to_approval_s']:>15.1f}"
        f"{r['after_approval_s']:>18.1f}{n / r['wall_s'] * 60:>12.0f}"
        f"{n / r['after_approval_s'] * 60:>18.0f}{r['task_runs']:>11}"
        f"{r['task_runs'] / n:>12.3f}{r['statements'] / n:>11.1f}{r['http'] / n:>12.1f}"
        f"{r['peak_mb']:>8.0f}{r['server_mb']:>11.0f}"
    )


STEP_HEADER = f"{'engine':<11}{'task':<48}{'runs':>5}{'s':>8}{'SQL':>8}{'SQL/order':>11}"


def step_line(r: dict[str, Any], step: dict[str, Any]) -> str:
    return (
        f"{r['kind']:<11}{step['task'][:47]:<48}{step['runs']:>5}{step['s']:>8.2f}"
        f"{step['sql']:>8}{step['sql'] / r['orders']:>11.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="-",
        metavar="FILE",
        help="profile the flow's thread: top functions to stderr, all to FILE.ENGINE if given",
    )
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        url, operator_url, folder, orders, out = args.one
        result = run_one(url, operator_url, folder, int(orders), args.profile_to)
        Path(out).write_text(json.dumps(result))
        return
    if args.orders < 1:
        parser.error("--orders must be at least 1")
    kinds = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    results = []
    for kind in kinds:
        results.append(bench(kind, args.orders, args.profile))
        print(f"# {line(results[-1])}", file=sys.stderr, flush=True)
    print(HEADER)
    print("-" * len(HEADER))
    for r in results:
        print(line(r))
    print()
    print(STEP_HEADER)
    print("-" * len(STEP_HEADER))
    for r in results:
        for step in r["steps"]:
            print(step_line(r, step))


if __name__ == "__main__":
    main()
