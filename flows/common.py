"""What the flows that wait for people share: waiting for a form, and ending without a fault.

Waiting: a run started from a deployment suspends (its process ends; the run comes back from
the deployment when someone answers, whatever was restarted in between); a run started
directly holds its process and polls. Either way the answer arrives as a typed form, and every
step before it is safe to pass again.

A run that cannot go on because of what was asked for (the guideline refuses it, an unknown
employee, no clear municipality) is no fault of the system: it ends Failed with a Swedish
message and no traceback (`stopped`), and nothing of it is retried.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar, cast

from prefect import get_run_logger
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.runtime import deployment
from prefect.states import Failed

from tasks.onboarding.requested import UnknownEmployee
from telefoni.core.municipalities import MunicipalityError
from telefoni.core.settings import get_settings

Form = TypeVar("Form", bound=RunInput)


def wait_for(form: type[Form], *, key: str, description: str, deadline_days: float) -> Form:
    """Wait for a person's answer on a form, shown with `description` above it (a run that
    holds its process gives up a while after the deadline)."""
    settings = get_settings()
    shown = form.with_initial_data(description=description)
    if deployment.id:
        answer = suspend_flow_run(wait_for_input=shown, key=key, timeout=None)
    else:
        answer = pause_flow_run(
            wait_for_input=shown,
            key=key,
            timeout=int(deadline_days * 86400 + 3600),
            poll_interval=max(1, int(settings.approval_poll_seconds)),
        )
    assert answer is not None
    return answer


# How a run may end without a fault of the system; each flow adds its own (`expected`).
ENDINGS: list[type[Exception]] = [UnknownEmployee, MunicipalityError]


def expected(*endings: type[Exception]) -> None:
    """These exceptions end a run as `stopped` does: said in Swedish, without a traceback."""
    ENDINGS.extend(e for e in endings if e not in ENDINGS)


def stopped(exc: Exception) -> dict[str, Any]:
    """The run ends Failed with `exc`'s Swedish message and no traceback, nothing retried;
    `state.result()` raises `exc`.

    Prefect makes a State that a flow returns the run's final state; whoever calls the flow
    gets the flow's result or, for this one, `exc` raised: typed as the flows' result."""
    said = str(exc)
    get_run_logger().error("Körningen avslutades: %s", said)
    return cast("dict[str, Any]", Failed(message=said[:1].upper() + said[1:], data=exc))


class _ExpectedEnding(logging.Filter):
    """Prefect logs the exception of every failed deployment run as "Engine execution exited
    with unexpected exception", with its traceback, in the run's log. A run that `stopped`
    has said why already, in Swedish: that record is dropped (any other is kept)."""

    UNEXPECTED = "Engine execution exited with unexpected exception"

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (record.msg == self.UNEXPECTED and isinstance(exc, tuple(ENDINGS)))


logging.getLogger("prefect.flow_runs").addFilter(_ExpectedEnding())
