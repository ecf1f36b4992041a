"""The personnummer vault of this installation, with the keys its settings point to, and the
key of the one-time answer codes made from them."""

from __future__ import annotations

import hashlib
import hmac

from models.personnummer import PersonnummerVault
from telefoni.core.settings import Settings


def vault_from(settings: Settings) -> PersonnummerVault:
    """The personnummer vault with the keys these settings point to."""
    encryption_key, lookup_key = settings.personnummer_keys()
    return PersonnummerVault(encryption_key=encryption_key, lookup_key=lookup_key)


def answer_code_key(settings: Settings) -> bytes:
    """The key one-time answer codes are hashed with: made from the lookup key, kept as apart
    from the database as it is, and of no use for a personnummer."""
    _, lookup_key = settings.personnummer_keys()
    return hmac.new(lookup_key, b"telefoni: one-time answer codes", hashlib.sha256).digest()
