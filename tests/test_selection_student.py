"""select_model(method='t') and compare_models: Student-t cells in the selection tables, against
standalone StudentMixture fits, the Gaussian cells' parameter counts, and BIC's verdict on
heavy-tailed versus Gaussian data; `mixfit select --model t|both`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from mixfit import StudentMixture, compare_models, select_bernoulli, select_model
from mixfit.engine.criteria import classification_entropy

CENTRES = np.array([[0.0, 0.0], [12.0, 0.0], [0.0, 12.0]])
SWEEP = {"n_components": range(1, 6), "covariance_types": ("full", "diag"), "n_init": 2, "random_state": 0}


def _clusters(seed, df=None, n=300):
    """Three round clusters; with ``df``, each row's deviation divided by sqrt(u), u ~ Gamma(df/2,
    rate df/2): multivariate t(df) clusters, whose tails put rows many standard deviations out."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    z = rng.normal(size=(n, 2))
    if df is not None:
        z /= np.sqrt(rng.gamma(df / 2, 2 / df, n))[:, None]
    return CENTRES[labels] + z


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_t_cells_win_bic_on_heavy_tailed_clusters(seed):
    """t(2) clusters: rows at 10-100 standard deviations. The Gaussian cells need extra components
    for the tails and still fit them worse: the best t cell has the lower BIC (sklearn sign)."""
    X = _clusters(seed, df=2.0)
    result = compare_models(X, **SWEEP)
    best = result.best
    assert best.covariance_type.startswith("t:"), str(result)
    assert isinstance(best.estimator, StudentMixture)
    gaussian = min(c.criterion for c in result.cells if not c.covariance_type.startswith("t:"))
    assert best.criterion < gaussian


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gaussian_cells_win_bic_on_gaussian_clusters(seed):
    """Gaussian clusters: the t fit's likelihood is the Gaussian's at most by chance (its nu goes
    to the bound), and BIC charges it K more parameters: a Gaussian cell is best, with K = 3."""
    X = _clusters(seed)
    result = compare_models(X, **SWEEP)
    assert not result.best.covariance_type.startswith("t:"), str(result)
    assert result.best.n_components == 3


def test_t_cells_are_standalone_student_mixture_fits():
    """Without the hierarchical start, a t cell is StudentMixture(K, type, n_init, random_state)
    fitted alone: the same BIC, AIC, ICL and parameter count (the cell runs with one BLAS thread:
    summation order differs by rounding only)."""
    X = _clusters(0, df=3.0, n=150)
    result = select_model(X, [1, 2, 3], ("full", "spherical"), method="t", n_init=2, random_state=0,
                          hierarchical_start=False, criterion="aic")
    assert result.method == "t" and len(result.cells) == 6
    for cell in result.cells:
        alone = StudentMixture(cell.n_components, covariance_type=cell.covariance_type, n_init=2,
                               random_state=0).fit(X)
        assert cell.start == "kmeans"
        assert cell.n_parameters == alone._n_parameters()
        assert_allclose(cell.values["bic"], alone.bic(X), rtol=1e-9)
        assert_allclose(cell.values["aic"], alone.aic(X), rtol=1e-9)
        assert_allclose(cell.criterion, alone.aic(X), rtol=1e-9)
        # ICL = BIC + 2 x the classification entropy (engine.criteria), of the standalone fit
        icl = alone.bic(X) + 2 * classification_entropy(alone.predict_proba(X), None)
        assert_allclose(cell.values["icl"], icl, rtol=1e-9)
        assert_allclose(cell.estimator.degrees_of_freedom_, alone.degrees_of_freedom_, rtol=1e-8)


@pytest.mark.parametrize("dof,extra", [("estimate", "K"), ("tied", 1), (5.0, 0)], ids=["estimate", "tied", "fixed"])
def test_t_cells_count_the_degrees_of_freedom(dof, extra):
    """A t cell has the Gaussian cell's parameters plus K (one nu each), 1 (shared) or 0 (fixed)."""
    X = _clusters(1, df=3.0, n=120)
    sweep = {"n_components": [1, 2], "covariance_types": ("tied", "diag"), "n_init": 1, "random_state": 0}
    result = compare_models(X, **sweep, dof=dof)
    cells = {(c.n_components, c.covariance_type): c for c in result.cells}
    for (K, name), cell in cells.items():
        if not name.startswith("t:"):
            assert cells[K, "t:" + name].n_parameters == cell.n_parameters + (K if extra == "K" else extra)
    assert result.method == "em+t"


def test_hierarchical_start_is_used_for_t_cells():
    """With n_init=0 only the tree's start is left: every t cell is fitted from it."""
    X = _clusters(2, df=3.0, n=150)
    result = select_model(X, [2, 3], "full", method="t", n_init=0, random_state=0)
    assert [c.start for c in result.cells] == ["hierarchical", "hierarchical"]
    assert all(isinstance(c.estimator, StudentMixture) for c in result.cells)


def test_bad_methods_are_refused_naming_the_argument():
    X = _clusters(0, n=60)
    with pytest.raises(ValueError, match="methods="):
        compare_models(X, [1], methods=("em", "vb"))
    with pytest.raises(ValueError, match="criterion"):
        select_model(X, [1], method="t", criterion="elbo")
    with pytest.raises(ValueError, match="method"):
        select_bernoulli((X > 0).astype(float), [1], method="t")


def test_cli_select_with_t_and_both(tmp_path):
    testing = pytest.importorskip("click.testing")
    from mixfit.cli import cli

    data = tmp_path / "rows.csv"
    np.savetxt(data, _clusters(0, df=2.0, n=150), delimiter=",")
    runner = testing.CliRunner()
    args = ["select", str(data), "-k", "1:3", "--covariance", "full", "--n-init", "1"]
    t_only = runner.invoke(cli, [*args, "--model", "t", "--json"])
    assert t_only.exit_code == 0, t_only.output
    payload = json.loads(t_only.output)
    assert payload["method"] == "t" and len(payload["table"]) == 3
    both = runner.invoke(cli, [*args, "--model", "both", "--json"])
    assert both.exit_code == 0, both.output
    types = {row["covariance_type"] for row in json.loads(both.output)["table"]}
    assert types == {"full", "t:full"}
    refused = runner.invoke(cli, [*args, "--model", "t", "--method", "vb"])
    assert refused.exit_code != 0 and "--model t" in refused.output and "Traceback" not in refused.output
