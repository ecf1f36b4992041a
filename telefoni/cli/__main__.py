"""`python -m telefoni.cli`: the `telefoni` command."""

from telefoni.cli import app

app()
