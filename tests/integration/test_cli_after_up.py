"""After `telefoni up` on a development machine, the commands serve its municipalities."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telefoni.cli import app
from telefoni.core.settings import DEMO_MUNICIPALITIES_COPY, PROJECT_ROOT, get_settings


def test_the_commands_serve_the_municipalities_telefoni_up_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEFONI_ENVIRONMENT", "development")
    monkeypatch.setenv("TELEFONI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TELEFONI_DATABASE_URL", f"sqlite:///{tmp_path / 'register.db'}")
    monkeypatch.delenv("TELEFONI_MUNICIPALITIES_FILE", raising=False)
    get_settings.cache_clear()
    try:
        run = CliRunner().invoke
        assert run(app, ["db", "upgrade"]).exit_code == 0
        before = run(app, ["pending", "--kommun", "sjobacka"])
        assert before.exit_code == 2 and "finns inte här" in before.stderr

        # What `telefoni up` leaves in the data folder: its copy of the demo's file.
        shutil.copy(
            PROJECT_ROOT / "examples" / "demo-kommuner.toml", tmp_path / DEMO_MUNICIPALITIES_COPY
        )
        get_settings.cache_clear()
        after = run(app, ["pending", "--kommun", "sjobacka"])
        assert after.exit_code == 0, after.stderr
        assert after.stdout == "Inget väntar på svar.\n"
    finally:  # the command set it for its process, which is this one
        os.environ.pop("TELEFONI_MUNICIPALITIES_FILE", None)
        get_settings.cache_clear()
