"""The `telefoni` command's shape: its commands, and a `--help` that imports nothing heavy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer
from typer.core import TyperGroup

from telefoni.cli import app

# Imported only inside the commands that need them: `telefoni --help` stays fast.
HEAVY = ("prefect", "pandas", "numpy", "openpyxl", "models", "tasks", "flows")


def test_the_commands_and_groups_in_the_order_help_lists_them() -> None:
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    groups = {
        name: sorted(sub.commands)
        for name, sub in command.commands.items()
        if isinstance(sub, TyperGroup)
    }
    assert list(command.list_commands(typer.Context(command))) == [
        "sync", "demo", "approve", "answer", "attest", "onboard", "offboard", "catalogue", "up",
        "pending", "unlock", "db", "mail", "audit", "keys",
    ]  # fmt: skip
    assert groups == {
        "db": ["check", "revision", "upgrade"],
        "mail": ["send", "status"],
        "audit": ["show", "verify"],
        "keys": ["generate"],
    }


def test_help_imports_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from telefoni.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print('\\n'.join(sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    loaded = {name.split(".")[0] for name in run.stdout.split()}
    assert sorted(loaded & set(HEAVY)) == []


def test_a_bad_file_of_municipalities_stops_every_command_with_its_reason(tmp_path: Path) -> None:
    bad = tmp_path / "kommuner.toml"
    bad.write_text(
        '[kommun.laxa]\nname = "Laxå kommun"\nhr_export_path = "laxa.csv"\n', encoding="utf-8"
    )
    env = {
        **os.environ,
        "TELEFONI_MUNICIPALITIES_FILE": str(bad),
        "TELEFONI_DATA_DIR": str(tmp_path),
    }
    for command in (["audit", "verify"], ["db", "check"]):
        done = subprocess.run(
            [sys.executable, "-m", "telefoni.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert "Inställningarna går inte att använda" in done.stderr
        assert "kommun 'laxa'" in done.stderr and "'contact_centre_email'" in done.stderr
        assert "Traceback" not in done.stderr
