"""Time the nightly directory sync against its floor, on SQLite and PostgreSQL.

    uv run python bench/sync.py [--employees 100000 ...] [--changed 0.02]
                                [--engine sqlite|postgresql|both] [--runs 3]
    uv run python bench/sync.py --municipalities 4 [--employees 100000] ...

The issue's target:

    "`bench/sync.py` on a 100,000-employee export with 2 % changed: the note quotes wall time
    and peak memory of the sync and, in the same run, of the floor (pandas reading the same
    file + one SELECT of the directory + one bulk write of the changed rows through the
    driver). Target: sync ≤ 2× floor. 1,000,000 employees completes with peak RSS ≤ 2 GB and
    time ≤ 11× the 100,000 time."

Setup (not timed), per engine and size: a fresh database (an SQLite file in a temporary folder,
or a new PostgreSQL database on TELEFONI_TEST_POSTGRES_URL, dropped afterwards), migrated,
loaded with the demo town (generated for TODAY) and committed; on PostgreSQL then VACUUM
ANALYZE (what autovacuum does to a register that has been up for a while). The load stores each
person's HR row digest as a sync would have, so the run timed is an ordinary night's (the first
sync after migration 0006 has no digests yet and compares every row in full, as before). The
town's HR export is written as demo.write_hr_export does (`;`, UTF-8 with BOM, CRLF) with
`--changed` of the rows, spread evenly over the file, given a new title.

Then, each in a process of its own so that its peak RSS (getrusage ru_maxrss) is its own:

* imports: `import tasks.directory_sync` and nothing else (the fixed start-up cost);
* floor: pd.read_csv of the file + one SELECT of every directory_entry row (raw DBAPI cursor,
  fetchall) + one executemany UPDATE of the changed rows' titles, committed (a write the
  register keeps, as the sync's are; each run has its own copy of the database, below);
* sync: sync_directory given how to read the file (read_hr_export), as the flow and the CLI
  call it, so the register is read while the file is (default SyncOptions, the load's vault,
  today=TODAY), committed; its counts must be changed == the rows modified and leavers == 0.

Every size of an engine is loaded first; then floor and sync each run --runs times (default
3) in rounds, each round a floor and a sync at every size in turn (a shared machine's speed
drifts over minutes: the sizes compared are measured side by side, not one after the other).
Each run is on a fresh copy of the loaded database (SQLite: a copy of the file; PostgreSQL:
CREATE DATABASE ... TEMPLATE, then pg_prewarm of its tables and indexes, as a register in use
is cached), so that every run starts from the same register. The table gives the fastest run's
times (what the code costs; a slower run also waited for whatever else the shared machine was
doing) and the highest peak RSS of all runs; stderr lists every run.

Below the table, each engine's targets, met or MISSED, with the figures they are judged on
(and, beside the sync's growth from the smallest size to the largest, the floor's own; then
that growth round by round, its median and range: how far the machine's noise moves it).

"s" is measured inside the process, from just before the file is read to just after the
commit; "proc s" is the wall time of the whole process, imports and
interpreter start-up included. "RSS MB" is the process's peak RSS, "base MB" its RSS once its
imports are done (what the import alone costs in memory).

With `--municipalities N` (issue #14: "four municipalities of 25,000 employees against one of
100,000 in the same invocation; target: the four together within 1.2x the one"), per engine:

* (a) one municipality of `--employees` people (one size only) in a register of its own, and
* (b) N municipalities of `--employees`/N each in one register (each its own town, seed and
  export, every row in its municipality; demo.load puts each beside the others),

each export with `--changed` of its rows given a new title. Each round syncs (a) on a fresh
copy of its register, one process, then (b) on a fresh copy of its own, N processes started
together (as Prefect runs served deployments: a process each), every sync of its own
municipality, with its own lock. Every process first imports and connects, then says it is
ready; once all are, they are told to go at the same moment. The wall time runs from that
moment to the last commit (the start-up of a process is not the sync's). The table gives the
fastest round of each and the ratio (b)/(a) of those, then every round's ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.scratch import database_copy, fresh_database

if TYPE_CHECKING:
    from models.personnummer import PersonnummerVault

TODAY = date(2026, 11, 28)
SEED = 1
# The municipality of the single-register modes, and those of --municipalities (in turn).
CODE = "hallsberg"
CODES = ("hallsberg", "laxa", "askersund", "lekeberg", "kumla", "orebro", "nora", "lindesberg")
NEW_TITLE = "Samordnare katalogsynk"  # in no title pool of the demo town
# Fixed keys, the same at load and at sync (the sync compares personnummer hashes).
ENCRYPTION_KEY = bytes(range(32))
LOOKUP_KEY = bytes(range(32, 64))


def _vault() -> PersonnummerVault:
    from models.personnummer import PersonnummerVault

    return PersonnummerVault(encryption_key=ENCRYPTION_KEY, lookup_key=LOOKUP_KEY)


def _rss_now_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _hwm_mb() -> float:
    """VmHWM: the peak RSS of this process image alone (ru_maxrss also counts what the parent
    held when it forked us, which is why setup runs in a child and the parent stays small)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------- setup


