"""Entropy-based merging of components (Baudry et al. 2010) against R mclust's clustCombi, a
literal brute-force search over every pair at every step, and its invariances.

The fixtures (``tests/fixtures/mclust_merging/``) are R mclust 6.0.0's ``Mclust`` fits and
``clustCombi`` on them, frozen by ``make_fixtures.py``: on Mclust's own posterior
probabilities z, and on the E-step of its returned parameters (what a mixture rebuilt from those
parameters predicts).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.special import xlogy

from mixfit import (
    BayesianGaussianMixture,
    BernoulliMixture,
    ComponentMerging,
    GaussianMixture,
    StudentMixture,
    merge_components,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mclust_merging"
CASES = ("faithful_bic", "shapes_bic", "shapes_vev6", "faithful_eii7")


def _load(case):
    with open(FIXTURES / f"{case}.json") as handle:
        reference = json.load(handle)
    X = np.loadtxt(FIXTURES / "inputs" / f"{reference['dataset']}.csv", delimiter=",", skiprows=1)
    return X, reference


def _rebuilt(X, reference):
    """A GaussianMixture at mclust's fitted parameters (max_iter=0 returns the given start);
    every family's density is the full-covariance density of its Sigma_k."""
    sigma = np.array(reference["sigma"])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*did not converge.*")
        return GaussianMixture(reference["G"], max_iter=0, weights_init=np.array(reference["pro"]),
                               means_init=np.array(reference["mean"]),
                               precisions_init=np.linalg.inv(sigma)).fit(X)


def _assert_matches_clustcombi(merging, levels, K):
    for level in levels:
        m = level["n_clusters"]
        membership = np.array(level["membership"]).reshape(m, K)
        r_groups = [np.flatnonzero(row).tolist() for row in membership]
        assert merging.clusters(m) == sorted(r_groups, key=min), f"{m} clusters"
        # Entropies: sums of n x K terms x ln x on both sides; rounding only (~1e-13 seen).
        assert merging.entropies[K - m] == pytest.approx(level["entropy"], rel=1e-10, abs=1e-10)
        # R numbers the combined classes its own way: map each R class to ours by its components.
        ours = {tuple(group): c for c, group in enumerate(merging.clusters(m))}
        to_ours = np.array([ours[tuple(group)] for group in r_groups])
        np.testing.assert_array_equal(merging.predict(m), to_ours[np.array(level["classification"]) - 1])


@pytest.mark.parametrize("case", CASES)
def test_hierarchy_equals_clustcombi_on_mclusts_own_probabilities(case):
    _, reference = _load(case)
    merging = ComponentMerging.from_proba(np.array(reference["z_mclust"]))
    _assert_matches_clustcombi(merging, reference["levels_mclust"], reference["G"])


@pytest.mark.parametrize("case", CASES)
def test_mixture_rebuilt_from_mclusts_parameters_merges_as_clustcombi(case):
    X, reference = _load(case)
    model = _rebuilt(X, reference)
    # The same E-step on both sides (log-sum-exp of Gaussian log-densities): rounding only.
    np.testing.assert_allclose(model.predict_proba(X), np.array(reference["z"]), atol=1e-9)
    _assert_matches_clustcombi(merge_components(model, X), reference["levels"], reference["G"])


def _brute_force(proba):
    """Literal Baudry et al.: at each step, form every pair's merged matrix and its entropy
    from scratch, and keep the lowest. Returns (clusters per level, entropies)."""
    groups = [[k] for k in range(proba.shape[1])]
    columns = [proba[:, k] for k in range(proba.shape[1])]

    def entropy(cols):
        return -sum(xlogy(c, c).sum() for c in cols)

    levels, entropies = [sorted(map(sorted, groups), key=min)], [entropy(columns)]
    while len(columns) > 1:
        best = None
        for j in range(len(columns)):
            for l in range(j + 1, len(columns)):
                merged = [c for i, c in enumerate(columns) if i not in (j, l)] + [columns[j] + columns[l]]
                value = entropy(merged)
                if best is None or value < best[0]:
                    best = (value, j, l)
        value, j, l = best
        columns = [c for i, c in enumerate(columns) if i not in (j, l)] + [columns[j] + columns[l]]
        groups = [g for i, g in enumerate(groups) if i not in (j, l)] + [groups[j] + groups[l]]
        levels.append(sorted(map(sorted, groups), key=min))
        entropies.append(value)
    return levels, np.array(entropies)


