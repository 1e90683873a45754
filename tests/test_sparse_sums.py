"""The diag E-step's sparse moment sums (``diag_fused_compiled.sparse_sums_into``) against the
literal loop they stand for: each row in order, each component in order, a pair added where its
weight passes its component's threshold (compiled here with the same contraction of a * b + c,
so the two must agree bit for bit), with the same rule for giving up on a dense chunk."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal

numba = pytest.importorskip("numba")
from mixfit.kernels import diag_fused_compiled  # after the skip: it imports numba

RATIO = 2.0**-64


@numba.njit(error_model="numpy", fastmath={"contract"})
def _literal(at, features, mass, ratio, budget, out):
    """Row by row, component by component: the sums and the decisions as first specified."""
    K, n = at.shape
    L = out.shape[1]
    for k in range(K):
        if math.isnan(mass[k]):
            return False
    thresholds = mass * ratio
    acc = np.zeros((K, L))
    total = 0
    for i in range(n):
        for k in range(K):
            r = at[k, i]
            if r > thresholds[k]:
                total += 1
                for j in range(L):
                    acc[k, j] += r * features[i, j]
        if total > budget or (i >= diag_fused_compiled._SETTLE_ROWS
                              and 4 * total * n > 5 * budget * (i + 1)):
            return False
    out[:] = acc
    return True


def _weights(rng, n, K, pairs_per_row):
    """(n, K) column-major weights: each row's ``pairs_per_row[i]`` components carry a weight
    in (0, 1], the others 1e-300 (below any component's threshold, as the floor's weights)."""
    wresp = np.full((n, K), 1e-300)
    for i, count in enumerate(pairs_per_row):
        wresp[i, rng.choice(K, size=count, replace=False)] = rng.uniform(1e-3, 1.0, size=count)
    return np.asfortranarray(wresp)


def _both(wresp, features, budget, mass=None):
    mass = wresp.sum(axis=0) if mass is None else mass
    K, L = wresp.shape[1], features.shape[1] - 1
    ours, theirs = np.full((K, L), -1.0), np.full((K, L), -1.0)
    taken = diag_fused_compiled.sparse_sums_into(wresp.T, features, mass, RATIO, budget, ours)
    literal = _literal(wresp.T, features, mass, RATIO, budget, theirs)
    return taken, literal, ours, theirs


@pytest.mark.parametrize("K", [1, 3, 16, 40])
def test_rows_with_no_one_and_several_pairs_sum_as_the_literal_loop(K, rng):
    """Rows with 0, 1 and up to 3 pairs (one pair the common case), every component's sums
    bit for bit those of the literal loop; a component no row reaches keeps zeros."""
    n = 3000
    pairs = rng.choice([0, 1, 1, 1, 1, 2, 3], size=n).clip(max=K)
    wresp = _weights(rng, n, K, pairs)
    features = rng.normal(scale=3.0, size=(n, 9))
    taken, literal, ours, theirs = _both(wresp, features, budget=n * K)
    assert taken and literal
    assert_array_equal(ours, theirs)
    # and they are the sums they claim, to rounding (1e-12 of the largest: a missed or doubled
    # pair would show at ~1e-3 of it)
    kept = np.where(wresp > wresp.sum(axis=0) * RATIO, wresp, 0.0)
    expected = kept.T @ features[:, :-1]
    assert np.abs(ours - expected).max() <= 1e-12 * np.abs(expected).max()


def test_giving_up_on_dense_rows_follows_the_literal_rule(rng):
    """Within the budget in all, but dense in the first rows (or from row 100 on): both give up
    (the product's turn); the same rows with the dense ones last: both add them, bit for bit;
    over the budget in all: both give up."""
    n, K = 2000, 8
    budget = n * K // 8  # 2000 pairs
    pairs = np.r_[np.full(300, 4), np.ones(n - 300, dtype=int)]  # 1200 + 1700 = 2900 pairs
    features = rng.normal(size=(n, 6))
    sparse_first = _weights(rng, n, K, pairs[::-1] // 2 + (pairs[::-1] == 1))  # 1700 + 600 pairs
    # sparse for 100 rows, then dense: past the test at row 128, stopped a few rows later
    dense_later = _weights(rng, n, K, np.r_[np.ones(100, dtype=int), np.full(300, 4), np.ones(n - 400, dtype=int)])
    for wresp, budget_here, expected in [(_weights(rng, n, K, pairs), 3000, False),
                                         (dense_later, 3000, False),
                                         (sparse_first, budget, False),
                                         (_weights(rng, n, K, pairs[::-1]), 3000, True),
                                         (_weights(rng, n, K, pairs), budget, False)]:
        taken, literal, ours, theirs = _both(wresp, features, budget_here)
        assert taken == literal == expected
        assert_array_equal(ours, theirs)  # untouched (-1) where both gave up


def test_a_nan_weight_or_mass_gives_up_as_the_literal_loop(rng):
    """A NaN weight is no pair (a NaN compare is false) and a NaN mass gives up, in both."""
    n, K = 1500, 5
    wresp = _weights(rng, n, K, np.ones(n, dtype=int))
    features = rng.normal(size=(n, 4))
    mass = wresp.sum(axis=0)
    wresp[17, :] = np.nan
    taken, literal, ours, theirs = _both(wresp, features, n * K, mass=mass)
    assert taken and literal
    assert_array_equal(ours, theirs)
    mass[2] = np.nan
    taken, literal, _, _ = _both(wresp, features, n * K, mass=mass)
    assert not taken and not literal
