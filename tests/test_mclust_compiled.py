"""The compiled small-data EM (engine/small_em.py, kernels/mclust_em_compiled.py) against the numpy
loop it replaces.

Oracle: the numpy loop itself on the same single chunk (``numpy_loop``: the compiled path
declined), which sums the same terms in another order. (A numpy fit in several chunks is not
a 1e-10 oracle for the iterative families: their inner loops stop at sqrt(eps) relative, so
rounding can move an inner stop by one iteration, 1e-8, which slow EM directions amplify.)
Every family of mclust's fourteen, K = 1..5, on faithful and iris from
mclust's start: the same params to rounding, the same iteration counts, the same inner
iterations of the iterative families, the same failures. The R fixtures themselves are
checked by test_mclust_families.py through the numpy loop. The compiled path runs only inside
``engine.compiled_small_fits()`` (select_model's cells, bootstrap's replicates): this file's
fits run inside it (the autouse fixture) except where a test says otherwise.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris

from mixfit import GaussianMixture
from mixfit.datasets import load_faithful
from mixfit.engine import compiled_small_fits, small_em
from mixfit.families.registry import MCLUST_MODEL_NAMES

pytest.importorskip("numba")

DATA = {"faithful": load_faithful()[0], "iris": load_iris().data}
ITERATIVE = ("VEI", "VEE", "EVE", "VVE", "VEV")


@pytest.fixture(autouse=True)
def _within_many_small_fits():
    with compiled_small_fits():
        yield


@pytest.fixture
def compiled_calls(monkeypatch):
    return _spy(monkeypatch)


def _spy(monkeypatch):
    """Whether each fit's compiled path completed (a spy: the path itself is unchanged)."""
    calls = []
    real = small_em.compiled_fit

    def spy(*args, **kwargs):
        fitted = real(*args, **kwargs)
        calls.append(fitted is not None and not fitted.failed)
        return fitted

    monkeypatch.setattr(small_em, "compiled_fit", spy)
    return calls


def _numpy_fit(monkeypatch, *args, **params):
    with monkeypatch.context() as patch:
        patch.setattr(small_em, "compiled_fit", lambda *a, **k: None)
        return _fit(*args, **params)


