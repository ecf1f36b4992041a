"""`telefoni catalogue`: what a newcomer reads of the phone models and subscription options,
without the database; each municipality its own part of the catalogue besides the shared one."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from telefoni import demo
from telefoni.core.settings import Settings
from telefoni.core.vault import vault_from
from telefoni.up import DEMO_MUNICIPALITIES
from tests import factories
from tests.cli import telefoni


def rows_of(out: str, first: str) -> dict[str, list[str]]:
    """The table rows of the printed section that begins ``first``: first cell → the cells
    (columns stand two spaces or more apart)."""
    section = out.split(first, 1)[1].split("\n\n", 1)[0]
    lines = section.strip("\n").splitlines()[3:]  # the count line, headers, rule
    return {cells[0]: cells for cells in (re.split(r"\s{2,}", line.strip()) for line in lines)}


# The command's answers do not depend on the engine: one.
@pytest.mark.parametrize("relay_db", ["sqlite"], indirect=True)
def test_the_catalogue_in_swedish_per_municipality(relay_db: Engine, tmp_path: Path) -> None:
    shutil.copy(DEMO_MUNICIPALITIES, tmp_path / "kommuner.toml")
    env = {"TELEFONI_MUNICIPALITIES_FILE": str(tmp_path / "kommuner.toml")}
    settings = Settings(data_dir=tmp_path, environment="test")
    with Session(relay_db) as session, session.begin():
        sjobacka = factories.municipality(session, "sjobacka", "Sjöbacka kommun")
        alvnas = factories.municipality(session, "alvnas", "Älvnäs kommun")
        town = demo.generate(employees=30, seed=1, place=demo.SJOBACKA)
        demo.load(session, town, vault=vault_from(settings), municipality_id=sjobacka)
        factories.phone_model(
            session, name="Älvfon Robust", is_standard=False, municipality_id=alvnas
        )

    shown = telefoni("catalogue", "--kommun", "älvnäs", engine=relay_db, data_dir=tmp_path, **env)

    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert out.startswith("Katalogen för Älvnäs kommun\n")
    models = rows_of(out, "Telefonmodeller")
    assert set(models) == {m[0] for m in demo.PHONE_MODELS} | {"Älvfon Robust"}
    # name, manufacturer, standard model, smartphone, headset included, may be ordered
    assert models["Nordfon S24"] == ["Nordfon S24", "Nordfon", "ja", "ja", "nej", "ja"]
    assert models["Nordfon Trygg 3"][2:] == ["nej", "nej", "nej", "ja"]
    assert models["Nordfon S21"][-1] == "nej"  # no longer available
    assert "Standardmodell" in out and "Headset ingår" in out and "Kan beställas" in out
    options = rows_of(out, "Abonnemangsformer")
    assert set(options) == {o[0] for o in demo.SUBSCRIPTION_OPTIONS}
    assert options["MOB-BAS"][:5] == ["MOB-BAS", "Mobil Bas", "nej", "99,00 kr", "ja"]
    assert options["MOB-DATA20"][2] == "ja"  # data included
    assert "Mobildata ingår" in out
    assert "True" not in out and "False" not in out  # yes and no in Swedish

    theirs = telefoni(
        "catalogue", "--kommun", "sjobacka", engine=relay_db, data_dir=tmp_path, **env
    )
    assert theirs.returncode == 0, theirs.stderr
    assert "Katalogen för Sjöbacka kommun" in theirs.stdout
    assert "Nordfon S24" in theirs.stdout and "Älvfon Robust" not in theirs.stdout  # not theirs

    unknown = telefoni("catalogue", "--kommun", "Lund", engine=relay_db, data_dir=tmp_path, **env)
    assert unknown.returncode == 2
    assert "kommunen 'Lund' finns inte här" in unknown.stderr
    assert "sjobacka (Sjöbacka kommun), alvnas (Älvnäs kommun)" in unknown.stderr
    assert unknown.stdout == ""