def setup(url: str, folder: str, employees: str, share: str) -> dict[str, object]:
    """Load the town, write its export with `share` of the titles changed; what the runs need."""
    import numpy as np

    from telefoni import demo
    from telefoni.core import migrate
    from telefoni.core.db import make_engine, session_factory

    folder_path, size = Path(folder), int(employees)
    engine = make_engine(url)
    migrate.upgrade(engine)
    t0 = time.perf_counter()
    town = demo.generate(employees=size, seed=SEED, today=TODAY)
    with session_factory(engine).begin() as session:
        demo.load(session, town, vault=_vault(), municipality_id=_municipality(session, CODE))
    _analyze(engine)
    t1 = time.perf_counter()

    frame = demo.hr_export_frame(town)
    n_changed = round(size * float(share))
    rows = np.unique(np.linspace(0, size - 1, n_changed).round().astype(int))
    assert len(rows) == n_changed
    assert not (frame["titel"].iloc[rows] == NEW_TITLE).any()
    frame.iloc[rows, frame.columns.get_loc("titel")] = NEW_TITLE
    path = folder_path / "hr.csv"
    frame.to_csv(path, sep=";", index=False, encoding="utf-8-sig", lineterminator="\r\n")

    entries = town.directory_entries
    personal = entries[entries["kind"] == "personal"]
    entry_of = dict(
        zip(personal["employee_id"].astype(int), personal["id"].astype(int), strict=True)
    )
    employee_ids = town.employees["id"].to_numpy()[rows]
    changes = {
        "rows": rows.tolist(),  # positions in the file (0 = first data row)
        "entry_ids": [entry_of[int(i)] for i in employee_ids],
    }
    (folder_path / "changes.json").write_text(json.dumps(changes))
    return {
        "path": str(path),
        "changes": str(folder_path / "changes.json"),
        "n_changed": n_changed,
        "setup_s": t1 - t0,
        "file_mb": path.stat().st_size / 1e6,
    }


def _municipality(session: Any, code: str) -> int:
    """The register's id of the municipality ``code`` (made here: the register is new)."""
    from models.register import Municipality

    row = Municipality(code=code, name=f"{code.capitalize()} kommun")
    session.add(row)
    session.flush()
    return int(row.id)


