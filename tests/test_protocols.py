"""Every implementation in the package against its written interface (mixfit.protocols), and the
checks that make a missing hook fail where the object is handed over, not in the middle of a fit."""

import numpy as np
import pytest

from mixfit import engine
from mixfit.backends import ArraySource
from mixfit.backends.sequences import SequenceSource
from mixfit.engine.collapse import make_policy
from mixfit.engine.starts import initial_stats, partition_start, warm_start
from mixfit.families.registry import COVARIANCE_TYPES, make_covariance
from mixfit.models import BernoulliEM, BernoulliVB, GaussianEM, GaussianVB
from mixfit.models.bernoulli import BetaPrior
from mixfit.models.hmm import HMM, HMMParams, HMMStats, InitialDistribution, TransitionMatrix
from mixfit.models.hmm_emissions import BernoulliEmission, CategoricalEmission, GaussianEmission
from mixfit.models.hmm_vb import CategoricalVBEmission, DirichletRows, GaussianVBEmission, VariationalHMM
from mixfit.models.student_t import StudentEM
from mixfit.protocols import (
    Counted,
    CovarianceFamily,
    Emission,
    Model,
    PointEmission,
    Predictor,
    Repairable,
    Source,
    Start,
    Startable,
    Stats,
    VariationalEmission,
    missing,
    require,
)
from mixfit.stats import BernoulliStats, GaussianStats

MODELS = {
    # model class: the protocols its estimators rely on
    GaussianEM: (Model, Predictor, Startable, Repairable, Counted),
    GaussianVB: (Model, Predictor, Startable, Counted),
    StudentEM: (Model, Predictor, Startable, Repairable, Counted),
    BernoulliEM: (Model, Predictor, Startable, Counted),
    BernoulliVB: (Model, Predictor, Startable, Counted),
    HMM: (Model, Predictor, Counted),
    VariationalHMM: (Model,),
}


@pytest.mark.parametrize("model", list(MODELS), ids=lambda c: c.__name__)
def test_each_model_meets_its_protocols(model):
    for protocol in MODELS[model]:
        assert missing(model, protocol) == [], (model.__name__, protocol.__name__)


@pytest.mark.parametrize("emission, protocol", [
    (GaussianEmission, PointEmission), (CategoricalEmission, PointEmission), (BernoulliEmission, PointEmission),
    (GaussianVBEmission, VariationalEmission), (CategoricalVBEmission, VariationalEmission),
], ids=lambda c: c.__name__)
def test_each_emission_meets_its_protocol(emission, protocol):
    assert missing(emission, protocol) == []
    assert missing(emission, Emission) == []  # what forward-backward needs


def _stats_values():
    K, D = 2, 3
    z = np.zeros
    return [
        GaussianStats(z((K, D)), z(K), z((K, D)), z((K, D, D)), 0.0, 0.0),
        BernoulliStats(z(K), z((K, D)), 0.0, 0.0),
    ]


@pytest.mark.parametrize("value", _stats_values(), ids=lambda v: type(v).__name__)
def test_each_statistics_value_meets_stats(value):
    assert missing(value, Stats) == []
    assert isinstance(value + value, type(value))


def test_hmm_statistics_meet_stats():
    assert missing(HMMStats, Stats) == ["weight_sum"]  # a dataclass field lives on instances:
    # check one built by a real E-step
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(20, 1))
    model = HMM(InitialDistribution(), TransitionMatrix(), CategoricalEmission(3))
    params = _categorical_hmm_params()
    source = SequenceSource(X, np.array([20]), None, 64, n_threads=1)
    value = source.map_reduce(lambda batch, w: model.accumulate(batch, params, w))
    assert missing(value, Stats) == []


def _categorical_hmm_params():
    return HMMParams(np.full(2, 0.5), np.full((2, 2), 0.5), np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]))


def test_sources_meet_source():
    X = np.zeros((10, 2))
    for source in (ArraySource(X, None, 4), SequenceSource(X, np.array([4, 6]), None, 4, n_threads=1)):
        assert missing(source, Source) == [], type(source).__name__


def test_dask_sources_meet_source():
    da = pytest.importorskip("dask.array")
    from mixfit.backends.dask import DaskSequenceSource, DaskSource

    X = da.zeros((10, 2), chunks=(5, 2))
    for source in (DaskSource(X, None, 4), DaskSequenceSource(X, np.array([5, 5]), None, 4)):
        assert missing(source, Source) == [], type(source).__name__


class _NoRepair:
    """A model with the seam but none of the hooks the drop policy calls."""

    def accumulate(self, X, params, sample_weight): ...
    def maximize(self, stats, params): ...
    def objective(self, stats, params): ...


def test_a_policy_needing_hooks_the_model_lacks_fails_before_the_start():
    started = []
    options = engine.FitOptions(tol=1e-3, max_iter=5)
    source = ArraySource(np.zeros((4, 1)), None, 4)
    with pytest.raises(TypeError, match=r"_NoRepair lacks insert_component, select_params, select_stats "
                                        r"\(mixfit.protocols.Repairable\)"):
        engine.fit(_NoRepair(), source, lambda rng, policy: started.append(1), options,
                   np.random.default_rng(0), make_policy=lambda: make_policy("drop"))
    assert started == []  # no start, no pass over the data


