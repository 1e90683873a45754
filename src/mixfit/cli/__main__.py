import sys

from .app import main
from .commands import cli as _registered  # noqa: F401  (the commands register on the group when imported)
from .select_command import cli as _select  # noqa: F401

sys.exit(main())
