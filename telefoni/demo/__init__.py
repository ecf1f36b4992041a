"""A fictional municipality, Sjöbacka kommun, to fill an empty register for demos and benchmarks.

`generate` builds the whole town as pandas DataFrames (pure, deterministic per seed and day);
`load` bulk-inserts it; `write_hr_export` writes the HR file the nightly sync reads. Every
personnummer uses a birth number in Skatteverket's test series 980–999.

The parts, each a module: the organisation's units (`units`, from `organisation`), the people
(`employees`), the numbers of no person (`non_personal`), subscriptions, phones and headsets
(`phones`, from `catalogue`), the kunddatabas (`directory`); `town` draws them in turn;
`loading` writes them to the register, `hr_export` to the HR file. Word lists: `names`.
"""

from __future__ import annotations

from models.hr_export import HR_EXPORT_COLUMNS
from telefoni.demo.catalogue import PHONE_MODELS, SUBSCRIPTION_OPTIONS
from telefoni.demo.employees import MAX_EMPLOYEES
from telefoni.demo.hr_export import hr_export_frame, write_hr_export
from telefoni.demo.loading import load
from telefoni.demo.phones import NEW_HIRE_DAYS
from telefoni.demo.town import DemoError, Town, generate

__all__ = [
    "HR_EXPORT_COLUMNS",
    "MAX_EMPLOYEES",
    "NEW_HIRE_DAYS",
    "PHONE_MODELS",
    "SUBSCRIPTION_OPTIONS",
    "DemoError",
    "Town",
    "generate",
    "hr_export_frame",
    "load",
    "write_hr_export",
]
