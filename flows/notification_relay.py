"""Notification relay: every minute, send what the outbox holds."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from tasks.outbox import RelayReport, send_outbox


def summary_markdown(report: RelayReport) -> str:
    """The run's report for the IT admin, in Swedish."""
    if report.skipped:
        return "Ett annat utskick pågick redan; den här körningen gjorde ingenting."
    lines = [
        "## Utskick av e-post",
        "",
        "| | antal |",
        "| --- | ---: |",
        f"| skickade | {report.sent} |",
        f"| tillfälligt nekade, försöker igen senare | {report.retry_later} |",
        f"| gav upp (döda brev) | {report.dead} |",
        f"| väntar kvar i utkorgen | {report.still_pending} |",
        "",
        f"Tid: {report.seconds:.1f} s.",
    ]
    if report.dead_letters:
        lines += ["", "### Döda brev", "", "| mottagare | ämne | orsak |", "| --- | --- | --- |"]
        lines += [f"| {to} | {subject} | {why} |" for to, subject, why in report.dead_letters]
    return "\n".join(lines)


@flow(
    name="notification-relay",
    persist_result=False,  # dead letters name recipients; the outbox table keeps them
    description="Skickar e-post från utkorgen, försöker igen vid tillfälliga fel och "
    "lägger det som inte går att leverera som döda brev.",
)
def notification_relay(batch_size: int = 500) -> RelayReport:
    """Skicka e-posten i utkorgen och rapportera antalen.

    Args:
        batch_size: Hur många meddelanden som hämtas ur utkorgen åt gången.
    """
    report = send_outbox(batch_size)
    create_markdown_artifact(
        key="notification-relay", markdown=summary_markdown(report), description="Utskick"
    )
    return report
