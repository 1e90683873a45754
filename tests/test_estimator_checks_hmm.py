"""scikit-learn's estimator contract (``parametrize_with_checks``) for the HMM estimators.

The HMMs keep hmmlearn's signature, ``fit(X, lengths=None, sample_weight=None)`` with one weight
per sequence, so scikit-learn's checks, which call ``fit(X, y)``, hand them ``y`` as ``lengths``.
Two runs:

- the estimators themselves: every check runs, and those that fit on generated data fail for the
  reasons listed (``y`` read as sequence lengths; for the discrete HMMs also data of another kind
  than their emissions model);
- the same estimators seen through a thin adapter that makes every row a sequence of one frame
  (``lengths = ones``), so that ``fit(X, y)``, per-row weights and per-row scores mean what the
  checks assume: the whole contract then runs (pickling, dtypes, NaN / inf refusal,
  ``n_features_in_``, idempotence, subset invariance, weights ...), with one expected failure,
  listed with its reason.
"""

import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks

from mixfit import (
    GMMHMM,
    BernoulliHMM,
    CategoricalHMM,
    GaussianHMM,
    MultinomialHMM,
    PoissonHMM,
    VariationalCategoricalHMM,
    VariationalGaussianHMM,
)

# ---- the estimators as they are ------------------------------------------------------------

_FIT_ON_GENERATED_DATA = (
    "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_sample_weights_pandas_series",
    "check_sample_weights_not_an_array", "check_sample_weights_list", "check_all_zero_sample_weights_error",
    "check_sample_weights_shape", "check_sample_weights_not_overwritten", "check_dtype_object",
    "check_pipeline_consistency", "check_estimators_nan_inf", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_fit2d_1feature", "check_dict_unchanged", "check_fit_idempotent",
    "check_fit_check_is_fitted", "check_n_features_in", "check_fit2d_predict1d",
)
_Y_AS_LENGTHS = ("hmmlearn's fit(X, lengths): the check's y (or per-row sample_weight) is read as sequence "
                 "lengths (or per-sequence weights), which do not add up to the rows; the adapter run below "
                 "checks the same contract with one frame per sequence")
_NO_Y = "hmmlearn's fit has no y keyword; the adapter run below checks weight equivalence"
_DISCRETE = {
    CategoricalHMM: "the check's X is real-valued with several columns; a categorical HMM takes one column of "
                    "integer symbols and refuses anything else with a ValueError naming it",
    VariationalCategoricalHMM: "the check's X is real-valued with several columns; a categorical HMM takes one "
                               "column of integer symbols and refuses anything else with a ValueError naming it",
    BernoulliHMM: "the check's X is real-valued; a Bernoulli HMM takes 0/1 frames and refuses others with a "
                  "ValueError naming the first bad entry (the adapter run binarises X > 0)",
    PoissonHMM: "the check's X is real-valued; a Poisson HMM takes non-negative integer counts and refuses others "
                "with a ValueError naming the first bad entry (the adapter run rounds |X|)",
    MultinomialHMM: "the check's X is real-valued; a multinomial HMM takes non-negative integer counts and refuses "
                    "others with a ValueError naming the first bad entry (the adapter run rounds |X|)",
}


def _expected_as_they_are(estimator):
    failures = {name: _DISCRETE.get(type(estimator), _Y_AS_LENGTHS) for name in _FIT_ON_GENERATED_DATA}
    failures["check_sample_weight_equivalence_on_dense_data"] = _NO_Y
    if type(estimator) in _DISCRETE:
        failures["check_fit2d_1sample"] = _DISCRETE[type(estimator)]
    return failures


@parametrize_with_checks(
    [GaussianHMM(n_components=2, random_state=0, max_iter=10),
     VariationalGaussianHMM(n_components=2, random_state=0, max_iter=10),
     CategoricalHMM(n_components=2, random_state=0, max_iter=10),
     VariationalCategoricalHMM(n_components=2, random_state=0, max_iter=10),
     BernoulliHMM(n_components=2, random_state=0, max_iter=10),
     PoissonHMM(n_components=2, random_state=0, max_iter=10),
     MultinomialHMM(n_components=2, random_state=0, max_iter=10),
     GMMHMM(n_components=2, n_mix=2, random_state=0, max_iter=10)],
    expected_failed_checks=_expected_as_they_are,
)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


