"""select_model's cells from mclust's start in one compiled call (selection/compiled_cells.py)
against the same cells fitted through the estimator (the path they replace)."""

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

from mixfit import select_model
from mixfit.engine import mclust_hc
from mixfit.selection import compiled_cells, tables

pytest.importorskip("numba")

X = load_iris().data
FIXTURES = Path(__file__).parent / "fixtures" / "mclust"
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
    # compiled M-step fails (VEE, EVV): NA with the compiled run's diagnosis, written on the
    # calling thread in sweep order.
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
    assert any(cell.reason for cell in serial.cells)  # collapsed cells' NA reasons are among them
    assert _table(threaded) == _table(serial)


def _cell_na(result):
    return {(c.n_components, c.covariance_type): c.reason for c in result.cells if c.is_na}


def _r_na(name):
    ref = json.loads((FIXTURES / f"{name}_hc.json").read_text())
    return {(k + 1, m) for k, row in enumerate(ref["bic"]) for m, v in zip(ref["bic_models"], row) if v is None}


def test_faithful_sweep_has_mclusts_na_cells():
    # faithful (272 x 2): R mclust's table has no NA cell, nor has the compiled sweep's (mclust's
    # procedure, reg_covar=0)
    data = np.loadtxt(FIXTURES / "inputs" / "faithful.csv", delimiter=",", skiprows=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = select_model(data, range(1, 10), "all", convention="mclust", reg_covar=0.0, init_params="mclust",
                              hierarchical_start=False)
    assert len(result.cells) == 126
    assert set(_cell_na(result)) == _r_na("faithful") == set()


def test_cells_whose_compiled_m_step_fails_are_na_as_in_mclust(monkeypatch):
    # the compiled run is the fit of record: a cell whose EM M-step fails there is NA with the
    # numpy loop's kind of reason (engine.collapse's message: component, mass, distinct rows,
    # iteration), no cell refitted through the estimator; on iris (reg_covar=0, mclust's
    # procedure) the NA cells are exactly R mclust's (tests/fixtures/mclust/iris_hc.json: VEE at
    # K = 5, 7, 9, EVV at K = 5, 6), where the numpy sweep fits VEE at K = 5 (a component of
    # variance 1e-47 that its loop carries on with)
    r_na = _r_na("iris")
    data = np.loadtxt(FIXTURES / "inputs" / "iris.csv", delimiter=",", skiprows=1)
    refits = []
    real = tables._fit_cell

    def spy(job, *args, **kwargs):
        refits.append((job["n_components"], job["covariance_type"]))
        return real(job, *args, **kwargs)

    monkeypatch.setattr(tables, "_fit_cell", spy)
    params = {"convention": "mclust", "reg_covar": 0.0, "init_params": "mclust", "hierarchical_start": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = select_model(data, range(1, 10), "all", n_jobs=1, **params)
    assert refits == []
    ours = _cell_na(compiled)
    assert set(ours) == r_na
    monkeypatch.setattr(tables, "compiled_cell", lambda *args: None)
    monkeypatch.setattr(tables, "compiled_sweep", lambda tasks, *args: iter([None] * len(tasks)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = select_model(data, [5, 6, 7, 9], ["VEE", "EVV"], **params)
    numpy_na = _cell_na(reference)
    # the numpy loop never fails a cell that mclust fits; which of mclust's NA cells it limps on
    # through (a component of rounding-size variance) depends on the last bits of sums its
    # pair products order differently (docs/families.md): at least EVV K = 5, 6 fail there too
    assert {(5, "EVV"), (6, "EVV")} <= set(numpy_na) <= r_na
    pattern = re.compile(r"mclust start: Fitting the mixture model failed because .* \(The covariance of component "
                         r"(\d) is not (positive definite|finite)[^)]*\.\) Here component (\d) \(mass ([\d.]+), "
                         r"holding (\d+) distinct rows?\) collapsed at EM iteration (\d+)\. Fixes: increase reg_covar")
    for cell, reason in ours.items():
        match = pattern.match(reason)
        assert match and match[1] == match[3], reason
        if cell in numpy_na:  # the numpy loop's message of the same cell: same words
            other = pattern.match(numpy_na[cell])
            assert other, numpy_na[cell]
            if cell[1] == "VEE":  # a singleton component in both, one iteration apart
                assert (match[3], match[4], match[5]) == (other[3], other[4], other[5]) == (other[3], "1", "1")
                assert abs(int(match[6]) - int(other[6])) <= 1


def test_sweep_checks_memoise_only_what_the_checks_pass():
    """``SweepChecks`` remembers a passed hyper-parameter check by its values and their types,
    and a fit-input check by K: a bad value after a good one is still refused (the cell goes
    through the estimator, which reports its error), and the same record serves every cell of
    one K."""
    from mixfit import GaussianMixture

    checks = compiled_cells.SweepChecks()
    good = GaussianMixture(2, covariance_type="VVV", init_params="mclust", max_iter=100)
    first = compiled_cells.checked_cell("mclust", good, X, None, checks)
    again = compiled_cells.checked_cell("mclust", GaussianMixture(2, covariance_type="EII", init_params="mclust"),
                                        X, None, checks)
    assert first is not None and again is not None and first[2] is again[2]  # one K: one record
    for bad in ({"n_init": 0}, {"tol": -1.0}, {"max_iter": 100.0}, {"reg_covar": float("nan")}):
        estimator = GaussianMixture(2, covariance_type="VVV", init_params="mclust", **bad)
        with pytest.raises((ValueError, TypeError)):  # the check itself, not a memoised pass
            checks.hyperparameters(estimator)
    too_many = GaussianMixture(151, covariance_type="VVV", init_params="mclust")  # 151 > 150 rows
    assert compiled_cells.checked_cell("mclust", too_many, X, None, checks) is None
    assert compiled_cells.checked_cell("mclust", too_many, X, None, checks) is None  # memoised failure


def test_the_sweeps_cut_at_one_group_needs_no_tree_and_is_the_trees(monkeypatch):
    """``SweepChecks.partition`` at K = 1 (the cells that start while the tree is built) builds no
    tree and equals the tree's own cut at one group (``engine.mclust_hc.mclust_partition``, the
    oracle); every cut is read-only (one type of labels for the compiled cell, not a second
    compilation) and made once per K."""
    mclust_hc._tree_of.cache_clear()
    mclust_hc._cut_of.cache_clear()
    with monkeypatch.context() as patch:
        def no_tree(*args):
            raise AssertionError("a tree was built")

        patch.setattr(mclust_hc, "compiled_merge_tree", no_tree)
        patch.setattr(mclust_hc, "merge_tree", no_tree)
        checks = compiled_cells.SweepChecks()
        one = checks.partition(X, 1)
    assert not one.flags.writeable and one.dtype == np.int64
    np.testing.assert_array_equal(one, mclust_hc.mclust_partition(X, 1))
    three = checks.partition(X, 3)
    assert not three.flags.writeable and checks.partition(X, 3) is three
    np.testing.assert_array_equal(three, mclust_hc.mclust_partition(X, 3))
