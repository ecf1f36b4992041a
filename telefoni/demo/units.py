"""The town's organisation units: the förvaltningar, then the enheter drawn for each."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from telefoni.demo import names
from telefoni.demo.frames import nullable_ids
from telefoni.demo.organisation import FORVALTNINGAR, Forvaltning, UnitTemplate

EMPLOYEES_PER_UNIT: Final = 25


def draw_units(rng: np.random.Generator, employees: int) -> pd.DataFrame:
    """Förvaltningar first (the kommunledning at row 0), then their enheter."""
    n_enheter = max(10, round(employees / EMPLOYEES_PER_UNIT)) - len(FORVALTNINGAR)
    per_forv = _largest_remainder(n_enheter, np.array([f.share for f in FORVALTNINGAR]))
    rows = [_forvaltning_row(rng, fi, f) for fi, f in enumerate(FORVALTNINGAR)]
    for fi, f in enumerate(FORVALTNINGAR):
        rows += _enhet_rows(rng, fi, f, int(per_forv[fi]))
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


def _address(rng: np.random.Generator, place: str | None) -> str:
    street = names.STREETS[int(rng.integers(len(names.STREETS)))]
    number = int(rng.integers(1, 60))
    if place in names.PLACES:
        return f"{street} {number}, 694 {60 + names.PLACES.index(place)} {place}"
    return f"{street} {number}, 694 {int(rng.integers(30, 40))} {names.TOWN}"


def _forvaltning_row(rng: np.random.Generator, fi: int, f: Forvaltning) -> dict[str, Any]:
    address = names.TOWN_HALL_ADDRESS if fi == 0 else _address(rng, None)
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


def _enhet_rows(rng: np.random.Generator, fi: int, f: Forvaltning, k: int) -> list[dict[str, Any]]:
    """`k` enheter of förvaltning `fi`: each of its kinds once, then kinds drawn by weight."""
    t_count = len(f.templates)
    weights = np.array([t.weight for t in f.templates], dtype=float)
    picks = list(range(min(k, t_count)))
    picks += rng.choice(t_count, size=max(0, k - t_count), p=weights / weights.sum()).tolist()
    seen: dict[int, int] = {}
    fill_orders = {
        ti: rng.permutation(len(names.FILLS[t.fill])) for ti, t in enumerate(f.templates) if t.fill
    }
    rows: list[dict[str, Any]] = []
    for ti in picks:
        t = f.templates[ti]
        nth = seen.get(ti, 0)
        seen[ti] = nth + 1
        name, place = _enhet_name(t, nth, fill_orders.get(ti))
        address = names.TOWN_HALL_ADDRESS if fi == 0 and not t.fill else _address(rng, place)
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


def _enhet_name(t: UnitTemplate, nth: int, fill_order: np.ndarray | None) -> tuple[str, str | None]:
    """The `nth` enhet of a kind ("Björkviksskolan", "Förskolan Ekorren 2") and its place."""
    place: str | None = None
    if t.fill:
        assert fill_order is not None
        values = names.FILLS[t.fill]
        place = values[int(fill_order[nth % len(values)])]
        name = t.pattern.format(place)
        lap = nth // len(values)
    else:
        name, lap = t.pattern, nth
    if lap:
        name = f"{name} {lap + 1}"
    return name, place
