"""Prediction over row chunks, shared by the mixture estimators (Gaussian and Bernoulli).

A subclass says which fitted attribute marks it fitted (``_FITTED``) and how X is checked for
prediction (``_prediction_input``); everything else (the chunk map on the source's threads, the
lazy dask output, predict / predict_proba / score) is here once.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..backends.inputs import is_dask_array
from ..kernels.linalg import probabilities_from_log


class _ChunkPredictions:
    """predict, predict_proba and score from ``_model`` / ``_params`` / ``score_samples``."""

    _FITTED = "weights_"

    def _prediction_input(self, X):
        """(X ready for ``_source``, the default output dtype, a check(chunk, first_row) for
        chunks read lazily or None)."""
        raise NotImplementedError

    def _map_rows(self, X, per_chunk, tail=(), dtype=None):
        """``per_chunk(X_chunk) -> (n, *tail)`` over the row chunks of X: an array for in-memory
        and out-of-core X (chunks on the source's threads; memory: a chunk per thread plus the
        output), a lazy dask array with X's row blocks for dask X. Lazily read chunks are checked
        as they are read, an error naming the row in the whole array."""
        check_is_fitted(self, self._FITTED)
        X, default_dtype, check = self._prediction_input(X)
        dtype = default_dtype if dtype is None else np.dtype(dtype)
        source = self._source(X)
        if is_dask_array(X):
            def checked(chunk, start):
                check(chunk, start)
                return per_chunk(chunk)

            return source.map_rows(checked, tuple(tail), dtype, offsets=True)
        out = np.empty((X.shape[0], *tail), dtype=dtype)

        def write(chunk, _, start):  # each chunk's rows of the output, on the source's threads
            if check is not None:
                check(chunk, start)
            out[start : start + chunk.shape[0]] = per_chunk(chunk)
            return 0

        source.map_reduce(write, offsets=True)
        return out

    def _log_rho_fn(self):
        """chunk -> ln rho (chunk, K) under the fitted model; model and params taken once."""
        check_is_fitted(self, self._FITTED)
        model, params = self._model(), self._params()
        return lambda chunk: model.log_prob_components(chunk, params)

    def predict(self, X):
        """Predict the labels for the data samples in X using the fitted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to evaluate, checked as in ``fit``: in memory, a memmap or chunked array-like
            (read in row chunks), or a dask array (the result is then a lazy dask array with X's
            row blocks; see docs/scale.md).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels: the most probable component of each row, argmax_k of
            ``predict_proba(X)``.
        """
        log_rho = self._log_rho_fn()
        return self._map_rows(X, lambda chunk: log_rho(chunk).argmax(axis=1), dtype=np.intp)

    def predict_proba(self, X):
        """Evaluate the components' posterior probability for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to evaluate, checked as in ``fit``: in memory, a memmap or chunked array-like
            (read in row chunks), or a dask array (the result is then a lazy dask array with X's
            row blocks; see docs/scale.md).

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            The responsibilities p(k | x_n) of each component for each row (for variational Bayes
            the r_nk of q(z)); each row sums to 1. ``n_components`` is that of the fitted model
            (after an ``on_collapse='drop'``, the components that remain).
        """
        log_rho = self._log_rho_fn()
        return self._map_rows(X, lambda chunk: probabilities_from_log(log_rho(chunk)),
                              (self.weights_.shape[0],))

    def score(self, X, y=None):
        """Compute the per-sample average log-likelihood of the given data X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to evaluate, checked as in ``fit``: in memory, a memmap or chunked array-like
            (read in row chunks), or a dask array (the result is then a lazy dask array with X's
            row blocks; see docs/scale.md).
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        log_likelihood : float
            The mean of ``score_samples(X)`` over the rows (unweighted), taken as scikit-learn
            takes it: ``score_samples(X).mean()`` in the dtype of the rows (numpy's pairwise sum),
            so that the two agree to the last bit for float32 rows too.
        """
        return float(self.score_samples(X).mean())
