"""The errors and warnings mixfit raises.

scikit-learn's `ConvergenceWarning` and `NotFittedError` are re-exported so that code written
against `sklearn.mixture` catches the same classes.
"""

from sklearn.exceptions import ConvergenceWarning, NotFittedError

__all__ = ["CollapseWarning", "CollapsedComponentError", "ConvergenceWarning", "ModelFileError", "NotFittedError"]


# scikit-learn's sentence for this failure, kept word for word at the start of every message so
# that code written against sklearn.mixture (which may match on it) keeps working.
SKLEARN_COLLAPSE_MESSAGE = (
    "Fitting the mixture model failed because some components have ill-defined empirical covariance "
    "(for instance caused by singleton or collapsed samples). Try to decrease the number of "
    "components, increase reg_covar, or scale the input data."
)


class CollapsedComponentError(ValueError):
    """A component's covariance is no longer positive definite.

    Maximum likelihood has no maximum when a component sits on a single point (or on points
    that share a value): its variance goes to zero and the likelihood to infinity. The message
    names the component and the remedies. A ``ValueError``, as scikit-learn raises.

    Parameters
    ----------
    message : str
        The error message (mixfit's start with scikit-learn's sentence for this failure).
    component : int or None, default=None
        The index of the collapsed component, when known (also the ``component`` attribute).
    """

    def __init__(self, message: str, component: int | None = None):
        super().__init__(message)
        self.component = component


class CollapseWarning(UserWarning):
    """A collapsed component was reseeded or dropped during a fit (see ``collapse_events_``)."""


class ModelFileError(ValueError):
    """A model file cannot be read: it is not a mixfit model file, it is corrupt or truncated,
    it was written by a newer schema version, names an unknown estimator class, or its arrays
    do not agree with the estimator it declares. The message says which, and where."""
