"""The contact centre's kunddatabas (§3.1) as the town starts: everyone, every group number."""

from __future__ import annotations

import numpy as np
import pandas as pd


def directory_entries(people: pd.DataFrame, subs: pd.DataFrame) -> pd.DataFrame:
    """The contact centre's kunddatabas (§3.1): everyone, then every non-personal number."""
    personal = subs[subs["kind"] == "personal"]
    number_of = pd.Series(personal["number"].to_numpy(), index=personal["owner_id"].to_numpy())
    people_part = pd.DataFrame(
        {
            "kind": "personal",
            "employee_id": people["id"],
            "subscription_id": None,
            "name": people["first_name"] + " " + people["last_name"],
            "designation": None,
            "phone_number": people["id"].map(number_of),
            "email": people["email"],
            "title": people["title"],
            "user_id": people["user_id"],
            "unit_id": people["unit_id"],
            "cost_centre_id": people["cost_centre_id"],
            "visiting_address": people["visiting_address"],
            "keywords": people["keywords"],
        }
    )
    groups = subs[subs["kind"] == "non_personal"]
    groups_part = pd.DataFrame(
        {
            "kind": "non_personal",
            "employee_id": None,
            "subscription_id": groups["id"],
            "name": None,
            "designation": groups["designation"],
            "phone_number": groups["number"],
            "email": groups["email"],
            "title": None,
            "user_id": None,
            "unit_id": groups["unit_id"],
            "cost_centre_id": groups["cost_centre_id"],
            "visiting_address": groups["visiting_address"],
            "keywords": groups["keywords"],
        }
    )
    entries = pd.concat([people_part, groups_part], ignore_index=True)
    for col in ("employee_id", "subscription_id", "unit_id", "cost_centre_id"):
        entries[col] = entries[col].astype("Int64")
    entries.insert(0, "id", np.arange(1, len(entries) + 1))
    return entries
