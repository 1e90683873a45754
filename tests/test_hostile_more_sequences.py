"""Hostile input for the sequence models only (tests/test_hostile_more.py sweeps every newer
estimator; its data and helpers are shared here): lengths, per-sequence weights and counts; the
HSMM's Poisson durations at the truncation point; X on scales whose second moments overflow; the
scaled HSMM pass far below the peak.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_hostile_more import _GAUSS, COUNT_MODELS, ESTIMATORS, SEQUENCE_MODELS, N, fit

import mixfit

# ---- sequences: lengths, per-sequence weights, counts --------------------------------------------


LENGTHS = {
    "sum-short": ([10, 10], "lengths sum to 20"),
    "sum-long": ([N, N], f"lengths sum to {2 * N}"),
    "negative": ([N + 5, -5], r"lengths\[1\] = -5"),
    "zero": ([N, 0], r"lengths\[1\] = 0"),
    "fractional": ([N / 2 + 0.5, N / 2 - 0.5], "lengths has dtype float"),
    "2d": ([[N // 2, N // 2]], r"lengths has shape \(1, 2\)"),
}


@pytest.mark.parametrize("case", list(LENGTHS))
@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_lengths_that_do_not_cut_X_into_sequences_are_refused(name, case):
    lengths, match = LENGTHS[case]
    with pytest.raises(ValueError, match=match):
        fit(name, lengths=lengths)


SEQUENCE_WEIGHTS = {
    "per-row": (np.ones(N), r"sample_weight has shape \(40,\); expected \(n_sequences,\) = \(2,\)"),
    "negative": (np.array([1.0, -1.0]), "sample_weight has negative entries"),
    "all-zero": (np.zeros(2), "sample_weight is zero for every"),
    "nan": (np.array([1.0, np.nan]), "sample_weight contains NaN"),
}


@pytest.mark.parametrize("case", list(SEQUENCE_WEIGHTS))
@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_per_sequence_weights_are_checked(name, case):
    weights, match = SEQUENCE_WEIGHTS[case]
    with pytest.raises(ValueError, match=match):
        fit(name, lengths=[N // 2, N // 2], sample_weight=weights)


@pytest.mark.parametrize("value", [-1.0, 0.5])
@pytest.mark.parametrize("name", COUNT_MODELS)
def test_counts_must_be_non_negative_integers_naming_the_entry(name, value):
    """hmmlearn's PoissonHMM / MultinomialHMM take integer counts; a negative or fractional entry
    is a ValueError naming its position."""
    X = ESTIMATORS[name][1].copy()
    X[3, 0] = value if value < 0 else X[3, 0] + value
    with pytest.raises(ValueError, match=r"non-negative integer counts.*X\[3, 0\]"):
        fit(name, X)


# ---- HSMM durations at the truncation point -----------------------------------------------------


def test_gaussian_hsmm_fits_segments_that_last_max_duration():
    """Two blocks of 20 frames with max_duration=20: each segment lasts D, so the Poisson rate's
    M-step (H17) runs to its bound. The truncated pmf and the root search used to divide 0 by 0
    there (scipy's cdf and pmf underflow at rates of ~1e3 D) and the fit died in brentq with a NaN;
    it now fits, every duration pmf finite and summing to 1."""
    hsmm = fit("GaussianHSMM")
    assert np.isfinite(hsmm.score(_GAUSS))
    from mixfit.models.hsmm_durations import make_durations

    pmf = make_durations("poisson", 20).pmf(hsmm.durations_)
    assert np.all(np.isfinite(pmf)) and np.allclose(pmf.sum(axis=1), 1.0)


@pytest.mark.parametrize("rate", [0.0, 0.5, 3.0, 18.0, 40.0, 2e4])
def test_truncated_poisson_durations_match_scipy_where_it_does_not_underflow(rate):
    from scipy import optimize, stats

    from mixfit.models.hsmm_durations import PoissonDurations

    durations = PoissonDurations(20)
    pmf = durations.pmf(np.array([rate]))[0]
    assert np.all(np.isfinite(pmf)) and pmf.sum() == pytest.approx(1.0, abs=1e-15)
    reference = stats.poisson.pmf(np.arange(20), rate)
    if reference.sum() > 1e-300:  # scipy's own table, renormalised, is the oracle where it is not 0/0
        np.testing.assert_allclose(pmf, reference / reference.sum(), rtol=1e-12, atol=1e-300)
    else:
        assert pmf[-1] > 0.99  # a rate far above D puts the mass at d = D
    mean = float(pmf @ np.arange(20))  # E[d - 1] of this truncated pmf
    if 0 < mean < 18.99:
        # the M-step's rate gives back this mean; scipy's cdf-ratio equation is the oracle
        def excess(r):
            return r * stats.poisson.cdf(18, r) / stats.poisson.cdf(19, r) - mean

        expected = optimize.brentq(excess, mean, 300.0, xtol=1e-12) if rate > 0 else 0.0
        # 1e-8 relative: the two root searches stop at xtol = 1e-12 on differently rounded functions
        assert durations._rate(mean) == pytest.approx(expected, rel=1e-8, abs=1e-10)


# ---- hostile scales and the scaled HSMM pass (at the merge) ----------------------------------------

@pytest.mark.parametrize("make", [lambda: mixfit.GaussianHMM(2, random_state=0, max_iter=2),
                                  lambda: mixfit.GMMHMM(2, random_state=0, max_iter=2),
                                  lambda: mixfit.VariationalGaussianHMM(2, random_state=0, max_iter=2),
                                  lambda: mixfit.GaussianHSMM(2, random_state=0, max_iter=2, max_duration=20)],
                         ids=["GaussianHMM", "GMMHMM", "VariationalGaussianHMM", "GaussianHSMM"])
def test_gaussian_sequence_models_refuse_X_whose_second_moments_overflow(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # an overflow is a defect
        with pytest.raises(ValueError, match=r"\bX\b.*second moments would exceed"):
            make().fit(1e160 * _GAUSS)


def test_gaussian_hsmm_survives_states_far_below_the_peak():
    rng = np.random.default_rng(0)
    # 0/1 frames: k-means puts a state on the point (1, 1) with variance reg_covar, so the frames at
    # (0, 0) are ~5e5 nats below the other state's density there; 30 such frames, D = 10
    X = (np.r_[rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 5.0] > 0).astype(float)
    hsmm = mixfit.GaussianHSMM(2, random_state=0, max_duration=10, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hsmm.fit(X)
    assert np.isfinite(hsmm.score(X))