def test_a_model_without_the_seam_fails_before_the_start():
    class Half:
        def accumulate(self, X, params, sample_weight): ...

    with pytest.raises(TypeError, match=r"the model Half lacks maximize, objective \(mixfit.protocols.Model\)"):
        engine.fit(Half(), ArraySource(np.zeros((4, 1)), None, 4), lambda rng: pytest.fail("started"),
                   engine.FitOptions(tol=1e-3, max_iter=5), np.random.default_rng(0))


def test_an_emission_without_statistics_fails_at_construction():
    class DensityOnly:
        def log_density(self, X, params): ...

    with pytest.raises(TypeError, match=r"the emission DensityOnly lacks statistics \(mixfit.protocols.Emission\)"):
        HMM(InitialDistribution(), TransitionMatrix(), DensityOnly())
    with pytest.raises(TypeError, match=r"DensityOnly lacks kl, mean_params, posterior, statistics"):
        VariationalHMM(DirichletRows(np.ones(2)), DirichletRows(np.ones((2, 2))), DensityOnly())


def test_a_start_needs_statistics():
    with pytest.raises(TypeError, match=r"lacks statistics \(mixfit.protocols.Startable\)"):
        initial_stats(_NoRepair(), ArraySource(np.zeros((4, 1)), None, 4), 1, "random", np.random.default_rng(0))


def test_require_accepts_what_meets_the_protocol():
    require(BernoulliEM(BetaPrior(1.0, 1.0)), Model, Predictor, Startable, Counted)


# ---- covariance families: the protocol and the exact reshift ----------------------------------


@pytest.mark.parametrize("name", COVARIANCE_TYPES)
def test_each_family_meets_covariance_family(name):
    assert missing(make_covariance(name), CovarianceFamily) == []


def test_a_model_refuses_a_family_without_its_hooks_at_construction():
    class KernelOnly:
        name = "kernel-only"

        def log_kernel(self, *args): ...

    with pytest.raises(TypeError, match=r"the covariance family KernelOnly lacks add_ridge, .*check_precisions"):
        GaussianEM(KernelOnly(), 1e-6)


def _moments_case(name, rng):
    K, D, n = 3, 4, 200
    X = rng.normal(size=(n, D)) * 3 + 40  # far from the origin: the shift matters
    resp = rng.dirichlet(np.ones(K), size=n)
    w = rng.integers(0, 4, size=n).astype(np.float64)
    covariance = make_covariance(name)
    model = GaussianEM(covariance, 1e-6)
    return covariance, model, X, resp, w


@pytest.mark.parametrize("name", COVARIANCE_TYPES)
def test_reshift_equals_the_moments_taken_about_the_new_shift(name):
    rng = np.random.default_rng(7)
    covariance, model, X, resp, w = _moments_case(name, rng)
    K, D = resp.shape[1], X.shape[1]
    old, new = X[:K] + rng.normal(size=(K, D)), X[K:2 * K] - 1.0
    moved = model.statistics(X, resp, w, old).reshift(new, covariance)
    direct = model.statistics(X, resp, w, new)
    # Both are sums of the same ~600 products in float64; the identity adds O(|delta| |first|) terms
    # of size ~1e4 here, so agreement to 1e-10 relative is rounding, not an approximation.
    for field in ("mass", "first", "scatter"):
        np.testing.assert_allclose(getattr(moved, field), getattr(direct, field), rtol=1e-10,
                                   atol=1e-10 * np.abs(getattr(direct, field)).max(), err_msg=field)
    np.testing.assert_array_equal(moved.shift, new)
    assert moved.weight_sum == direct.weight_sum


@pytest.mark.parametrize("name", COVARIANCE_TYPES)
def test_reshift_there_and_back_is_the_identity_and_fits_the_same(name):
    rng = np.random.default_rng(8)
    covariance, model, X, resp, w = _moments_case(name, rng)
    shift = X[:resp.shape[1]]
    stats = model.statistics(X, resp, w, shift)
    back = stats.reshift(shift + 5.0, covariance).reshift(shift, covariance)
    np.testing.assert_allclose(back.scatter, stats.scatter, rtol=1e-9)
    # the M-step does not depend on the point the moments were taken about
    a = model.maximize(stats, None)
    b = model.maximize(stats.reshift(shift - 3.0, covariance), None)
    np.testing.assert_allclose(b.means, a.means, rtol=1e-12)
    np.testing.assert_allclose(b.prec_chol, a.prec_chol, rtol=1e-9)


def test_the_starts_meet_start():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    model = GaussianEM(make_covariance("diag"), 1e-6)
    source = ArraySource(X, None, 16)
    params = model.maximize(initial_stats(model, source, 2, "random", rng), None)
    for start in (warm_start(params), partition_start(model, source, 2, "random")):
        assert missing(start, Start) == []
    assert missing(lambda: None, Start) == []  # any callable passes the structural check;
    assert missing(object(), Start) == ["__call__"]  # a non-callable does not
