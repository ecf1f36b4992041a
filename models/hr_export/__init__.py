"""The HR export: read the file and validate its rows (the nightly directory sync's first steps).

Pure: no database, no Prefect, no logging. The file holds personal data, so nothing here puts a
cell value into an exception, a repr or a quarantine detail; errors name the file, the row
(file line number, header = rad 1) and the column instead. Library errors (pandas, openpyxl,
csv) are replaced by our own text and raised without a chained cause.

Reading (:func:`read_hr_export`) either returns every data row as text or raises
:class:`HrFileError` for a file that can't be used as a whole (never retried) or
:class:`HrFileIncomplete` for one that looks half-written (retrying later may help). Validation
(:func:`validate`) is vectorised over whole columns and splits the rows into valid ones and a
quarantine table with one reason code per (row, field) problem. No row is ever dropped: every
row read is either valid or quarantined, so a bad row never reads as "this person left".

The parts, in the order a file goes through them:

* ``columns``: the format's columns and their limits; ``errors``: what a bad file raises
* ``reader``: :func:`read_hr_export`, which hands the bytes to ``xlsx`` or, for text,
  ``plain`` (the usual file, fast) and else ``text`` (any file, carefully), over ``encoding``,
  ``header`` and ``export`` (the frame they all give)
* ``digests``: a keyed digest per row, to tell the rows that did not change
* ``validate``: :func:`validate`, step by step, over ``checks`` (whole-column routines),
  ``reasons`` (codes and Swedish texts) and ``problems`` (the quarantine it collects)

Names with a leading underscore are the package's own, shared between its modules only.
"""

from __future__ import annotations

from models.hr_export.columns import CATEGORIES, HR_EXPORT_COLUMNS, MAX_LENGTH, REQUIRED_FIELDS
from models.hr_export.digests import SHARED_DISTINCT, Distinct, distinct_values, row_digests
from models.hr_export.errors import HrFileError, HrFileIncomplete
from models.hr_export.export import HrExport
from models.hr_export.problems import OPTIONAL_TEXT, QUARANTINE_COLUMNS, Validated
from models.hr_export.reader import no_gc, read_hr_export
from models.hr_export.reasons import REASON_TEXT, Reason
from models.hr_export.validate import validate

__all__ = [
    "CATEGORIES",
    "HR_EXPORT_COLUMNS",
    "MAX_LENGTH",
    "OPTIONAL_TEXT",
    "QUARANTINE_COLUMNS",
    "REASON_TEXT",
    "REQUIRED_FIELDS",
    "SHARED_DISTINCT",
    "Distinct",
    "HrExport",
    "HrFileError",
    "HrFileIncomplete",
    "Reason",
    "Validated",
    "distinct_values",
    "no_gc",
    "read_hr_export",
    "row_digests",
    "validate",
]
