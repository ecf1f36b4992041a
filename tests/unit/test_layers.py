"""The layers import downwards only: models ← ground ← tasks ← flows ← entry points.

models/          the domain: tables, rules, forms, templates (imports no other layer)
telefoni/core/   the ground: settings, database, locks, migrations, the vault
tasks/           Prefect tasks
flows/           Prefect flows
telefoni/…       the entry points: the CLI, `up`, the demo town
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("models", "tasks", "flows", "telefoni")
RANKS = {"models": 0, "ground": 1, "tasks": 2, "flows": 3, "entry points": 4}
# The very ground: settings stand on nothing of the project's but the ground.
STANDS_ON_NOTHING = ("telefoni.core.settings",)


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name of the project, or None for anything else."""
    top = module.split(".", 1)[0]
    if top == "telefoni":
        return (
            "ground"
            if module == "telefoni.core" or module.startswith("telefoni.core.")
            else ("entry points")
        )
    return {"models": "models", "tasks": "tasks", "flows": "flows"}.get(top)


def imported_modules(source: str, module: str) -> Iterator[str]:
    """Every module `source` imports, at the top or inside a function, relative ones resolved."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                yield ".".join([*base, node.module] if node.module else base)
            elif node.module:
                yield node.module


def violations(sources: Mapping[str, str]) -> list[str]:
    """'importer → imported' for each import that reaches up a layer; `sources` by module name."""
    found = []
    for module, source in sorted(sources.items()):
        own = layer_of(module)
        assert own is not None, module
        for target in imported_modules(source, module):
            layer = layer_of(target)
            if layer is None:
                continue
            if RANKS[layer] > RANKS[own]:
                found.append(f"{module} ({own}) → {target} ({layer})")
            elif module in STANDS_ON_NOTHING and layer != "ground":
                found.append(f"{module} (settings) → {target} ({layer})")
    return found


def project_sources() -> dict[str, str]:
    sources = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations/versions" in path.as_posix():
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            sources[name] = path.read_text(encoding="utf-8")
    return sources


def test_the_project_imports_downwards_only() -> None:
    sources = project_sources()
    assert {"models.register", "telefoni.core.settings", "telefoni.cli"} <= sources.keys()
    assert violations(sources) == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("models.register", "from tasks.outbox import send_outbox\n", "models.register (models)"),
        ("models.register", "def f():\n    import flows.onboarding\n", "→ flows.onboarding"),
        ("models.register", "from telefoni.core.db import get_engine\n", "(ground)"),
        ("tasks.outbox", "from flows.notification_relay import x\n", "tasks.outbox (tasks)"),
        ("flows.onboarding", "from telefoni.cli import app\n", "(entry points)"),
        ("telefoni.core.db", "from telefoni.demo import load\n", "telefoni.core.db (ground)"),
        ("telefoni.core.settings", "from models.outbox import RetryPolicy\n", "(settings)"),
        ("tasks.onboarding.approval", "from ...flows import onboarding\n", "→ flows (flows)"),
    ],
)
def test_an_import_that_reaches_up_is_named(module: str, source: str, expected: str) -> None:
    (found,) = violations({module: source})
    assert expected in found


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("tasks.outbox", "from models.outbox import enqueue\nfrom telefoni.core import db\n"),
        ("flows.onboarding", "from tasks.onboarding import approval\n"),
        ("telefoni.cli", "from flows.directory_sync import directory_sync\n"),
        ("telefoni.core.vault", "from models.personnummer import PersonnummerVault\n"),
    ],
)
def test_an_import_downwards_is_allowed(module: str, source: str) -> None:
    assert violations({module: source}) == []
