"""Fictional municipalities (Sjöbacka kommun, Älvnäs kommun …) to fill a register for demos
and benchmarks.

`generate` builds a whole town as pandas DataFrames (pure, deterministic per place, seed and
day); `load` bulk-inserts it into one municipality of the register, after any others already
there; `write_hr_export` writes the HR file the nightly sync reads. Every personnummer uses a
birth number in Skatteverket's test series 980–999. Which town a configured municipality
gets: `place_for` (`places`).

The parts, each a module: the organisation's units (`units`, from `organisation`), the people
(`employees`), the numbers of no person (`non_personal`), subscriptions, phones and headsets
(`phones`, from `catalogue`), the kunddatabas (`directory`); `town` draws them in turn for a
`Place` (`places`: its name, districts and its own block of numbers, IMEIs and user ids);
`loading` writes them to the register, `hr_export` to the HR file. Word lists: `names`.
"""

from __future__ import annotations

from models.hr_export import HR_EXPORT_COLUMNS
from telefoni.demo.catalogue import PHONE_MODELS, SUBSCRIPTION_OPTIONS
from telefoni.demo.employees import MAX_EMPLOYEES
from telefoni.demo.hr_export import hr_export_frame, write_hr_export
from telefoni.demo.loading import load
from telefoni.demo.phones import NEW_HIRE_DAYS
from telefoni.demo.places import ALVNAS, KNOWN, SJOBACKA, Place, place_for
from telefoni.demo.town import DemoError, Town, generate

__all__ = [
    "ALVNAS",
    "HR_EXPORT_COLUMNS",
    "KNOWN",
    "MAX_EMPLOYEES",
    "NEW_HIRE_DAYS",
    "PHONE_MODELS",
    "SJOBACKA",
    "SUBSCRIPTION_OPTIONS",
    "DemoError",
    "Place",
    "Town",
    "generate",
    "hr_export_frame",
    "load",
    "place_for",
    "write_hr_export",
]
