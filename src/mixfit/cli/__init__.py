"""The ``mixfit`` command line (``mixfit --help``); nothing imports this package."""

from .commands import cli as cli
from .commands import main as main

__all__ = ["cli", "main"]
