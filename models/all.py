"""Imports every table module so that `Base.metadata` knows the whole schema."""

from models import audit, directory_sync, outbox, register  # noqa: F401
