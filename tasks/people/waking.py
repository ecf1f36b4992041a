"""Waking the run that waits for an ask settled elsewhere (in a terminal, or by the deadline)."""

from __future__ import annotations

import enum
from typing import Any
from uuid import UUID


class Woke(enum.Enum):
    RESUMED = "resumed"  # the run goes on with the answer
    GONE = "gone"  # the run has ended or does not exist: nobody to wake
    NOT_WAITING = "not_waiting"  # the run is not paused now (about to, or busy): try later


def wake(flow_run_id: str, run_input: dict[str, Any]) -> Woke:
    """Resume the paused run with `run_input` (its form, filled in with what happened).
    Prefect being unreachable is raised: nothing is known then."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import FlowPauseTimeout, NotPausedError, ObjectNotFound
    from prefect.flow_runs import resume_flow_run

    try:
        resume_flow_run(UUID(flow_run_id), run_input=run_input)
        return Woke.RESUMED
    except ObjectNotFound:
        return Woke.GONE
    except FlowPauseTimeout:
        return Woke.GONE
    except (NotPausedError, RuntimeError):  # e.g. rejected: the run is in another state
        with get_client(sync_client=True) as client:
            try:
                state = client.read_flow_run(UUID(flow_run_id)).state
            except ObjectNotFound:
                return Woke.GONE
        return Woke.GONE if state is None or state.is_final() else Woke.NOT_WAITING
