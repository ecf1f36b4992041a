"""Imports every table module so that `Base.metadata` knows the whole schema."""

from models import audit, directory_sync, onboarding, outbox, register  # noqa: F401
