"""The `telefoni` command line."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from sqlalchemy import Engine

from telefoni.core.settings import Settings, generate_key, get_settings

app = typer.Typer(
    help="Telefoni: the municipality's telephony lifecycle, run as Prefect flows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,  # locals can hold personal data
)
db_app = typer.Typer(help="The register's database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys that protect personnummer.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail (händelseloggen).", no_args_is_help=True)
mail_app = typer.Typer(help="The e-mail outbox (utkorgen).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(mail_app, name="mail")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")


def _engine(settings: Settings, *, migrated: bool = True) -> Engine:
    """The register's engine; by default refuse a schema that is not up to date."""
    from telefoni.core import migrate
    from telefoni.core.db import make_engine

    engine = make_engine(settings.database_url)
    if migrated and migrate.current_revision(engine) != migrate.head_revision():
        typer.echo(
            f"Databasens schema är inte uppdaterat ({engine.url.render_as_string()}): "
            "kör `telefoni db upgrade` först.",
            err=True,
        )
        raise typer.Exit(2)
    return engine


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    for ours in ("telefoni", "models", "tasks", "flows"):
        logging.getLogger(ours).setLevel(logging.DEBUG if verbose else logging.INFO)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create the schema, or bring it up to date (SQLite or PostgreSQL)."""
    from telefoni.core import migrate

    settings = get_settings()
    engine = _engine(settings, migrated=False)
    migrate.upgrade(engine, revision)
    typer.echo(f"Schemat är uppdaterat ({revision}) i {engine.url.render_as_string()}")


@db_app.command("check")
def db_check() -> None:
    """Exit non-zero if the database schema differs from the models."""
    from telefoni.core import migrate

    differences = migrate.drift(_engine(get_settings(), migrated=False))
    for diff in differences:
        typer.echo(repr(diff))
    if differences:
        raise typer.Exit(1)
    typer.echo("Schemat stämmer med modellerna.")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("--message", "-m")]) -> None:
    """Write a new migration from what the models add to the current schema."""
    from telefoni.core import migrate

    migrate.revision(_engine(get_settings(), migrated=False), message)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 and name the first event that is not as written."""
    from models import audit
    from telefoni.core.db import session_factory

    with session_factory(_engine(get_settings()))() as session:
        verdict = audit.verify(session)
    if verdict.intact:
        typer.echo(f"Händelseloggen är hel: {verdict.checked} händelser kontrollerade.")
        typer.echo(f"Senaste hash: {verdict.last_hash}")
        return
    typer.echo(f"Händelseloggen är inte hel: händelse {verdict.bad_seq}: {verdict.problem}.")
    typer.echo(f"({verdict.checked} händelser före den stämmer.)")
    raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    employee: Annotated[str | None, typer.Option(help="Anställningsnummer.")] = None,
    subscription: Annotated[str | None, typer.Option(help="Telefonnummer, E.164.")] = None,
    device: Annotated[str | None, typer.Option(help="Enhetens id eller IMEI.")] = None,
    order: Annotated[
        str | None, typer.Option(help="Beställningens referens, t.ex. TEL-000123.")
    ] = None,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Write every field to this CSV file instead.")
    ] = None,
) -> None:
    """The history of one employee, subscription, device or onboarding order."""
    from rich.console import Console
    from rich.table import Table

    from telefoni.cli.audit_report import object_history, readable_rows, write_csv
    from telefoni.core.db import session_factory

    chosen = [
        (t, v)
        for t, v in [
            ("employee", employee),
            ("subscription", subscription),
            ("device", device),
            ("onboarding_order", order.strip().upper() if order else None),
        ]
        if v is not None
    ]
    if len(chosen) != 1:
        raise typer.BadParameter("ange exakt en av --employee, --subscription, --device, --order")
    object_type, object_id = chosen[0]
    settings = get_settings()
    with session_factory(_engine(settings))() as session:
        events = object_history(session, object_type, object_id)
    if csv_path is not None:
        write_csv(events, csv_path)
        typer.echo(f"{len(events)} händelser skrivna till {csv_path}")
        return
    if not events:
        typer.echo(f"Inga händelser för {object_type} {object_id}.")
        return
    rows = readable_rows(events, settings.tz)
    if not sys.stdout.isatty():  # piped or redirected: one plain line per event, nothing folded
        typer.echo(" | ".join(rows[0]))
        for row in rows:
            typer.echo(" | ".join(row.values()))
        return
    table = Table(title=f"Historik: {object_type} {object_id}")
    for column in rows[0]:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row.values())
    Console().print(table)


