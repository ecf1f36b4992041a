"""Row digests (a keyed hash of each row's values) and the distinct values they share with
the validation."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection, Mapping
from typing import Final, NamedTuple

import numpy as np
import pandas as pd
from pandas.util import hash_array

from models.hr_export.columns import HR_EXPORT_COLUMNS, _text_column

#: Columns whose values repeat from row to row (all but those unique to a person): hashed once
#: per distinct value.
_REPEATING: Final = frozenset(HR_EXPORT_COLUMNS) - {
    "anstallningsnummer",
    "personnummer",
    "epost",
    "anvandarid",
}
_DIGEST_MULTIPLIER: Final = np.uint64(0x100000001B3)


class Distinct(NamedTuple):
    """A column's distinct values and, per row, the position of its value among them (what
    ``pd.factorize`` gives; every code >= 0, the columns being text with "" for missing)."""

    codes: np.ndarray
    values: np.ndarray


#: Columns whose distinct values both the digests (each hashed once) and the validation (each
#: looked up once) need: found once (:func:`distinct_values`), a pass over a million strings
#: fewer each.
SHARED_DISTINCT: Final = ("organisationsenhet", "kostnadsstalle", "chef_anstallningsnummer")


def distinct_values(
    rows: pd.DataFrame, columns: Collection[str] = SHARED_DISTINCT
) -> dict[str, Distinct]:
    """:class:`Distinct` of each of ``columns`` of ``rows``."""
    return {c: Distinct(*pd.factorize(_text_column(rows[c]))) for c in columns}


def row_digests(
    rows: pd.DataFrame, key: bytes, distinct: Mapping[str, Distinct] | None = None
) -> np.ndarray:
    """A keyed 64-bit digest of each row's values (:data:`HR_EXPORT_COLUMNS` as read), int64.

    Rows with the same values get the same digest, whatever file they came from (CSV or XLSX,
    encoding, column order, extra columns, whitespace around values); any change to a value
    changes it (but for one chance in 2**64). SipHash-2-4 of every value under a key derived
    from ``key`` (kept secret: the digest covers the personnummer, and without the key nobody
    can test a guessed number against a stored digest), combined in column order.

    ``distinct``: :func:`distinct_values` of some columns, if already found (the digests are
    the same; those columns' distinct values are hashed, not found again).
    """
    if len(key) < 16:
        raise ValueError("the digest key must be at least 16 bytes")
    # pandas takes a 16-character key: 12 bytes of key material, base64.
    hash_key = base64.b64encode(hashlib.sha256(b"telefoni/hr-row/v1" + key).digest()[:12])
    key_text = hash_key.decode("ascii")
    given = distinct or {}
    digest = np.zeros(len(rows), dtype=np.uint64)
    for column in HR_EXPORT_COLUMNS:
        found = given.get(column)
        if found is None and column in _REPEATING:
            found = distinct_values(rows, (column,))[column]
        if found is None:
            hashed = hash_array(_text_column(rows[column]), hash_key=key_text, categorize=False)
        else:  # each distinct value hashed once, then spread over its rows
            hashed = hash_array(found.values, hash_key=key_text, categorize=False)[found.codes]
        digest = digest * _DIGEST_MULTIPLIER ^ hashed
    return digest.view(np.int64)
