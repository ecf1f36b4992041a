"""Deployments served by a process of their own, as `telefoni up` serves them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL

from telefoni.core.settings import PROJECT_ROOT


class Served:
    """`serve` of some deployments of prefect.yaml (by name), built by `load_deployments` from
    the register as `telefoni up` builds them, in a process of its own; `log`: where what the
    admin would see in the terminal of `telefoni up` goes (None: nowhere)."""

    def __init__(self, names: Sequence[str], log: Path | None = None) -> None:
        self.names = tuple(names)
        self.log = log
        serve = (
            "from prefect import serve\n"
            "from telefoni.up import load_deployments\n"
            f"serve(*[d for d in load_deployments() if d.name in {self.names!r}])\n"
        )
        env = {
            **os.environ,
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        self.started = datetime.now(UTC)
        out = log.open("ab") if log is not None else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, "-c", serve],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its flow-run children go down with it
        )

    @property
    def deployments(self) -> list[str]:
        return [f"{name}/{name}" for name in self.names]

    def wait_until_served(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, "serve ended"
                try:  # as this process serves them (ones served before may be there)
                    served = [client.read_deployment_by_name(n) for n in self.deployments]
                    if all(d.updated and d.updated >= self.started for d in served):
                        return
                except ObjectNotFound:
                    pass
                time.sleep(0.5)
        raise AssertionError("the deployments were never served")

    def wait_until_idle(self, timeout: float = 60) -> None:
        """Until no flow-run process of the server is left: what they logged has been sent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _descendants(self.process.pid):
                return
            time.sleep(0.3)
        raise AssertionError("a flow-run process of the server did not end")

    def kill(self, *, forget: bool = True) -> None:
        """Kill the server and its runs; `forget`: its deployments go with it, so that the
        next test serves its own register's (not when another server takes over here)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        if forget:
            with get_client(sync_client=True) as client:
                for name in self.deployments:
                    with contextlib.suppress(ObjectNotFound):
                        client.delete_deployment(client.read_deployment_by_name(name).id)


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":  # a zombie has ended
            parents[int(entry.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found += children
        todo += children
    return found
