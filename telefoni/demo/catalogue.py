"""What the employer offers: the phone models and the subscription options."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import numpy as np
import pandas as pd

# Phone catalogue: (name, manufacturer, standard, smartphone, accessible, rugged, available, TAC)
PHONE_MODELS: Final = (
    ("Nordfon S24", "Nordfon", True, True, False, False, True, "35291811"),
    ("Kvarts Q8", "Kvarts Mobil", True, True, False, False, True, "35884210"),
    ("Nordfon Trygg 3", "Nordfon", False, False, True, False, True, "35640312"),
    ("Fjällfon X5 Rugged", "Fjällfon", False, True, False, True, True, "35172905"),
    ("Nordfon S21", "Nordfon", False, True, False, False, False, "35291609"),
)
MODEL_STANDARD_A, MODEL_STANDARD_B, MODEL_ACCESSIBLE, MODEL_RUGGED = 1, 2, 3, 4
# (code, name, includes_data, monthly fee, description)
SUBSCRIPTION_OPTIONS: Final = (
    ("MOB-BAS", "Mobil Bas", False, "99.00", "Samtal och sms, ingen mobildata."),
    ("MOB-DATA20", "Mobil Data 20 GB", True, "179.00", "Samtal, sms och 20 GB mobildata."),
    ("MOB-OBEGR", "Mobil Obegränsad", True, "249.00", "Fria samtal, sms och obegränsad data."),
)
OPTION_BAS, OPTION_DATA, OPTION_UNLIMITED = 1, 2, 3


def phone_models() -> pd.DataFrame:
    cols = (
        "name",
        "manufacturer",
        "is_standard",
        "is_smartphone",
        "is_accessible",
        "is_rugged",
        "available",
        "tac",
    )
    frame = pd.DataFrame(PHONE_MODELS, columns=list(cols))
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["includes_headset"] = False
    return frame


def subscription_options() -> pd.DataFrame:
    cols = ["code", "name", "includes_data", "monthly_fee_sek", "description"]
    frame = pd.DataFrame(SUBSCRIPTION_OPTIONS, columns=cols)
    frame["monthly_fee_sek"] = [Decimal(v) for v in frame["monthly_fee_sek"]]
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["available"] = True
    return frame