@app.command()
def sync(
    path: Annotated[Path | None, typer.Argument(help="HR-exporten (CSV eller XLSX).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Räkna fram och rapportera allt, skriv inget.")
    ] = False,
    allow_mass_removal: Annotated[
        bool, typer.Option("--allow-mass-removal", help="Gå förbi bromsen (kräver --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Varför bromsen får passeras.")] = None,
) -> None:
    """Sync the contact centre's directory with an HR export (the nightly flow, by hand)."""
    import getpass

    from flows.directory_sync import options_from, run_sync, summary_markdown
    from models.audit import Actor
    from models.directory_sync import SyncStatus
    from models.hr_export import HrFileError, read_hr_export
    from tasks.directory_sync import SyncAlreadyRunning

    settings = get_settings()
    _engine(settings)  # refuses an outdated schema
    if allow_mass_removal and not (reason and reason.strip()):
        raise typer.BadParameter("--allow-mass-removal kräver --reason", param_hint="--reason")
    try:
        options = options_from(
            settings,
            dry_run=dry_run,
            allow_mass_removal=allow_mass_removal,
            reason=reason,
            actor=Actor.person(getpass.getuser()),
            flow_run_id=None,
        )
        report = run_sync(
            lambda: read_hr_export(
                path or settings.hr_export_path, column_map=settings.hr_column_map or None
            ),
            settings,
            options,
        )
    except (HrFileError, SyncAlreadyRunning) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except FileNotFoundError:
        typer.echo(f"HR-exporten finns inte: {path or settings.hr_export_path}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary_markdown(report))
    if report.status is SyncStatus.BRAKED:
        raise typer.Exit(3)


@mail_app.command("send")
def mail_send(batch_size: Annotated[int, typer.Option(min=1)] = 500) -> None:
    """Send what the outbox holds now (what the notification-relay flow does every minute)."""
    from tasks.mail import MailServerUnavailable, transport_from
    from tasks.outbox import relay_outbox, relay_policy

    settings = get_settings()
    try:
        report = relay_outbox(
            _engine(settings),
            transport_from(settings),
            policy=relay_policy(settings),
            batch_size=batch_size,
        )
    except MailServerUnavailable as exc:
        typer.echo(f"E-postservern gick inte att nå: {exc}. Inget har gått förlorat.", err=True)
        raise typer.Exit(1) from None
    if report.skipped:
        typer.echo("Ett annat utskick pågår redan.")
        return
    typer.echo(
        f"Skickade {report.sent}, försöker igen senare {report.retry_later}, "
        f"döda brev {report.dead}, kvar i utkorgen {report.still_pending}."
    )


@mail_app.command("status")
def mail_status() -> None:
    """How many mails wait, went out and died; the dead letters with their reasons."""
    from sqlalchemy import func, select

    from models.outbox import OutboxMessage, OutboxStatus
    from telefoni.core.db import session_factory

    with session_factory(_engine(get_settings()))() as session:
        counts = dict(
            session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
            .tuples()
            .all()
        )
        dead = session.execute(
            select(OutboxMessage.recipient, OutboxMessage.subject, OutboxMessage.last_error)
            .where(OutboxMessage.status == OutboxStatus.DEAD)
            .order_by(OutboxMessage.id)
        ).all()
    names = {"pending": "väntar", "sent": "skickade", "dead": "döda brev"}
    for status in OutboxStatus:
        typer.echo(f"{names[status.value]}: {counts.get(status, 0)}")
    for recipient, subject, error in dead:
        typer.echo(f"  {recipient} – {subject}: {error}")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print two new keys for TELEFONI_PNR_ENCRYPTION_KEY and TELEFONI_PNR_LOOKUP_KEY."""
    typer.echo(f"TELEFONI_PNR_ENCRYPTION_KEY={generate_key()}")
    typer.echo(f"TELEFONI_PNR_LOOKUP_KEY={generate_key()}")


@app.command()
def demo(
    employees: Annotated[int, typer.Option(min=1, help="How many employees to create.")] = 1300,
    hr_export: Annotated[
        Path | None, typer.Option(help="Also write the matching HR export (CSV or .xlsx) here.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same town.")] = 1,
) -> None:
    """Fill an empty register with a fictional municipality."""
    import time

    from telefoni import demo as demo_data
    from telefoni.core import migrate
    from telefoni.core.db import session_factory
    from telefoni.core.vault import vault_from

    settings = get_settings()
    engine = _engine(settings, migrated=False)
    migrate.upgrade(engine)
    started = time.perf_counter()
    try:
        town = demo_data.generate(employees=employees, seed=seed)
        with session_factory(engine).begin() as session:
            counts = demo_data.load(session, town, vault=vault_from(settings))
    except demo_data.DemoError as exc:
        typer.echo(f"Demodata laddades inte: {exc}", err=True)
        raise typer.Exit(1) from None
    if hr_export is not None:
        demo_data.write_hr_export(town, hr_export)
    elapsed = time.perf_counter() - started
    summary = ", ".join(f"{n} {what}" for what, n in counts.items())
    typer.echo(f"Demokommunen laddad på {elapsed:.1f} s: {summary}")
    if hr_export is not None:
        typer.echo(f"HR-exporten skriven till {hr_export}")


# ----------------------------------------------------------------------------- onboarding


def _use_prefect_api(settings: Settings) -> str:
    """The Prefect API this command talks to: PREFECT_API_URL, else the local system's."""
    url = os.environ.get("PREFECT_API_URL") or settings.prefect_ui_url.rstrip("/") + "/api"
    os.environ["PREFECT_API_URL"] = url  # before the Prefect client reads its settings
    return url


def _prefect_down(url: str) -> typer.Exit:
    typer.echo(
        f"Prefect-servern svarar inte på {url}. Starta systemet med `./dev up` (eller be den "
        "som sköter systemet att göra det) och försök igen. Inget har startats eller ändrats.",
        err=True,
    )
    return typer.Exit(1)


def _run_link(settings: Settings, run_id: str) -> str:
    return f"{settings.prefect_ui_url.rstrip('/')}/runs/flow-run/{run_id}"


def _references(references: list[str], *, lower: bool = False) -> str:
    if len(references) == 1:
        text = f"Beställningen {references[0]}"
    elif len(references) <= 5:
        text = f"Beställningarna {', '.join(references[:-1])} och {references[-1]}"
    else:
        text = f"De {len(references)} beställningarna {references[0]}–{references[-1]}"
    return text[0].lower() + text[1:] if lower else text


def _usage_error(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


@app.command()
def approve(
    run: Annotated[
        str,
        typer.Argument(
            metavar="RUN_ID",
            help="Körningens id (står i e-postmeddelandet och i Prefect) eller beställningens "
            "referens, t.ex. TEL-000123.",
        ),
    ],
    approve_: Annotated[bool, typer.Option("--approve", help="Godkänn beställningen.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Avslå beställningen.")] = False,
    as_: Annotated[
        str | None,
        typer.Option("--as", help="Ditt anställningsnummer: chefens eller en utsedd ersättares."),
    ] = None,
    comment: Annotated[str, typer.Option(help="Kommentar till beslutet.")] = "",
    apps: Annotated[
        list[str] | None,
        typer.Option(
            "--app",
            help="En betald app som du godkänner som arbetsverktyg (§4.2.4); upprepa för flera. "
            "Appar som inte anges beställs inte.",
        ),
    ] = None,
    wait: Annotated[
        float, typer.Option(min=0, help="Sekunder att vänta på att beslutet registreras.")
    ] = 30.0,
) -> None:
    """Godkänn eller avslå en beställning av telefon som väntar på chefens beslut."""
    import time
    from uuid import UUID

    from sqlalchemy import select

    from models.onboarding import STATUS_SV, OnboardingOrder, OrderStatus, reference_id
    from telefoni.core.db import session_factory

    if approve_ == reject:
        raise _usage_error("Ange exakt ett av --approve och --reject.")
    who = (as_ or "").strip()
    if not who:
        raise _usage_error("Ange ditt anställningsnummer med --as.")
    if reject and apps:
        raise _usage_error("--app går bara tillsammans med --approve.")
    if len(comment) > 1000:
        raise _usage_error("--comment: får vara högst 1000 tecken.")
    settings = get_settings()
    url = _use_prefect_api(settings)
    from tasks.onboarding import may_decide

    sessions = session_factory(_engine(settings))
    with sessions() as session:
        run_id = run.strip()
        if run_id.upper().startswith("TEL-"):
            try:
                order = session.get(OnboardingOrder, reference_id(run_id))
            except ValueError as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(1) from None
            if order is None or not order.flow_run_id:
                typer.echo(f"Det finns ingen beställning {run_id.upper()} i registret.", err=True)
                raise typer.Exit(1)
            run_id = order.flow_run_id
        try:
            run_id = str(UUID(run_id))
        except ValueError:
            typer.echo(
                f"{run!r} är inget körnings-id (t.ex. 0b1c…-…) och ingen referens (TEL-000123).",
                err=True,
            )
            raise typer.Exit(1) from None
        found = list(
            session.scalars(
                select(OnboardingOrder)
                .where(OnboardingOrder.flow_run_id == run_id)
                .order_by(OnboardingOrder.id)
            )
        )
        if not found:
            typer.echo(f"Ingen beställning i registret hör till körningen {run_id}.", err=True)
            raise typer.Exit(1)
        waiting = [o for o in found if o.status is OrderStatus.AWAITING_APPROVAL]
        if not waiting:
            typer.echo(f"Inget i körningen {run_id} väntar på beslut:", err=True)
            for o in found:
                by = f" (beslut av {o.decided_by})" if o.decided_by else ""
                typer.echo(f"  {o.reference}: {STATUS_SV[o.status]}{by}", err=True)
            raise typer.Exit(1)
        deputies = frozenset(d.strip() for d in settings.approval_deputies)
        if not may_decide(waiting, who, deputies):
            managers = sorted({o.approver.employee_number for o in waiting if o.approver})
            orders_text = _references([o.reference for o in waiting], lower=True)
            typer.echo(
                f"{who} får inte besluta om {orders_text}"
                f": bara chefen ({', '.join(managers) or 'saknas'}) eller en utsedd ersättare "
                "kan göra det. Inget beslut har registrerats.",
                err=True,
            )
            raise typer.Exit(1)
        paid = sorted({a["name"] for o in waiting for a in o.apps})
        chosen: list[str] = []
        for name in apps or []:
            match = [p for p in paid if p.casefold() == name.strip().casefold()]
            if not match:
                have = (
                    f"Appar i beställningen: {', '.join(paid)}."
                    if paid
                    else "Beställningen har inga betalda appar."
                )
                raise _usage_error(
                    f"--app: ingen app i beställningen heter {name.strip()!r}. {have}"
                )
            chosen.append(match[0])
        references = [o.reference for o in waiting]
        waiting_ids = [o.id for o in waiting]
        round_before = found[0].approval_round

    from prefect.exceptions import (
        FlowPauseTimeout,
        NotPausedError,
        ObjectNotFound,
        PrefectHTTPStatusError,
    )
    from prefect.flow_runs import resume_flow_run
    from prefect.settings import PREFECT_API_URL, temporary_settings

    decision = {
        "decision": "godkänn" if approve_ else "avslå",
        "decided_by": who,
        "approved_apps": sorted(set(chosen)),
        "comment": comment,
    }
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            resume_flow_run(UUID(run_id), run_input=decision)
    except httpx.TransportError:
        raise _prefect_down(url) from None
    except ObjectNotFound:
        typer.echo(f"Prefect-servern ({url}) känner inte till körningen {run_id}.", err=True)
        raise typer.Exit(1) from None
    except NotPausedError:
        typer.echo(
            f"Körningen {run_id} väntar inte på ett beslut i Prefect just nu: den kan ha "
            "avslutats eller avbrutits, eller inte hunnit stanna för beslutet än. Inget beslut "
            f"har registrerats. Se körningen: {_run_link(settings, run_id)}",
            err=True,
        )
        raise typer.Exit(1) from None
    except FlowPauseTimeout:
        typer.echo(
            f"Tiden för beslut har gått ut; körningen {run_id} kan inte längre återupptas.",
            err=True,
        )
        raise typer.Exit(1) from None
    except (RuntimeError, PrefectHTTPStatusError) as exc:
        typer.echo(f"Prefect tog inte emot beslutet för körningen {run_id}: {exc}", err=True)
        raise typer.Exit(1) from None

    deadline = time.monotonic() + wait
    while True:
        with sessions() as session:
            now = list(
                session.scalars(
                    select(OnboardingOrder)
                    .where(OnboardingOrder.id.in_(waiting_ids))
                    .order_by(OnboardingOrder.id)
                )
            )
        lead = now[0]
        if all(o.status is not OrderStatus.AWAITING_APPROVAL for o in now):
            break
        if lead.approval_round > round_before:  # the run looked at it and asked again
            typer.echo(
                "Körningen registrerade inte beslutet och väntar på ett nytt. Se varför: "
                f"{_run_link(settings, run_id)}",
                err=True,
            )
            raise typer.Exit(1)
        if time.monotonic() >= deadline:
            typer.echo(
                f"Beslutet är skickat. Körningen behandlar det fortfarande; följ den här: "
                f"{_run_link(settings, run_id)}"
            )
            return
        time.sleep(0.5)
    if lead.decided_by != who:
        typer.echo(
            f"{_references(references)} avgjordes redan av {lead.decided_by or 'någon annan'} "
            f"({STATUS_SV[lead.status]}); ditt beslut registrerades inte.",
            err=True,
        )
        raise typer.Exit(1)
    verdict = "avslogs" if lead.status is OrderStatus.REJECTED else "godkändes"
    typer.echo(f"{_references(references)} {verdict} av {who}.")
    if verdict == "godkändes" and paid:
        kept = sorted({a["name"] for o in now for a in o.apps if a.get("approved")})
        typer.echo(
            f"Godkända appar: {', '.join(kept)}." if kept else "Inga betalda appar godkändes."
        )
    typer.echo(f"Följ körningen: {_run_link(settings, run_id)}")


def _start(settings: Settings, url: str, deployment: str, parameters: dict[str, Any]) -> str:
    """Start a run of a deployment without waiting for it; its id."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            started = run_deployment(name=deployment, parameters=parameters, timeout=0)
    except httpx.TransportError:
        raise _prefect_down(url) from None
    except ObjectNotFound:
        typer.echo(
            f"Deploymenten {deployment} finns inte på Prefect-servern {url}. Starta systemet med "
            "`./dev up` (det startar alla deployments) och försök igen. Inget har startats.",
            err=True,
        )
        raise typer.Exit(1) from None
    except PrefectHTTPStatusError as exc:
        typer.echo(
            f"Prefect tog inte emot beställningen ({exc.response.status_code}). "
            "Inget har startats.",
            err=True,
        )
        raise typer.Exit(1) from None
    assert isinstance(started, FlowRun)  # called outside an event loop: not a coroutine
    return str(started.id)


@app.command()
def onboard(
    employee: Annotated[str | None, typer.Option(help="Den anställdas anställningsnummer.")] = None,
    category: Annotated[
        str | None, typer.Option(metavar="1|2|3", help="Behovskategori (§4.1).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Telefonmodell, som i arbetsgivarens katalog.")
    ] = None,
    subscription: Annotated[
        str | None, typer.Option(help="Abonnemangsformens kod i arbetsgivarens utbud.")
    ] = None,
    requested_by: Annotated[
        str | None, typer.Option(help="Beställare: ditt anställningsnummer eller användar-id.")
    ] = None,
    headset: Annotated[
        bool | None, typer.Option("--headset/--no-headset", help="Headset (§4.2.1); standard ja.")
    ] = None,
    data: Annotated[
        bool | None, typer.Option("--data/--no-data", help="Dataabonnemang (§4.2.2); standard ja.")
    ] = None,
    deviation: Annotated[
        str | None,
        typer.Option(
            metavar="funktionsnedsättning|tålig",
            help="Skäl till annan modell än standardmodellen (§4.1.1).",
        ),
    ] = None,
    deviation_note: Annotated[str | None, typer.Option(help="Kommentar till avvikelsen.")] = None,
    app_: Annotated[
        list[str] | None,
        typer.Option(
            "--app",
            metavar='"NAMN;KOSTNAD;VARFÖR"',
            help="Betald app (§4.2.4), kostnad i kr per månad; upprepa för flera.",
        ),
    ] = None,
    wanted_by: Annotated[
        str | None, typer.Option(metavar="ÅÅÅÅ-MM-DD", help="Önskat leveransdatum.")
    ] = None,
    replacement: Annotated[
        bool,
        typer.Option("--replacement", help="Ersätter ett befintligt personbundet abonnemang."),
    ] = False,
    batch: Annotated[
        Path | None,
        typer.Option(
            metavar="FIL.csv",
            help="Samlad beställning från en ;-separerad fil med kolumnerna "
            "anstallningsnummer;behovskategori;modell;abonnemang;headset;data.",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Namn på den samlade beställningen (med --batch).")
    ] = None,
) -> None:
    """Beställ telefon och abonnemang till en anställd, eller till många med --batch."""
    from telefoni.cli.onboard_file import (
        OrderFileError,
        OrderInputError,
        order_from_options,
        read_batch,
    )

    settings = get_settings()
    url = _use_prefect_api(settings)
    single = {
        "--employee": employee,
        "--category": category,
        "--model": model,
        "--subscription": subscription,
        "--headset/--no-headset": headset,
        "--data/--no-data": data,
        "--deviation": deviation,
        "--deviation-note": deviation_note,
        "--app": app_,
        "--wanted-by": wanted_by,
        "--replacement": replacement or None,
    }
    if batch is not None:
        mixed = [option for option, value in single.items() if value not in (None, [])]
        if mixed:
            raise _usage_error(
                f"--batch kan inte kombineras med {', '.join(mixed)}: allt om beställningarna "
                "står i filen."
            )
        problems = [
            f"{option}: saknas"
            for option, value in (("--name", name), ("--requested-by", requested_by))
            if not (value and value.strip())
        ]
        if name and len(name.strip()) > 80:
            problems.append("--name: får vara högst 80 tecken")
        if problems:
            raise _usage_error("\n".join(problems))
        assert name is not None and requested_by is not None
        try:
            orders = read_batch(batch, requested_by.strip())
        except OrderFileError as exc:
            typer.echo("Filen gav inga beställningar; inget har startats.", err=True)
            for line in exc.lines():
                typer.echo(f"  {line}", err=True)
            raise typer.Exit(2) from None
        run_id = _start(
            settings,
            url,
            "onboarding-batch/onboarding-batch",
            {"orders": [o.model_dump(mode="json") for o in orders], "name": name.strip()},
        )
        typer.echo(
            f"Den samlade beställningen {name.strip()!r} med {len(orders)} "
            f"beställning{'ar' if len(orders) != 1 else ''} är startad: körning {run_id}"
        )
    else:
        if name is not None:
            raise _usage_error("--name hör till --batch.")
        try:
            order = order_from_options(
                employee=employee,
                category=category,
                model=model,
                subscription=subscription,
                requested_by=requested_by,
                headset=True if headset is None else headset,
                data=True if data is None else data,
                deviation=deviation,
                deviation_note=deviation_note,
                apps=app_ or [],
                wanted_by=wanted_by,
                replacement=replacement,
            )
        except OrderInputError as exc:
            typer.echo("Beställningen är inte komplett; inget har startats.", err=True)
            for line in exc.problems:
                typer.echo(f"  {line}", err=True)
            raise typer.Exit(2) from None
        run_id = _start(
            settings,
            url,
            "onboarding-order/onboarding-order",
            {"order": order.model_dump(mode="json")},
        )
        typer.echo(f"Beställningen till {order.employee_number} är startad: körning {run_id}")
    typer.echo(f"Följ den i Prefect: {_run_link(settings, run_id)}")
    typer.echo(
        "Den kontrolleras mot riktlinjerna och går sedan till chefen för beslut "
        "(besked kommer med e-post)."
    )


@app.command()
def up(
    demo_employees: Annotated[
        int, typer.Option(help="Employees in the demo municipality (when the register is empty).")
    ] = 1300,
) -> None:
    """Start the whole system: Prefect server and UI, every deployment served, demo data."""
    from telefoni.up import run_system

    raise typer.Exit(run_system(get_settings(), demo_employees=demo_employees))


if __name__ == "__main__":  # pragma: no cover
    app()
