"""The estimators a model file can hold, by class name, and ``build``: decoded values -> estimator."""

from __future__ import annotations

from .classes import more_classes
from .hmm_more import hmm_more_classes
from .hsmm import hsmm_classes
from .regressor_file import imputer_classes, regressor_classes
from .schema import EstimatorFile, build_from, mixture_classes
from .student import student_classes


def registry() -> dict[str, EstimatorFile]:
    """Every estimator class a model file may name, with what it stores and how it is rebuilt."""
    return {**mixture_classes(), **more_classes(), **student_classes(), **hmm_more_classes(), **regressor_classes(),
            **imputer_classes(), **hsmm_classes()}


def build(name: str, params: dict, fitted: dict):
    """A ``name`` estimator (a registered class) with the decoded ``params`` and ``fitted``
    attributes, checked against its class and each other, its private state rebuilt."""
    return build_from(registry()[name], name, params, fitted)
