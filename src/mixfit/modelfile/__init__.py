"""Model files: save / load of fitted estimators as a zip of JSON and ``.npy`` arrays (no pickle)."""

from ..estimators.persistence import register_writer
from .io import SCHEMA_VERSION as SCHEMA_VERSION
from .io import load as load
from .io import read_model_file as read_model_file
from .io import save as save

register_writer(save)

__all__ = ["SCHEMA_VERSION", "load", "read_model_file", "save"]
