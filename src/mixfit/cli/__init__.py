"""The ``mixfit`` command line (``mixfit --help``); nothing imports this package.

``app`` holds the group and what every command shares; ``commands`` and ``select_command``
register their commands on it when imported (here).
"""

from . import commands as commands
from . import impute_command as impute_command
from . import select_command as select_command
from .app import cli as cli
from .app import main as main

__all__ = ["cli", "main"]
