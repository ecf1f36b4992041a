"""The personnummer vault of this installation, with the keys its settings point to."""

from __future__ import annotations

from models.personnummer import PersonnummerVault
from telefoni.core.settings import Settings


def vault_from(settings: Settings) -> PersonnummerVault:
    """The personnummer vault with the keys these settings point to."""
    encryption_key, lookup_key = settings.personnummer_keys()
    return PersonnummerVault(encryption_key=encryption_key, lookup_key=lookup_key)
