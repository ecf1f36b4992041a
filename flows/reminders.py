"""The reminders watch (hourly, one run at a time): every question put to a person, of every
process, is reminded at its interval, escalated to the manager's manager, settled at its
deadline, and its waiting run woken; what still waits is the run's table. The offboardings
the sync recorded but could not start a run for (the Prefect server was down, `telefoni sync`
from a terminal) get theirs here."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from models.wording import counted
from tasks.offboarding.prefect_tasks import start_task
from tasks.people.prefect_tasks import pending_task, wake_task, watch_task


@flow(
    name="reminders",
    persist_result=False,
    description="Varje timme: påminner den som ska svara på ett ärende (beslut, attest, "
    "polisanmälan …), skickar det vidare till chefens chef efter en tid, tillämpar "
    "tidsfristen och väcker körningen som väntar. Visar vad som väntar på vem. Startar "
    "körningarna för avslut som synken har registrerat men inte kunnat starta.",
)
def reminders() -> dict[str, int]:
    """Påminnelser, eskalering och tidsfrister för alla ärenden som väntar på en person."""
    watched = watch_task()
    resumed = wake_task(watched.wakes) if watched.wakes else 0
    rows = pending_task()
    started = start_task()
    counts = list(watched.counts.values())
    total = {
        "påminnelser": sum(c.reminded for c in counts),
        "eskalerade": sum(c.escalated for c in counts),
        "tidsfrist passerad": sum(c.expired for c in counts),
        "väckta körningar": resumed,
        "väntar på svar": len(rows),
        "startade avslutskörningar": started.made,
    }
    create_markdown_artifact(
        key="reminders",
        markdown="## Påminnelser och tidsfrister\n\n| kommun | påminnelser | eskalerade | "
        "tidsfrist passerad |\n| --- | ---: | ---: | ---: |\n"
        + "\n".join(
            f"| {name} | {c.reminded} | {c.escalated} | {c.expired} |"
            for name, c in watched.counts.items()
        )
        + f"\n\n{counted(len(rows), 'ärende', 'ärenden')} väntar på svar; "
        + f"{counted(resumed, 'väntande körning', 'väntande körningar')} väcktes; "
        + f"{counted(started.made, 'avslutskörning', 'avslutskörningar')} startades"
        + (f" ({started.warning})." if started.warning else "."),
        description="Vad körningen gjorde",
    )
    create_table_artifact(
        key="pending-asks",
        table=rows[:500] or [{"ärende": "", "gäller": "Inget väntar på svar."}],
        description="Vad som väntar på vem, äldst först (de första 500)",
    )
    return total
