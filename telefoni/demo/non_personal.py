"""Numbers that belong to no person: receptions, on-call phones, group numbers (§3.1)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from telefoni.demo import names
from telefoni.demo.frames import numbered
from telefoni.demo.organisation import FORVALTNINGAR, NumberTemplate


def draw_non_personal(
    rng: np.random.Generator, units: pd.DataFrame, n_extra: int, mail_domain: str
) -> pd.DataFrame:
    """Reception, on-call and group numbers: three fixed ones, then more from the units."""
    frame = pd.DataFrame(_fixed_numbers(units) + _unit_numbers(rng, units, n_extra))
    nth = numbered(frame["designation"])
    frame["designation"] = frame["designation"] + np.where(nth > 0, " " + (nth + 1).astype(str), "")
    nth = numbered(frame["email"])
    frame["email"] = (
        frame["email"] + np.where(nth > 0, (nth + 1).astype(str), "") + "@" + mail_domain
    )
    frame["phone_hours"] = (
        frame["phone_hours"].astype(object).where(frame["phone_hours"].notna(), None)
    )
    return frame


def _fixed_numbers(units: pd.DataFrame) -> list[dict[str, Any]]:
    """The three every town has: the reception, social services' on-call phone, bygglov."""
    social = next(i for i, f in enumerate(FORVALTNINGAR) if f.name.startswith("Social"))
    building = next(i for i, f in enumerate(FORVALTNINGAR) if f.name.startswith("Samh"))
    return [
        {
            "designation": "Reception Kommunhuset",
            "purpose": "reception",
            "unit": 0,
            "email": "reception",
            "keywords": "reception, kommunhuset, besök",
        },
        {
            "designation": "Jourtelefon Socialtjänsten",
            "purpose": "on_call",
            "unit": _first_unit(units, "Individ- och familjeomsorg", social),
            "email": "socialjour",
            "keywords": "socialjour, socialtjänst, akut",
        },
        {
            "designation": "Kundcenter Bygglov",
            "purpose": "group",
            "unit": _first_unit(units, "Bygglov", building),
            "email": "bygglov",
            "keywords": "bygglov, kundcenter",
            "phone_hours": names.OFFICE_HOURS,
        },
    ]


def _first_unit(units: pd.DataFrame, name: str, fallback: int) -> int:
    """The row of the first unit whose name starts with `name`, else `fallback`."""
    hits = np.flatnonzero(units["name"].str.startswith(name).to_numpy())
    return int(hits[0]) if len(hits) else fallback


def _unit_numbers(
    rng: np.random.Generator, units: pd.DataFrame, n_extra: int
) -> list[dict[str, Any]]:
    """`n_extra` numbers the units' kinds may have: each candidate once, then drawn again."""
    candidates = [
        (u, number)
        for u, (fi, ti) in enumerate(zip(units["forvaltning"], units["template"], strict=True))
        if ti >= 0
        for number in FORVALTNINGAR[fi].templates[ti].numbers
    ]
    if not candidates:
        candidates = [(0, NumberTemplate("Reception {unit}", "reception", "reception"))]
    first_round = rng.permutation(len(candidates))[:n_extra]
    more = rng.integers(0, len(candidates), max(0, n_extra - len(candidates)))
    rows: list[dict[str, Any]] = []
    for pick in np.concatenate([first_round, more]).tolist():
        u, template = candidates[pick]
        designation = template.designation.format(unit=units["name"].iat[u])
        hours = None
        if template.purpose == "group":
            hours = names.PHONE_HOURS[int(rng.integers(len(names.PHONE_HOURS)))]
        rows.append(
            {
                "designation": designation,
                "purpose": template.purpose,
                "unit": u,
                "email": _slug(designation),
                "keywords": template.keywords,
                "phone_hours": hours,
            }
        )
    return rows


def _slug(value: str) -> str:
    """`Expedition Lövstaskolan` → `expedition.lovstaskolan` (for e-mail addresses)."""
    plain = unicodedata.normalize("NFKD", value.lower())
    return re.sub(r"[^a-z0-9]+", ".", "".join(c for c in plain if c.isascii())).strip(".")
