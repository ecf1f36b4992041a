"""The town's organisation units: the förvaltningar, then the enheter drawn for each."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from telefoni.demo import names
from telefoni.demo.frames import nullable_ids
from telefoni.demo.organisation import FORVALTNINGAR, Forvaltning, UnitTemplate
from telefoni.demo.places import Place

EMPLOYEES_PER_UNIT: Final = 25


def draw_units(rng: np.random.Generator, employees: int, town: Place) -> pd.DataFrame:
    """Förvaltningar first (the kommunledning at row 0), then their enheter."""
    n_enheter = max(10, round(employees / EMPLOYEES_PER_UNIT)) - len(FORVALTNINGAR)
    per_forv = _largest_remainder(n_enheter, np.array([f.share for f in FORVALTNINGAR]))
    rows = [_forvaltning_row(rng, fi, f, town) for fi, f in enumerate(FORVALTNINGAR)]
    for fi, f in enumerate(FORVALTNINGAR):
        rows += _enhet_rows(rng, fi, f, int(per_forv[fi]), town)
    units = pd.DataFrame(rows)
    ids = np.arange(1, len(units) + 1)
    units.insert(0, "id", ids)
    units.insert(1, "code", [f"U{1000 + i}" for i in range(len(units))])
    units["parent_id"] = nullable_ids(units["parent"].to_numpy())
    return units


def cost_centres(units: pd.DataFrame) -> pd.DataFrame:
    """One kostnadsställe per unit, with the unit's id and name."""
    return pd.DataFrame(
        {
            "id": units["id"],
            "code": "KS" + units["code"].str.slice(1),
            "name": units["name"],
        }
    )


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    exact = shares / shares.sum() * total
    counts: np.ndarray = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def _address(rng: np.random.Generator, place: str | None, town: Place) -> str:
    street = names.STREETS[int(rng.integers(len(names.STREETS)))]
    number = int(rng.integers(1, 60))
    if place in town.districts:
        return f"{street} {number}, {town.postcode} {60 + town.districts.index(place)} {place}"
    return f"{street} {number}, {town.postcode} {int(rng.integers(30, 40))} {town.town}"


def _forvaltning_row(
    rng: np.random.Generator, fi: int, f: Forvaltning, town: Place
) -> dict[str, Any]:
    address = town.town_hall_address if fi == 0 else _address(rng, None, town)
    return {
        "name": f.name,
        "parent": -1,
        "forvaltning": fi,
        "template": -1,
        "size": 0.4,
        "rugged": 0.0,
        "keywords": f.keywords,
        "chef_title": f.chef_title,
        "visiting_address": address,
    }


def _enhet_rows(
    rng: np.random.Generator, fi: int, f: Forvaltning, k: int, town: Place
) -> list[dict[str, Any]]:
    """`k` enheter of förvaltning `fi`: each of its kinds once, then kinds drawn by weight."""
    fills = names.fills(town.districts)
    t_count = len(f.templates)
    weights = np.array([t.weight for t in f.templates], dtype=float)
    picks = list(range(min(k, t_count)))
    picks += rng.choice(t_count, size=max(0, k - t_count), p=weights / weights.sum()).tolist()
    seen: dict[int, int] = {}
    fill_orders = {
        ti: rng.permutation(len(fills[t.fill])) for ti, t in enumerate(f.templates) if t.fill
    }
    rows: list[dict[str, Any]] = []
    for ti in picks:
        t = f.templates[ti]
        nth = seen.get(ti, 0)
        seen[ti] = nth + 1
        name, place = _enhet_name(t, nth, fill_orders.get(ti), fills, town.town)
        address = town.town_hall_address if fi == 0 and not t.fill else _address(rng, place, town)
        rows.append(
            {
                "name": name,
                "parent": fi,
                "forvaltning": fi,
                "template": ti,
                "size": t.size * float(rng.lognormal(0.0, 0.35)),
                "rugged": t.rugged,
                "keywords": t.keywords,
                "chef_title": t.chef_title,
                "visiting_address": address,
            }
        )
    return rows


def _enhet_name(
    t: UnitTemplate,
    nth: int,
    fill_order: np.ndarray | None,
    fills: dict[str, tuple[str, ...]],
    town: str,
) -> tuple[str, str | None]:
    """The `nth` enhet of a kind ("Björkviksskolan", "Förskolan Ekorren 2") and its place."""
    place: str | None = None
    if t.fill:
        assert fill_order is not None
        values = fills[t.fill]
        place = values[int(fill_order[nth % len(values)])]
        name = t.pattern.format(place, town=town)
        lap = nth // len(values)
    else:
        name, lap = t.pattern.format(town=town), nth
    if lap:
        name = f"{name} {lap + 1}"
    return name, place
