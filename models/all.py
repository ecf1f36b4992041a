"""Imports every table module so that `Base.metadata` knows the whole schema."""

from models import register  # noqa: F401
