"""Imports every table module so that `Base.metadata` knows the whole schema."""

from models import asks, audit, offboarding, onboarding, outbox, register, sync_run  # noqa: F401
