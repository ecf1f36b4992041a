"""`telefoni up`: the whole system on one machine, for a newcomer or a demo.

A Prefect server with its UI (embedded SQLite under data/prefect), every deployment in
prefect.yaml served from this process, and a register in which every municipality served
has people. Unless TELEFONI_MUNICIPALITIES_FILE names the municipalities, they are the two
fictional ones of examples/demo-kommuner.toml (Sjöbacka kommun and Älvnäs kommun), each
with its own contact centre, mail sender, HR export and demo town.
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import yaml
from sqlalchemy import func, select

from telefoni.core.municipalities import MunicipalitySettings
from telefoni.core.settings import (
    DEMO_MUNICIPALITIES_COPY,
    PROJECT_ROOT,
    Settings,
    get_settings,
)

if TYPE_CHECKING:
    from prefect.schedules import Schedule
    from prefect.utilities.callables import ParameterSchema

log = logging.getLogger(__name__)

HOST, PORT = "127.0.0.1", 4200
# The two fictional municipalities `telefoni up` serves unless told of others.
DEMO_MUNICIPALITIES: Final = PROJECT_ROOT / "examples" / "demo-kommuner.toml"
# Employees of each municipality's demo town, in the order of the municipalities (the last
# size for any further ones).
DEMO_EMPLOYEES: Final = (1300, 400)
# The flow parameter that names the municipality a run is for (code or name).
KOMMUN: Final = "kommun"
KOMMUN_HELP: Final = (
    "Kommunen körningen gäller. Varje kommun har sin egen HR-export, sitt eget "
    "kontaktcenter och sina egna chefer."
)

# What the UI's run forms call each flow parameter (the code keeps English names).
PARAMETER_TITLES = {
    "order": "Beställning",
    "request": "Avslut",
    "references": "Avsluten",
    "orders": "Beställningar",
    "name": "Namn på den samlade beställningen",
    "path": "HR-exportens sökväg",
    "dry_run": "Provkörning",
    "allow_mass_removal": "Tillåt massborttagning",
    "reason": "Anledning",
    "started_by": "Startad av",
    "batch_size": "Antal e-postmeddelanden per omgång",
    KOMMUN: "Kommun",
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
        # A run resumed from its form comes back within 2 s, not 10: a refused answer is
        # shown again while the person is still at the form.
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    }


@dataclass(frozen=True)
class Catalogue:
    """What the order form offers to choose from: the register's available phone models and
    subscription options, the shared ones and every municipality's own (the run's check
    still refuses what is not the order's municipality's)."""

    models: tuple[str, ...] = ()
    standard: tuple[str, ...] = ()  # the standard models among them (§4.1.1)
    options: tuple[tuple[str, str], ...] = ()  # (code, name)


def read_catalogue(database_url: str) -> Catalogue:
    """The register's catalogue, for the order form. Empty when the register has none or
    cannot be read (no database yet, no schema): the form then takes the model and the
    option as text, as a deployment made by `prefect deploy` does, and the run's check says
    what the catalogue offers. Nothing is created where no database is."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from models.register import PhoneModel, SubscriptionOption
    from telefoni.core.db import make_engine, session_factory

    url = make_url(database_url)
    file = url.database if url.get_backend_name() == "sqlite" else None
    if file and file != ":memory:" and not Path(file).exists():
        return Catalogue()
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            models = session.execute(
                select(PhoneModel.name, PhoneModel.is_standard)
                .where(PhoneModel.available)
                .order_by(PhoneModel.name)
            ).all()
            options = session.execute(
                select(SubscriptionOption.code, SubscriptionOption.name)
                .where(SubscriptionOption.available)
                .order_by(SubscriptionOption.code)
            ).all()
    except SQLAlchemyError as exc:
        log.warning(
            "Katalogen kunde inte läsas ur registret (%s); beställningsformuläret tar modell "
            "och abonnemangsform som text.",
            type(exc).__name__,
        )
        return Catalogue()
    finally:
        engine.dispose()
    return Catalogue(
        models=tuple(dict.fromkeys(name for name, _ in models)),
        standard=tuple(dict.fromkeys(name for name, standard in models if standard)),
        options=tuple(dict.fromkeys((code, name) for code, name in options)),
    )