def _fit(X, k, family, **params):
    # max_iter=80 keeps the file fast: a fit stopped at the cap is compared iterate for iterate
    options = {"covariance_type": family, "init_params": "mclust", "tol": 1e-6, "max_iter": 80,
               "reg_covar": 0.0, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return GaussianMixture(k, **options).fit(X)
        except ValueError as error:
            return str(error)


def _assert_same_fit(fast, slow, family):
    if isinstance(slow, str):  # the numpy loop failed: the compiled path fails with the same error
        assert fast == slow
        return
    assert not isinstance(fast, str), fast
    assert (fast.n_iter_, fast.converged_) == (slow.n_iter_, slow.converged_)
    # 1e-10: the two loops sum the same terms in other orders over up to a few hundred
    # iterations of a contraction; what differs is rounding (measured: below 1e-13)
    scale = np.abs(slow.covariances_).max()
    np.testing.assert_allclose(fast.covariances_, slow.covariances_, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(fast.means_, slow.means_, rtol=1e-10, atol=0)
    np.testing.assert_allclose(fast.weights_, slow.weights_, rtol=1e-10, atol=0)
    np.testing.assert_allclose(fast.lower_bounds_, slow.lower_bounds_, rtol=1e-10, atol=0)
    # the same inner iterations in each M-step of the iterative families (mclust_msteps' rules)
    if family in ITERATIVE:
        assert fast._covariance.inner_iterations == slow._covariance.inner_iterations


@pytest.mark.parametrize("name", sorted(DATA))
@pytest.mark.parametrize("family", MCLUST_MODEL_NAMES)
def test_compiled_fit_equals_the_numpy_loop(name, family, monkeypatch):
    X = DATA[name]
    for k in range(1, 6):
        slow = _numpy_fit(monkeypatch, X, k, family)
        calls = _spy(monkeypatch)
        fast = _fit(X, k, family)
        _assert_same_fit(fast, slow, family)
        # the compiled path ran, and completed unless numpy failed too or ended on a covariance
        # at the edge of the floating-point range (an M-step near 1e-288 that rounds one way in
        # numpy and the other here; the numpy rerun then gives the numpy fit, as checked above)
        edge = not isinstance(slow, str) and slow.volumes_.min() < 1e-250
        assert len(calls) == 1 and calls[0] in ((not isinstance(slow, str),) + ((False,) if edge else ()))
    if family in ITERATIVE and not isinstance(fast, str):
        assert fast._covariance.inner_iterations  # recorded, one entry per M-step


def test_weighted_fit_equals_the_numpy_loop(monkeypatch):
    X = DATA["iris"]
    weights = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])
    for family in ("VVV", "VEE", "EVE", "VEI", "EII"):
        estimator = GaussianMixture(3, covariance_type=family, init_params="mclust", tol=1e-6, max_iter=500,
                                    reg_covar=0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with monkeypatch.context() as patch:
                patch.setattr(small_em, "compiled_fit", lambda *a, **k: None)
                slow = clone(estimator).fit(X, sample_weight=weights)
            calls = _spy(monkeypatch)
            fast = clone(estimator).fit(X, sample_weight=weights)
        _assert_same_fit(fast, slow, family)
        assert calls == [True]


def test_failed_m_step_goes_back_to_the_numpy_loop(compiled_calls):
    # EVV at K = 5 on iris with reg_covar = 0: an M-step gives a singular covariance; the compiled
    # path reports it and the numpy loop reruns the fit, raising its own diagnosis
    message = _fit(DATA["iris"], 5, "EVV")
    assert isinstance(message, str) and "collapsed" in message
    assert compiled_calls == [False]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        repaired = GaussianMixture(5, covariance_type="EVV", init_params="mclust", tol=1e-6, max_iter=200,
                                   reg_covar=0.0, on_collapse="reseed").fit(DATA["iris"])
    assert repaired.collapse_events_  # a repairing policy runs in the numpy loop


def test_paths_that_stay_in_numpy(compiled_calls):
    X = DATA["iris"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GaussianMixture(2, covariance_type="VVV", prior="default").fit(X)  # MAP
        GaussianMixture(2, covariance_type="VVV").fit(X.astype(np.float32))  # float32
        GaussianMixture(2, covariance_type="VVV", verbose=1).fit(X)  # reports per iteration
        rows = np.repeat(X, 20, axis=0)  # 3000 rows x 4 components: above SMALL_ROWS_X_COMPONENTS
        assert rows.shape[0] * 4 > small_em.SMALL_ROWS_X_COMPONENTS
        GaussianMixture(4, covariance_type="VVV", max_iter=3).fit(rows)
    assert not any(compiled_calls)


def test_a_lone_fit_stays_in_numpy(monkeypatch):
    """Outside compiled_small_fits() a fit never calls the compiled path (no compile for a user's
    first small fit); inside it, the same fit does."""
    from mixfit.engine import loop

    X = DATA["faithful"]
    token = loop._COMPILED_SMALL.set(False)  # as outside the context (the autouse fixture set it)
    try:
        calls = _spy(monkeypatch)
        GaussianMixture(2, covariance_type="VVV").fit(X)
        assert calls == []
    finally:
        loop._COMPILED_SMALL.reset(token)
    GaussianMixture(2, covariance_type="VVV").fit(X)
    assert calls == [True]


def test_family_codes_are_mclusts_order():
    from mixfit.kernels.mclust_msteps_compiled import FAMILY_CODES

    assert FAMILY_CODES == MCLUST_MODEL_NAMES


@pytest.mark.parametrize("chunked", [False, True], ids=["compiled", "numpy"])
def test_relative_rule_stops_where_mclust_does(chunked):
    """FitOptions(relative_tol=True): stop at the first iteration whose total log-likelihood L
    moved by at most tol (1 + |L|) (mclust's emControl tol[1]), in both loops."""
    from mixfit.backends import as_source
    from mixfit.engine import FitOptions, run
    from mixfit.engine.starts import initial_stats
    from mixfit.families.registry import make_covariance
    from mixfit.models import GaussianEM

    X = DATA["faithful"]
    model = GaussianEM(make_covariance("VVV"), 0.0)
    source = as_source(X, None, 100 if chunked else 10_000)
    params = model.maximize(initial_stats(model, source, 3, "mclust", None), None)
    result = run(model, source, params, FitOptions(tol=1e-5, max_iter=1000, relative_tol=True))
    totals = np.array(result.lower_bounds) * X.shape[0]
    moved = np.abs(np.diff(totals)) <= 1e-5 * (1 + np.abs(totals[1:]))
    assert result.converged and moved[-1] and not moved[:-1].any()


def test_select_model_mclust_convention_stops_by_mclusts_rule_and_runs_its_start_once(compiled_calls,
                                                                                     monkeypatch):
    from mixfit import select_model
    from mixfit.selection import compiled_cells

    real = compiled_cells.mclust_cell_result

    def spy(*args, **kwargs):  # the sweep's cells run whole compiled (selection/compiled_cells.py)
        fitted = real(*args, **kwargs)
        compiled_calls.append(not fitted.failed)
        return fitted

    monkeypatch.setattr(compiled_cells, "mclust_cell_result", spy)
    X = DATA["iris"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = select_model(X, [2, 3], ["VVV", "VEE"], convention="mclust", hierarchical_start=False,
                              init_params="mclust", n_init=10, reg_covar=0.0)
    assert compiled_calls == [True] * 4  # one compiled fit per cell: mclust's start draws nothing
    for cell in result.cells:
        totals = np.array(cell.estimator.lower_bounds_) * X.shape[0]
        moved = np.abs(np.diff(totals)) <= 1e-5 * (1 + np.abs(totals[1:]))  # MCLUST_TOL, relative
        assert cell.converged and moved[-1] and not moved[:-1].any()
