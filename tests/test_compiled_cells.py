"""select_model's cells from mclust's start in one compiled call (selection/compiled_cells.py)
against the same cells fitted through the estimator (the path they replace)."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris

from mixfit import select_model
from mixfit.selection import compiled_cells, tables

pytest.importorskip("numba")

X = load_iris().data
FAMILIES = ["EII", "VEI", "EVE", "VEV", "VVV"]


def _sweep(monkeypatch, compiled, calls=None, **params):
    """The sweep with (``compiled``) or without the compiled cells; ``calls`` collects whether
    each compiled cell completed."""
    real = compiled_cells.compiled_mclust_cell

    def spy(*args):
        fitted = real(*args)
        calls.append(fitted is not None and not fitted.failed)
        return fitted

    with monkeypatch.context() as patch:
        if not compiled:
            patch.setattr(tables, "compiled_cell", lambda *args: None)
        if calls is not None:
            patch.setattr(compiled_cells, "compiled_mclust_cell", spy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return select_model(X, [1, 2, 3], FAMILIES, init_params="mclust", hierarchical_start=False, **params)


@pytest.mark.parametrize("convention", ["mclust", "sklearn"])
def test_compiled_cells_equal_the_estimators_fits(monkeypatch, convention):
    weights = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0]) if convention == "sklearn" else None
    calls = []
    compiled = _sweep(monkeypatch, True, calls, convention=convention, reg_covar=0.0, sample_weight=weights)
    assert calls == [True] * 15  # every cell compiled
    reference = _sweep(monkeypatch, False, convention=convention, reg_covar=0.0, sample_weight=weights)
    for a, b in zip(compiled.cells, reference.cells):
        assert (a.n_components, a.covariance_type, a.reason, a.n_iter, a.converged, a.n_parameters, a.start) == (
            b.n_components, b.covariance_type, b.reason, b.n_iter, b.converged, b.n_parameters, b.start)
        if a.is_na:
            continue
        # 1e-11: the same EM, its sums in another order (rounding, amplified by ~30 iterations)
        for name in ("bic", "aic", "icl"):
            np.testing.assert_allclose(a.values[name], b.values[name], rtol=1e-11)
        np.testing.assert_allclose(a.estimator.means_, b.estimator.means_, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(a.estimator.covariances_, b.estimator.covariances_, rtol=1e-9, atol=1e-11)
        assert a.estimator.lower_bounds_ == pytest.approx(b.estimator.lower_bounds_, rel=1e-11)
        if b.covariance_type in ("VEI", "EVE", "VEV"):  # the iterative families' inner-loop record
            assert a.estimator._covariance.inner_iterations == b.estimator._covariance.inner_iterations


def test_settings_the_compiled_cell_does_not_run_go_through_the_estimator(monkeypatch):
    # an array given for means_init (compared by identity, not ==), a prior: the estimator's fit
    calls = []
    compiled = _sweep(monkeypatch, True, calls, means_init=X[:2], prior="default")
    assert calls == []  # no cell compiled
    reference = _sweep(monkeypatch, False, means_init=X[:2], prior="default")
    assert [c.reason for c in compiled.cells] == [c.reason for c in reference.cells]
    assert [c.criterion for c in compiled.cells] == pytest.approx([c.criterion for c in reference.cells],
                                                                  nan_ok=True)