def load_deployments(
    path: Path = PROJECT_ROOT / "prefect.yaml",
    municipalities: Sequence[MunicipalitySettings] | None = None,
    catalogue: Catalogue | None = None,
) -> list[Any]:
    """Runner deployments for every deployment in prefect.yaml, with schedules and limits.

    A flow with a `kommun` parameter gets each of its schedules once per municipality
    (``municipalities``, default: the settings'), with that municipality's name as the
    parameter, and `kommun` in its run form is a list of the municipalities' names. The
    order form offers the models and subscription options of ``catalogue`` (default: the
    register's, read now; a model added later is offered once the deployments are served
    again)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.flows import load_flow_from_entrypoint

    settings = get_settings()
    served = tuple(municipalities or settings.municipalities)
    offered = catalogue if catalogue is not None else read_catalogue(settings.database_url)
    spec = yaml.safe_load(path.read_text()) or {}
    deployments = []
    for item in spec.get("deployments") or []:
        flow: Any = load_flow_from_entrypoint(str(PROJECT_ROOT / item["entrypoint"]))
        per_municipality = KOMMUN in flow.parameters.properties
        schedules = _schedules(item, served if per_municipality else ())
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
        _swedish_form(deployment._parameter_openapi_schema, served, offered)
        deployments.append(deployment)
    return deployments


def _schedules(
    item: dict[str, Any], municipalities: Sequence[MunicipalitySettings]
) -> list[Schedule]:
    """The deployment's schedules; with ``municipalities`` (its flow takes `kommun`), each
    one that names no municipality once for every one, `kommun` its name."""
    from prefect.schedules import Cron, Interval

    schedules: list[Schedule] = []
    for n, s in enumerate(item.get("schedules") or []):
        parameters = dict(s.get("parameters") or {})
        slug = s.get("slug") or (item["name"] if n == 0 else f"{item['name']}-{n + 1}")
        runs: list[tuple[str, dict[str, Any]]] = [(slug, parameters)]
        if municipalities and KOMMUN not in parameters:
            runs = [(f"{slug}-{m.code}", {**parameters, KOMMUN: m.name}) for m in municipalities]
        active = bool(s.get("active", True))
        kind, every = (Cron, s["cron"]) if "cron" in s else (Interval, s.get("interval"))
        if every is None:
            continue
        schedules.extend(
            kind(every, timezone=s.get("timezone"), active=active, parameters=p, slug=run_slug)
            for run_slug, p in runs
        )
    return schedules


def _swedish_form(
    schema: ParameterSchema,
    municipalities: Sequence[MunicipalitySettings],
    catalogue: Catalogue = Catalogue(),
) -> None:
    """Swedish titles for the run form; `kommun` a list of the municipalities' names; the
    order's model and subscription option lists of the catalogue's.

    Prefect's UI draws a string with `enum` as a drop-down list (an optional one, `anyOf`
    string or null, would get a switch between the two types instead). With one
    municipality it is chosen already; with several the admin must choose (required)."""
    for name, prop in schema.properties.items():
        prop["title"] = PARAMETER_TITLES.get(name, prop.get("title", name))
    _catalogue_choices(schema, catalogue)
    found = schema.properties.get(KOMMUN)
    if found is None:
        return
    names = [m.name for m in municipalities]
    kommun: dict[str, Any] = {
        "title": PARAMETER_TITLES[KOMMUN],
        "description": KOMMUN_HELP,
        "type": "string",
        "enum": names,
    }
    if "position" in found:
        kommun["position"] = found["position"]
    if len(names) == 1:
        kommun["default"] = names[0]
    elif KOMMUN not in schema.required:
        schema.required = [*schema.required, KOMMUN]
    schema.properties[KOMMUN] = kommun


def _catalogue_choices(schema: ParameterSchema, catalogue: Catalogue) -> None:
    """The order form's model and subscription option as lists to choose from. The UI shows
    a choice by its value only (no title per choice), so an option is chosen by its code and
    the description says what each code is. An empty list is never made: a JSON-schema enum
    without values would refuse every run."""
    order = (schema.definitions or {}).get("OrderRequest", {}).get("properties", {})
    model, option = order.get("phone_model"), order.get("subscription_option")
    if model is not None and catalogue.models:
        model["enum"] = list(catalogue.models)
        standard = ", ".join(catalogue.standard) or "ingen angiven"
        model["description"] = (
            f"Ur arbetsgivarens katalog. Standardmodell: {standard}. Annan modell än "
            "standardmodellen kräver skäl (§4.1.1)."
        )
    if option is not None and catalogue.options:
        option["enum"] = [code for code, _ in catalogue.options]
        option["description"] = "Ur arbetsgivarens utbud: " + "; ".join(
            f"{code} = {name}" for code, name in catalogue.options
        )


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


def with_demo_municipalities(settings: Settings) -> Settings:
    """The settings to run with: ``settings`` if they name a file of municipalities, else
    the same with the demo's two (examples/demo-kommuner.toml, copied to the data folder so
    that its relative HR export paths land there). The variable is set for this process and
    the flow runs it starts."""
    if settings.municipalities_file is not None:
        return settings
    copy = settings.data_dir / DEMO_MUNICIPALITIES_COPY
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(DEMO_MUNICIPALITIES.read_text(encoding="utf-8"), encoding="utf-8")
    os.environ["TELEFONI_MUNICIPALITIES_FILE"] = str(copy)
    get_settings.cache_clear()
    # Validated again (not copied), so that the municipalities are read from the file.
    return Settings.model_validate({**settings.model_dump(), "municipalities_file": copy})


def load_demo(settings: Settings, employees: Sequence[int] = DEMO_EMPLOYEES) -> dict[str, int]:
    """A demo town in every municipality of the settings that has no people yet, and its HR
    export where that municipality's settings say; employees loaded per municipality."""
    from models.register import Employee
    from telefoni import demo
    from telefoni.core import migrate
    from telefoni.core.db import make_engine, session_factory
    from telefoni.core.tenancy import municipality_id
    from telefoni.core.vault import vault_from

    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    vault = vault_from(settings)
    loaded: dict[str, int] = {}
    try:
        for index, municipality in enumerate(settings.municipalities):
            size = employees[min(index, len(employees) - 1)]
            with session_factory(engine).begin() as session:
                mid = municipality_id(session, municipality)
                mine = select(func.count()).select_from(Employee)
                if session.scalar(mine.where(Employee.municipality_id == mid)):
                    log.info(
                        "%s har redan data i registret; demodata laddas inte om.", municipality.name
                    )
                    continue
                place = demo.place_for(municipality, index)
                town = demo.generate(employees=size, seed=place.seed, place=place)
                counts = demo.load(session, town, vault=vault, municipality_id=mid)
            # What HR would drop for the nightly sync.
            demo.write_hr_export(town, municipality.hr_export_path)
            loaded[municipality.name] = counts["anställda"]
            log.info(
                "Demodata för %s laddad (HR-exporten i %s): %s",
                municipality.name,
                municipality.hr_export_path,
                ", ".join(f"{n} {k}" for k, n in counts.items()),
            )
    finally:
        engine.dispose()
    return loaded