# ---- through the one-frame-per-sequence adapter ---------------------------------------------


class _Frames:
    """Every row its own sequence of one frame: the HMM's fit, scores and predictions per row.
    Input the adapter cannot count rows of (sparse, say) goes through as it is, for the estimator
    to refuse."""

    def _data(self, X):
        return X

    def _lengths(self, X):
        shape = getattr(X, "shape", None)
        if shape is None:
            shape = np.asarray(X).shape
        return np.ones(shape[0], dtype=int) if len(shape) == 2 else None

    def fit(self, X, y=None, sample_weight=None):
        return super().fit(self._data(X), self._lengths(X), sample_weight)

    def predict(self, X):
        return super().predict(self._data(X), self._lengths(X))

    def predict_proba(self, X):
        return super().predict_proba(self._data(X), self._lengths(X))

    def score_samples(self, X, lengths=None):
        """With ``lengths`` (the estimator's own calls): the HMM's meaning. Without: the mixture
        meaning the checks assume, ln p(x_n) per row (each row one sequence)."""
        if lengths is not None:
            return super().score_samples(X, lengths)
        X = self._data(X)
        rows = self._lengths(X)
        if rows is None:
            return super().score_samples(X)  # let the estimator refuse it
        X = np.asarray(X)
        return np.array([super(_Frames, self).score_samples(X[n : n + 1])[0] for n in range(X.shape[0])])

    def score(self, X, y=None):
        return super().score(self._data(X), self._lengths(X))


class FramesGaussianHMM(_Frames, GaussianHMM):
    pass


class FramesVariationalGaussianHMM(_Frames, VariationalGaussianHMM):
    pass


class FramesBernoulliHMM(_Frames, BernoulliHMM):
    def _data(self, X):  # as BernoulliMixture(binarize=0.0) and BernoulliNB: X > 0
        """Finite real 2-D input binarised; anything else (sparse, complex, NaN / inf, strings,
        1-D) goes through as it is, for the estimator's own checks to refuse."""
        A = np.asarray(X)
        if A.ndim != 2 or A.dtype.kind not in "biufO":
            return X
        try:
            A = A.astype(np.float64)
        except (TypeError, ValueError):
            return X
        return (A > 0).astype(np.float64) if np.all(np.isfinite(A)) else X


class _Counts:
    def _data(self, X):  # |X| rounded: non-negative integer counts
        """Finite real 2-D input as counts; anything else goes through as it is, for the estimator's
        own checks to refuse."""
        A = np.asarray(X)
        if A.ndim != 2 or A.dtype.kind not in "biufO":
            return X
        try:
            A = A.astype(np.float64)
        except (TypeError, ValueError):
            return X
        return np.round(np.abs(A)) if np.all(np.isfinite(A)) else X


class FramesGMMHMM(_Frames, GMMHMM):
    pass


class FramesPoissonHMM(_Counts, _Frames, PoissonHMM):
    pass


class FramesMultinomialHMM(_Counts, _Frames, MultinomialHMM):
    pass


_START_FROM_ROWS = (
    "the check compares a weighted fit with a fit on repeated rows from a random start; the k-means start "
    "draws its seeds from the rows, so the two fits start apart. From one start the equivalence is exact: "
    "test_hmm.py's weight tests")


@parametrize_with_checks(
    [FramesGaussianHMM(n_components=2, random_state=0, max_iter=10),
     FramesGaussianHMM(n_components=2, covariance_type="full", random_state=0, max_iter=10),
     FramesVariationalGaussianHMM(n_components=2, random_state=0, max_iter=10),
     FramesBernoulliHMM(n_components=2, random_state=0, max_iter=10),
     FramesPoissonHMM(n_components=2, random_state=0, max_iter=10),
     FramesMultinomialHMM(n_components=2, random_state=0, max_iter=10),
     FramesGMMHMM(n_components=2, n_mix=2, random_state=0, max_iter=10)],
    expected_failed_checks=lambda estimator: {} if isinstance(estimator, (BernoulliHMM, MultinomialHMM)) else {
        "check_sample_weight_equivalence_on_dense_data": _START_FROM_ROWS},
)
def test_sklearn_estimator_contract_one_frame_per_sequence(estimator, check):
    check(estimator)
