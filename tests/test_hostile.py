"""Hostile and degenerate data: for each data set, what each collapse policy, the MAP prior and VB
do, asserted as the documented outcome; and never a NaN or inf in what a fit returns.

Outcomes (the contract of ``mixfit.engine.collapse`` and ``GaussianMixture``):

fits            fits with no collapse event and no CollapseWarning
repairs         fits; >= 1 event of the policy's action in ``collapse_events_`` (component,
                iteration, action, reason), one CollapseWarning per event
fits-or-repairs fits, reporting whatever it repaired (the number of repairs is a detail of the
                data's rounding, not of the contract)
raises          CollapsedComponentError naming the component, its mass, how many distinct rows it
                holds, and the fixes (reg_covar, prior='default', on_collapse)
gives-up        'reseed' stopped after its bounded number of reseeds and raised, saying so
fits-or-raises  either 'fits-or-repairs' or 'raises' / 'gives-up' (heavy tails: which one depends
                on where the first partition puts the extreme rows)
drop-refused    'drop' cannot drop at initialisation when means_init fixes n_components entries:
                CollapsedComponentError naming on_collapse='drop' and the remedy
rejects-X       ValueError naming X: its second moments overflow its dtype (the boundary check)
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest

from mixfit import BayesianGaussianMixture, CollapsedComponentError, CollapseWarning, GaussianMixture
from mixfit.exceptions import ConvergenceWarning

FIT, REPAIRS, FIT_OR_REPAIRS, RAISES, GIVES_UP, FIT_OR_RAISES, DROP_REFUSED, REJECTS_X = (
    "fits", "repairs", "fits-or-repairs", "raises", "gives-up", "fits-or-raises", "drop-refused", "rejects-X")
POLICIES = ("raise", "reseed", "drop")


def blobs(rng, n=60, D=2):
    """Two unit blobs six apart: an easy K=2 problem to make hostile."""
    return np.r_[rng.normal(size=(n // 2, D)), rng.normal(size=(n // 2, D)) + 6.0]


@dataclass(frozen=True)
class Case:
    make_X: object
    n_components: int
    # outcome per 'raise' / 'reseed' / 'drop' / 'prior' (GaussianMixture(prior='default')) / 'vb'
    outcomes: dict
    dtypes: tuple = ("float64", "float32")
    options: dict = field(default_factory=dict)  # extra GaussianMixture options
    # outcome for one "which-covariance_type-dtype" where it differs from ``outcomes[which]``
    overrides: dict = field(default_factory=dict)


def everything(outcome):
    return dict.fromkeys((*POLICIES, "prior", "vb"), outcome)


# With the default reg_covar = 1e-6 every covariance is at least 1e-6 I, so maximum likelihood
# survives data that put a component on one point; what remains is empty components.
CASES = {
    "duplicated-rows": Case(lambda r: np.repeat(blobs(r), 2, axis=0), 2, everything(FIT)),
    "cluster-on-one-point": Case(lambda r: np.r_[blobs(r), np.tile([20.0, -20.0], (30, 1))], 3, everything(FIT)),
    "constant-feature": Case(lambda r: np.c_[blobs(r)[:, :1], np.full(60, 3.0)], 2, everything(FIT)),
    "n-rows-le-D": Case(lambda r: r.normal(size=(4, 6)), 2, everything(FIT)),
    # 2 distinct points for 3 components: KMeans leaves one empty; 'raise' keeps it (mass floor,
    # reg_covar), the repairing policies act on it at initialisation.
    "K-gt-distinct-points": Case(lambda r: np.repeat(r.normal(size=(2, 2)), 20, axis=0), 3,
                                 {"raise": FIT, "reseed": REPAIRS, "drop": REPAIRS, "prior": FIT, "vb": FIT}),
    "huge-offset-1e8": Case(lambda r: 1e8 + 1e-3 * blobs(r), 2, everything(FIT), dtypes=("float64",)),
    # float32 cannot hold 1e8 + 1e-3 (its ulp at 1e8 is 8): every row is the same point.
    "huge-offset-1e8-float32-one-point": Case(
        lambda r: 1e8 + 1e-3 * blobs(r), 2,
        {"raise": FIT, "reseed": REPAIRS, "drop": REPAIRS, "prior": FIT, "vb": FIT}, dtypes=("float32",)),
    "huge-scale-1e150": Case(lambda r: 1e150 * blobs(r), 2, everything(FIT), dtypes=("float64",)),
    "huge-scale-1e15-float32": Case(lambda r: 1e15 * blobs(r), 2, everything(FIT), dtypes=("float32",)),
    # sum of squared deviations ~ n (1e19)^2 > 3.4e38 = float32's max: refused at the boundary
    "overflowing-1e18-float32": Case(lambda r: 1e18 * blobs(r), 2, everything(REJECTS_X), dtypes=("float32",)),
    "overflowing-1e160-float64": Case(lambda r: 1e160 * blobs(r), 2, everything(REJECTS_X), dtypes=("float64",)),
    "tiny-scale-1e-150": Case(lambda r: 1e-150 * blobs(r), 2, everything(FIT), dtypes=("float64",)),
    # squares of 1e-30 underflow in float32: KMeans sees one cluster and leaves one empty
    "tiny-scale-1e-30-float32": Case(lambda r: 1e-30 * blobs(r), 2,
                                     {"raise": FIT, "reseed": REPAIRS, "drop": REPAIRS, "prior": FIT, "vb": FIT},
                                     dtypes=("float32",)),
    "cauchy": Case(lambda r: r.standard_cauchy(size=(200, 2)), 2,
                   {"raise": FIT_OR_RAISES, "reseed": FIT_OR_RAISES, "drop": FIT_OR_REPAIRS, "prior": FIT,
                    "vb": FIT}),
    # a third component started at (1e4, -1e4): it owns no row of the first partition
    "component-initialised-far-away": Case(
        blobs, 3, {"raise": FIT, "reseed": REPAIRS, "drop": DROP_REFUSED, "prior": FIT},
        options={"means_init": np.array([[0.0, 0.0], [6.0, 6.0], [1e4, -1e4]])}),
    # reg_covar = 0: the singularity of maximum likelihood itself. 'reseed' restarts the collapsed
    # component away from the rows it held (not on another copy of the point), and the fit goes on;
    # for diag in float32 EM draws the reseeded component back onto the point every 5 iterations
    # (a cycle of the ascent, each reseed at a different iteration), and 'reseed' gives up.
    "cluster-on-one-point-reg0": Case(
        lambda r: np.r_[blobs(r), np.tile([20.0, -20.0], (30, 1))], 3,
        {"raise": RAISES, "reseed": REPAIRS, "drop": REPAIRS, "prior": FIT}, options={"reg_covar": 0.0},
        overrides={"reseed-diag-float32": GIVES_UP}),
    # every component is singular along the constant feature: no policy can help, the prior can
    "constant-feature-reg0": Case(lambda r: np.c_[blobs(r)[:, :1], np.full(60, 3.0)], 2,
                                  {"raise": RAISES, "reseed": RAISES, "drop": RAISES, "prior": FIT},
                                  options={"reg_covar": 0.0}),
}

COVARIANCE_TYPES = ("full", "diag")


def estimator(case, which, covariance_type):
    if which == "vb":
        return BayesianGaussianMixture(n_components=case.n_components, covariance_type=covariance_type,
                                       random_state=0)
    options = {"random_state": 0, "covariance_type": covariance_type, **case.options}
    if which == "prior":
        return GaussianMixture(case.n_components, prior="default", **options)
    return GaussianMixture(case.n_components, on_collapse=which, **options)


def assert_finite_fit(est, X):
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_", "lower_bounds_"):
        assert np.all(np.isfinite(getattr(est, name))), name
    assert np.isfinite(est.lower_bound_)
    assert np.all(np.isfinite(est.score_samples(X)))
    proba = est.predict_proba(X)
    assert np.all(np.isfinite(proba))
    # exp(ln rho_nk - ln p_n) carries an absolute error of ~eps |ln p_n| per term (the subtraction
    # of two numbers of that size), so a row's sum is 1 within K such errors; at 1e150 scale
    # |ln p_n| is ~700.
    slack = 4 * est.weights_.shape[0] * np.finfo(X.dtype).eps * (1 + np.abs(est.score_samples(X)))
    assert np.all(np.abs(proba.sum(axis=1, dtype=np.float64) - 1) <= slack)


def assert_events_reported(est, caught, action):
    events = est.collapse_events_
    assert events, f"expected a {action} event"
    for event in events:
        assert set(event) == {"component", "iteration", "action", "reason"}
        assert event["action"] == action
        assert isinstance(event["component"], int) and isinstance(event["iteration"], int)
        assert event["iteration"] >= 0 and event["reason"]
    warned = [w for w in caught if issubclass(w.category, CollapseWarning)]
    assert len(warned) == len(events)
    done = {"drop": "dropped", "reseed": "reseeded"}[action]
    assert all(done in str(w.message) for w in warned)
    n_kept = est.weights_.shape[0]
    assert n_kept == est.n_components - (len(events) if action == "drop" else 0)


COLLAPSE_MESSAGE = re.compile(
    r"component (?P<k>\d+) \(mass [0-9.e+-]+, holding (more than )?\d+ distinct rows?\) collapsed .*"
    r"Fixes: increase reg_covar; use the conjugate prior \(prior='default'\).*on_collapse='reseed' or 'drop'",
    re.DOTALL)


def assert_documented_collapse(error):
    message = str(error)
    match = COLLAPSE_MESSAGE.search(message)
    assert match, message
    assert error.component == int(match["k"])


def assert_gave_up(error):
    assert re.search(r"component \d+ collapsed again .* after \d+ reseeds", str(error)), str(error)
    for fix in ("reg_covar", "prior='default'", "on_collapse='drop'"):
        assert fix in str(error)


def run_case(case, which, covariance_type, dtype):
    X = case.make_X(np.random.default_rng(0)).astype(dtype)
    est = estimator(case, which, covariance_type)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("error", category=RuntimeWarning)  # an overflow or 0/0 is a defect
        try:
            est.fit(X)
        except (CollapsedComponentError, ValueError) as error:
            return X, est, caught, error
    return X, est, caught, None


# Found by this battery: the uncommitted reference-point diag moments in covariance.py (the
# performance work in progress) lose ~1e-8 of a float32 component's scatter, so a component on one
# point gets a variance of -7.6e-6 (+ reg_covar 1e-6 < 0) at EM iteration 1; HEAD fits. Not
# strict: it is to be fixed in covariance.py, not here.
KNOWN_REGRESSIONS: dict[str, str] = {}


def marks_for(test_id):
    reason = KNOWN_REGRESSIONS.get(test_id)
    return [pytest.mark.xfail(reason=reason, strict=False)] if reason else []


PARAMS = [
    pytest.param(case, which, ct, dtype, id=f"{name}-{which}-{ct}-{dtype}",
                 marks=marks_for(f"{name}-{which}-{ct}-{dtype}"))
    for name, case in CASES.items()
    for which in case.outcomes
    for ct in COVARIANCE_TYPES
    for dtype in case.dtypes
]


@pytest.mark.parametrize(("case", "which", "covariance_type", "dtype"), PARAMS)
def test_hostile_data_give_the_documented_outcome(case, which, covariance_type, dtype):
    expected = case.overrides.get(f"{which}-{covariance_type}-{dtype}", case.outcomes[which])
    X, est, caught, error = run_case(case, which, covariance_type, dtype)
    # never a NaN-driven warning, whatever the outcome
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]

    if expected == REJECTS_X:
        assert isinstance(error, ValueError) and not isinstance(error, CollapsedComponentError)
        assert re.search(r"\bX\b.*second moments would exceed", str(error)), str(error)
        return
    if expected in (RAISES, GIVES_UP, DROP_REFUSED):
        assert isinstance(error, CollapsedComponentError), f"expected {expected}, got {error!r}"
        {RAISES: assert_documented_collapse, GIVES_UP: assert_gave_up,
         DROP_REFUSED: assert_drop_refused}[expected](error)
        assert "precisions_cholesky_" not in vars(est)  # a failed fit sets nothing
        return
    if expected == FIT_OR_RAISES and isinstance(error, CollapsedComponentError):
        if "reseeds" in str(error):
            assert_gave_up(error)
        else:
            assert_documented_collapse(error)
        return
    assert error is None, f"expected {expected}, got {error!r}"
    assert_finite_fit(est, X)
    assert est.means_.dtype == X.dtype
    events = getattr(est, "collapse_events_", [])
    if expected == FIT:
        assert events == []
        assert not [w for w in caught if issubclass(w.category, CollapseWarning)]
    elif expected == REPAIRS or events:  # events: a fits-or-repairs / fits-or-raises that fitted
        assert_events_reported(est, caught, which)


def assert_drop_refused(error):
    message = str(error)
    assert "on_collapse='drop' dropped a component at initialisation" in message
    assert "means_init" in message and "give all three, or none" in message


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_far_component_is_dropped_when_the_whole_start_is_given(covariance_type):
    """The remedy 'drop-refused' names: with weights, means and precisions all given, the far
    component is dropped at the first E-step instead, and reported."""
    X = blobs(np.random.default_rng(0))
    precisions = np.array([np.eye(2)] * 3) if covariance_type == "full" else np.ones((3, 2))
    gm = GaussianMixture(3, covariance_type=covariance_type, on_collapse="drop", weights_init=np.full(3, 1 / 3),
                         means_init=np.array([[0.0, 0.0], [6.0, 6.0], [1e4, -1e4]]), precisions_init=precisions)
    with pytest.warns(CollapseWarning, match="component 2 was dropped at iteration 1"):
        gm.fit(X)
    assert gm.collapse_events_ == [{"component": 2, "iteration": 1, "action": "drop",
                                    "reason": gm.collapse_events_[0]["reason"]}]
    assert "mass" in gm.collapse_events_[0]["reason"]
    assert_finite_fit(gm, X)
    assert gm.weights_.shape == (2,)


def test_float32_prior_on_one_repeated_point_without_reg_covar_stays_finite():
    """The default scale's floor follows the data's dtype: float32 params of a fit on a single
    repeated point with reg_covar=0 stay finite (a float64 floor of 1e-154 gave 1/sigma = inf in
    float32)."""
    X = np.tile(np.float32([1e8, -3.0]), (40, 1))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Number of distinct clusters", ConvergenceWarning)
        gm = GaussianMixture(2, covariance_type="full", prior="default", reg_covar=0.0, random_state=0).fit(X)
    assert_finite_fit(gm, X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_prior_keeps_n_le_D_positive_definite_without_reg_covar(covariance_type):
    """float32 moments are indefinite by ~eps32 of the variance; the default scale's ridge is at
    least a few float32 ulps, so the prior still makes every covariance positive definite."""
    for seed in range(10):
        X = np.random.default_rng(seed).normal(size=(4, 6)).astype(np.float32)
        gm = GaussianMixture(2, covariance_type=covariance_type, prior="default", reg_covar=0.0,
                             random_state=seed).fit(X)
        assert_finite_fit(gm, X)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_collapse_message_starts_with_scikit_learns_sentence(covariance_type):
    """scikit-learn's own regularisation scenario (two points, ten components, reg_covar=0): the
    error keeps scikit-learn's sentence word for word, so code that matches on it keeps working, and
    reg_covar=1e-6 then fits."""
    import re
    import warnings

    X = np.vstack((np.ones((5, 5)), np.zeros((5, 5))))
    sentence = re.escape(
        "Fitting the mixture model failed because some components have ill-defined empirical covariance "
        "(for instance caused by singleton or collapsed samples). Try to decrease the number of components, "
        "increase reg_covar, or scale the input data.")
    model = GaussianMixture(n_components=10, reg_covar=0, covariance_type=covariance_type, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=sentence):
            model.fit(X)
        model.set_params(reg_covar=1e-6).fit(X)
    assert np.all(np.isfinite(model.score_samples(X)))