def _analyze(engine: Any) -> None:
    """PostgreSQL: VACUUM ANALYZE (what autovacuum does to a register up for a while)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def _changed_export(frame: Any, share: float, path: Path) -> int:
    """Write ``frame`` as HR does with ``share`` of its titles, spread evenly, changed; how
    many."""
    import numpy as np

    n_changed = round(len(frame) * share)
    rows = np.unique(np.linspace(0, len(frame) - 1, n_changed).round().astype(int))
    assert len(rows) == n_changed
    assert not (frame["titel"].iloc[rows] == NEW_TITLE).any()
    frame.iloc[rows, frame.columns.get_loc("titel")] = NEW_TITLE
    frame.to_csv(path, sep=";", index=False, encoding="utf-8-sig", lineterminator="\r\n")
    return n_changed


def setup_many(url: str, folder: str, spec: str) -> dict[str, object]:
    """Load a town per municipality of ``spec`` (JSON: [[code, employees], ...]) into one
    register, each its own seed; write each one's export with `share` of its titles changed."""
    from telefoni import demo
    from telefoni.core import migrate
    from telefoni.core.db import make_engine, session_factory

    wanted, share = json.loads(spec)
    engine = make_engine(url)
    migrate.upgrade(engine)
    t0 = time.perf_counter()
    exports = {}
    for k, (code, employees) in enumerate(wanted):
        # Each its own town: seed, numbers and phones (demo.Place's block).
        place = replace(demo.SJOBACKA, name=f"{code.capitalize()} kommun", code=code, block=k)
        town = demo.generate(employees=int(employees), seed=SEED + k, today=TODAY, place=place)
        with session_factory(engine).begin() as session:
            demo.load(session, town, vault=_vault(), municipality_id=_municipality(session, code))
        path = Path(folder) / f"hr-{code}.csv"
        exports[code] = {
            "path": str(path),
            "n_changed": _changed_export(demo.hr_export_frame(town), float(share), path),
        }
    _analyze(engine)
    return {"exports": exports, "setup_s": time.perf_counter() - t0}


# ---------------------------------------------------------------------------- the runs


def run_imports() -> dict[str, float]:
    t0 = time.perf_counter()
    import tasks.directory_sync  # noqa: F401

    return {
        "import_s": time.perf_counter() - t0,
        "base_mb": _rss_now_mb(),
        "peak_mb": _peak_mb(),
        "hwm_mb": _hwm_mb(),
    }


def run_floor(url: str, path: str, changes_file: str) -> dict[str, float]:
    import pandas as pd

    from telefoni.core.db import make_engine

    engine = make_engine(url)
    changes = json.loads(Path(changes_file).read_text())
    base = _rss_now_mb()
    t0 = time.perf_counter()
    frame = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    raw = engine.raw_connection()
    try:
        dbapi: Any = raw.driver_connection
        cursor = dbapi.cursor()
        cursor.execute("SELECT * FROM directory_entry")
        directory = cursor.fetchall()
        titles = frame["titel"].iloc[changes["rows"]].tolist()
        params = list(zip(titles, changes["entry_ids"], strict=True))
        if engine.dialect.name == "sqlite":  # autocommit driver (telefoni.core.db): begin ourselves
            cursor.execute("BEGIN")
            cursor.executemany("UPDATE directory_entry SET title = ? WHERE id = ?", params)
        else:
            cursor.executemany("UPDATE directory_entry SET title = %s WHERE id = %s", params)
        updated = cursor.rowcount
        if engine.dialect.name == "sqlite":
            cursor.execute("COMMIT")
        else:
            dbapi.commit()
        cursor.close()
    finally:
        raw.close()
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return {
        "s": elapsed,
        "base_mb": base,
        "peak_mb": _peak_mb(),
        "hwm_mb": _hwm_mb(),
        "rows_read": len(frame),
        "directory_rows": len(directory),
        "updated": updated,
    }


def run_sync(url: str, path: str, code: str = CODE, told: str = "") -> dict[str, object]:
    """One sync of ``code``'s export. ``told``: "yes" to say "ready" on stdout once imported
    and connected, and begin when a line comes on stdin (`_together`)."""
    from models.hr_export import read_hr_export
    from tasks.directory_sync import SyncOptions, sync_directory
    from telefoni.core.db import make_engine

    engine = make_engine(url)
    vault = _vault()
    options = SyncOptions(municipality=_where(engine, code))
    base = _rss_now_mb()
    if told:
        print("ready", flush=True)
        sys.stdin.readline()
    started = time.time()
    t0 = time.perf_counter()
    report = sync_directory(
        engine,
        lambda: read_hr_export(Path(path)),  # as the flow and the CLI do
        vault=vault,
        options=options,
        today=TODAY,
    )
    elapsed = time.perf_counter() - t0
    ended = time.time()
    engine.dispose()
    return {
        "s": elapsed,
        "started": started,
        "ended": ended,
        "base_mb": base,
        "peak_mb": _peak_mb(),
        "hwm_mb": _hwm_mb(),
        "status": str(report.status),
        "rows_read": report.rows_read,
        "joiners": report.joiners,
        "changed": report.changed,
        "leavers": report.leavers,
        "quarantined": report.rows_quarantined,
        "applied": report.rows_applied,
        "unchanged": report.rows_unchanged,
    }


