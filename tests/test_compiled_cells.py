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
    real = compiled_cells.mclust_cell_result

    def spy(*args):
        fitted = real(*args)
        calls.append(not fitted.failed)
        return fitted

    with monkeypatch.context() as patch:
        if not compiled:
            patch.setattr(tables, "compiled_cell", lambda *args: None)
            patch.setattr(tables, "compiled_sweep", lambda tasks, *args: iter([None] * len(tasks)))
        if calls is not None:
            patch.setattr(compiled_cells, "mclust_cell_result", spy)
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


def _table(result):
    """Every column of every cell, and the fitted parameters' bytes."""
    rows = []
    for cell in result.cells:
        fitted = cell.estimator
        rows.append((cell.n_components, cell.covariance_type, cell.criterion, cell.log_likelihood, cell.n_iter,
                     cell.converged, cell.reason, cell.values, None if fitted is None else (
                         fitted.weights_.tobytes(), fitted.means_.tobytes(), fitted.precisions_cholesky_.tobytes(),
                         fitted.lower_bounds_)))
    return rows


@pytest.mark.parametrize("weighted", [False, True])
def test_cells_on_threads_equal_the_serial_sweep(monkeypatch, weighted):
    # the compiled calls on two threads (as on a two-core machine) against the serial sweep,
    # to the bit: every column, NA reason and fitted parameter. Iris at K = 5, 6 has cells whose
    # compiled M-step fails (VEE, EVV), fitted through the estimator on the calling thread
    # while the threads go on.
    weights = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    threads = []
    real = compiled_cells.compiled_sweep

    def spy(tasks, n_threads, *args):
        threads.append(n_threads)
        return real(tasks, n_threads, *args)

    def sweep(n_jobs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return select_model(X, [1, 5, 6], ["EII", "VEE", "EVV", "VVE"], init_params="mclust",
                                hierarchical_start=False, convention="mclust", reg_covar=0.0, n_jobs=n_jobs,
                                sample_weight=weights)

    monkeypatch.setattr(tables, "available_cores", lambda: 2)
    monkeypatch.setattr(tables, "compiled_sweep", spy)
    serial, threaded = sweep(1), sweep(None)
    assert threads == [1, 2]
    assert any(cell.reason for cell in serial.cells)  # the estimator's NA reasons are among them
    assert _table(threaded) == _table(serial)


def test_cells_whose_compiled_m_step_fails_keep_the_estimators_reasons(monkeypatch):
    # iris' cells where the compiled M-step fails (VEE at K = 5, 7; EVV at K = 5, 6: see
    # docs/families.md) are fitted through the estimator, so the table's NA reasons, word for
    # word, and the fitted cells are those of the sweep without compiled cells
    failed = []
    real = compiled_cells.mclust_cell_result

    def spy(model, output):
        fitted = real(model, output)
        failed.append(fitted.failed)
        return fitted

    monkeypatch.setattr(compiled_cells, "mclust_cell_result", spy)
    families = ["VEE", "EVV"]
    params = {"convention": "mclust", "reg_covar": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = select_model(X, [5, 6, 7], families, init_params="mclust", hierarchical_start=False, **params)
    assert sum(failed) == 4
    with monkeypatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        patch.setattr(tables, "compiled_cell", lambda *args: None)
        patch.setattr(tables, "compiled_sweep", lambda tasks, *args: iter([None] * len(tasks)))
        reference = select_model(X, [5, 6, 7], families, init_params="mclust", hierarchical_start=False, **params)
    reasons = [cell.reason for cell in compiled.cells]
    assert reasons == [cell.reason for cell in reference.cells]
    assert sum("collapsed at EM iteration" in (reason or "") for reason in reasons) == 3
    for refitted, a, b, row_a, row_b in zip(failed, compiled.cells, reference.cells, _table(compiled),
                                           _table(reference)):
        if refitted:  # the estimator's own fit in both sweeps: to the bit
            assert row_a == row_b
        elif not a.is_na:  # a compiled cell: the same EM to rounding (as above)
            assert a.n_iter == b.n_iter
            np.testing.assert_allclose(a.criterion, b.criterion, rtol=1e-11)
