"""The directory sync's I/O: read the register, apply a plan in one transaction, report it.

`sync_directory` is the whole run as a plain function, `run_sync` the same from the settings
(the CLI and the flow both call it); the Prefect tasks (`tasks.directory_sync.tasks`, not
imported here: the CLI needs no Prefect) wrap the reading of the file with retries, and the
publishing of the report.
The plan itself is pure, in `models.directory_sync`. By stage:

    run.py       the run: one at a time per municipality, the register read beside the file,
                 the steps in order
    register.py  reading the register (everyone at once; the few compared in full)
    matching.py  the export's rows beside the register: whose, and which need no comparing
    apply.py     writing the plan with bulk statements, one audit event per person
    report.py    the report, the run's record, the contact centre's mail, the summary
    tasks.py     the Prefect tasks
    options.py   what a run is asked to do, and for which municipality
    sql.py       big reads straight from the driver, ids in chunks
"""

from tasks.directory_sync.matching import _unchanged_rows
from tasks.directory_sync.options import LOCK_NAME, SyncMunicipality, SyncOptions, options_from
from tasks.directory_sync.register import directory_size, load_current, load_people, phone_numbers
from tasks.directory_sync.report import SyncReport, summary_markdown
from tasks.directory_sync.run import SyncAlreadyRunning, SyncBraked, run_sync, sync_directory

__all__ = [
    "LOCK_NAME",
    "SyncAlreadyRunning",
    "SyncBraked",
    "SyncMunicipality",
    "SyncOptions",
    "SyncReport",
    "_unchanged_rows",
    "directory_size",
    "load_current",
    "load_people",
    "options_from",
    "phone_numbers",
    "run_sync",
    "summary_markdown",
    "sync_directory",
]
