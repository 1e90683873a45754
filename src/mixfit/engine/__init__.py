"""The engine: the fitting loop, starts, collapse policies and information criteria.

It knows no formula and no family name: models supply the mathematics, sources the rows.
"""

from .loop import FitOptions as FitOptions
from .loop import FitResult as FitResult
from .loop import PlainStep as PlainStep
from .loop import compiled_small_fits as compiled_small_fits
from .loop import fit as fit
from .loop import progress as progress
from .loop import relative_tolerance as relative_tolerance
from .loop import run as run

__all__ = ["FitOptions", "FitResult", "PlainStep", "compiled_small_fits", "fit", "progress", "relative_tolerance", "run"]
