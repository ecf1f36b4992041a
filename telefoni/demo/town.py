"""The whole town: what it is made of, and `generate`, which draws every part in turn."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np
import pandas as pd

from telefoni.demo.catalogue import phone_models, subscription_options
from telefoni.demo.directory import directory_entries
from telefoni.demo.employees import MAX_EMPLOYEES, draw_employees
from telefoni.demo.phones import draw_accessories, draw_subscriptions_and_devices
from telefoni.demo.places import SJOBACKA, Place
from telefoni.demo.units import cost_centres, draw_units


class DemoError(RuntimeError):
    """The demo municipality cannot be made or loaded as asked."""


@dataclass(frozen=True, repr=False)
class Town:
    """The whole fictional municipality; ids are 1-based row numbers, foreign keys use them
    (the load moves them on past what the register already holds)."""

    place: Place
    units: pd.DataFrame
    cost_centres: pd.DataFrame
    phone_models: pd.DataFrame
    subscription_options: pd.DataFrame
    employees: pd.DataFrame
    subscriptions: pd.DataFrame
    devices: pd.DataFrame
    accessories: pd.DataFrame
    directory_entries: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every part of the town, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "place"}

    def __repr__(self) -> str:  # never dump the frames (they hold personnummer in clear)
        sizes = ", ".join(f"{name}={len(frame)}" for name, frame in self.frames().items())
        return f"Town({self.place.name}: {sizes})"


def generate(
    *, employees: int, seed: int = 1, today: date | None = None, place: Place = SJOBACKA
) -> Town:
    """Build the fictional municipality ``place`` (Sjöbacka kommun unless told) with
    `employees` people; the same place, seed and day give the same town."""
    if employees < 1:
        raise DemoError("antalet anställda måste vara minst 1")
    if employees > MAX_EMPLOYEES:
        raise DemoError(
            f"högst {MAX_EMPLOYEES} anställda: testserien för personnummer (födelsenummer "
            "980–999, födda 1935–2008, även som samordningsnummer) räcker inte till fler "
            "unika nummer"
        )
    today = date.today() if today is None else today
    # One generator drawn from part by part, always in this order: the same seed, the same town.
    rng = np.random.default_rng(seed)
    day = np.datetime64(today, "D")
    units = draw_units(rng, employees, place)
    people = draw_employees(rng, units, employees, day, place)
    subs, devices = draw_subscriptions_and_devices(rng, units, people, day, place)
    return Town(
        place=place,
        units=units,
        cost_centres=cost_centres(units),
        phone_models=phone_models(),
        subscription_options=subscription_options(),
        employees=people,
        subscriptions=subs,
        devices=devices,
        accessories=draw_accessories(rng, devices),
        directory_entries=directory_entries(people, subs),
    )
