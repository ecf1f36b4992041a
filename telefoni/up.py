"""`telefoni up`: the whole system on one machine, for a newcomer or a demo.

A Prefect server with its UI (embedded SQLite under data/prefect), every deployment in
prefect.yaml served from this process, and a register filled with a fictional municipality.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from telefoni.core.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

HOST, PORT = "127.0.0.1", 4200

# What the UI's run forms call each flow parameter (the code keeps English names).
PARAMETER_TITLES = {
    "order": "Beställning",
    "orders": "Beställningar",
    "name": "Namn på den samlade beställningen",
    "path": "HR-exportens sökväg",
    "dry_run": "Provkörning",
    "allow_mass_removal": "Tillåt massborttagning",
    "reason": "Anledning",
    "started_by": "Startad av",
    "batch_size": "Antal e-postmeddelanden per omgång",
}


def prefect_environment(settings: Settings) -> dict[str, str]:
    """Environment for a local Prefect server and the processes that talk to it."""
    home = settings.data_dir / "prefect"
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://{HOST}:{PORT}/api",
        "PREFECT_UI_URL": f"http://{HOST}:{PORT}",
        "PREFECT_SERVER_API_HOST": HOST,
        "PREFECT_SERVER_API_PORT": str(PORT),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"),
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
    }


def load_deployments(path: Path = PROJECT_ROOT / "prefect.yaml") -> list[Any]:
    """Runner deployments for every deployment in prefect.yaml, with schedules and limits."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
    from prefect.flows import load_flow_from_entrypoint

    spec = yaml.safe_load(path.read_text()) or {}
    deployments = []
    for item in spec.get("deployments") or []:
        flow: Any = load_flow_from_entrypoint(str(PROJECT_ROOT / item["entrypoint"]))
        schedules: list[CronSchedule | IntervalSchedule] = []
        for s in item.get("schedules") or []:
            if "cron" in s:
                schedules.append(CronSchedule(cron=s["cron"], timezone=s.get("timezone")))
            elif "interval" in s:
                schedules.append(IntervalSchedule(interval=s["interval"]))
        limit = item.get("concurrency_limit")
        if isinstance(limit, dict):
            limit = ConcurrencyLimitConfig(**limit)
        deployment = flow.to_deployment(
            name=item["name"],
            schedules=schedules or None,
            concurrency_limit=limit,
            parameters=item.get("parameters") or {},
            description=item.get("description"),
            tags=item.get("tags") or [],
            enforce_parameter_schema=item.get("enforce_parameter_schema", True),
        )
        for name, schema in deployment._parameter_openapi_schema.properties.items():
            schema["title"] = PARAMETER_TITLES.get(name, schema.get("title", name))
        deployments.append(deployment)
    return deployments


def _port_in_use() -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, PORT)) == 0


def _wait_for_server(process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Prefect-servern avslutades (kod {process.returncode})")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{PORT}/api/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"Prefect-servern svarade inte inom {timeout:.0f} s")


def _load_demo_if_empty(settings: Settings, employees: int) -> None:
    from models.register import Employee
    from telefoni import demo
    from telefoni.core import migrate
    from telefoni.core.db import make_engine, session_factory
    from telefoni.core.vault import vault_from

    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    with session_factory(engine).begin() as session:
        if session.scalar(select(func.count()).select_from(Employee)):
            log.info("Registret har redan data; demodata laddas inte om.")
            return
        town = demo.generate(employees=employees)
        counts = demo.load(session, town, vault=vault_from(settings))
    engine.dispose()
    demo.write_hr_export(town, settings.hr_export_path)  # what HR would drop for the nightly sync
    log.info("Demokommunen laddad: %s", ", ".join(f"{n} {k}" for k, n in counts.items()))


class _ShutdownNoise(logging.Filter):
    """Drops asyncio's reports of tasks cancelled by Ctrl-C: shutdown, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        kind = record.exc_info[0] if record.exc_info else None
        return not (kind and issubclass(kind, asyncio.CancelledError | KeyboardInterrupt))


def run_system(settings: Settings, *, demo_employees: int) -> int:
    """Start everything and block until Ctrl-C; returns the exit code."""
    if _port_in_use():
        log.error("Port %s är upptagen: kör redan en Prefect-server? Stoppa den först.", PORT)
        return 1
    env = prefect_environment(settings)
    os.environ.update(env)
    Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    _load_demo_if_empty(settings, demo_employees)

    log.info("Startar Prefect-servern på http://%s:%s ...", HOST, PORT)
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(PORT)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=open(Path(env["PREFECT_HOME"]) / "server.log", "ab"),  # noqa: SIM115
        start_new_session=True,  # Ctrl-C reaches us only; we stop the server ourselves
    )
    try:
        _wait_for_server(server)
        deployments = load_deployments()
        log.info(
            "Klart: öppna http://%s:%s (deployments som körs härifrån: %d). Stoppa med Ctrl-C.",
            HOST,
            PORT,
            len(deployments),
        )
        if deployments:
            from prefect import serve

            logging.getLogger("asyncio").addFilter(_ShutdownNoise())
            serve(*deployments, print_starting_message=False)
        else:
            server.wait()
    except KeyboardInterrupt:
        log.info("Stoppar ...")
    except RuntimeError as exc:
        log.error("%s (se %s)", exc, Path(env["PREFECT_HOME"]) / "server.log")
        return 1
    finally:
        _stop(server)
    log.info("Stoppad.")
    return 0


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
