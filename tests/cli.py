"""Run the `telefoni` command as an admin would: a process of its own, configured by TELEFONI_*."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

COMMAND = [sys.executable, "-m", "telefoni.cli"]


def telefoni_env(engine: Engine, data_dir: Path | None = None, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "TELEFONI_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "TELEFONI_ENVIRONMENT": "test",
        **extra,
    }
    if data_dir is not None:
        env["TELEFONI_DATA_DIR"] = str(data_dir)
    return env


def telefoni(
    *args: str, engine: Engine, data_dir: Path | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        env=telefoni_env(engine, data_dir, **extra),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
