"""Imports every table module so that `Base.metadata` knows the whole schema."""

from models import audit, register  # noqa: F401