def _where(engine: Any, code: str) -> Any:
    """The municipality ``code`` of the register, as a sync is told of it."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from models.register import Municipality
    from tasks.directory_sync import SyncMunicipality

    with Session(engine) as session:
        row = session.scalars(select(Municipality).where(Municipality.code == code)).one()
        return SyncMunicipality(id=row.id, code=row.code, name=row.name)


def _child(*args: str) -> tuple[dict[str, Any], float]:
    """Run this script with `--one ARGS` in a new process: its JSON result and wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--one", *args], capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{args[0]} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def _together(syncs: list[tuple[str, str, str]]) -> tuple[float, list[dict[str, Any]]]:
    """Syncs (url, export, municipality code) in processes of their own, told to go at the
    same moment once every one is ready: the wall time from then to the last commit, and each
    one's result."""
    procs = []
    with ExitStack() as stack:
        for url, path, code in syncs:
            errors = stack.enter_context(tempfile.TemporaryFile("w+"))
            proc = subprocess.Popen(
                [sys.executable, __file__, "--one", "sync", url, path, code, "yes"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
            procs.append((proc, errors, code))
        for proc, _, _ in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":  # it failed: told below
                proc.wait()
        go = time.time()
        for proc, _, _ in procs:
            assert proc.stdin is not None
            try:
                proc.stdin.write("go\n")
                proc.stdin.close()
            except BrokenPipeError:  # it ended before it was ready: told below
                pass
        results = []
        for proc, errors, code in procs:
            assert proc.stdout is not None
            out = proc.stdout.read()
            proc.wait()
            if proc.returncode:
                errors.seek(0)
                sys.stderr.write(errors.read())
                raise SystemExit(f"the sync of {code} failed (exit {proc.returncode})")
            results.append(json.loads(out.strip().splitlines()[-1]) | {"code": code})
    return max(r["ended"] for r in results) - go, results


def bench_many(
    kind: str, employees: int, municipalities: int, share: float, runs: int
) -> dict[str, Any]:
    """(a) one municipality of ``employees``, (b) ``municipalities`` of an equal share each,
    their syncs started together; round by round, each on a fresh copy of its register."""
    each = employees // municipalities
    codes = CODES[:municipalities]
    with ExitStack() as stack:
        tmp_a = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url_a = stack.enter_context(fresh_database(kind, tmp_a, prefix="telefoni_bench"))
        one, _ = _child("setup", url_a, str(tmp_a), str(employees), str(share))
        tmp_b = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url_b = stack.enter_context(fresh_database(kind, tmp_b, prefix="telefoni_bench"))
        spec = json.dumps([[[code, each] for code in codes], share])
        many, _ = _child("setup-many", url_b, str(tmp_b), spec)
        print(
            f"# {kind}: setup (a) 1 × {employees} {one['setup_s']:.1f} s, (b) {municipalities}"
            f" × {each} {many['setup_s']:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        alone: list[float] = []
        together: list[float] = []
        for run in range(1, runs + 1):
            with database_copy(url_a, tmp_a) as copy:
                _prewarm(copy)
                wall, (result,) = _together([(copy, one["path"], CODE)])
            _check(result, one["n_changed"])
            alone.append(wall)
            with database_copy(url_b, tmp_b) as copy:
                _prewarm(copy)
                wall, results = _together(
                    [(copy, many["exports"][code]["path"], code) for code in codes]
                )
            for r in results:
                _check(r, many["exports"][r["code"]]["n_changed"])
            together.append(wall)
            first = min(r["started"] for r in results)
            spans = ", ".join(
                f"{r['code']} {r['started'] - first:.2f}–{r['ended'] - first:.2f}" for r in results
            )
            print(
                f"# {kind} run {run}: (a) {alone[-1]:.2f} s, (b) {together[-1]:.2f} s"
                f" ({together[-1] / alone[-1]:.2f}×; each sync from its start: {spans} s)",
                file=sys.stderr,
                flush=True,
            )
    return {
        "kind": kind,
        "employees": employees,
        "municipalities": municipalities,
        "each": each,
        "runs": runs,
        "alone": alone,
        "together": together,
    }


def _check(result: dict[str, Any], n_changed: int) -> None:
    """An ordinary night's sync: applied, the titles changed, nobody joined, left or stuck."""
    assert result["status"] == "applied", result
    assert result["changed"] == n_changed, result
    assert result["leavers"] == result["joiners"] == result["quarantined"] == 0, result


#: Issue #14's target: N municipalities of 1/N the size each, synced together, within this many
#: times the one of the whole size.
MAX_TOGETHER_OVER_ONE = 1.2


def report_many(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'engine':<11}{'municipalities':>15}{'employees':>11}{'runs':>5}{'(a) one s':>11}"
        f"{'(b) together s':>16}{'(b)/(a)':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        a, b = min(r["alone"]), min(r["together"])
        print(
            f"{r['kind']:<11}{r['municipalities']:>7} × {r['each']:<6}{r['employees']:>11}"
            f"{r['runs']:>5}{a:>11.2f}{b:>16.2f}{b / a:>9.2f}"
        )
    print()
    for r in results:
        a, b = min(r["alone"]), min(r["together"])
        rounds = sorted(t / o for t, o in zip(r["together"], r["alone"], strict=True))
        print(
            f"{r['kind']:<11}(b)/(a) {b / a:.2f} (≤ {MAX_TOGETHER_OVER_ONE:g}):"
            f" {verdict(b / a <= MAX_TOGETHER_OVER_ONE)}; round by round"
            f" {', '.join(f'{x:.2f}' for x in rounds)}"
        )


def bench(kind: str, sizes: list[int], share: float, runs: int) -> list[dict[str, Any]]:
    """Every size of one engine: all loaded first, then the runs by rounds, each round a floor
    and a sync at every size in turn (a shared machine's speed drifts over minutes: measured
    side by side, the sizes' times are compared under the same conditions)."""
    with ExitStack() as stack:
        prepared: dict[int, tuple[str, Path, dict[str, Any]]] = {}
        for employees in sizes:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = stack.enter_context(fresh_database(kind, tmp, prefix="telefoni_bench"))
            setup_result, _ = _child("setup", url, str(tmp), str(employees), str(share))
            prepared[employees] = (url, tmp, setup_result)
            print(
                f"# {kind} {employees}: setup {setup_result['setup_s']:.1f} s, export "
                f"{setup_result['file_mb']:.1f} MB, {setup_result['n_changed']} rows changed",
                file=sys.stderr,
                flush=True,
            )
        imports, imports_wall = _child("imports")
        floors: dict[int, list[tuple[dict[str, Any], float]]] = {n: [] for n in sizes}
        syncs: dict[int, list[tuple[dict[str, Any], float]]] = {n: [] for n in sizes}
        for run in range(1, runs + 1):
            for employees, (url, tmp, setup_result) in prepared.items():
                # Floor and sync by turns, each on a fresh copy of the load.
                with database_copy(url, tmp) as copy:
                    _prewarm(copy)
                    floors[employees].append(
                        _child("floor", copy, setup_result["path"], setup_result["changes"])
                    )
                with database_copy(url, tmp) as copy:
                    _prewarm(copy)
                    syncs[employees].append(_child("sync", copy, setup_result["path"]))
                print(
                    f"# {kind} {employees} run {run}: floor {floors[employees][-1][0]['s']:.2f}"
                    f" s, sync {syncs[employees][-1][0]['s']:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return [
        _summary(kind, n, runs, setup_result, imports, imports_wall, floors[n], syncs[n])
        for n, (_, _, setup_result) in prepared.items()
    ]


def _summary(
    kind: str,
    employees: int,
    runs: int,
    prepared: dict[str, Any],
    imports: dict[str, Any],
    imports_wall: float,
    floors: list[tuple[dict[str, Any], float]],
    syncs: list[tuple[dict[str, Any], float]],
) -> dict[str, Any]:
    """One size's line: the fastest floor and sync, the highest peak RSS of all runs."""
    (floor, floor_wall), (sync, sync_wall) = _fastest(floors), _fastest(syncs)
    floor["peak_mb"] = max(r["peak_mb"] for r, _ in floors)
    floor["hwm_mb"] = max(r["hwm_mb"] for r, _ in floors)
    sync["peak_mb"] = max(r["peak_mb"] for r, _ in syncs)
    sync["hwm_mb"] = max(r["hwm_mb"] for r, _ in syncs)
    assert all(r["updated"] == prepared["n_changed"] for r, _ in floors), floors
    for name, r in (("imports", imports), ("floor", floor), ("sync", sync)):
        if abs(float(r["peak_mb"]) - float(r["hwm_mb"])) > 0.05 * float(r["hwm_mb"]):
            print(
                f"# warning: {name} ru_maxrss {r['peak_mb']:.0f} MB, VmHWM {r['hwm_mb']:.0f} MB",
                file=sys.stderr,
            )
    print(
        f"# {kind} {employees} sync: status {sync['status']}, rows read {sync['rows_read']}, "
        f"joiners {sync['joiners']}, changed {sync['changed']}, leavers {sync['leavers']}, "
        f"quarantined {sync['quarantined']}, rows applied {sync['applied']}, "
        f"unchanged {sync['unchanged']}",
        file=sys.stderr,
        flush=True,
    )
    for r, _ in syncs:
        assert r["status"] == "applied", r
        assert r["changed"] == prepared["n_changed"], r
        assert r["leavers"] == 0 and r["joiners"] == 0 and r["quarantined"] == 0, r
    return {
        "kind": kind,
        "employees": employees,
        "runs": runs,
        "import_s": imports["import_s"],
        "import_wall": imports_wall,
        "import_mb": imports["peak_mb"],
        "floor": floor,
        "floor_wall": floor_wall,
        "sync": sync,
        "sync_wall": sync_wall,
        "sync_runs": [float(r["s"]) for r, _ in syncs],  # in round order
    }


def _prewarm(url: str) -> None:
    """PostgreSQL: read every table and index of a fresh copy into the server's cache, where a
    register in use would be (the copy's pages are not; the sync reads more tables than the
    floor, so a cold copy would cost it more). SQLite reads through the OS cache either way."""
    from sqlalchemy import create_engine, text

    if not url.startswith("postgresql"):
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
            conn.execute(
                text(
                    "SELECT pg_prewarm(c.oid) FROM pg_class c JOIN pg_namespace n"
                    " ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
                    " AND c.relkind IN ('r', 'i', 't')"
                )
            )
    finally:
        engine.dispose()


def _fastest(results: list[tuple[dict[str, Any], float]]) -> tuple[dict[str, Any], float]:
    """The run with the shortest time (what the code costs; the others also waited for
    whatever else the machine was doing)."""
    return min(results, key=lambda result: float(result[0]["s"]))


HEADER = (
    f"{'engine':<11}{'employees':>10}{'runs':>5}{'floor s':>9}{'floor RSS MB':>14}{'sync s':>9}"
    f"{'sync RSS MB':>13}{'sync/floor':>12}{'floor proc s':>14}{'sync proc s':>13}"
    f"{'import s':>10}{'import proc s':>15}{'sync base MB':>14}{'import RSS MB':>15}"
)


def line(r: dict[str, Any]) -> str:
    floor, sync = r["floor"], r["sync"]
    assert isinstance(floor, dict) and isinstance(sync, dict)
    return (
        f"{r['kind']:<11}{r['employees']:>10}{r['runs']:>5}{floor['s']:>9.2f}{floor['peak_mb']:>14.0f}"
        f"{sync['s']:>9.2f}{sync['peak_mb']:>13.0f}{sync['s'] / floor['s']:>12.2f}"
        f"{r['floor_wall']:>14.2f}{r['sync_wall']:>13.2f}{r['import_s']:>10.2f}"
        f"{r['import_wall']:>15.2f}{sync['base_mb']:>14.0f}{r['import_mb']:>15.0f}"
    )


#: The issue's targets: the sync at most this many times its floor (at the smallest size), peak
#: RSS at the largest size at most this many MB, and the largest size's time at most this many
#: times the smallest's, per ten times the employees.
MAX_SYNC_OVER_FLOOR, MAX_PEAK_MB, MAX_SCALE_PER_TENFOLD = 2.0, 2000, 11.0


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def targets(results: list[dict[str, Any]]) -> list[str]:
    """Each engine's targets, met or missed, with the figures they are judged on (the floor's
    own growth beside the sync's, for comparison)."""
    out = []
    for kind in dict.fromkeys(r["kind"] for r in results):
        mine = sorted((r for r in results if r["kind"] == kind), key=lambda r: r["employees"])
        small, large = mine[0], mine[-1]
        ratio = small["sync"]["s"] / small["floor"]["s"]
        out.append(
            f"{kind:<11}{small['employees']:>10}  sync/floor {ratio:.2f}"
            f" (≤ {MAX_SYNC_OVER_FLOOR:g}): {verdict(ratio <= MAX_SYNC_OVER_FLOOR)}"
        )
        if large is small:
            continue
        peak = float(large["sync"]["peak_mb"])
        out.append(
            f"{kind:<11}{large['employees']:>10}  sync peak RSS {peak:.0f} MB"
            f" (≤ {MAX_PEAK_MB}): {verdict(peak <= MAX_PEAK_MB)}"
        )
        allowed = MAX_SCALE_PER_TENFOLD * large["employees"] / small["employees"] / 10
        grew = large["sync"]["s"] / small["sync"]["s"]
        floor_grew = large["floor"]["s"] / small["floor"]["s"]
        out.append(
            f"{kind:<11}{large['employees']:>10}  sync time {grew:.2f}× the {small['employees']}"
            f" time (≤ {allowed:g}×): {verdict(grew <= allowed)}; the floor grew {floor_grew:.2f}×"
        )
        rounds = sorted(a / b for a, b in zip(large["sync_runs"], small["sync_runs"], strict=True))
        out.append(
            f"{kind:<11}{large['employees']:>10}  (round by round: {rounds[len(rounds) // 2]:.2f}×"
            f" median, {rounds[0]:.2f}–{rounds[-1]:.2f}×)"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, nargs="+", default=[100_000])
    parser.add_argument("--changed", type=float, default=0.02)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=3, help="floor and sync runs each")
    parser.add_argument(
        "--municipalities",
        type=int,
        default=0,
        help="(a) one municipality of --employees against (b) this many of an equal share",
    )
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        what, *rest = args.one
        runs: dict[str, Any] = {
            "setup": setup,
            "setup-many": setup_many,
            "imports": run_imports,
            "floor": run_floor,
            "sync": run_sync,
        }
        result = runs[what](*rest)
        print(json.dumps(result))
        return
    kinds = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if args.municipalities:
        if not 2 <= args.municipalities <= len(CODES) or len(args.employees) != 1:
            parser.error(f"--municipalities 2–{len(CODES)}, with one --employees")
        report_many(
            [
                bench_many(kind, args.employees[0], args.municipalities, args.changed, args.runs)
                for kind in kinds
            ]
        )
        return
    results = []
    for kind in kinds:
        for result in bench(kind, sorted(set(args.employees)), args.changed, args.runs):
            results.append(result)
            print(f"# {line(result)}", file=sys.stderr, flush=True)
    print(HEADER)
    print("-" * len(HEADER))
    for r in results:
        print(line(r))
    print()
    for target in targets(results):
        print(target)


if __name__ == "__main__":
    main()
