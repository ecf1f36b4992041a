"""The town's subscriptions, phones and headsets: personal ones (§4.1) and the groups'."""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from telefoni.demo import names
from telefoni.demo.catalogue import (
    MODEL_ACCESSIBLE,
    MODEL_RUGGED,
    MODEL_STANDARD_A,
    MODEL_STANDARD_B,
    OPTION_BAS,
    OPTION_DATA,
    OPTION_UNLIMITED,
    PHONE_MODELS,
)
from telefoni.demo.frames import nullable_ids
from telefoni.demo.non_personal import draw_non_personal
from telefoni.demo.places import Place

HEADSET_SHARE: Final = 0.8
ACCESSIBLE_SHARE: Final = 0.015
EMPLOYEES_PER_EXTRA_NUMBER: Final = 100
NEW_HIRE_DAYS: Final = 30  # hired this recently: no phone yet


def draw_subscriptions_and_devices(
    rng: np.random.Generator,
    units: pd.DataFrame,
    people: pd.DataFrame,
    today: np.datetime64,
    town: Place,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One personal subscription and phone per category 1 and 2 employee (§4.1), plus groups.

    Those hired in the last NEW_HIRE_DAYS are still waiting for theirs: an onboarding order
    is what they need (try one in the UI)."""
    started = pd.to_datetime(people["employment_start"]).to_numpy().astype("datetime64[D]")
    waiting = started > today - np.timedelta64(NEW_HIRE_DAYS, "D")
    owners = people[people["need_category"].isin([1, 2]).to_numpy() & ~waiting]
    # The draws come in a fixed order: the same seed gives the same town.
    model, accessible, rugged = _personal_models(rng, units, owners)
    groups = draw_non_personal(
        rng, units, len(people) // EMPLOYEES_PER_EXTRA_NUMBER, town.mail_domain
    )
    subs = _subscriptions(rng, units, owners, accessible, groups, town)
    devices = _devices(rng, subs, model, accessible, rugged, town)
    return subs, devices


def _personal_models(
    rng: np.random.Generator, units: pd.DataFrame, owners: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each owner's phone model; who needs an accessible one, who a rugged one (§4.1.1)."""
    m = len(owners)
    unit_row = owners["unit_id"].to_numpy() - 1
    accessible = rng.random(m) < ACCESSIBLE_SHARE
    rugged = ~accessible & (rng.random(m) < units["rugged"].to_numpy()[unit_row])
    model = np.where(rng.random(m) < 0.65, MODEL_STANDARD_A, MODEL_STANDARD_B)
    model = np.where(accessible, MODEL_ACCESSIBLE, np.where(rugged, MODEL_RUGGED, model))
    return model, accessible, rugged


def _subscriptions(
    rng: np.random.Generator,
    units: pd.DataFrame,
    owners: pd.DataFrame,
    accessible: np.ndarray,
    groups: pd.DataFrame,
    town: Place,
) -> pd.DataFrame:
    """The owners' subscriptions, then the groups'; each with a distinct mobile number of
    the town's block."""
    m, g = len(owners), len(groups)
    smartphone = ~accessible
    category = owners["need_category"].to_numpy()
    option = np.where(
        accessible, OPTION_BAS, np.where(category == 1, OPTION_UNLIMITED, OPTION_DATA)
    )
    g_unit = groups["unit"].to_numpy() + 1
    prefix, digits = town.mobile_number_prefix()
    numbers = rng.choice(10**digits, size=m + g, replace=False)
    none_m: list[None] = [None] * m
    no_m, no_g = np.full(m, -1), np.full(g, -1)  # row -1: NULL
    return pd.DataFrame(
        {
            "id": np.arange(1, m + g + 1),
            "number": prefix + pd.Series(numbers).astype(str).str.zfill(digits),
            "kind": ["personal"] * m + ["non_personal"] * g,
            "owner_id": nullable_ids(np.concatenate([owners["id"].to_numpy() - 1, no_g])),
            "designation": none_m + groups["designation"].tolist(),
            "purpose": ["personal"] * m + groups["purpose"].tolist(),
            "option_id": np.concatenate([option, np.full(g, OPTION_DATA)]),
            "status": "active",
            "has_data": np.concatenate([smartphone, np.ones(g, bool)]),
            "has_referral": np.concatenate([np.ones(m, bool), np.zeros(g, bool)]),
            "referral_calendar_link": np.concatenate([np.ones(m, bool), np.zeros(g, bool)]),
            "has_voicemail": np.concatenate(
                [np.ones(m, bool), (groups["purpose"] != "on_call").to_numpy()]
            ),
            "phone_hours": none_m + groups["phone_hours"].tolist(),
            "is_on_call": np.concatenate([np.zeros(m, bool), (groups["purpose"] == "on_call")]),
            "unit_id": nullable_ids(np.concatenate([no_m, g_unit - 1])),
            "cost_centre_id": nullable_ids(np.concatenate([no_m, g_unit - 1])),
            "email": none_m + groups["email"].tolist(),
            "visiting_address": none_m + units["visiting_address"].to_numpy()[g_unit - 1].tolist(),
            "keywords": none_m + groups["keywords"].tolist(),
        }
    )


def _devices(
    rng: np.random.Generator,
    subs: pd.DataFrame,
    model: np.ndarray,
    accessible: np.ndarray,
    rugged: np.ndarray,
    town: Place,
) -> pd.DataFrame:
    """A phone in use with each subscription; the groups' are standard phones."""
    m, g = len(model), len(subs) - len(model)
    all_models = np.concatenate([model, np.full(g, MODEL_STANDARD_A)])
    reason = np.full(m + g, None, dtype=object)
    note = np.full(m + g, None, dtype=object)
    for flag, why, notes in (
        (accessible, "accessibility", names.ACCESSIBILITY_NOTES),
        (rugged, "rugged", names.RUGGED_NOTES),
    ):
        idx = np.flatnonzero(flag)
        reason[idx] = why
        note[idx] = np.array(notes, dtype=object)[rng.integers(0, len(notes), len(idx))]
    # Each town's phones come from its own batch of each model (a TAC of its own): no two
    # towns' IMEIs are the same.
    tacs = np.array([town.tac(row[7]) for row in PHONE_MODELS], dtype=object)[all_models - 1]
    return pd.DataFrame(
        {
            "id": np.arange(1, m + g + 1),
            "model_id": all_models,
            "imei": _imei(rng, tacs),
            "status": "in_use",
            "holder_id": subs["owner_id"],
            "subscription_id": subs["id"],
            "deviation_reason": reason,
            "deviation_note": note,
        }
    )


def _imei(rng: np.random.Generator, tac: np.ndarray) -> pd.Series:
    """Distinct 15-digit IMEIs: 8-digit TAC + distinct 6-digit serial + Luhn check digit."""
    serial = rng.choice(1_000_000, size=len(tac), replace=False)
    body = pd.Series(tac, dtype=str) + pd.Series(serial).astype(str).str.zfill(6)
    raw = np.frombuffer("".join(body).encode("ascii"), dtype=np.uint8).reshape(-1, 14)
    digits = raw.astype(np.int64) - 48
    doubled = digits[:, 1::2] * 2
    total = digits[:, 0::2].sum(axis=1) + (doubled // 10 + doubled % 10).sum(axis=1)
    return body + pd.Series((-total) % 10).astype(str)


def draw_accessories(rng: np.random.Generator, devices: pd.DataFrame) -> pd.DataFrame:
    """A headset with most phones (§4.2.1)."""
    with_headset = devices[rng.random(len(devices)) < HEADSET_SHARE]
    k = len(with_headset)
    return pd.DataFrame(
        {
            "id": np.arange(1, k + 1),
            "kind": "headset",
            "description": np.array(names.HEADSETS, dtype=object)[
                rng.integers(0, len(names.HEADSETS), k)
            ],
            "device_id": with_headset["id"].to_numpy(),
            "holder_id": with_headset["holder_id"].array,
        }
    )
