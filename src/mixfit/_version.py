"""The package version (one place; ``mixfit.__version__`` and model files read it)."""

__version__ = "0.1.0"