def _check_against_brute_force(merging, proba):
    levels, entropies = _brute_force(proba)
    K = proba.shape[1]
    assert [merging.clusters(m) for m in range(K, 0, -1)] == levels
    # Sums of the same terms in another order: rounding only.
    np.testing.assert_allclose(merging.entropies, entropies, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_hierarchy_equals_a_brute_force_search_on_random_probabilities(seed):
    rng = np.random.default_rng(seed)
    K = 7
    # Mixed sharpness: some rows nearly certain, some diffuse; some exact zeros (0 ln 0 = 0).
    proba = rng.dirichlet(np.full(K, 0.3), size=60)
    proba[:5] = np.eye(K)[rng.integers(0, K, 5)]
    _check_against_brute_force(ComponentMerging.from_proba(proba), proba)


@pytest.fixture(scope="module")
def shapes():
    return _load("shapes_bic")[0]


@pytest.mark.parametrize("covariance_type", ["EII", "VEI", "EVE", "VVE", "EEV", "VEV", "full", "tied"])
def test_merging_any_family_equals_the_brute_force_search(shapes, covariance_type):
    model = GaussianMixture(5, covariance_type=covariance_type, random_state=0, tol=1e-4).fit(shapes)
    merging = merge_components(model, shapes)
    _check_against_brute_force(merging, model.predict_proba(shapes))


@pytest.mark.parametrize("make", [
    pytest.param(lambda: BayesianGaussianMixture(n_components=5, random_state=0), id="vb"),
    pytest.param(lambda: StudentMixture(4, random_state=0), id="student"),
])
def test_other_mixtures_merge_their_posterior_probabilities(shapes, make):
    model = make().fit(shapes)
    merging = merge_components(model, shapes)
    proba = model.predict_proba(shapes)
    np.testing.assert_array_equal(merging.predict_proba(merging.n_components), proba)
    _check_against_brute_force(merging, proba)


def test_bernoulli_mixture_merges():
    rng = np.random.default_rng(0)
    X = (rng.random((120, 6)) < np.repeat([[0.9] * 3 + [0.1] * 3, [0.1] * 3 + [0.9] * 3], 60, axis=0)).astype(int)
    model = BernoulliMixture(4, random_state=0).fit(X)
    merging = merge_components(model, X)
    assert merging.predict_proba(1).shape == (120, 1)
    _check_against_brute_force(merging, model.predict_proba(X))


def test_permuting_components_permutes_the_hierarchy():
    rng = np.random.default_rng(5)
    proba = rng.dirichlet(np.full(6, 0.4), size=80)
    order = rng.permutation(6)
    original = ComponentMerging.from_proba(proba)
    permuted = ComponentMerging.from_proba(proba[:, order])  # new component j is old order[j]
    for m in range(6, 0, -1):
        mapped = sorted((sorted(int(order[k]) for k in group) for group in permuted.clusters(m)), key=min)
        assert mapped == original.clusters(m)
    np.testing.assert_allclose(permuted.entropies, original.entropies, rtol=1e-12)  # same sums reordered
    rows = rng.permutation(80)
    np.testing.assert_allclose(ComponentMerging.from_proba(proba[rows]).entropies, original.entropies,
                               rtol=1e-12)


def test_levels_are_consistent_and_merged_rows_are_counted_literally(shapes):
    model = GaussianMixture(6, covariance_type="EEV", random_state=0).fit(shapes)
    merging = merge_components(model, shapes)
    proba = model.predict_proba(shapes)
    K = merging.n_components
    np.testing.assert_array_equal(merging.n_clusters, np.arange(K, 0, -1))
    np.testing.assert_allclose(merging.predict_proba(K), proba)
    np.testing.assert_array_equal(merging.predict(K), proba.argmax(axis=1))
    np.testing.assert_array_equal(merging.predict(1), 0)
    assert np.all(np.diff(merging.entropies) <= 1e-12)  # each merge lowers the entropy (Delta >= 0)
    for step, (a, b) in enumerate(merging.merges):
        m = K - step
        groups = merging.clusters(m)
        # Literal per-row count: rows whose MAP cluster before the step is one of the merged two.
        ids = {k: [k] for k in range(K)}
        for s in range(step):
            ids[K + s] = sorted(ids[merging.merges[s][0]] + ids[merging.merges[s][1]])
        merged = [groups.index(ids[a]), groups.index(ids[b])]
        labels = merging.predict(m)
        assert merging.n_merged[step] == sum(int(label in merged) for label in labels)
        assert sorted(ids[a] + ids[b]) in merging.clusters(m - 1)
        # The merged probabilities are sums of the components' columns.
        np.testing.assert_allclose(merging.predict_proba(m)[:, merged].sum(axis=1),
                                   proba[:, ids[a] + ids[b]].sum(axis=1), rtol=1e-12)
    changes = merging.entropy_changes()
    np.testing.assert_allclose(changes, -np.diff(merging.entropies))
    np.testing.assert_allclose(merging.entropy_changes(normalized=True), changes / merging.n_merged)


def test_new_data_are_merged_through_the_model(shapes):
    model = GaussianMixture(4, random_state=0).fit(shapes)
    merging = merge_components(model, shapes)
    np.testing.assert_array_equal(merging.predict(2, shapes[::7]), merging.predict(2)[::7])
    np.testing.assert_allclose(merging.predict_proba(3, shapes[:10]), merging.predict_proba(3)[:10])


def test_bad_input_is_named():
    proba = np.random.default_rng(0).dirichlet(np.ones(3), size=10)
    merging = ComponentMerging.from_proba(proba)
    for bad in (0, 4, 2.5, True, "2"):
        with pytest.raises(ValueError, match="n_clusters"):
            merging.predict(bad)
    with pytest.raises(ValueError, match="has no model"):
        merging.predict(2, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="proba"):
        ComponentMerging.from_proba(proba * 2)
    with pytest.raises(ValueError, match="proba"):
        ComponentMerging.from_proba(np.ones(3))
    with pytest.raises(TypeError, match="predict_proba"):
        merge_components(object(), np.zeros((3, 2)))


def test_entropy_plots_draw_both_versions():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, reference = _load("shapes_bic")
    merging = ComponentMerging.from_proba(np.array(reference["z"]))
    try:
        standard = merging.plot()
        x, y = standard.axes[0].lines[0].get_data()
        np.testing.assert_array_equal(x, np.arange(6, 0, -1))
        np.testing.assert_allclose(y, merging.entropies)
        heights = [patch.get_height() for patch in standard.axes[1].patches]
        np.testing.assert_allclose(heights, merging.entropy_changes())
        normalized = merging.plot(normalized=True)
        x, _ = normalized.axes[0].lines[0].get_data()
        np.testing.assert_array_equal(x, np.concatenate([[0], np.cumsum(merging.n_merged)]))
        heights = [patch.get_height() for patch in normalized.axes[1].patches]
        np.testing.assert_allclose(heights, merging.entropy_changes(normalized=True))
    finally:
        plt.close("all")
