"""Time the demo municipality: generate, load + commit, HR export, on SQLite and PostgreSQL.

    uv run python bench/demo.py [--sizes 1300 100000] [--engine sqlite|postgresql|both]

Then a second town of the same size (Älvnäs kommun) is loaded into the same register, in a
municipality of its own, after the first ("2nd load": ids after the first town's).

Each size and engine runs in a fresh process on a fresh database, so peak RSS is its own.
PostgreSQL comes from TELEFONI_TEST_POSTGRES_URL (a database is created and dropped there).
"""

from __future__ import annotations

import argparse
import json
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.scratch import fresh_database


def run_one(kind: str, size: int) -> dict[str, float]:
    """One measurement, in this process."""
    from models.personnummer import PersonnummerVault
    from models.register import Municipality
    from telefoni import demo
    from telefoni.core import migrate
    from telefoni.core.db import make_engine, session_factory

    vault = PersonnummerVault(
        encryption_key=secrets.token_bytes(32), lookup_key=secrets.token_bytes(32)
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(kind, Path(tmp), prefix="telefoni_bench") as url,
    ):
        engine = make_engine(url)
        migrate.upgrade(engine)
        with session_factory(engine).begin() as session:
            ids = []
            for place in (demo.SJOBACKA, demo.ALVNAS):
                row = Municipality(code=place.code, name=place.name)
                session.add(row)
                session.flush()
                ids.append(row.id)
        t0 = time.perf_counter()
        town = demo.generate(employees=size, seed=1)
        t1 = time.perf_counter()
        with session_factory(engine).begin() as session:
            demo.load(session, town, vault=vault, municipality_id=ids[0])
        t2 = time.perf_counter()
        demo.write_hr_export(town, Path(tmp) / "hr.csv")
        t3 = time.perf_counter()
        second = demo.generate(employees=size, seed=2, place=demo.ALVNAS)
        t4 = time.perf_counter()
        with session_factory(engine).begin() as session:
            demo.load(session, second, vault=vault, municipality_id=ids[1])
        t5 = time.perf_counter()
        engine.dispose()
    return {
        "generate": t1 - t0,
        "load": t2 - t1,
        "export": t3 - t2,
        "total": t3 - t0,
        "second_load": t5 - t4,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1300, 100_000])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--one", nargs=2, metavar=("ENGINE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return
    kinds = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    header = (
        f"{'engine':<11}{'employees':>10}{'generate s':>12}{'load+commit s':>15}"
        f"{'HR export s':>13}{'total s':>9}{'2nd load s':>12}{'peak RSS MB':>13}"
    )
    print(header)
    print("-" * len(header))
    for kind in kinds:
        for size in args.sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--one", kind, str(size)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"{kind:<11}{size:>10}{r['generate']:>12.2f}{r['load']:>15.2f}"
                f"{r['export']:>13.2f}{r['total']:>9.2f}{r['second_load']:>12.2f}"
                f"{r['rss_mb']:>13.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
