"""Counts as people read them in Swedish: "1 300 rader", "1 borttagen", "3 borttagna"."""

from __future__ import annotations


def number(n: int) -> str:
    """A whole number with a space between thousands, as Swedish is written: 1 300."""
    return f"{n:,}".replace(",", " ")


def counted(n: int, one: str, many: str) -> str:
    """``n`` and the word that goes with it: counted(1, "ny", "nya") → "1 ny"."""
    return f"{number(n)} {one if n == 1 else many}"