def names_to_try(settings: Settings) -> list[str]:
    """For each municipality of the settings, whom to try each flow on (`demo.try_on`), as
    the lines `run_system` prints."""
    from datetime import datetime

    from telefoni.core.db import make_engine, session_factory
    from telefoni.core.tenancy import municipality_id
    from telefoni.demo.try_on import names_to_try as pick

    engine = make_engine(settings.database_url)
    lines: list[str] = []
    try:
        with session_factory(engine).begin() as session:
            for municipality in settings.municipalities:
                names = pick(
                    session,
                    municipality_id(session, municipality),
                    municipality=municipality.name,
                    deputies=municipality.deputies,
                    today=datetime.now(settings.tz).date(),
                )
                lines += names.lines(municipality.code)
    finally:
        engine.dispose()
    return lines


class _ShutdownNoise(logging.Filter):
    """Drops asyncio's reports of tasks cancelled by Ctrl-C: shutdown, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        kind = record.exc_info[0] if record.exc_info else None
        return not (kind and issubclass(kind, asyncio.CancelledError | KeyboardInterrupt))


def run_system(settings: Settings, *, demo_employees: Sequence[int] = DEMO_EMPLOYEES) -> int:
    """Start everything and block until Ctrl-C; returns the exit code."""
    if _port_in_use():
        log.error("Port %s är upptagen: kör redan en Prefect-server? Stoppa den först.", PORT)
        return 1
    settings = with_demo_municipalities(settings)
    log.info(
        "Kommuner: %s (%s)",
        ", ".join(m.name for m in settings.municipalities),
        settings.municipalities_file,
    )
    env = prefect_environment(settings)
    os.environ.update(env)
    Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    load_demo(settings, demo_employees)

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
        deployments = load_deployments(municipalities=settings.municipalities)
        log.info(
            "Klart: öppna http://%s:%s (deployments som körs härifrån: %d). Stoppa med Ctrl-C.",
            HOST,
            PORT,
            len(deployments),
        )
        for line in names_to_try(settings):
            log.info("%s", line)
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
